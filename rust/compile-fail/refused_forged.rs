// SPDX-License-Identifier: GPL-2.0
// expect: cannot initialize a tuple struct which contains private fields
//! Nor can a refusal be made up without a non-blocking view.
include!("common.rs");

struct Bad;

#[vtable]
impl MmuNotifierOps for Bad {
    const MAY_REFUSE: bool = true;

    fn invalidate_range_start<'a>(&self, _start: Start<'a, Self>) -> Result<(), Refused<'a>> {
        Err(Refused(core::marker::PhantomData))
    }
}

fn check(mm: &MmWithUser) -> Result {
    let registrar = Registrar::new()?;
    let _s = Subscription::new(&registrar, mm, Bad)?;
    Ok(())
}

module! {
    type: CompileCheck,
    name: "mmn_cf_refused_forged",
    authors: ["mmn-stopgap developers"],
    description: "compile check",
    license: "GPL",
}
