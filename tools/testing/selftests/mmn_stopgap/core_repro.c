// SPDX-License-Identifier: GPL-2.0
/*
 * The raw core: the reproducer of the mm/mmu_notifier.c bug that
 * patches/0001 fixes. Run by `make check-core` on the stock and on the
 * patched kernel, and by the runner self-test of `make check` (a stock boot
 * whose wedged tasks the hung-task detector must report); never in the main
 * test boot (it is not a *_test), because on the stock kernel it leaves tasks
 * blocked for good.
 *
 * Policy raw puts no gate in front of our subscribers: the mm sees today's
 * core alone, as it would with nouveau SVM (an hlist notifier that refuses
 * every non-blockable start, next to interval notifiers on the same mm).
 *
 *   victim A: test_hmm's dmirror (a C interval notifier) + paired + eagain;
 *   victim B: a gate once (so has_itree is set), then paired + eagain;
 *   both SIGKILLed with a parked thread, then process_mrelease(2): EAGAIN.
 *
 * On the stock kernel each refused reap leaves active_invalidate_ranges
 * raised for good, and the next mmu_interval_read_begin() on the mm never
 * returns: dmirror's read of A (C side) and the liveness wait of a new gate
 * on B (our side) both block. The case checks that the module stays usable
 * meanwhile (files readable, another mm attached and refused, rmmod refused
 * at once, not blocked), hands what would block at exit to a keeper process,
 * and reports XFAIL: the known core bug. On a kernel with the fix both reads
 * return and the case passes. Anything in between fails.
 */
#include "mmn_stopgap.h"
#include "kselftest_harness.h"

#define VICTIM_MIB	4
#define VICTIM_PAGES	8
/* Long enough for any healthy step under TCG, short enough to stay under the hung-task timeout. */
#define WD		5

#define CTL(...) mmn_ctl_fork(WD, __VA_ARGS__)

#ifndef O_NONBLOCK
#define O_NONBLOCK 04000
#endif

/* Keeps fd open in a process of its own until the machine goes down. */
static void keep_open(int fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		setsid();
		for (;;)
			pause();
	}
	close(fd);
}

static int dmirror_read_wd(struct mmn_victim *v)
{
	struct mmn_dmirror_args a = { .fd = v->dmirror_fd };
	static char buf[VICTIM_PAGES << 12];

	a.cmd.addr = v->addr;
	a.cmd.ptr = (uintptr_t)buf;
	a.cmd.npages = VICTIM_PAGES;
	return mmn_watchdog(WD, "HMM_DMIRROR_READ of victim A", mmn_dmirror_read_step, &a);
}

TEST(raw_core_wedge)
{
	struct mmn_victim a, b, w;
	struct mmn_stats s;
	struct mmn_sub subs[8];
	int c_side, our_side, n;

	MMN_REQUIRE_MODULE();
	if (!mmn_dmirror_available())
		SKIP(return, "no /dev/hmm_dmirror0 (load lib/test_hmm)");
	ASSERT_EQ(0, mmn_clean_state());
	ASSERT_EQ(0, mmn_victim_start_flags(&a, VICTIM_MIB, MMN_VICTIM_PARK | MMN_VICTIM_DMIRROR));
	ASSERT_EQ(0, mmn_victim_start(&b, VICTIM_MIB, true));
	ASSERT_EQ(0, mmn_victim_start(&w, VICTIM_MIB, true));
	ASSERT_TRUE(mmn_wait_for(mmn_parked_at_least, 3, 5000));

	/* B: a gate once, then none (raw); the core keeps has_itree. */
	ASSERT_EQ(0, CTL("attach %d 1 paired", b.pid));
	ASSERT_EQ(0, CTL("policy raw"));
	ASSERT_EQ(0, mmn_stats(&s));
	ASSERT_EQ(0, s.gates);
	ASSERT_EQ(0, CTL("attach %d 1 eagain", b.pid));
	/* A: dmirror's interval notifier, our paired and eagain, no gate. */
	ASSERT_EQ(0, CTL("attach %d 1 paired", a.pid));
	ASSERT_EQ(0, CTL("attach %d 1 eagain", a.pid));
	ASSERT_EQ(VICTIM_PAGES, dmirror_read_wd(&a));

	ASSERT_EQ(0, mmn_victim_kill(&a));
	ASSERT_EQ(0, mmn_victim_kill(&b));
	/* The eagain subscribers refuse; the core undoes the paired ones. */
	ASSERT_EQ(-EAGAIN, mmn_mrelease(&a));
	ASSERT_EQ(-EAGAIN, mmn_mrelease(&b));
	n = mmn_subs(subs, 8);
	ASSERT_EQ(4, n);
	for (int i = 0; i < n; i++) {
		EXPECT_EQ(0, subs[i].unpaired);
		EXPECT_EQ(0, subs[i].in_flight);
		if (!strcmp(subs[i].kind, "eagain"))
			EXPECT_LT(0, subs[i].nonblock);
	}

	/* C side: test_hmm reads A through mmu_interval_read_begin(). */
	c_side = dmirror_read_wd(&a);
	/* Our side: B gets a gate again, waited for with mmu_interval_read_begin(). */
	our_side = CTL("policy stopgap");
	TH_LOG("after the refused reaps: dmirror read of A %s, gate liveness wait on B %s",
	       c_side == MMN_WEDGED ? "blocked" : "returned",
	       our_side == MMN_WEDGED ? "blocked" : "returned");

	if (c_side != MMN_WEDGED && our_side != MMN_WEDGED) {
		/* The fixed core: everything returns and the mm works. */
		EXPECT_EQ(VICTIM_PAGES, c_side);
		ASSERT_EQ(0, our_side);
		ASSERT_EQ(0, CTL("detach all"));
		ASSERT_EQ(0, CTL("attach %d 1 paired", a.parked_tid));
		ASSERT_EQ(0, CTL("detach all"));
		EXPECT_EQ(VICTIM_PAGES, dmirror_read_wd(&a));
		mmn_victim_stop(&w);
		mmn_victim_stop(&a);
		mmn_victim_stop(&b);
		ASSERT_EQ(0, mmn_wedged_steps);
		return;
	}
	/* Both or neither: one mechanism. */
	ASSERT_EQ(MMN_WEDGED, c_side);
	ASSERT_EQ(MMN_WEDGED, our_side);

	/*
	 * The stock core: both mms are wedged. The blocked policy writer holds
	 * B's group, not the registry: the module stays usable.
	 */
	ASSERT_EQ(0, mmn_stats(&s)) TH_LOG("stats must stay readable");
	EXPECT_EQ(4, s.subscribers);
	ASSERT_EQ(4, mmn_subs(subs, 8)) TH_LOG("subscribers must stay readable");
	ASSERT_EQ(0, CTL("attach %d 2 paired", w.pid)) TH_LOG("another mm must stay usable");
	ASSERT_EQ(0, mmn_victim_kill(&w));
	EXPECT_EQ(-EAGAIN, mmn_mrelease(&w)) TH_LOG("the rule must still hold on another mm");
	ASSERT_EQ(0, CTL("detach pid %d", w.pid));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(4, s.subscribers);
	/*
	 * Let every parked writer go (A and B die; their mms stay pinned by
	 * the blocked steps): now only the blocked policy writer holds the
	 * control file, and it alone must make rmmod fail at once, not block.
	 */
	keep_open(a.dmirror_fd);
	a.dmirror_fd = -1;
	mmn_victim_stop(&w);
	mmn_victim_stop(&a);
	mmn_victim_stop(&b);
	ASSERT_TRUE(mmn_wait_for(mmn_parked_at_most, 0, 5000));
	EXPECT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(0, s.parked);
	EXPECT_EQ(-1, mmn_unload());
	EXPECT_TRUE(mmn_loaded());
	mmn_wedged_steps = 0;
	MMN_XFAIL(return,
		  "known core bug: an hlist start refused after the interval notifiers accepted leaves the interval tree invalidating (fixed by patches/0001)");
}

TEST_HARNESS_MAIN
