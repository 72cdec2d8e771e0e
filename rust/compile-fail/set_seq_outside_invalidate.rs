// SPDX-License-Identifier: GPL-2.0
// expect: associated function `new` is private
//! The sequence is set only where the lock is taken inside `invalidate`: the one function that
//! calls `mmu_interval_set_seq()`, `InvalidateGuard::new`, is private, so code holding the
//! notifier, a range and a guard of the lock still cannot set it (nor make the guard that
//! makes a `Pass`).
include!("common.rs");

fn forge<'a>(
    notifier: &'a IntervalNotifier<Honest>,
    range: &'a Range,
    guard: kernel::sync::lock::Guard<'a, (), MutexBackend>,
) -> InvalidateGuard<'a, Honest> {
    InvalidateGuard::new(notifier, range, 1, guard)
}

fn check(mm: &MmWithUser) -> Result {
    let _ = forge;
    let registrar = Registrar::new()?;
    let _n = KBox::pin_init(
        IntervalNotifier::whole_address_space(&registrar, mm, Honest, new_mutex!((), "cf")),
        GFP_KERNEL,
    )?;
    Ok(())
}

module! {
    type: CompileCheck,
    name: "mmn_cf_set_seq_outside_invalidate",
    authors: ["mmn-stopgap developers"],
    description: "compile check",
    license: "GPL",
}
