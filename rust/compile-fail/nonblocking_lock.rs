// SPDX-License-Identifier: GPL-2.0
// expect: no method named `lock` found for struct `NonBlockingInvalidate
//! A non-blocking invalidation cannot wait for the notifier's lock: its view only tries it.
include!("common.rs");

struct Sleeps;

#[vtable]
impl IntervalNotifierOps for Sleeps {
    type Locked = ();
    type Backend = MutexBackend;

    fn invalidate<'a>(&self, inv: Invalidate<'a, Self>) -> Result<Pass<'a>, Refused<'a>> {
        match inv {
            Invalidate::Blockable(b) => Ok(b.lock().done()),
            Invalidate::NonBlocking(nb) => Ok(nb.lock().done()),
        }
    }
}

fn check(mm: &MmWithUser) -> Result {
    let registrar = Registrar::new()?;
    let _n = KBox::pin_init(
        IntervalNotifier::whole_address_space(&registrar, mm, Sleeps, new_mutex!((), "cf")),
        GFP_KERNEL,
    )?;
    Ok(())
}

module! {
    type: CompileCheck,
    name: "mmn_cf_nonblocking_lock",
    authors: ["mmn-stopgap developers"],
    description: "compile check",
    license: "GPL",
}
