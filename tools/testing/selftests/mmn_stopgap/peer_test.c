// SPDX-License-Identifier: GPL-2.0
/*
 * The non-blocking paths next to the kernel's own C interval notifier:
 * lib/test_hmm's dmirror shares the victim's mm with 1 or 2 paired
 * subscribers, and the victim is reaped by process_mrelease(2) or by the
 * real OOM reaper.
 *
 *   1 paired: the reap goes through; dmirror's interval notifier and every
 *     paired subscriber saw non-blockable starts, each paired subscriber is
 *     balanced, the memory is gone;
 *   2 paired (policy stopgap): refused by the gate before anyone's start
 *     (the 2019 rule); no subscriber saw a non-blockable start, the memory
 *     is still there and dmirror still reads it.
 *
 * A mirror does not count toward "several subscribers": the rule counts the
 * hlist subscriptions whose start/end pairs the stop gap protects.
 */
#include "mmn_stopgap.h"
#include "kselftest_harness.h"

#define VICTIM_MIB	16
#define PAGES		16
#define LIMIT_MIB	48

FIXTURE(peer)
{
	struct mmn_victim v;
	char cg[256];
};

FIXTURE_VARIANT(peer)
{
	int subscribers;
	bool reaped;
};

FIXTURE_VARIANT_ADD(peer, one_paired_reaped) { 1, true };
FIXTURE_VARIANT_ADD(peer, two_paired_refused) { 2, false };

FIXTURE_SETUP(peer)
{
	MMN_REQUIRE_MODULE();
	ASSERT_TRUE(mmn_dmirror_available()) TH_LOG("no /dev/hmm_dmirror0 (lib/test_hmm)");
	ASSERT_EQ(0, mmn_clean_state());
	self->v.pid = 0;
	self->v.pidfd = -1;
	self->v.dmirror_fd = -1;
	self->cg[0] = '\0';
}

FIXTURE_TEARDOWN(peer)
{
	if (mmn_wedged_steps)
		return;
	mmn_victim_stop(&self->v);
	mmn_ctl("detach all");
	if (self->cg[0])
		rmdir(self->cg);
}

/* What the variant says after the reap: per subscriber, then the memory. */
static void check_reap(struct __test_metadata *_metadata, FIXTURE_DATA(peer) *self,
		       const FIXTURE_VARIANT(peer) *variant, const struct mmn_snapshot *before,
		       long rss_kb)
{
	struct mmn_stats s;

	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(1, s.gates);
	if (variant->reaped) {
		/* Every subscriber started and ended non-blocking ranges, each paired. */
		EXPECT_EQ(0, mmn_check_each(before, -1));
		EXPECT_EQ(0, s.refused);
		EXPECT_LT(rss_kb, VICTIM_MIB * 1024 / 4);
	} else {
		struct mmn_snapshot now;
		int i;

		EXPECT_GT(s.refused, 0);
		ASSERT_EQ(before->n, mmn_snapshot(before->subs[0].pid, &now));
		for (i = 0; i < now.n; i++) {
			/* Refused before any start: nobody saw anything. */
			EXPECT_EQ(before->subs[i].starts, now.subs[i].starts);
			EXPECT_EQ(0, now.subs[i].nonblock);
			EXPECT_EQ(0, now.subs[i].in_flight);
		}
		EXPECT_GE(rss_kb, VICTIM_MIB * 1024 / 2);
		EXPECT_EQ(PAGES, mmn_dmirror_read(&self->v, PAGES));
	}
}

TEST_F(peer, process_mrelease)
{
	struct mmn_snapshot before;
	int err;

	ASSERT_EQ(0, mmn_victim_start_flags(&self->v, VICTIM_MIB,
					    MMN_VICTIM_PARK | MMN_VICTIM_DMIRROR));
	ASSERT_TRUE(mmn_wait_for(mmn_parked_at_least, 1, 5000));
	ASSERT_EQ(PAGES, mmn_dmirror_read(&self->v, PAGES));
	ASSERT_EQ(0, mmn_ctl("attach %d %d", self->v.pid, variant->subscribers));
	ASSERT_EQ(variant->subscribers, mmn_snapshot(self->v.pid, &before));
	ASSERT_EQ(0, mmn_victim_kill(&self->v));
	err = mmn_mrelease(&self->v);
	EXPECT_EQ(variant->reaped ? 0 : -EAGAIN, err);
	check_reap(_metadata, self, variant, &before,
		   mmn_rss_kb(self->v.pid, self->v.parked_tid));
}

TEST_F_TIMEOUT(peer, oom_reaper, 120)
{
	const char *missing = mmn_memcg_missing();
	struct mmn_victim_msg msg;
	struct mmn_snapshot before;
	char name[64], needle[64], tag[64];
	int tidfd[2], gofd[2], found = 0;
	double end;

	ASSERT_EQ(NULL, missing) TH_LOG("%s", missing);
	snprintf(name, sizeof(name), "mmn_peer_%d", getpid());
	ASSERT_EQ(0, mmn_memcg_create(name, LIMIT_MIB, self->cg, sizeof(self->cg)));
	ASSERT_EQ(0, pipe(tidfd));
	ASSERT_EQ(0, pipe(gofd));
	self->v.pid = fork();
	ASSERT_LE(0, self->v.pid);
	if (self->v.pid == 0)
		mmn_oom_victim_flags(self->cg, gofd[0], tidfd[1], MMN_VICTIM_DMIRROR);
	ASSERT_EQ((ssize_t)sizeof(msg), read(tidfd[0], &msg, sizeof(msg)));
	ASSERT_EQ(0, msg.err);
	self->v.parked_tid = msg.tid;
	self->v.pidfd = syscall(__NR_pidfd_open, self->v.pid, 0);
	ASSERT_LE(0, self->v.pidfd);
	self->v.dmirror_fd = syscall(__NR_pidfd_getfd, self->v.pidfd, msg.dmirror_fd, 0);
	ASSERT_LE(0, self->v.dmirror_fd);
	ASSERT_TRUE(mmn_wait_for(mmn_parked_at_least, 1, 5000));
	ASSERT_EQ(0, mmn_ctl("attach %d %d", self->v.pid, variant->subscribers));
	ASSERT_EQ(variant->subscribers, mmn_snapshot(self->v.pid, &before));
	ASSERT_EQ(1, write(gofd[1], "g", 1));

	snprintf(tag, sizeof(tag), "pid:%d ", self->v.pid);
	snprintf(needle, sizeof(needle), "process %d ", self->v.pid);
	end = mmn_now() + 60;
	while (mmn_now() < end && !found) {
		found = variant->reaped ? mmn_kmsg_count2("oom_reaper: reaped", needle) :
					  mmn_kmsg_count2("oom_reaper: unable to reap", tag);
		mmn_sleep_ms(100);
	}
	ASSERT_EQ(1, found) TH_LOG("no \"oom_reaper: %s\" for pid %d within 60 s",
				   variant->reaped ? "reaped" : "unable to reap", self->v.pid);
	/* The victim allocated past the limit: judge the memory against it. */
	if (variant->reaped) {
		EXPECT_EQ(0, mmn_check_each(&before, -1));
		EXPECT_LT(mmn_rss_kb(self->v.pid, self->v.parked_tid), LIMIT_MIB * 1024 / 4);
	} else {
		struct mmn_snapshot now;
		struct mmn_stats s;
		int i;

		ASSERT_EQ(0, mmn_stats(&s));
		EXPECT_GT(s.refused, 0);
		ASSERT_EQ(before.n, mmn_snapshot(self->v.pid, &now));
		for (i = 0; i < now.n; i++) {
			EXPECT_EQ(0, now.subs[i].nonblock);
			EXPECT_EQ(0, now.subs[i].in_flight);
		}
		EXPECT_GE(mmn_rss_kb(self->v.pid, self->v.parked_tid), LIMIT_MIB * 1024 / 2);
	}
}

TEST_HARNESS_MAIN
