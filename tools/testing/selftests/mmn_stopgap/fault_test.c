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

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		err = -errno;
	close(fd);
	return err;
}

FIXTURE(fault)
{
	struct mmn_victim v;
	int nth_fd;
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
	char path[64];

	if (!mmn_available())
		SKIP(return, "mmn_stopgap.ko not found (set MMN_STOPGAP_KO or install it)");
	snprintf(path, sizeof(path), "/proc/self/task/%ld/fail-nth", (long)syscall(SYS_gettid));
	if (!mmn_exists(path) || !mmn_exists(FAILSLAB))
		SKIP(return, "needs CONFIG_FAULT_INJECTION, CONFIG_FAILSLAB, CONFIG_FAULT_INJECTION_DEBUG_FS");
	ASSERT_EQ(0, mmn_clean_state());
	/* Fail GFP_KERNEL allocations too, and do not dump a stack for each. */
	ASSERT_EQ(0, write_str(FAILSLAB "/ignore-gfp-wait", "N"));
	ASSERT_EQ(0, write_str(FAILSLAB "/verbose", "0"));
	ASSERT_EQ(0, mmn_victim_start(&self->v, 1, false));
	if (!variant->fresh_group)
		ASSERT_EQ(0, mmn_ctl("attach %d 1", self->v.pid));
	self->nth_fd = open(path, O_RDWR);
	ASSERT_LE(0, self->nth_fd);
}

FIXTURE_TEARDOWN(fault)
{
	if (self->nth_fd >= 0)
		close(self->nth_fd);
	write_str(FAILSLAB "/ignore-gfp-wait", "Y");
	write_str(FAILSLAB "/verbose", "2");
	mmn_victim_stop(&self->v);
	mmn_ctl("detach all");
}

TEST_F(fault, every_allocation_fails_once)
{
	static char subs_before[65536], subs_after[65536];
	char stats_before[4096], stats_after[4096], cmd[64], nth[16];
	int fd, n, err, failures = 0;
	struct mmn_totals t;
	struct mmn_stats s;
	ssize_t len;

	len = snprintf(cmd, sizeof(cmd), "attach %d %d %s", self->v.pid, variant->count,
		       variant->kind);
	/* Open the control file before injecting: only the write is under test. */
	fd = open(MMN_CONTROL, O_WRONLY);
	ASSERT_LE(0, fd);
	for (n = 1; n < 200; n++) {
		ASSERT_LE(0, mmn_read_file(MMN_SUBSCRIBERS, subs_before, sizeof(subs_before)));
		ASSERT_LE(0, mmn_read_file(MMN_STATS, stats_before, sizeof(stats_before)));
		snprintf(nth, sizeof(nth), "%d", n);
		ASSERT_EQ((ssize_t)strlen(nth), pwrite(self->nth_fd, nth, strlen(nth), 0));
		err = write(fd, cmd, len) == len ? 0 : -errno;
		/* Disarm whatever is left of the countdown before reading the files. */
		ASSERT_EQ(1, pwrite(self->nth_fd, "0", 1, 0));
		if (!err)
			break;
		failures++;
		EXPECT_EQ(-ENOMEM, err) TH_LOG("allocation %d: errno %d", n, -err);
		ASSERT_LE(0, mmn_read_file(MMN_SUBSCRIBERS, subs_after, sizeof(subs_after)));
		ASSERT_LE(0, mmn_read_file(MMN_STATS, stats_after, sizeof(stats_after)));
		EXPECT_STREQ(subs_before, subs_after) TH_LOG("allocation %d changed subscribers", n);
		EXPECT_STREQ(stats_before, stats_after) TH_LOG("allocation %d changed stats", n);
	}
	close(fd);
	TH_LOG("attach %d %s: %d allocation points, each failed once with ENOMEM",
	       variant->count, variant->kind, failures);
	/* The attach that finally succeeded must not be hurt by the earlier failures. */
	ASSERT_EQ(0, err);
	EXPECT_GE(failures, variant->count);
	ASSERT_EQ(0, mmn_totals(NULL, self->v.pid, &t));
	EXPECT_EQ(variant->count + (variant->fresh_group ? 0 : 1), t.count);
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(1, s.groups);
	EXPECT_EQ(1, s.gates);
	/* And the group still works: detach everything cleanly. */
	EXPECT_EQ(0, mmn_ctl("detach pid %d", self->v.pid));
}

TEST_HARNESS_MAIN
