// SPDX-License-Identifier: GPL-2.0
// expect: a subscriber that may refuse a start cannot have invalidate_range_end
//! The core calls every end after a refusal: a refuser cannot have one.
include!("common.rs");

struct Bad;

#[vtable]
impl MmuNotifierOps for Bad {
    const MAY_REFUSE: bool = true;

    fn invalidate_range_start<'a>(&self, start: Start<'a, Self>) -> Result<(), Refused<'a>> {
        match start {
            Start::NonBlocking(nb) => Err(nb.refuse()),
            Start::Blockable(_) => Ok(()),
        }
    }

    fn invalidate_range_end(&self, _end: End<'_>) {}
}

fn check(mm: &MmWithUser) -> Result {
    let registrar = Registrar::new()?;
    let _s = Subscription::new(&registrar, mm, Bad)?;
    Ok(())
}

module! {
    type: CompileCheck,
    name: "mmn_cf_refuser_with_end",
    authors: ["mmn-stopgap developers"],
    description: "compile check",
    license: "GPL",
}
