// SPDX-License-Identifier: GPL-2.0
// expect: no method named `refuse` found for reference `&mm::mmu_notifier::Range`
//! A blockable start cannot be refused: its view has no way to.
include!("common.rs");

struct Bad;

#[vtable]
impl MmuNotifierOps for Bad {
    const MAY_REFUSE: bool = true;

    fn invalidate_range_start<'a>(&self, start: Start<'a, Self>) -> Result<(), Refused<'a>> {
        match start {
            Start::Blockable(range) => Err(range.refuse()),
            Start::NonBlocking(nb) => Err(nb.refuse()),
        }
    }
}

fn check(mm: &MmWithUser) -> Result {
    let registrar = Registrar::new()?;
    let _s = Subscription::new(&registrar, mm, Bad)?;
    Ok(())
}

module! {
    type: CompileCheck,
    name: "mmn_cf_refuse_blockable",
    authors: ["mmn-stopgap developers"],
    description: "compile check",
    license: "GPL",
}
