// SPDX-License-Identifier: GPL-2.0
// expect: the data of a Subscription is dropped by the core in an SRCU callback
//! The core frees a put subscription in atomic context: its data may not need drop.
include!("common.rs");

struct Bad {
    _owned: KBox<u64>,
}

#[vtable]
impl MmuNotifierOps for Bad {
    fn invalidate_range_start<'a>(&self, _start: Start<'a, Self>) -> Result<(), Refused<'a>> {
        Ok(())
    }
}

fn check(mm: &MmWithUser) -> Result {
    let registrar = Registrar::new()?;
    let _s = Subscription::new(
        &registrar,
        mm,
        Bad {
            _owned: KBox::new(0, GFP_KERNEL)?,
        },
    )?;
    Ok(())
}

module! {
    type: CompileCheck,
    name: "mmn_cf_data_needs_drop",
    authors: ["mmn-stopgap developers"],
    description: "compile check",
    license: "GPL",
}
