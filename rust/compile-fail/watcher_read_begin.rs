// SPDX-License-Identifier: GPL-2.0
// expect: no method named `read_begin` found for struct `core::pin::Pin<Box<watcher::IntervalWatcher<
//! A watcher has no read side: it never sets its sequence, so it has no sequence to read.
include!("common.rs");

struct Watcher;

impl IntervalWatcherOps for Watcher {
    fn invalidate<'a>(&self, _inv: Watch<'a>) -> Result<(), Refused<'a>> {
        Ok(())
    }
}

fn check(mm: &MmWithUser) -> Result {
    let registrar = Registrar::new()?;
    let w = KBox::pin_init(
        IntervalWatcher::whole_address_space(&registrar, mm, Watcher),
        GFP_KERNEL,
    )?;
    let _ = w.read_begin();
    Ok(())
}

module! {
    type: CompileCheck,
    name: "mmn_cf_watcher_read_begin",
    authors: ["mmn-stopgap developers"],
    description: "compile check",
    license: "GPL",
}
