// SPDX-License-Identifier: GPL-2.0
// expect: no method named `lock` found for struct `NonBlockingFinish
//! The second pass of a non-blocking invalidation cannot wait for the notifier's lock either.
include!("common.rs");

struct TwoPass;

#[vtable]
impl IntervalNotifierOps for TwoPass {
    type Locked = ();
    type Backend = MutexBackend;

    fn invalidate<'a>(&self, inv: Invalidate<'a, Self>) -> Result<Pass<'a>, Refused<'a>> {
        match inv {
            Invalidate::Blockable(b) => Ok(b.lock().finish_later()),
            Invalidate::NonBlocking(nb) => match nb.try_lock() {
                Ok(guard) => Ok(guard.finish_later()),
                Err(nb) => Err(nb.refuse()),
            },
        }
    }

    fn invalidate_finish(&self, finish: Finish<'_, Self>) {
        match finish {
            Finish::Blockable(b) => drop(b.lock()),
            Finish::NonBlocking(nb) => drop(nb.lock()),
        }
    }
}

fn check(mm: &MmWithUser) -> Result {
    let registrar = Registrar::new()?;
    let _n = KBox::pin_init(
        IntervalNotifier::whole_address_space(&registrar, mm, TwoPass, new_mutex!((), "cf")),
        GFP_KERNEL,
    )?;
    Ok(())
}

module! {
    type: CompileCheck,
    name: "mmn_cf_finish_nonblocking_lock",
    authors: ["mmn-stopgap developers"],
    description: "compile check",
    license: "GPL",
}
