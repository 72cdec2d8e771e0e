// SPDX-License-Identifier: GPL-2.0
// expect: expected `&MmWithUser`, found `&Mm`
//! Register or insert only on an mm with users (`BUG_ON(atomic_read(&mm->mm_users) <= 0)` in
//! `__mmu_notifier_register()`): an `&Mm`, which an `mmgrab` reference gives and which may
//! have no user left, is not enough.
include!("common.rs");

fn check(mm: &MmWithUser) -> Result {
    let grabbed: &kernel::mm::Mm = mm;
    let registrar = Registrar::new()?;
    let _n = KBox::pin_init(
        IntervalNotifier::whole_address_space(&registrar, grabbed, Honest, new_mutex!((), "cf")),
        GFP_KERNEL,
    )?;
    Ok(())
}

module! {
    type: CompileCheck,
    name: "mmn_cf_mm_without_user",
    authors: ["mmn-stopgap developers"],
    description: "compile check",
    license: "GPL",
}
