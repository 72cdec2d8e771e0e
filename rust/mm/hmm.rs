// SPDX-License-Identifier: GPL-2.0

//! Heterogeneous memory management: faulting in and looking up the pages of an interval
//! notifier's range (`hmm_range_fault()`), for a driver that mirrors them.
//!
//! C header: [include/linux/hmm.h](srctree/include/linux/hmm.h)

use crate::mm::helpers;
use crate::mm::mmu_notifier::{
    IntervalNotifier,
    IntervalNotifierOps,
    ReadGuard,
    ReadSeq, //
};
use kernel::{
    error::to_result,
    mm::{
        MmWithUser,
        MmapReadGuard, //
    },
    page::PAGE_SIZE,
    prelude::*,
};

/// Pages looked up by [`IntervalNotifier::hmm_range_fault`] as of a read sequence. They are
/// handed out only under the notifier's lock, and only if no invalidation collided with that
/// very sequence ([`ReadGuard::pfns`]): pfns looked up as of one sequence cannot be validated
/// with another.
#[must_use]
pub(crate) struct Faulted<'n, 'p, T: IntervalNotifierOps> {
    seq: ReadSeq<'n, T>,
    pfns: &'p mut [usize],
}

impl<'n, T: IntervalNotifierOps> IntervalNotifier<T> {
    /// Faults in and looks up the pages of `[start, start + pfns.len() * PAGE_SIZE)` of the
    /// notifier's mm (`hmm_range_fault()` under the mm's mmap read lock), as of `seq`, writing
    /// one pfn per page into `pfns`, which [`ReadGuard::pfns`] gives back if they are current.
    /// `start` must be page-aligned, the range must lie in the interval, `mm` must be the
    /// notifier's mm, with a user, and `seq` must come from this notifier (`EINVAL`
    /// otherwise); `ENODEV` once the module's registrar took the notifier out of the core.
    ///
    /// `EBUSY` if an invalidation came in since `seq`: begin again. Sleeps, and may fault pages
    /// in, which invalidates this very notifier: never call it with the notifier's lock held
    /// (a [`ReadGuard`] alive), which its `invalidate` takes. Needs `CONFIG_HMM_MIRROR`.
    pub(crate) fn hmm_range_fault<'p>(
        &'n self,
        mm: &MmWithUser,
        seq: ReadSeq<'n, T>,
        start: usize,
        pfns: &'p mut [usize],
    ) -> Result<Faulted<'n, 'p, T>> {
        let bytes = pfns.len().checked_mul(PAGE_SIZE).ok_or(EINVAL)?;
        let end = start.checked_add(bytes).ok_or(EINVAL)?;
        if pfns.is_empty()
            || start % PAGE_SIZE != 0
            || start < self.start
            || end - 1 > self.start + (self.len - 1)
            || !self.owns(seq)
            || !self.is_on(mm)
        {
            return Err(EINVAL);
        }
        if self.is_dead() {
            return Err(ENODEV);
        }
        let _locked: MmapReadGuard<'_> = mm.mmap_read_lock();
        // SAFETY:
        // - `raw` is valid and was inserted (a removal since is harmless: the look-up then
        //   only checks a sequence nothing sets, and the link is dead for `ReadGuard::pfns`),
        //   and `seq` came from its `read_begin`;
        // - the mmap read lock of its mm is held (`_locked`), and `mm` has a user;
        // - `pfns` has room for one pfn per page of `[start, end)`.
        to_result(unsafe {
            helpers::hmm_range_fault_interval(self.raw(), seq.seq, start, end, pfns.as_mut_ptr())
        })?;
        for pfn in pfns.iter_mut() {
            // SAFETY: Pure arithmetic on the value.
            *pfn = unsafe { helpers::hmm_pfn_to_pfn(*pfn) };
        }
        Ok(Faulted { seq, pfns })
    }
}

impl<T: IntervalNotifierOps> ReadGuard<'_, T> {
    /// The pfns of `faulted`, if no invalidation collided with the sequence they were looked up
    /// as of ([`Self::read_retry`]): then they are current for as long as this lock is held
    /// (the slice is the caller's buffer, and outlives the guard: using it after the guard is
    /// dropped is the caller's error, which no type here prevents). `None`: begin again.
    pub(crate) fn pfns<'p>(&self, faulted: Faulted<'_, 'p, T>) -> Option<&'p [usize]> {
        if self.read_retry(faulted.seq) {
            return None;
        }
        Some(faulted.pfns)
    }
}
