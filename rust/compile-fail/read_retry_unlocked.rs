// SPDX-License-Identifier: GPL-2.0
// expect: no method named `read_retry` found for struct `core::pin::Pin<Box<interval::IntervalNotifier<
//! read_retry needs the notifier's lock: it exists only on the guard.
include!("common.rs");

struct Mirror;

#[vtable]
impl IntervalNotifierOps for Mirror {
    type Mirror = ();

    fn invalidate<'a>(&self, _inv: Invalidate<'a, Self>) -> Result<Pass, Refused<'a>> {
        Ok(Pass::DONE)
    }
}

fn check(mm: &MmWithUser) -> Result {
    let n = KBox::pin_init(IntervalNotifier::whole_address_space(mm, Mirror, ()), GFP_KERNEL)?;
    let seq = n.read_begin();
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
