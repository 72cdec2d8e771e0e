// SPDX-License-Identifier: GPL-2.0
// expect: builds
//! The harness itself builds: every contract used correctly (a refuser without an end, a
//! pairing subscriber, a two-pass interval notifier with the sequence protocol and its finish
//! views, a watcher, all through a registrar).
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

    fn invalidate_range_end(&self, end: End<'_>) {
        match end {
            End::Blockable(_) | End::NonBlocking(_) => (),
        }
    }
}

struct TwoPass;

#[vtable]
impl IntervalNotifierOps for TwoPass {
    type Locked = u64;
    type Backend = MutexBackend;

    fn invalidate<'a>(&self, inv: Invalidate<'a, Self>) -> Result<Pass<'a>, Refused<'a>> {
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

    fn invalidate_finish(&self, finish: Finish<'_, Self>) {
        match finish {
            Finish::Blockable(b) => *b.lock() += 1,
            Finish::NonBlocking(nb) => {
                if let Some(mut guard) = nb.try_lock() {
                    *guard += 1;
                }
            }
        }
    }
}

struct Watcher;

impl IntervalWatcherOps for Watcher {
    fn invalidate<'a>(&self, inv: Watch<'a>) -> Result<(), Refused<'a>> {
        match inv {
            Watch::Blockable(_) => Ok(()),
            Watch::NonBlocking(nb) => Err(nb.refuse()),
        }
    }
}

fn check(mm: &MmWithUser) -> Result {
    let registrar = Registrar::new()?;
    let _r = Subscription::new(&registrar, mm, Refuser)?;
    let _p = Subscription::new(&registrar, mm, Pairing)?;
    let n = KBox::pin_init(
        IntervalNotifier::new(&registrar, mm, 0, 4096, TwoPass, new_mutex!(0u64, "cf_ok")),
        GFP_KERNEL,
    )?;
    let seq = n.read_begin()?;
    let mut pfns = [0usize; 1];
    let faulted = n.hmm_range_fault(mm, seq, 0, &mut pfns);
    let guard = n.lock();
    let _ = guard.read_retry(seq);
    if let Ok(faulted) = faulted {
        let _ = guard.pfns(faulted);
    }
    let w = KBox::pin_init(
        IntervalWatcher::whole_address_space(&registrar, mm, Watcher),
        GFP_KERNEL,
    )?;
    w.wait_live();
    Ok(())
}

module! {
    type: CompileCheck,
    name: "mmn_cf_ok",
    authors: ["mmn-stopgap developers"],
    description: "compile check",
    license: "GPL",
}
