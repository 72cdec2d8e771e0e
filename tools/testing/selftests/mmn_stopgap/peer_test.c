// SPDX-License-Identifier: GPL-2.0
/*
 * The non-blocking paths next to the kernel's own C interval notifier:
 * lib/test_hmm's dmirror shares the victim's mm with 1 or 2 paired
 * subscribers, and the victim is reaped by process_mrelease(2) or by the
 * real OOM reaper.
 *
 *   1 paired: the reap goes through; every paired subscriber saw
 *     non-blockable starts and is balanced, the memory is gone; dmirror's
 *     interval notifier saw the reap and its pass ended (below);
 *   2 paired (policy stopgap): refused by the gate before anyone's start
 *     (the 2019 rule); no subscriber saw a non-blockable start, the memory
 *     is still there and dmirror still reads all of it.
 *
 * dmirror keeps no counters, so what it saw is read from its behaviour.
 * HMM_DMIRROR_READ serves pages from dmirror's own mirror when it has them
 * (cmd.faults 0) and faults only the pages its invalidation callback erased.
 * So the victim's pages are read once to fill the mirror, and read again
 * right before the reap: no fault, nothing invalidated them since (the
 * baseline). After a reap that went through, a read must fault (or fail:
 * the reaped mm no longer faults pages in): dmirror's callback ran for the
 * reap, the only invalidation of those pages since, a non-blockable one
 * (a stale mirror would serve them with no fault). And the read must return:
 * its fault starts with mmu_interval_read_begin(), which waits for the
 * interval tree's pass to end, so a pass left open would wedge it. The read
 * runs under the watchdog: an error is fine, a wedge is not. Whether
 * dmirror's callback ran before a refusal cannot be told apart (the gate and
 * dmirror cover the same range, in no fixed order), so the refused cases
 * assert only that dmirror reads every page.
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

/*
 * HMM_DMIRROR_READ of npages of the victim under the watchdog, reporting how
 * many faults dmirror needed (its cmd.faults; -1 when the read failed, as the
 * kernel then copies nothing back). Checks the victim's byte pattern (page i
 * holds i). Returns the pages read, -errno, -EBADMSG on wrong data, or
 * MMN_WEDGED.
 */
static int dmirror_read_faults(struct mmn_victim *v, size_t npages, long *faults)
{
	struct mmn_dmirror_args *a;
	size_t i;
	char *buf;
	int n;

	*faults = -1;
	/* Shared with the watchdog's child, which runs the ioctl: we read cmd after it. */
	a = mmap(NULL, sizeof(*a), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		return -errno;
	buf = mmap(NULL, npages << 12, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		n = -errno;
		munmap(a, sizeof(*a));
		return n;
	}
	a->fd = v->dmirror_fd;
	a->cmd.addr = v->addr;
	a->cmd.ptr = (uintptr_t)buf;
	a->cmd.npages = npages;
	n = mmn_watchdog(MMN_WATCHDOG_SECS, "HMM_DMIRROR_READ of the victim", mmn_dmirror_read_step,
			 a);
	if (n >= 0)
		*faults = (long)a->cmd.faults;
	for (i = 0; n > 0 && i < npages; i++)
		if (buf[i << 12] != (char)i)
			n = -EBADMSG;
	munmap(buf, npages << 12);
	munmap(a, sizeof(*a));
	return n;
}

/* The baseline: dmirror has every page and nothing invalidated them since. */
static void check_baseline(struct __test_metadata *_metadata, struct mmn_victim *v)
{
	long faults;

	ASSERT_EQ(PAGES, dmirror_read_faults(v, PAGES, &faults));
	ASSERT_EQ(0, faults) TH_LOG("dmirror's mirror lost pages before the reap");
}

/* After a reap that went through: dmirror's callback ran, and its pass ended. */
static void check_dmirror_after_reap(struct __test_metadata *_metadata, struct mmn_victim *v)
{
	long faults;
	int n;

	n = dmirror_read_faults(v, PAGES, &faults);
	ASSERT_NE(MMN_WEDGED, n) TH_LOG("the interval tree's pass was left open");
	EXPECT_TRUE(n < 0 || faults > 0)
		TH_LOG("dmirror served %d pages with %ld faults: it never saw the reap", n,
		       faults);
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
		check_dmirror_after_reap(_metadata, &self->v);
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
	check_baseline(_metadata, &self->v);
	ASSERT_EQ(0, mmn_victim_kill(&self->v));
	err = mmn_mrelease(&self->v);
	EXPECT_EQ(variant->reaped ? 0 : -EAGAIN, err);
	check_reap(_metadata, self, variant, &before,
		   mmn_rss_kb(self->v.pid, self->v.parked_tid));
}

/*
 * The OOM victim of this file: PAGES pages with the victim's byte pattern
 * (page i holds i) first, for dmirror to read, then mmn_oom_victim_flags()
 * (dmirror opened, a parked thread, allocation without bound on "go"). The
 * pattern pages are touched before the victim joins the memcg, so they are
 * charged outside it; the OOM reaper reaps them like any other anonymous
 * memory of the victim.
 */
static void __noreturn oom_victim(const char *cg, int go_fd, int tid_fd)
{
	char *p = mmap(NULL, PAGES << 12, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	int i;

	if (p == MAP_FAILED)
		_exit(1);
	for (i = 0; i < PAGES; i++)
		p[i << 12] = (char)i;
	mmn_victim_info.addr = (uintptr_t)p;
	mmn_oom_victim_flags(cg, go_fd, tid_fd, MMN_VICTIM_DMIRROR);
	_exit(1);
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
		oom_victim(self->cg, gofd[0], tidfd[1]);
	ASSERT_EQ((ssize_t)sizeof(msg), read(tidfd[0], &msg, sizeof(msg)));
	ASSERT_EQ(0, msg.err);
	self->v.parked_tid = msg.tid;
	self->v.addr = msg.addr;
	self->v.pidfd = syscall(__NR_pidfd_open, self->v.pid, 0);
	ASSERT_LE(0, self->v.pidfd);
	self->v.dmirror_fd = syscall(__NR_pidfd_getfd, self->v.pidfd, msg.dmirror_fd, 0);
	ASSERT_LE(0, self->v.dmirror_fd);
	ASSERT_TRUE(mmn_wait_for(mmn_parked_at_least, 1, 5000));
	/* dmirror mirrors the pattern pages, as in the process_mrelease case. */
	ASSERT_EQ(PAGES, mmn_dmirror_read(&self->v, PAGES));
	ASSERT_EQ(0, mmn_ctl("attach %d %d", self->v.pid, variant->subscribers));
	ASSERT_EQ(variant->subscribers, mmn_snapshot(self->v.pid, &before));
	check_baseline(_metadata, &self->v);
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
		check_dmirror_after_reap(_metadata, &self->v);
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
		/* Nothing was reaped: dmirror still reads every page, pattern intact. */
		EXPECT_EQ(PAGES, mmn_dmirror_read(&self->v, PAGES));
	}
}

TEST_HARNESS_MAIN
