// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection on attach: with failslab and /proc/self/task/<tid>/fail-nth,
 * the n-th slab allocation of the writing task fails, for n = 1, 2, ... until
 * attach needs fewer than n allocations and succeeds. Every failing attach
 * must return ENOMEM, leave subscribers and stats byte-identical, and leave
 * nothing registered (the kmemleak scan of `make check-debug` checks that
 * nothing leaked).
 */
#include "mmn_stopgap.h"
#include "kselftest_harness.h"

#define FAILSLAB "/sys/kernel/debug/failslab"

FIXTURE(fault)
{
	struct mmn_victim v;
	char nth_path[64];
};

FIXTURE_VARIANT(fault)
{
	int count;
	const char *kind;
	bool fresh_group;
};

FIXTURE_VARIANT_ADD(fault, new_group_one) { 1, "paired", true };
FIXTURE_VARIANT_ADD(fault, new_group_three) { 3, "paired", true };
FIXTURE_VARIANT_ADD(fault, existing_group_two) { 2, "paired", false };
FIXTURE_VARIANT_ADD(fault, new_group_eagain) { 2, "eagain", true };

FIXTURE_SETUP(fault)
{
	MMN_REQUIRE_MODULE();
	snprintf(self->nth_path, sizeof(self->nth_path), "/proc/self/task/%ld/fail-nth",
		 (long)syscall(SYS_gettid));
	if (!mmn_exists(self->nth_path) || !mmn_exists(FAILSLAB))
		SKIP(return,
		     "needs CONFIG_FAULT_INJECTION, CONFIG_FAILSLAB, CONFIG_FAULT_INJECTION_DEBUG_FS");
	/* Fail GFP_KERNEL allocations too, and do not dump a stack for each. */
	ASSERT_EQ(0, mmn_write_str(FAILSLAB "/ignore-gfp-wait", "N"));
	ASSERT_EQ(0, mmn_write_str(FAILSLAB "/verbose", "0"));
	self->v.pid = 0;
	self->v.pidfd = -1;
}

FIXTURE_TEARDOWN(fault)
{
	mmn_write_str(FAILSLAB "/ignore-gfp-wait", "Y");
	mmn_write_str(FAILSLAB "/verbose", "2");
	mmn_victim_stop(&self->v);
	mmn_load();
	mmn_ctl("detach all");
}

/*
 * Every iteration starts from the same state: a fresh module (no spare
 * capacity kept from an earlier try) and a fresh victim (no notifier table
 * on its mm yet), so that the n-th allocation is the same allocation point
 * in every try. Try n fails the n-th slab allocation of the write; reading
 * fail-nth afterwards tells whether that many allocations happened (0: the
 * fault was injected). Some injected failures are absorbed (kmemleak falls
 * back to its pool when its own metadata allocation fails): then the attach
 * succeeds whole. The loop ends at the first try without an injection.
 *
 * Each try reloads the module, 11 to 23 tries (measured) on the debug kernel
 * (KASAN, kmemleak) under TCG: the harness's default 30 s ran out in
 * check-debug on a loaded machine (three variants, 137 s for the binary).
 * The bound stays, wider; the binary's own bound (600 s) is the outer one.
 */
TEST_F_TIMEOUT(fault, every_allocation_fails_once, 240)
{
	static char subs_before[65536], subs_after[65536];
	char stats_before[4096], stats_after[4096], cmd[64], nth[16], left[16];
	int fd, nth_fd, n, err = -1, failures = 0, absorbed = 0;
	bool injected = true;
	struct mmn_totals t;
	struct mmn_stats s;
	ssize_t len;

	nth_fd = open(self->nth_path, O_RDWR);
	ASSERT_LE(0, nth_fd);
	for (n = 1; injected && n < 200; n++) {
		mmn_victim_stop(&self->v);
		ASSERT_EQ(0, mmn_victim_start(&self->v, 1, false));
		ASSERT_EQ(0, mmn_unload());
		ASSERT_EQ(0, mmn_load());
		if (!variant->fresh_group)
			ASSERT_EQ(0, mmn_ctl("attach %d 1", self->v.pid));
		len = snprintf(cmd, sizeof(cmd), "attach %d %d %s", self->v.pid, variant->count,
			       variant->kind);
		ASSERT_LE(0, mmn_read_file(MMN_SUBSCRIBERS, subs_before, sizeof(subs_before)));
		ASSERT_LE(0, mmn_read_file(MMN_STATS, stats_before, sizeof(stats_before)));
		/* Open first: only the write is under test. */
		fd = open(MMN_CONTROL, O_WRONLY);
		ASSERT_LE(0, fd);
		snprintf(nth, sizeof(nth), "%d", n);
		ASSERT_EQ((ssize_t)strlen(nth), pwrite(nth_fd, nth, strlen(nth), 0));
		err = write(fd, cmd, len) == len ? 0 : -errno;
		memset(left, 0, sizeof(left));
		ASSERT_LT(0, pread(nth_fd, left, sizeof(left) - 1, 0));
		injected = atoi(left) == 0;
		/* Disarm whatever is left of the countdown. */
		ASSERT_EQ(1, pwrite(nth_fd, "0", 1, 0));
		close(fd);
		if (!err) {
			/* Absorbed, or no injection at all: the attach is whole. */
			absorbed += injected;
			ASSERT_EQ(0, mmn_totals(NULL, self->v.pid, &t));
			EXPECT_EQ(variant->count + (variant->fresh_group ? 0 : 1), t.count);
			continue;
		}
		failures++;
		EXPECT_TRUE(injected) TH_LOG("allocation %d: failed without an injection", n);
		EXPECT_EQ(-ENOMEM, err) TH_LOG("allocation %d: errno %d", n, -err);
		ASSERT_LE(0, mmn_read_file(MMN_SUBSCRIBERS, subs_after, sizeof(subs_after)));
		ASSERT_LE(0, mmn_read_file(MMN_STATS, stats_after, sizeof(stats_after)));
		EXPECT_STREQ(subs_before, subs_after)
			TH_LOG("allocation %d changed subscribers", n);
		EXPECT_STREQ(stats_before, stats_after) TH_LOG("allocation %d changed stats", n);
	}
	close(nth_fd);
	TH_LOG("attach %d %s%s: %d tries; %d injected failures gave ENOMEM, %d were absorbed",
	       variant->count, variant->kind, variant->fresh_group ? " (new group)" : "",
	       n - 1, failures, absorbed);
	/* The loop ended because a try had no injection left: the attach is complete. */
	EXPECT_FALSE(injected);
	/* The attach that finally succeeded is whole. */
	ASSERT_EQ(0, err);
	/* At least one allocation per subscriber, plus the group's for a new group. */
	EXPECT_GE(failures, variant->count + (variant->fresh_group ? 2 : 0));
	ASSERT_EQ(0, mmn_totals(NULL, self->v.pid, &t));
	EXPECT_EQ(variant->count + (variant->fresh_group ? 0 : 1), t.count);
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(1, s.groups);
	EXPECT_EQ(1, s.gates);
	/* And the group still works: detach everything cleanly. */
	EXPECT_EQ(0, mmn_ctl("detach pid %d", self->v.pid));
}

/*
 * fail-nth on "policy stopgap" over three groups under policy off: every
 * failure is ENOMEM, leaves the policy off and no gate (the files
 * byte-identical), and the next switch succeeds whole.
 */
FIXTURE(fault_policy)
{
	struct mmn_victim v[3];
	char nth_path[64];
};

FIXTURE_SETUP(fault_policy)
{
	int i;

	MMN_REQUIRE_MODULE();
	snprintf(self->nth_path, sizeof(self->nth_path), "/proc/self/task/%ld/fail-nth",
		 (long)syscall(SYS_gettid));
	ASSERT_TRUE(mmn_exists(self->nth_path) && mmn_exists(FAILSLAB));
	ASSERT_EQ(0, mmn_write_str(FAILSLAB "/ignore-gfp-wait", "N"));
	ASSERT_EQ(0, mmn_write_str(FAILSLAB "/verbose", "0"));
	for (i = 0; i < 3; i++) {
		self->v[i].pid = 0;
		self->v[i].pidfd = -1;
		self->v[i].dmirror_fd = -1;
	}
}

FIXTURE_TEARDOWN(fault_policy)
{
	int i;

	mmn_write_str(FAILSLAB "/ignore-gfp-wait", "Y");
	mmn_write_str(FAILSLAB "/verbose", "2");
	for (i = 0; i < 3; i++)
		mmn_victim_stop(&self->v[i]);
	mmn_load();
	mmn_ctl("detach all");
	mmn_ctl("policy stopgap");
}

/* Reloads the module on each try, like every_allocation_fails_once. */
TEST_F_TIMEOUT(fault_policy, switch_to_stopgap_fails_whole, 240)
{
	static char subs_before[65536], subs_after[65536];
	char stats_before[4096], stats_after[4096], nth[16], left[16];
	int fd, nth_fd, n, i, err = -1, failures = 0;
	bool injected = true;
	struct mmn_stats s;

	nth_fd = open(self->nth_path, O_RDWR);
	ASSERT_LE(0, nth_fd);
	for (n = 1; injected && n < 100; n++) {
		/* The same state every time: a fresh module, three fresh mms. */
		for (i = 0; i < 3; i++) {
			mmn_victim_stop(&self->v[i]);
			ASSERT_EQ(0, mmn_victim_start(&self->v[i], 1, false));
		}
		ASSERT_EQ(0, mmn_unload());
		ASSERT_EQ(0, mmn_load());
		ASSERT_EQ(0, mmn_ctl("policy off"));
		for (i = 0; i < 3; i++)
			ASSERT_EQ(0, mmn_ctl("attach %d 2", self->v[i].pid));
		ASSERT_LE(0, mmn_read_file(MMN_SUBSCRIBERS, subs_before, sizeof(subs_before)));
		ASSERT_LE(0, mmn_read_file(MMN_STATS, stats_before, sizeof(stats_before)));
		fd = open(MMN_CONTROL, O_WRONLY);
		ASSERT_LE(0, fd);
		snprintf(nth, sizeof(nth), "%d", n);
		ASSERT_EQ((ssize_t)strlen(nth), pwrite(nth_fd, nth, strlen(nth), 0));
		err = write(fd, "policy stopgap", 14) == 14 ? 0 : -errno;
		memset(left, 0, sizeof(left));
		ASSERT_LT(0, pread(nth_fd, left, sizeof(left) - 1, 0));
		injected = atoi(left) == 0;
		ASSERT_EQ(1, pwrite(nth_fd, "0", 1, 0));
		close(fd);
		if (!err) {
			ASSERT_EQ(0, mmn_stats(&s));
			EXPECT_STREQ("stopgap", s.policy);
			EXPECT_EQ(3, s.gates);
			continue;
		}
		failures++;
		EXPECT_TRUE(injected) TH_LOG("allocation %d: failed without an injection", n);
		EXPECT_EQ(-ENOMEM, err) TH_LOG("allocation %d: errno %d", n, -err);
		ASSERT_LE(0, mmn_read_file(MMN_SUBSCRIBERS, subs_after, sizeof(subs_after)));
		ASSERT_LE(0, mmn_read_file(MMN_STATS, stats_after, sizeof(stats_after)));
		/* Policy still off, no gate left: stats byte-identical say both. */
		EXPECT_STREQ(subs_before, subs_after)
			TH_LOG("allocation %d changed subscribers", n);
		EXPECT_STREQ(stats_before, stats_after) TH_LOG("allocation %d changed stats", n);
		/* And the next switch succeeds whole. */
		ASSERT_EQ(0, mmn_ctl("policy stopgap"));
		ASSERT_EQ(0, mmn_stats(&s));
		EXPECT_EQ(3, s.gates);
	}
	close(nth_fd);
	TH_LOG("policy stopgap over 3 groups: %d tries, %d injected failures gave ENOMEM",
	       n - 1, failures);
	EXPECT_FALSE(injected);
	ASSERT_EQ(0, err);
	/* The group list and one gate per group at least. */
	EXPECT_GE(failures, 4);
}

TEST_HARNESS_MAIN
