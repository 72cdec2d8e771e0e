// SPDX-License-Identifier: GPL-2.0

//! Heterogeneous memory management: faulting in and looking up the pages of an interval
//! notifier's range (`hmm_range_fault()`), for a driver that mirrors them.
//!
//! C header: [include/linux/hmm.h](srctree/include/linux/hmm.h)

use crate::mm::helpers;
use crate::mm::mmu_notifier::{
    IntervalNotifier,
    IntervalNotifierOps,
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

impl<T: IntervalNotifierOps> IntervalNotifier<T> {
    /// Faults in and looks up the pages of `[start, start + pfns.len() * PAGE_SIZE)` of the
    /// notifier's mm (`hmm_range_fault()` under the mm's mmap read lock), as of `seq`, writing
    /// one pfn per page. `start` must be page-aligned, the range must lie in the interval,
    /// `mm` must be the notifier's mm, with a user, and `seq` must come from this notifier
    /// (`EINVAL` otherwise).
    ///
    /// `EBUSY` if an invalidation came in since `seq`: begin again. The pfns are only valid
    /// once [`ReadGuard::read_retry`] says so, under the notifier's lock. Sleeps, and may
    /// fault pages in, which invalidates this very notifier: never call it with the
    /// notifier's lock held (a [`ReadGuard`] alive), which its `invalidate` takes.
    /// Needs `CONFIG_HMM_MIRROR`.
    ///
    /// [`ReadGuard::read_retry`]: super::mmu_notifier::ReadGuard::read_retry
    /// [`ReadGuard`]: super::mmu_notifier::ReadGuard
    pub(crate) fn hmm_range_fault(
        &self,
        mm: &MmWithUser,
        seq: ReadSeq<'_, T>,
        start: usize,
        pfns: &mut [usize],
    ) -> Result {
        let bytes = pfns.len().checked_mul(PAGE_SIZE).ok_or(EINVAL)?;
        let end = start.checked_add(bytes).ok_or(EINVAL)?;
        if pfns.is_empty()
            || start % PAGE_SIZE != 0
            || start < self.start
            || end - 1 > self.start + (self.len - 1)
            || !self.owns(seq)
        {
            return Err(EINVAL);
        }
        // SAFETY: `raw` is inserted (type invariant), so its `mm` field is valid.
        if unsafe { (*self.raw()).mm } != mm.as_raw() {
            return Err(EINVAL);
        }
        let _locked: MmapReadGuard<'_> = mm.mmap_read_lock();
        // SAFETY:
        // - `raw` is inserted and `seq` came from its `read_begin`;
        // - the mmap read lock of its mm is held (`_locked`), and `mm` has a user;
        // - `pfns` has room for one pfn per page of `[start, end)`.
        to_result(unsafe {
            helpers::hmm_range_fault_interval(self.raw(), seq.seq, start, end, pfns.as_mut_ptr())
        })?;
        for pfn in pfns.iter_mut() {
            // SAFETY: Pure arithmetic on the value.
            *pfn = unsafe { helpers::hmm_pfn_to_pfn(*pfn) };
        }
        Ok(())
    }
}
