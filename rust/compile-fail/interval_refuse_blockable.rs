// SPDX-License-Identifier: GPL-2.0
// expect: no method named `refuse` found for struct `BlockableInvalidate
//! An interval notifier cannot refuse a blockable invalidation either.
include!("common.rs");

struct Bad;

#[vtable]
impl IntervalNotifierOps for Bad {
    type Locked = ();
    type Backend = MutexBackend;

    fn invalidate<'a>(&self, inv: Invalidate<'a, Self>) -> Result<Pass<'a>, Refused<'a>> {
        match inv {
            Invalidate::Blockable(b) => Err(b.refuse()),
            Invalidate::NonBlocking(nb) => Err(nb.refuse()),
        }
    }
}

fn check(mm: &MmWithUser) -> Result {
    let registrar = Registrar::new()?;
    let _n = KBox::pin_init(
        IntervalNotifier::whole_address_space(&registrar, mm, Bad, new_mutex!((), "cf")),
        GFP_KERNEL,
    )?;
    Ok(())
}

module! {
    type: CompileCheck,
    name: "mmn_cf_interval_refuse_blockable",
    authors: ["mmn-stopgap developers"],
    description: "compile check",
    license: "GPL",
}
