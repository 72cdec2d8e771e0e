// SPDX-License-Identifier: GPL-2.0
// expect: fields `seq` and `pfns` of struct `Faulted` are private
//! Pfns looked up as of one read sequence cannot be validated with another: the pages of
//! `hmm_range_fault` come back only through `ReadGuard::pfns`, with the sequence they were
//! looked up as of, and a `Faulted` cannot be put together by hand with a later sequence.
include!("common.rs");

fn check(mm: &MmWithUser) -> Result {
    let registrar = Registrar::new()?;
    let n = KBox::pin_init(
        IntervalNotifier::whole_address_space(&registrar, mm, Honest, new_mutex!((), "cf")),
        GFP_KERNEL,
    )?;
    let mut pfns = [0usize; 1];
    let old = n.read_begin()?;
    let _ = n.hmm_range_fault(mm, old, 0, &mut pfns)?;
    let later = n.read_begin()?;
    let forged = mm::hmm::Faulted {
        seq: later,
        pfns: &mut pfns,
    };
    let _ = n.lock().pfns(forged);
    Ok(())
}

module! {
    type: CompileCheck,
    name: "mmn_cf_faulted_forged",
    authors: ["mmn-stopgap developers"],
    description: "compile check",
    license: "GPL",
}
