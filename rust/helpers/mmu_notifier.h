/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers for the Rust mmu_notifier abstraction: see mmu_notifier.c. */
#ifndef MMN_HELPERS_MMU_NOTIFIER_H
#define MMN_HELPERS_MMU_NOTIFIER_H

#include <linux/types.h>

struct mmu_interval_notifier;

void mmn_helper_mmu_interval_set_seq(struct mmu_interval_notifier *interval_sub,
				     unsigned long cur_seq);
bool mmn_helper_mmu_interval_read_retry(struct mmu_interval_notifier *interval_sub,
					unsigned long seq);
bool mmn_helper_mmu_interval_check_retry(struct mmu_interval_notifier *interval_sub,
					 unsigned long seq);
int mmn_helper_hmm_range_fault(struct mmu_interval_notifier *interval_sub, unsigned long seq,
			       unsigned long start, unsigned long end, unsigned long *pfns);
unsigned long mmn_helper_hmm_pfn_to_pfn(unsigned long hmm_pfn);

#endif
