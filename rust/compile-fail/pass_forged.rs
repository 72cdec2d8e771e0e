// SPDX-License-Identifier: GPL-2.0
// expect: fields `finish` and `_brand` of struct `interval::Pass` are private
//! An invalidate cannot accept an invalidation without its lock, and so without setting the
//! sequence: here the lock is contended on a non-blockable range, and the invalidation is
//! accepted anyway with a `Pass` built by hand (the shape of the bug the sequence protocol
//! exists to prevent). `Pass`'s fields are private: only the guard makes one.
include!("common.rs");

struct Skips;

#[vtable]
impl IntervalNotifierOps for Skips {
    type Locked = ();
    type Backend = MutexBackend;

    fn invalidate<'a>(&self, inv: Invalidate<'a, Self>) -> Result<Pass<'a>, Refused<'a>> {
        match inv {
            Invalidate::Blockable(b) => Ok(b.lock().done()),
            Invalidate::NonBlocking(nb) => match nb.try_lock() {
                Ok(guard) => Ok(guard.done()),
                Err(_contended) => Ok(Pass {
                    finish: false,
                    _brand: core::marker::PhantomData,
                }),
            },
        }
    }
}

fn check(mm: &MmWithUser) -> Result {
    let registrar = Registrar::new()?;
    let _n = KBox::pin_init(
        IntervalNotifier::whole_address_space(&registrar, mm, Skips, new_mutex!((), "cf")),
        GFP_KERNEL,
    )?;
    Ok(())
}

module! {
    type: CompileCheck,
    name: "mmn_cf_pass_forged",
    authors: ["mmn-stopgap developers"],
    description: "compile check",
    license: "GPL",
}
