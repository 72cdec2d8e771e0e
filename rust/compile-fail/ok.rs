// SPDX-License-Identifier: GPL-2.0
// expect: builds
//! The harness itself builds: a refuser without an end, a pairing subscriber, a two-pass
//! interval notifier with the sequence protocol.
include!("common.rs");

struct Refuser;

#[vtable]
impl MmuNotifierOps for Refuser {
    const MAY_REFUSE: bool = true;

    fn invalidate_range_start<'a>(&self, start: Start<'a, Self>) -> Result<(), Refused<'a>> {
        match start {
            Start::NonBlocking(nb) => Err(nb.refuse()),
            Start::Blockable(_) => Ok(()),
        }
    }
}

struct Pairing;

#[vtable]
impl MmuNotifierOps for Pairing {
    fn invalidate_range_start<'a>(&self, _start: Start<'a, Self>) -> Result<(), Refused<'a>> {
        Ok(())
    }

    fn invalidate_range_end(&self, _range: &Range) {}
}

struct Mirror;

#[vtable]
impl IntervalNotifierOps for Mirror {
    type Mirror = u64;

    fn invalidate<'a>(&self, inv: Invalidate<'a, Self>) -> Result<Pass, Refused<'a>> {
        let mut guard = match inv {
            Invalidate::Blockable(b) => b.lock(),
            Invalidate::NonBlocking(nb) => match nb.try_lock() {
                Ok(guard) => guard,
                Err(nb) => return Err(nb.refuse()),
            },
        };
        *guard += 1;
        Ok(guard.finish_later())
    }

    fn invalidate_finish(&self, _finish: &Finish) {}
}

fn check(mm: &MmWithUser) -> Result {
    let _r = Subscription::new(mm, Refuser)?;
    let _p = Subscription::new(mm, Pairing)?;
    let n = KBox::pin_init(IntervalNotifier::new(mm, 0, 4096, Mirror, 0u64), GFP_KERNEL)?;
    let seq = n.read_begin();
    let guard = n.lock();
    let _ = guard.read_retry(seq);
    Ok(())
}

module! {
    type: CompileCheck,
    name: "mmn_cf_ok",
    authors: ["mmn-stopgap developers"],
    description: "compile check",
    license: "GPL",
}
