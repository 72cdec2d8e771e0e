// SPDX-License-Identifier: GPL-2.0

/*
 * Helpers for the Rust mmu_notifier abstraction: the interval notifier
 * sequence protocol of <linux/mmu_notifier.h> is made of static inline
 * functions, and hmm_range_fault() takes a struct hmm_range that Rust would
 * have to build field by field, so Rust calls these.
 */

#include <linux/hmm.h>
#include <linux/mmu_notifier.h>

#include "mmu_notifier.h"

__rust_helper void
rust_helper_mmu_interval_set_seq(struct mmu_interval_notifier *interval_sub,
				 unsigned long cur_seq)
{
	mmu_interval_set_seq(interval_sub, cur_seq);
}

__rust_helper bool
rust_helper_mmu_interval_read_retry(struct mmu_interval_notifier *interval_sub,
				    unsigned long seq)
{
	return mmu_interval_read_retry(interval_sub, seq);
}

__rust_helper bool
rust_helper_mmu_interval_check_retry(struct mmu_interval_notifier *interval_sub,
				     unsigned long seq)
{
	return mmu_interval_check_retry(interval_sub, seq);
}

/*
 * hmm_range_fault() over [start, end) of the notifier's mm, which the caller
 * has locked for reading, as of seq (from mmu_interval_read_begin()). Every
 * page is faulted in (HMM_PFN_REQ_FAULT); on success pfns[] holds one hmm pfn
 * per page. Returns 0, -EBUSY when an invalidation came in between (call
 * mmu_interval_read_begin() again), or another -errno.
 */
__rust_helper int
rust_helper_hmm_range_fault(struct mmu_interval_notifier *interval_sub,
			    unsigned long seq, unsigned long start,
			    unsigned long end, unsigned long *pfns)
{
	struct hmm_range range = {
		.notifier = interval_sub,
		.notifier_seq = seq,
		.start = start,
		.end = end,
		.hmm_pfns = pfns,
		.default_flags = HMM_PFN_REQ_FAULT,
	};

	return hmm_range_fault(&range);
}

/* The pfn of an hmm pfn that has HMM_PFN_VALID, or 0 for one that has not. */
__rust_helper unsigned long rust_helper_hmm_pfn_to_pfn(unsigned long hmm_pfn)
{
	return (hmm_pfn & HMM_PFN_VALID) ? hmm_pfn & ~HMM_PFN_FLAGS : 0;
}
