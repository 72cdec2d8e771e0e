/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Out of the kernel tree, the prototypes of mmu_notifier.c, which is then
 * built into the module; in the tree, rust/helpers/helpers.c includes the .c
 * and defines __rust_helper.
 */
#ifndef MMN_HELPERS_MMU_NOTIFIER_H
#define MMN_HELPERS_MMU_NOTIFIER_H

#include <linux/types.h>

#ifndef __rust_helper
#define __rust_helper
#endif

struct mmu_interval_notifier;

void rust_helper_mmu_interval_set_seq(struct mmu_interval_notifier *interval_sub,
				      unsigned long cur_seq);
bool rust_helper_mmu_interval_read_retry(struct mmu_interval_notifier *interval_sub,
					 unsigned long seq);
bool rust_helper_mmu_interval_check_retry(struct mmu_interval_notifier *interval_sub,
					  unsigned long seq);
int rust_helper_hmm_range_fault_interval(struct mmu_interval_notifier *interval_sub,
					 unsigned long seq, unsigned long start,
					 unsigned long end, unsigned long *pfns);
unsigned long rust_helper_hmm_pfn_to_pfn(unsigned long hmm_pfn);

#endif
