// SPDX-License-Identifier: GPL-2.0
// expect: finish_later needs an implementation of invalidate_finish
//! A second pass needs a finish callback.
include!("common.rs");

struct OnePass;

#[vtable]
impl IntervalNotifierOps for OnePass {
    type Locked = ();
    type Backend = MutexBackend;

    fn invalidate<'a>(&self, inv: Invalidate<'a, Self>) -> Result<Pass<'a>, Refused<'a>> {
        match inv {
            Invalidate::Blockable(b) => Ok(b.lock().finish_later()),
            Invalidate::NonBlocking(nb) => Err(nb.refuse()),
        }
    }
}

fn check(mm: &MmWithUser) -> Result {
    let registrar = Registrar::new()?;
    let _n = KBox::pin_init(
        IntervalNotifier::whole_address_space(&registrar, mm, OnePass, new_mutex!((), "cf")),
        GFP_KERNEL,
    )?;
    Ok(())
}

module! {
    type: CompileCheck,
    name: "mmn_cf_finish_without_finish",
    authors: ["mmn-stopgap developers"],
    description: "compile check",
    license: "GPL",
}
