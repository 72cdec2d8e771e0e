// SPDX-License-Identifier: GPL-2.0
/*
 * Blocking invalidation paths keep every subscriber paired.
 *
 * The test process attaches 1, 2 or 8 paired subscribers to its own mm, runs
 * one real path (munmap, madvise(MADV_DONTNEED), mprotect, mremap, fork with
 * a copy-on-write write, or exit), and checks each subscriber on its own: it
 * saw the path (its starts went up) and stayed paired (starts == ends,
 * nothing in flight, nothing unpaired, no non-blockable start).
 */
#include "mmn_stopgap.h"
#include "kselftest_harness.h"

#define REGION (4UL << 20)

FIXTURE(paths)
{
	struct mmn_snapshot before;
	char *p;
};

FIXTURE_VARIANT(paths)
{
	int subscribers;
};

FIXTURE_VARIANT_ADD(paths, one) { 1 };
FIXTURE_VARIANT_ADD(paths, two) { 2 };
FIXTURE_VARIANT_ADD(paths, eight) { 8 };

static char *populated(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p != MAP_FAILED)
		memset(p, 0x5a, len);
	return p;
}

FIXTURE_SETUP(paths)
{
	MMN_REQUIRE_MODULE();
	ASSERT_EQ(0, mmn_clean_state());
	self->p = populated(REGION);
	ASSERT_NE(MAP_FAILED, self->p);
	ASSERT_EQ(0, mmn_ctl("attach %d %d", getpid(), variant->subscribers));
	ASSERT_EQ(variant->subscribers, mmn_snapshot(getpid(), &self->before));
}

FIXTURE_TEARDOWN(paths)
{
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

TEST_F(paths, fork_cow_write)
{
	struct mmn_snapshot mid;
	pid_t child;
	int status;

	child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		/* The child's own writes do not touch the parent's mm. */
		pause();
		_exit(0);
	}
	/* fork write-protected our private pages: each subscriber saw that. */
	EXPECT_EQ(0, mmn_check_each(&self->before, 0));
	ASSERT_EQ(variant->subscribers, mmn_snapshot(getpid(), &mid));
	/* Copy-on-write in the parent: one more invalidation per written page. */
	self->p[0] = 1;
	self->p[REGION - 1] = 2;
	check_paired(_metadata, &mid, variant->subscribers);
	kill(child, SIGKILL);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	munmap(self->p, REGION);
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
