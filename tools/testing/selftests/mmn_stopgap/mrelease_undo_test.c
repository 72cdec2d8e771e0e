// SPDX-License-Identifier: GPL-2.0
/*
 * Regression test for today's mm/mmu_notifier.c undo: with policy raw (no
 * gate at all), an eagain subscriber refuses the non-blocking start of
 * process_mrelease(2); the core must still call invalidate_range_end on every
 * paired subscriber, before and after it in list order, so that every pair
 * balances.
 *
 * Raw is safe here only because the victim's mm never had an interval
 * notifier (no gate was ever inserted on it): the core then runs no
 * interval-tree pass that the refusal could leave open (core_repro shows what
 * happens otherwise). Under stopgap and off the gate refuses first.
 *
 * mmu_notifier_register() adds at the head of the hlist, so attaching
 * P P E P P gives the list order P P E P P (newest first): paired
 * subscribers on both sides of the eagain one.
 */
#include "mmn_stopgap.h"
#include "kselftest_harness.h"

#define VICTIM_MIB 16

FIXTURE(undo)
{
	struct mmn_victim v;
};

FIXTURE_SETUP(undo)
{
	MMN_REQUIRE_MODULE();
	ASSERT_EQ(0, mmn_clean_state());
	ASSERT_EQ(0, mmn_victim_start(&self->v, VICTIM_MIB, true));
	ASSERT_TRUE(mmn_wait_for(mmn_parked_at_least, 1, 5000));
}

/* Attaches P P E P P (or just E) under policy, then kills and reaps: the errno. */
static int reap_with(struct mmn_victim *v, const char *policy, bool paired_around)
{
	if (mmn_ctl("policy %s", policy))
		return -EIO;
	if (paired_around && mmn_ctl("attach %d 2 paired", v->pid))
		return -EIO;
	if (mmn_ctl("attach %d 1 eagain", v->pid))
		return -EIO;
	if (paired_around && mmn_ctl("attach %d 2 paired", v->pid))
		return -EIO;
	if (mmn_ctl("reset") || mmn_victim_kill(v))
		return -EIO;
	return mmn_mrelease(v);
}

FIXTURE_TEARDOWN(undo)
{
	mmn_victim_stop(&self->v);
	mmn_ctl("detach all");
	mmn_ctl("policy stopgap");
}

/* P P E P P under policy raw: EAGAIN from the core, every paired balanced. */
TEST_F(undo, paired_around_eagain_policy_raw)
{
	struct mmn_sub subs[8];
	struct mmn_stats s;
	int n, i;

	ASSERT_EQ(-EAGAIN, reap_with(&self->v, "raw", true));

	ASSERT_EQ(0, mmn_stats(&s));
	/* Policy raw: no gate, the core alone decided. */
	EXPECT_EQ(0, s.gates);
	EXPECT_EQ(0, s.refused);
	n = mmn_subs(subs, 8);
	ASSERT_EQ(5, n);
	for (i = 0; i < n; i++) {
		if (!strcmp(subs[i].kind, "eagain")) {
			/* It refused every non-blockable start it was offered. */
			EXPECT_GT(subs[i].nonblock, 0);
			EXPECT_EQ(0, subs[i].starts);
			EXPECT_EQ(0, subs[i].ends);
			continue;
		}
		/* The core called this paired subscriber's start, then its end. */
		EXPECT_GT(subs[i].starts, 0) TH_LOG("subscriber %ld", subs[i].id);
		EXPECT_EQ(subs[i].starts, subs[i].nonblock);
		EXPECT_EQ(subs[i].starts, subs[i].ends) TH_LOG("subscriber %ld", subs[i].id);
		EXPECT_EQ(0, subs[i].in_flight);
		EXPECT_EQ(0, subs[i].unpaired);
	}
}

/*
 * The same list under policy stopgap (the rule) and off (a refuser's gate):
 * refused by the gate, nobody called.
 */
static void refused_by_the_gate(struct __test_metadata *_metadata, struct mmn_victim *v,
				const char *policy)
{
	struct mmn_totals t;
	struct mmn_stats s;

	ASSERT_EQ(-EAGAIN, reap_with(v, policy, true));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(1, s.gates);
	EXPECT_GT(s.refused, 0);
	ASSERT_EQ(0, mmn_totals(NULL, v->pid, &t));
	EXPECT_EQ(5, t.count);
	EXPECT_EQ(0, t.starts);
	EXPECT_EQ(0, t.nonblock);
	EXPECT_EQ(0, t.ends);
}

TEST_F(undo, paired_around_eagain_policy_stopgap)
{
	refused_by_the_gate(_metadata, &self->v, "stopgap");
}

TEST_F(undo, paired_around_eagain_policy_off)
{
	refused_by_the_gate(_metadata, &self->v, "off");
}

/* One eagain subscriber alone, policy raw: it refuses, the core reports EAGAIN. */
TEST_F(undo, eagain_alone_policy_raw)
{
	struct mmn_sub subs[2];
	struct mmn_stats s;

	ASSERT_EQ(-EAGAIN, reap_with(&self->v, "raw", false));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(0, s.gates);
	EXPECT_EQ(0, s.gate_calls);
	ASSERT_EQ(1, mmn_subs(subs, 2));
	EXPECT_GT(subs[0].nonblock, 0);
	EXPECT_EQ(0, subs[0].starts);
	/* Detach it and the reap goes through. */
	ASSERT_EQ(0, mmn_ctl("detach %ld", subs[0].id));
	EXPECT_EQ(0, mmn_mrelease(&self->v));
	EXPECT_LT(mmn_rss_kb(self->v.pid, self->v.parked_tid), VICTIM_MIB * 1024 / 8);
}

/*
 * One eagain subscriber alone, policy stopgap or off: it would refuse anyway,
 * so the gate refuses first (a refusal after the interval-tree pass began
 * would leave it open for good).
 */
static void eagain_alone_gated(struct __test_metadata *_metadata, struct mmn_victim *v,
			       const char *policy)
{
	struct mmn_sub subs[2];
	struct mmn_stats s;

	ASSERT_EQ(-EAGAIN, reap_with(v, policy, false));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(1, s.gates);
	EXPECT_GT(s.refused, 0);
	ASSERT_EQ(1, mmn_subs(subs, 2));
	EXPECT_EQ(0, subs[0].nonblock);
	/* Detaching removes the gate at once: nothing was left open. */
	ASSERT_EQ(0, mmn_ctl("detach %ld", subs[0].id));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(0, s.gates);
	EXPECT_EQ(0, mmn_mrelease(v));
}

TEST_F(undo, eagain_alone_policy_stopgap)
{
	eagain_alone_gated(_metadata, &self->v, "stopgap");
}

TEST_F(undo, eagain_alone_policy_off)
{
	eagain_alone_gated(_metadata, &self->v, "off");
}

/*
 * Switching the policy removes and re-inserts the gates: every live group's
 * under stopgap, only a refuser's under off, none under raw.
 */
TEST_F(undo, policy_switch_moves_gates)
{
	struct mmn_victim w;
	struct mmn_stats s;

	ASSERT_EQ(0, mmn_victim_start(&w, 1, false));
	ASSERT_EQ(0, mmn_ctl("attach %d 2", self->v.pid));
	ASSERT_EQ(0, mmn_ctl("attach %d 1", w.pid));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(2, s.groups);
	EXPECT_EQ(2, s.gates);
	ASSERT_EQ(0, mmn_ctl("policy off"));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(2, s.groups);
	EXPECT_EQ(0, s.gates);
	/* A group created under off has no gate either. */
	ASSERT_EQ(0, mmn_ctl("detach all"));
	ASSERT_EQ(0, mmn_ctl("attach %d 2", self->v.pid));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(0, s.gates);
	/* A refuser under off brings a gate; raw takes it away. */
	ASSERT_EQ(0, mmn_ctl("attach %d 1 eagain", w.pid));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(1, s.gates);
	ASSERT_EQ(0, mmn_ctl("policy raw"));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(0, s.gates);
	ASSERT_EQ(0, mmn_ctl("policy off"));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(1, s.gates);
	ASSERT_EQ(0, mmn_ctl("detach pid %d", w.pid));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(0, s.gates);
	/* Back to stopgap: the gate returns and refuses again. */
	ASSERT_EQ(0, mmn_ctl("policy stopgap"));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(1, s.gates);
	ASSERT_EQ(0, mmn_victim_kill(&self->v));
	EXPECT_EQ(-EAGAIN, mmn_mrelease(&self->v));
	/* A group whose mm is dead gets no gate back. */
	mmn_victim_stop(&w);
	mmn_victim_stop(&self->v);
	ASSERT_EQ(0, mmn_ctl("attach %d 1", getpid()));
	ASSERT_EQ(0, mmn_ctl("policy off"));
	ASSERT_EQ(0, mmn_ctl("policy stopgap"));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(2, s.groups);
	EXPECT_EQ(1, s.gates);
}

TEST_HARNESS_MAIN
