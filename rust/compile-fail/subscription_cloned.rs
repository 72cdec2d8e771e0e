// SPDX-License-Identifier: GPL-2.0
// expect: no method named `clone` found for struct `subscription::Subscription<
//! `mmu_notifier_put()` once per registration (`WARN_ON(!users)`): the handle that puts it
//! is the one owner of the registration, and cannot be cloned into a second one.
include!("common.rs");

struct Quiet;

#[vtable]
impl MmuNotifierOps for Quiet {
    fn invalidate_range_start<'a>(&self, _start: Start<'a, Self>) -> Result<(), Refused<'a>> {
        Ok(())
    }
}

fn check(mm: &MmWithUser) -> Result {
    let registrar = Registrar::new()?;
    let one = Subscription::new(&registrar, mm, Quiet)?;
    let _two = one.clone();
    Ok(())
}

module! {
    type: CompileCheck,
    name: "mmn_cf_subscription_cloned",
    authors: ["mmn-stopgap developers"],
    description: "compile check",
    license: "GPL",
}
