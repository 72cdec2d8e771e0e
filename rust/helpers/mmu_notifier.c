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

#ifdef CONFIG_MMU_NOTIFIER
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

#endif /* CONFIG_MMU_NOTIFIER */

#ifdef CONFIG_HMM_MIRROR
/**
 * rust_helper_hmm_range_fault_interval() - hmm_range_fault() for a notifier
 * @interval_sub: the interval notifier whose mm and sequence are used
 * @seq: the sequence, from mmu_interval_read_begin() on @interval_sub
 * @start: first address, page aligned
 * @end: end address (exclusive), page aligned
 * @pfns: one entry per page of [@start, @end)
 *
 * Faults in every page of the range of the notifier's mm, which the caller
 * has locked for reading (HMM_PFN_REQ_FAULT).
 *
 * Return: 0 with one hmm pfn per page in @pfns, -EBUSY when an invalidation
 * came in since @seq (call mmu_interval_read_begin() again), or another
 * -errno.
 */
__rust_helper int
rust_helper_hmm_range_fault_interval(struct mmu_interval_notifier *interval_sub,
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
#endif /* CONFIG_HMM_MIRROR */
