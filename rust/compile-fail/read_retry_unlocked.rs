// SPDX-License-Identifier: GPL-2.0
// expect: no method named `read_retry` found for struct `core::pin::Pin<Box<interval::IntervalNotifier<
//! read_retry needs the notifier's lock: it exists only on the read-side guard.
include!("common.rs");

fn check(mm: &MmWithUser) -> Result {
    let registrar = Registrar::new()?;
    let n = KBox::pin_init(
        IntervalNotifier::whole_address_space(&registrar, mm, Honest, new_mutex!((), "cf")),
        GFP_KERNEL,
    )?;
    let seq = n.read_begin()?;
    let _ = n.read_retry(seq);
    Ok(())
}

module! {
    type: CompileCheck,
    name: "mmn_cf_read_retry_unlocked",
    authors: ["mmn-stopgap developers"],
    description: "compile check",
    license: "GPL",
}
