// SPDX-License-Identifier: GPL-2.0
// expect: lifetime may not live long enough
//! A pass cannot outlive the invalidation whose lock made it: kept, it could be returned from
//! a later invalidation that never took the lock.
include!("common.rs");

struct Keeps;

#[vtable]
impl IntervalNotifierOps for Keeps {
    type Locked = ();
    type Backend = MutexBackend;

    fn invalidate<'a>(&self, inv: Invalidate<'a, Self>) -> Result<Pass<'a>, Refused<'a>> {
        match inv {
            Invalidate::Blockable(b) => {
                let kept: Pass<'static> = b.lock().done();
                Ok(kept)
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
    name: "mmn_cf_pass_laundered",
    authors: ["mmn-stopgap developers"],
    description: "compile check",
    license: "GPL",
}
