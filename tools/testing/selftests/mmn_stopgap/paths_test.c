// SPDX-License-Identifier: GPL-2.0
/*
 * Blocking invalidation paths keep every subscriber paired.
 *
 * The test process attaches 1, 2 or 8 paired subscribers to its own mm, runs
 * one real path (munmap, madvise(MADV_DONTNEED), mprotect, mremap, or exit),
 * and checks each subscriber on its own: it saw the path (its starts went up)
 * and stayed paired (starts == ends, nothing in flight, nothing unpaired, no
 * non-blockable start). The region is small pages (MADV_NOHUGEPAGE, checked
 * in its smaps), so these are the PTE paths; the PMD ones are in
 * mmpaths_test.c.
 *
 * fork with copy-on-write writes cannot be watched on our own mm: after a
 * fork every write of ours (the watchdog's worker, its buffers, the stack) is
 * a copy-on-write fault, an invalidation that would satisfy the check
 * whatever the path did. Those cases watch a helper process that does only
 * what it is told on a pipe, from a quiet baseline, and count exactly; a
 * negative control proves that the "saw a new start" check fails when
 * nothing happened.
 */
#include "mmn_stopgap.h"
#include <sys/prctl.h>
#include "kselftest_harness.h"

#define REGION (4UL << 20)
/* Pages the helper writes after its fork: each one copy-on-write fault. */
#define COW_PAGES 64
/* How long a helper command may take before the case fails (it never blocks). */
#define HELPER_MS 10000

/*
 * The helper: a child of the test that owns COW_PAGES pages of its own and
 * runs one command per byte on its command pipe, answering each with one byte
 * (0: done) on its answer pipe. Each command touches nothing but what it
 * names:
 *   'n'	nothing (the protocol's own round trip);
 *   'f'	fork a child that keeps every page shared and sleeps;
 *   'w'	write one byte to each of its COW_PAGES pages;
 *   'q'	kill and reap that child, answer, and exit.
 * The helper leads its own process group, so that a helper that does not
 * answer goes with its child in one kill.
 */
struct helper {
	pid_t pid;
	int cmd, ans;
};

FIXTURE(paths)
{
	struct mmn_snapshot before;
	struct helper h;
	char *p;
};

FIXTURE_VARIANT(paths)
{
	int subscribers;
};

FIXTURE_VARIANT_ADD(paths, one) { 1 };
FIXTURE_VARIANT_ADD(paths, two) { 2 };
FIXTURE_VARIANT_ADD(paths, eight) { 8 };

/*
 * Small pages only: with a THP the munmap, mprotect and mremap below would
 * take the PMD paths (zap_huge_pmd(), change_huge_pmd(), move_huge_pmd())
 * instead of the PTE ones, and khugepaged could collapse the region behind
 * our back, an invalidation the case did not make.
 */
static char *populated(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return p;
	if (madvise(p, len, MADV_NOHUGEPAGE)) {
		munmap(p, len);
		return MAP_FAILED;
	}
	memset(p, 0x5a, len);
	return p;
}

static void __noreturn helper_main(pid_t test, int cmd, int ans)
{
	size_t len = (size_t)COW_PAGES << 12;
	pid_t child = 0, pid;
	char *p, c, r = 0;
	int i;

	/* Nothing outlives the test: the helper dies with it, its child with the helper. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != test)
		_exit(1);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* Small pages: one copy-on-write fault, one invalidation, per page written. */
	if (p == MAP_FAILED || madvise(p, len, MADV_NOHUGEPAGE))
		_exit(1);
	memset(p, 0x5a, len);
	/* Ready. */
	if (write(ans, &r, 1) != 1)
		_exit(2);
	for (;;) {
		if (read(cmd, &c, 1) != 1)
			_exit(0);
		r = 0;
		switch (c) {
		case 'n':
			break;
		case 'f':
			if (child > 0) {
				r = 1;
				break;
			}
			pid = fork();
			if (pid == 0) {
				/* Writes nothing of the shared pages: they stay shared. */
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				for (;;)
					pause();
			}
			r = pid < 0;
			if (pid > 0)
				child = pid;
			break;
		case 'w':
			for (i = 0; i < COW_PAGES; i++)
				p[(size_t)i << 12]++;
			break;
		case 'q':
			/* Reaped here, the child is no orphan left to init. */
			if (child > 0) {
				kill(child, SIGKILL);
				waitpid(child, NULL, 0);
			}
			if (write(ans, &r, 1) != 1)
				_exit(2);
			_exit(0);
		default:
			r = 1;
		}
		if (write(ans, &r, 1) != 1)
			_exit(2);
	}
}

/* Waits at most HELPER_MS for the helper's answer byte. Returns 0 or -errno. */
static int helper_answer(struct helper *h)
{
	struct pollfd pfd = { .fd = h->ans, .events = POLLIN };
	char r;

	if (poll(&pfd, 1, HELPER_MS) != 1)
		return -ETIMEDOUT;
	if (read(h->ans, &r, 1) != 1)
		return -EPIPE;
	return r ? -EIO : 0;
}

/* Starts the helper and waits until it is ready. Returns 0 or -errno. */
static int helper_start(struct helper *h)
{
	pid_t test = getpid();
	int cmd[2], ans[2], err;

	/* A helper that died must fail the case, not kill us on a write to its pipe. */
	signal(SIGPIPE, SIG_IGN);
	if (pipe(cmd))
		return -errno;
	if (pipe(ans)) {
		close(cmd[0]);
		close(cmd[1]);
		return -errno;
	}
	h->pid = fork();
	if (h->pid < 0) {
		err = -errno;
		close(cmd[0]);
		close(cmd[1]);
		close(ans[0]);
		close(ans[1]);
		return err;
	}
	if (h->pid == 0) {
		setpgid(0, 0);
		close(cmd[1]);
		close(ans[0]);
		helper_main(test, cmd[0], ans[1]);
	}
	/* Both sides set the group: it exists whichever runs first. */
	setpgid(h->pid, h->pid);
	close(cmd[0]);
	close(ans[1]);
	h->cmd = cmd[1];
	h->ans = ans[0];
	return helper_answer(h);
}

/* One command to the helper and its answer. Returns 0 or -errno. */
static int helper_do(struct helper *h, char c)
{
	if (write(h->cmd, &c, 1) != 1)
		return -EPIPE;
	return helper_answer(h);
}

/*
 * Ends the helper and its child: by asking first, so that the helper reaps
 * its child, then by killing the whole group, whatever the answer. Safe to
 * call twice, or without a helper.
 */
static void helper_stop(struct helper *h)
{
	if (h->pid <= 0)
		return;
	helper_do(h, 'q');
	kill(-h->pid, SIGKILL);
	waitpid(h->pid, NULL, 0);
	close(h->cmd);
	close(h->ans);
	h->pid = 0;
}

/*
 * Subscribers of now whose counters (starts, ends, nonblock, in_flight,
 * unpaired) differ from before, each printed; -1 if the sets differ.
 */
static int changed(const struct mmn_snapshot *before, const struct mmn_snapshot *now)
{
	int i, bad = 0;

	if (before->n != now->n)
		return -1;
	for (i = 0; i < now->n; i++) {
		const struct mmn_sub *b = &before->subs[i], *a = &now->subs[i];

		if (a->id != b->id)
			return -1;
		if (a->starts == b->starts && a->ends == b->ends && a->nonblock == b->nonblock &&
		    a->in_flight == b->in_flight && a->unpaired == b->unpaired)
			continue;
		fprintf(stderr,
			"# subscriber %ld: starts %ld -> %ld, ends %ld -> %ld, nonblock %ld -> %ld, in_flight %ld, unpaired %ld\n",
			a->id, b->starts, a->starts, b->ends, a->ends, b->nonblock, a->nonblock,
			a->in_flight, a->unpaired);
		bad++;
	}
	return bad;
}

/* The fewest new starts any subscriber of before saw since; -1 if the set changed. */
static long fewest_new_starts(const struct mmn_snapshot *before)
{
	struct mmn_snapshot now;
	long fewest = LONG_MAX;
	int i;

	if (mmn_snapshot(before->subs[0].pid, &now) != before->n)
		return -1;
	for (i = 0; i < now.n; i++) {
		if (now.subs[i].id != before->subs[i].id)
			return -1;
		if (now.subs[i].starts - before->subs[i].starts < fewest)
			fewest = now.subs[i].starts - before->subs[i].starts;
	}
	return fewest;
}

/*
 * Moves the case from our own mm to the helper's: our subscribers go, the
 * helper starts, runs one round trip before anyone watches (so that the
 * protocol's own first writes, copy-on-write of pages it shares with us since
 * its fork, are behind it), gets the variant's subscribers, and must then be
 * quiet: two snapshots back to back are identical. before gets the second.
 */
static void watch_helper(struct __test_metadata *_metadata, FIXTURE_DATA(paths) *self,
			 int subscribers, struct mmn_snapshot *before)
{
	struct mmn_snapshot first;

	ASSERT_EQ(0, mmn_ctl("detach all"));
	ASSERT_EQ(0, munmap(self->p, REGION));
	ASSERT_EQ(0, helper_start(&self->h));
	ASSERT_EQ(0, helper_do(&self->h, 'n'));
	ASSERT_EQ(0, mmn_ctl("attach %d %d", self->h.pid, subscribers));
	ASSERT_EQ(subscribers, mmn_snapshot(self->h.pid, &first));
	ASSERT_EQ(subscribers, mmn_snapshot(self->h.pid, before));
	ASSERT_EQ(0, changed(&first, before)) TH_LOG("the helper's mm is not quiet");
}

FIXTURE_SETUP(paths)
{
	MMN_REQUIRE_MODULE();
	self->h.pid = 0;
	ASSERT_EQ(0, mmn_clean_state());
	self->p = populated(REGION);
	ASSERT_NE(MAP_FAILED, self->p);
	ASSERT_EQ(0, mmn_huge_kb(0, self->p, REGION)) TH_LOG("the region has huge pages");
	ASSERT_EQ(0, mmn_ctl("attach %d %d", getpid(), variant->subscribers));
	ASSERT_EQ(variant->subscribers, mmn_snapshot(getpid(), &self->before));
}

FIXTURE_TEARDOWN(paths)
{
	helper_stop(&self->h);
	mmn_ctl("detach all");
}

/* Each subscriber of ours saw at least one more start, and each is paired. */
static void check_paired(struct __test_metadata *_metadata, const struct mmn_snapshot *before,
			 int subscribers)
{
	ASSERT_EQ(subscribers, before->n);
	/* Blocking paths: no subscriber saw a non-blockable start. */
	EXPECT_EQ(0, mmn_check_each(before, 0));
}

TEST_F(paths, munmap)
{
	ASSERT_EQ(0, munmap(self->p, REGION));
	check_paired(_metadata, &self->before, variant->subscribers);
}

TEST_F(paths, madvise_dontneed)
{
	ASSERT_EQ(0, madvise(self->p, REGION, MADV_DONTNEED));
	check_paired(_metadata, &self->before, variant->subscribers);
	/* The memory really went: it reads back as zero. */
	EXPECT_EQ(0, self->p[REGION / 2]);
	munmap(self->p, REGION);
}

TEST_F(paths, mprotect)
{
	ASSERT_EQ(0, mprotect(self->p, REGION, PROT_READ));
	check_paired(_metadata, &self->before, variant->subscribers);
	munmap(self->p, REGION);
}

TEST_F(paths, mremap_move)
{
	char *dst = mmap(NULL, REGION, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *q;

	ASSERT_NE(MAP_FAILED, dst);
	q = mremap(self->p, REGION, REGION, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	ASSERT_EQ(dst, q);
	EXPECT_EQ(0x5a, q[REGION - 1]);
	check_paired(_metadata, &self->before, variant->subscribers);
	munmap(q, REGION);
}

/*
 * fork, then copy-on-write, on the helper's mm. The fork write-protects the
 * helper's private pages (copy_page_range(): at least one start per
 * subscriber); each of its COW_PAGES writes to a page its child still shares
 * copies that page (wp_page_copy(): one start per page, so at least
 * COW_PAGES per subscriber); writing the same pages again, now its own,
 * faults nothing (exactly no start).
 */
TEST_F(paths, fork_cow_write)
{
	struct mmn_snapshot before, forked, written, again;

	watch_helper(_metadata, self, variant->subscribers, &before);
	ASSERT_EQ(0, helper_do(&self->h, 'f'));
	/* Blocking paths: no subscriber saw a non-blockable start. */
	EXPECT_EQ(0, mmn_check_each(&before, 0));
	ASSERT_EQ(variant->subscribers, mmn_snapshot(self->h.pid, &forked));
	ASSERT_EQ(0, helper_do(&self->h, 'w'));
	EXPECT_EQ(0, mmn_check_each(&forked, 0));
	EXPECT_LE(COW_PAGES, fewest_new_starts(&forked));
	ASSERT_EQ(variant->subscribers, mmn_snapshot(self->h.pid, &written));
	ASSERT_EQ(0, helper_do(&self->h, 'w'));
	ASSERT_EQ(variant->subscribers, mmn_snapshot(self->h.pid, &again));
	EXPECT_EQ(0, changed(&written, &again)) TH_LOG("writes to copied pages invalidated");
}

/*
 * The negative control of the cases above: the helper's mm, watched from a
 * quiet baseline, and a round trip of the protocol that touches nothing.
 * mmn_check_each() must then find that no subscriber saw a new start (one
 * violation each, printed above this case's result): the check can fail, so
 * its passing elsewhere means the path reached every subscriber.
 */
TEST_F(paths, control_nothing_happens)
{
	struct mmn_snapshot before, now;

	watch_helper(_metadata, self, variant->subscribers, &before);
	ASSERT_EQ(0, helper_do(&self->h, 'n'));
	EXPECT_EQ(variant->subscribers, mmn_check_each(&before, 0));
	ASSERT_EQ(variant->subscribers, mmn_snapshot(self->h.pid, &now));
	EXPECT_EQ(0, changed(&before, &now));
}

/* exit: release marks the subscribers dead; they stay listed and paired. */
TEST_F(paths, exit_release)
{
	struct mmn_victim v;
	struct mmn_sub subs[8];
	struct mmn_stats s0, s1;
	int i;

	ASSERT_EQ(0, mmn_ctl("detach all"));
	ASSERT_EQ(0, mmn_victim_start(&v, 4, false));
	ASSERT_EQ(0, mmn_ctl("attach %d %d", v.pid, variant->subscribers));
	ASSERT_EQ(0, mmn_stats(&s0));
	mmn_victim_stop(&v);
	ASSERT_EQ(variant->subscribers, mmn_subs(subs, 8));
	for (i = 0; i < variant->subscribers; i++) {
		EXPECT_STREQ("dead", subs[i].state);
		EXPECT_EQ(subs[i].starts, subs[i].ends);
		EXPECT_EQ(0, subs[i].in_flight);
		EXPECT_EQ(0, subs[i].unpaired);
	}
	/* The gate saw the release range (and the exit's unmaps, if any). */
	ASSERT_EQ(0, mmn_stats(&s1));
	EXPECT_GT(s1.gate_calls, s0.gate_calls);
	EXPECT_EQ(0, s1.refused);
}

TEST_HARNESS_MAIN
