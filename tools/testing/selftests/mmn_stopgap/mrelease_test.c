// SPDX-License-Identifier: GPL-2.0
/*
 * The stop gap on the real process_mrelease(2) path.
 *
 * A victim with 64 MiB touched and one thread parked in the module (which
 * keeps its mm alive) is SIGKILLed, then reaped with process_mrelease:
 * the reaper invalidates every VMA with mmu_notifier_invalidate_range_start_nonblock().
 */
#include "mmn_stopgap.h"
#include "kselftest_harness.h"

#define VICTIM_MIB 64
#define VICTIM_KB (VICTIM_MIB * 1024L)

FIXTURE(mrelease)
{
	struct mmn_victim v;
};

FIXTURE_VARIANT(mrelease)
{
	int subscribers;
	const char *policy;
	int want_errno;		/* of process_mrelease */
};

FIXTURE_VARIANT_ADD(mrelease, one_subscriber) { 1, "stopgap", 0 };
FIXTURE_VARIANT_ADD(mrelease, two_subscribers) { 2, "stopgap", EAGAIN };
FIXTURE_VARIANT_ADD(mrelease, three_subscribers) { 3, "stopgap", EAGAIN };
FIXTURE_VARIANT_ADD(mrelease, eight_subscribers) { 8, "stopgap", EAGAIN };
FIXTURE_VARIANT_ADD(mrelease, one_policy_off) { 1, "off", 0 };
FIXTURE_VARIANT_ADD(mrelease, two_policy_off) { 2, "off", 0 };
FIXTURE_VARIANT_ADD(mrelease, eight_policy_off) { 8, "off", 0 };

FIXTURE_SETUP(mrelease)
{
	MMN_REQUIRE_MODULE();
	ASSERT_EQ(0, mmn_clean_state());
	ASSERT_EQ(0, mmn_victim_start(&self->v, VICTIM_MIB, true));
	ASSERT_TRUE(mmn_wait_for(mmn_parked_at_least, 1, 5000));
	ASSERT_EQ(0, mmn_ctl("policy %s", variant->policy));
	ASSERT_EQ(0, mmn_ctl("attach %d %d", self->v.pid, variant->subscribers));
	ASSERT_EQ(0, mmn_ctl("reset"));
}

FIXTURE_TEARDOWN(mrelease)
{
	mmn_victim_stop(&self->v);
	mmn_ctl("detach all");
	mmn_ctl("policy stopgap");
}

/*
 * 1 subscriber: reaped, every pair balanced. 2+ subscribers: EAGAIN, refused
 * by the gate before any subscriber start, memory untouched. Policy off:
 * reaped, every pair balanced.
 */
TEST_F(mrelease, reap)
{
	struct mmn_snapshot each;
	struct mmn_totals t;
	struct mmn_stats s;
	long before, after;
	int err;

	ASSERT_EQ(variant->subscribers, mmn_snapshot(self->v.pid, &each));
	before = mmn_rss_kb(self->v.pid, self->v.parked_tid);
	ASSERT_GE(before, VICTIM_KB);
	ASSERT_EQ(0, mmn_victim_kill(&self->v));
	err = mmn_mrelease(&self->v);
	after = mmn_rss_kb(self->v.pid, self->v.parked_tid);
	ASSERT_EQ(-variant->want_errno, err);

	ASSERT_EQ(0, mmn_stats(&s));
	ASSERT_EQ(0, mmn_totals(NULL, self->v.pid, &t));
	ASSERT_EQ(variant->subscribers, t.count);
	if (!strcmp(variant->policy, "off")) {
		/* Policy off: no gate at all, today's core alone. */
		EXPECT_EQ(0, s.gates);
		EXPECT_EQ(0, s.gate_calls);
	} else {
		EXPECT_EQ(1, s.gates);
		EXPECT_GT(s.nonblock_seen, 0);
	}
	EXPECT_EQ(0, t.in_flight);
	EXPECT_EQ(0, t.unpaired);
	if (variant->want_errno) {
		/* Refused early: the gate saw it, no subscriber did. */
		EXPECT_GT(s.refused, 0);
		EXPECT_EQ(s.nonblock_seen, s.refused);
		EXPECT_EQ(0, t.starts);
		EXPECT_EQ(0, t.nonblock);
		EXPECT_EQ(0, t.ends);
		/* The reviewer's objection, measured: nothing was freed. */
		EXPECT_GE(after, VICTIM_KB);
	} else {
		EXPECT_EQ(0, s.refused);
		/* Every subscriber saw every non-blocking range, paired. */
		EXPECT_GT(t.nonblock, 0);
		EXPECT_EQ(0, t.nonblock % variant->subscribers);
		if (s.gates)
			EXPECT_EQ(s.nonblock_seen * variant->subscribers, t.nonblock);
		EXPECT_EQ(t.starts, t.ends);
		EXPECT_EQ(t.nonblock, t.starts);
		EXPECT_LT(after, VICTIM_KB / 8);
		/* And each one on its own: non-blockable starts, each with its end. */
		EXPECT_EQ(0, mmn_check_each(&each, -1));
	}
}

/* After a refusal, detaching down to one subscriber makes reaping work again. */
TEST(detach_to_one_then_reap)
{
	struct mmn_victim v;
	struct mmn_sub subs[8];
	long after;
	int n, i;

	MMN_REQUIRE_MODULE();
	ASSERT_EQ(0, mmn_clean_state());
	ASSERT_EQ(0, mmn_victim_start(&v, VICTIM_MIB, true));
	ASSERT_TRUE(mmn_wait_for(mmn_parked_at_least, 1, 5000));
	ASSERT_EQ(0, mmn_ctl("attach %d 3", v.pid));
	ASSERT_EQ(0, mmn_victim_kill(&v));
	EXPECT_EQ(-EAGAIN, mmn_mrelease(&v));
	n = mmn_subs(subs, 8);
	EXPECT_EQ(3, n);
	for (i = 1; i < n; i++)
		EXPECT_EQ(0, mmn_ctl("detach %ld", subs[i].id));
	EXPECT_EQ(0, mmn_mrelease(&v));
	after = mmn_rss_kb(v.pid, v.parked_tid);
	EXPECT_LT(after, VICTIM_KB / 8);
	mmn_victim_stop(&v);
	mmn_ctl("detach all");
}

TEST_HARNESS_MAIN
