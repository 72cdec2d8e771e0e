// SPDX-License-Identifier: GPL-2.0
// expect: cannot move out of `n` because it is borrowed
//! A read sequence borrows its notifier: it cannot outlive it (and be mistaken for another
//! notifier's at the same address).
include!("common.rs");

fn check(mm: &MmWithUser) -> Result {
    let registrar = Registrar::new()?;
    let n = KBox::pin_init(
        IntervalNotifier::whole_address_space(&registrar, mm, Honest, new_mutex!((), "cf")),
        GFP_KERNEL,
    )?;
    let seq = n.read_begin()?;
    drop(n);
    let _ = seq.value();
    Ok(())
}

module! {
    type: CompileCheck,
    name: "mmn_cf_read_seq_outlives",
    authors: ["mmn-stopgap developers"],
    description: "compile check",
    license: "GPL",
}
