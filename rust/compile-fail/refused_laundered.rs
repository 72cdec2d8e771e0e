// SPDX-License-Identifier: GPL-2.0
// expect: lifetime may not live long enough
//! A refusal cannot outlive the call that made it: kept, it could be returned from a blockable
//! call.
include!("common.rs");

struct Bad;

#[vtable]
impl MmuNotifierOps for Bad {
    const MAY_REFUSE: bool = true;

    fn invalidate_range_start<'a>(&self, start: Start<'a, Self>) -> Result<(), Refused<'a>> {
        if let Start::NonBlocking(nb) = start {
            let kept: Refused<'static> = nb.refuse();
            drop(kept);
        }
        Ok(())
    }
}

fn check(mm: &MmWithUser) -> Result {
    let registrar = Registrar::new()?;
    let _s = Subscription::new(&registrar, mm, Bad)?;
    Ok(())
}

module! {
    type: CompileCheck,
    name: "mmn_cf_refused_laundered",
    authors: ["mmn-stopgap developers"],
    description: "compile check",
    license: "GPL",
}
