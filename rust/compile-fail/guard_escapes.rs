// SPDX-License-Identifier: GPL-2.0
// expect: lifetime may not live long enough
//! The lock taken in invalidate, which set the sequence, cannot leave the callback.
include!("common.rs");

struct Mirror;

#[vtable]
impl IntervalNotifierOps for Mirror {
    type Mirror = ();

    fn invalidate<'a>(&self, inv: Invalidate<'a, Self>) -> Result<Pass, Refused<'a>> {
        if let Invalidate::Blockable(b) = inv {
            let kept: InvalidateGuard<'static, Self> = b.lock();
            drop(kept);
        }
        Ok(Pass::DONE)
    }
}

fn check(mm: &MmWithUser) -> Result {
    let _n = KBox::pin_init(IntervalNotifier::whole_address_space(mm, Mirror, ()), GFP_KERNEL)?;
    Ok(())
}

module! {
    type: CompileCheck,
    name: "mmn_cf_guard_escapes",
    authors: ["mmn-stopgap developers"],
    description: "compile check",
    license: "GPL",
}
