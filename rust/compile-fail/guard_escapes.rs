// SPDX-License-Identifier: GPL-2.0
// expect: lifetime may not live long enough
//! The lock taken in invalidate, which set the sequence, cannot leave the callback.
include!("common.rs");

struct Keeps;

#[vtable]
impl IntervalNotifierOps for Keeps {
    type Locked = ();
    type Backend = MutexBackend;

    fn invalidate<'a>(&self, inv: Invalidate<'a, Self>) -> Result<Pass<'a>, Refused<'a>> {
        match inv {
            Invalidate::Blockable(b) => {
                let guard = b.lock();
                let kept: &InvalidateGuard<'static, Self> = &guard;
                let _ = kept;
                Ok(guard.done())
            }
            Invalidate::NonBlocking(nb) => Err(nb.refuse()),
        }
    }
}

fn check(mm: &MmWithUser) -> Result {
    let registrar = Registrar::new()?;
    let _n = KBox::pin_init(
        IntervalNotifier::whole_address_space(&registrar, mm, Keeps, new_mutex!((), "cf")),
        GFP_KERNEL,
    )?;
    Ok(())
}

module! {
    type: CompileCheck,
    name: "mmn_cf_guard_escapes",
    authors: ["mmn-stopgap developers"],
    description: "compile check",
    license: "GPL",
}
