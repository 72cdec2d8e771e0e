// SPDX-License-Identifier: GPL-2.0
// expect: only a subscriber with MAY_REFUSE = true may refuse an invalidation
//! A subscriber that has an end (and so does not declare MAY_REFUSE) cannot refuse.
include!("common.rs");

struct Bad;

#[vtable]
impl MmuNotifierOps for Bad {
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
    name: "mmn_cf_refuse_undeclared",
    authors: ["mmn-stopgap developers"],
    description: "compile check",
    license: "GPL",
}
