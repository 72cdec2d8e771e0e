// SPDX-License-Identifier: GPL-2.0
// expect: no method named `set_seq` found for struct `ReadGuard
//! The sequence is set only by taking the lock inside invalidate: the read side cannot set it.
include!("common.rs");

fn check(mm: &MmWithUser) -> Result {
    let registrar = Registrar::new()?;
    let n = KBox::pin_init(
        IntervalNotifier::whole_address_space(&registrar, mm, Honest, new_mutex!((), "cf")),
        GFP_KERNEL,
    )?;
    let mut guard = n.lock();
    guard.set_seq();
    Ok(())
}

module! {
    type: CompileCheck,
    name: "mmn_cf_set_seq_outside_invalidate",
    authors: ["mmn-stopgap developers"],
    description: "compile check",
    license: "GPL",
}
