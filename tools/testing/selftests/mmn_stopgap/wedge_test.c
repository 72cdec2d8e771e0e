// SPDX-License-Identifier: GPL-2.0
/*
 * Never wedge an mm. Once an mm has had an interval notifier, every
 * invalidation opens an interval-tree pass; an hlist subscriber that refuses
 * a non-blockable start after that pass began leaves it open for good (the
 * core bug of patches/0001), and every later interval-notifier insertion,
 * removal or mmu_interval_read_begin() on the mm waits forever. The module
 * must never be that subscriber, whatever the history of the mm and under
 * every policy but raw (core_test covers raw).
 *
 * Every step that could block runs under the watchdog of mmn_stopgap.h: a
 * blocked step fails the case with the task's state and wait channel, and
 * never hangs the suite. After each scenario the mm is proven healthy twice:
 * a fresh gate is inserted and waited for (mmu_interval_read_begin() in the
 * module), and, where test_hmm is loaded, dmirror reads the victim's memory
 * (mmu_interval_read_begin() in a C driver).
 */
#include "mmn_stopgap.h"
#include "kselftest_harness.h"

#define VICTIM_MIB	8
#define VICTIM_PAGES	16
/* A step that is fine returns within milliseconds: 10 s is a wedge. */
#define WD		10

/* One control write under the short watchdog; 0 or -errno, MMN_WEDGED if blocked. */
#define CTL(...) mmn_ctl_fork(WD, __VA_ARGS__)

/*
 * Proves that the interval tree of the mm of task tid (a live thread of it,
 * such as a killed victim's parked thread) is not left invalidating: with
 * nothing attached, a new group (a new gate, inserted and waited for with
 * mmu_interval_read_begin()) is made on it and taken down again, under the
 * watchdog. Detaches everything and leaves policy stopgap. Returns 0 or the
 * result of the step that failed.
 */
static int mm_is_healthy(pid_t tid)
{
	int rc;

	rc = CTL("detach all");
	if (!rc)
		rc = CTL("policy stopgap");
	if (!rc)
		rc = CTL("attach %d 1 paired", tid);
	if (!rc)
		rc = CTL("detach all");
	return rc;
}

/* The stats after the scenario: nothing left in flight, every gate and removal done. */
static void expect_quiet(struct __test_metadata *_metadata)
{
	struct mmn_stats s;

	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(0, s.removing);
	EXPECT_EQ(0, s.subscribers);
	EXPECT_EQ(0, s.gates);
	EXPECT_EQ(0, s.groups);
}

/* Per subscriber: never an unpaired end, nothing left open. */
static void expect_paired(struct __test_metadata *_metadata, long pid)
{
	static struct mmn_sub subs[MMN_MAX_SUBS];
	int n, i;

	n = mmn_subs(subs, MMN_MAX_SUBS);
	ASSERT_LE(0, n);
	for (i = 0; i < n; i++) {
		if (pid > 0 && subs[i].pid != pid)
			continue;
		EXPECT_EQ(0, subs[i].unpaired) TH_LOG("subscriber %ld", subs[i].id);
		EXPECT_EQ(0, subs[i].in_flight) TH_LOG("subscriber %ld", subs[i].id);
		if (!strcmp(subs[i].kind, "paired"))
			EXPECT_EQ(subs[i].starts, subs[i].ends)
				TH_LOG("subscriber %ld", subs[i].id);
		/* Behind a gate, a refuser never sees a non-blockable start. */
		if (!strcmp(subs[i].kind, "eagain"))
			EXPECT_EQ(0, subs[i].nonblock) TH_LOG("subscriber %ld", subs[i].id);
	}
}

FIXTURE(wedge)
{
	struct mmn_victim v;
};

FIXTURE_SETUP(wedge)
{
	MMN_REQUIRE_MODULE();
	ASSERT_EQ(0, mmn_clean_state());
	ASSERT_EQ(0, mmn_victim_start(&self->v, VICTIM_MIB, true));
	ASSERT_TRUE(mmn_wait_for(mmn_parked_at_least, 1, 5000));
}

FIXTURE_TEARDOWN(wedge)
{
	/* After a wedge, every further write on that mm would block too. */
	if (mmn_wedged_steps) {
		TH_LOG("%d step(s) wedged: no cleanup", mmn_wedged_steps);
		return;
	}
	mmn_victim_stop(&self->v);
	mmn_ctl("detach all");
	mmn_ctl("policy stopgap");
}

/*
 * The sequence that wedged the landed module: a gate once (so the core set
 * has_itree for good), policy off, an eagain subscriber, a refused reap,
 * policy stopgap, detach all.
 */
TEST_F(wedge, gate_history_then_refused_reap)
{
	struct mmn_stats s;
	pid_t pid = self->v.pid;

	ASSERT_EQ(0, CTL("attach %d 1 paired", pid));
	ASSERT_EQ(0, CTL("policy off"));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(0, s.gates);
	/* A refuser under off: a gate again, live before the refuser is registered. */
	ASSERT_EQ(0, CTL("attach %d 1 eagain", pid));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(1, s.gates);
	ASSERT_EQ(0, CTL("reset"));
	ASSERT_EQ(0, mmn_victim_kill(&self->v));
	EXPECT_EQ(-EAGAIN, mmn_mrelease(&self->v));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_GT(s.refused, 0);
	expect_paired(_metadata, pid);
	ASSERT_EQ(0, CTL("policy stopgap"));
	ASSERT_EQ(0, CTL("detach all"));
	ASSERT_EQ(0, mm_is_healthy(self->v.parked_tid));
	expect_quiet(_metadata);
}

/* The same history with the OOM reaper in place of process_mrelease(2). */
TEST_F_TIMEOUT(wedge, gate_history_then_oom_reaper, 120)
{
	const char *missing = mmn_memcg_missing();
	struct mmn_victim_msg msg;
	char cg[256], name[64], tag[64];
	int tidfd[2], gofd[2], found = 0;
	struct mmn_stats s;
	double end;
	pid_t pid;

	if (missing)
		SKIP(return, "%s", missing);
	snprintf(name, sizeof(name), "mmn_wedge_%d", getpid());
	ASSERT_EQ(0, mmn_memcg_create(name, 48, cg, sizeof(cg)));
	ASSERT_EQ(0, pipe(tidfd));
	ASSERT_EQ(0, pipe(gofd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		mmn_oom_victim(cg, gofd[0], tidfd[1]);
	ASSERT_EQ((ssize_t)sizeof(msg), read(tidfd[0], &msg, sizeof(msg)));
	ASSERT_EQ(0, msg.err);
	ASSERT_TRUE(mmn_wait_for(mmn_parked_at_least, 2, 5000));

	ASSERT_EQ(0, CTL("attach %d 1 paired", pid));
	ASSERT_EQ(0, CTL("policy off"));
	ASSERT_EQ(0, CTL("attach %d 1 eagain", pid));
	ASSERT_EQ(0, CTL("reset"));
	ASSERT_EQ(1, write(gofd[1], "g", 1));
	snprintf(tag, sizeof(tag), "pid:%d ", pid);
	end = mmn_now() + 60;
	while (mmn_now() < end && !found) {
		found = mmn_kmsg_count2("oom_reaper: unable to reap", tag) > 0;
		mmn_sleep_ms(100);
	}
	EXPECT_TRUE(found) TH_LOG("no \"unable to reap\" for pid %d", pid);
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_GT(s.refused, 0);
	expect_paired(_metadata, pid);
	ASSERT_EQ(0, CTL("policy stopgap"));
	ASSERT_EQ(0, CTL("detach all"));
	ASSERT_EQ(0, mm_is_healthy(msg.tid));
	ASSERT_EQ(0, CTL("unpark"));
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	rmdir(cg);
	expect_quiet(_metadata);
}

/* Several groups with different histories, under policy switches, all reaped. */
TEST_F(wedge, several_groups)
{
	struct mmn_victim w[3];
	int i;

	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, mmn_victim_start(&w[i], VICTIM_MIB, true));
	ASSERT_TRUE(mmn_wait_for(mmn_parked_at_least, 4, 5000));
	ASSERT_EQ(0, CTL("attach %d 2 paired", w[0].pid));
	ASSERT_EQ(0, CTL("attach %d 1 paired", w[1].pid));
	ASSERT_EQ(0, CTL("attach %d 1 eagain", w[2].pid));
	ASSERT_EQ(0, CTL("policy off"));
	ASSERT_EQ(0, CTL("attach %d 1 eagain", w[1].pid));
	ASSERT_EQ(0, CTL("attach %d 1 paired", self->v.pid));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, mmn_victim_kill(&w[i]));
	/* off: two paired alone are reaped; a refuser's group is refused at its gate. */
	EXPECT_EQ(0, mmn_mrelease(&w[0]));
	EXPECT_EQ(-EAGAIN, mmn_mrelease(&w[1]));
	EXPECT_EQ(-EAGAIN, mmn_mrelease(&w[2]));
	ASSERT_EQ(0, CTL("policy stopgap"));
	ASSERT_EQ(0, CTL("policy off"));
	ASSERT_EQ(0, CTL("policy stopgap"));
	EXPECT_EQ(-EAGAIN, mmn_mrelease(&w[1]));
	EXPECT_EQ(-EAGAIN, mmn_mrelease(&w[2]));
	expect_paired(_metadata, 0);
	ASSERT_EQ(0, CTL("detach pid %d", w[1].pid));
	ASSERT_EQ(0, CTL("detach all"));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, mm_is_healthy(w[i].parked_tid)) TH_LOG("victim %d", i);
	for (i = 0; i < 3; i++)
		mmn_victim_stop(&w[i]);
	expect_quiet(_metadata);
}

struct race {
	struct mmn_victim *v;
	atomic_bool stop;
	int errors, reaps, refused, switches, cycles, unguarded;
};

/* Refused reaps, again and again. */
static void *reaper(void *arg)
{
	struct race *r = arg;

	while (!r->stop) {
		int err = mmn_mrelease(r->v);

		r->reaps++;
		if (err == -EAGAIN)
			r->refused++;
		else if (err)
			r->errors++;
	}
	return NULL;
}

/* Policy switches between stopgap and off. */
static void *switcher(void *arg)
{
	struct race *r = arg;

	while (!r->stop) {
		if (CTL("policy off") || CTL("policy stopgap"))
			r->errors++;
		r->switches++;
	}
	return NULL;
}

/*
 * A refuser comes and goes, attached through the parked thread's tid. Before
 * it goes, it must not have seen a single non-blockable start: a gate, live
 * before it was registered, refused every one first.
 */
static void *refuser(void *arg)
{
	static struct mmn_sub subs[8];
	struct race *r = arg;
	int n, i;

	while (!r->stop) {
		if (CTL("attach %d 1 eagain", r->v->parked_tid))
			r->errors++;
		mmn_sleep_ms(20);
		n = mmn_subs(subs, 8);
		for (i = 0; i < n && i < 8; i++)
			if (!strcmp(subs[i].kind, "eagain") && subs[i].nonblock)
				r->unguarded++;
		if (CTL("detach pid %d", r->v->parked_tid))
			r->errors++;
		r->cycles++;
	}
	return NULL;
}

/*
 * Policy switches and a refuser coming and going race with reaps from other
 * threads. With only a paired subscriber besides, each refuser brings a gate
 * under off and takes it away again: the gate must be live before the refuser
 * is registered and stay until it is gone, while reaps go through (no
 * refuser, off) or are refused (a refuser, or stopgap with two subscribers).
 */
TEST_F_TIMEOUT(wedge, policy_switches_race_refused_reaps, 120)
{
	struct race r = { .v = &self->v };
	pthread_t t[3];
	double end;

	ASSERT_EQ(0, CTL("attach %d 1 paired", self->v.pid));
	ASSERT_EQ(0, mmn_victim_kill(&self->v));
	ASSERT_EQ(0, pthread_create(&t[0], NULL, reaper, &r));
	ASSERT_EQ(0, pthread_create(&t[1], NULL, switcher, &r));
	ASSERT_EQ(0, pthread_create(&t[2], NULL, refuser, &r));
	end = mmn_now() + 6;
	while (mmn_now() < end && !mmn_wedged_steps)
		mmn_sleep_ms(50);
	r.stop = true;
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	TH_LOG("%d reaps (%d refused), %d policy switch pairs, %d refuser cycles", r.reaps,
	       r.refused, r.switches, r.cycles);
	ASSERT_EQ(0, mmn_wedged_steps);
	EXPECT_EQ(0, r.errors);
	EXPECT_EQ(0, r.unguarded);
	EXPECT_GT(r.refused, 0);
	/* Some reaps went through: the gate came and went. */
	EXPECT_GT(r.reaps - r.refused, 0);
	EXPECT_GT(r.switches, 0);
	EXPECT_GT(r.cycles, 0);
	expect_paired(_metadata, 0);
	ASSERT_EQ(0, CTL("detach all"));
	ASSERT_EQ(0, mm_is_healthy(self->v.parked_tid));
	expect_quiet(_metadata);
}

FIXTURE(peer)
{
	struct mmn_victim v;
};

FIXTURE_VARIANT(peer)
{
	const char *policy;
	const char *attach[2];
};

/* A refuser under off, as nouveau SVM would be next to its interval notifiers. */
FIXTURE_VARIANT_ADD(peer, off_refuser) { "off", { "1 paired", "1 eagain" } };
/* The 2019 stop gap: two paired subscribers. */
FIXTURE_VARIANT_ADD(peer, stopgap_two_paired) { "stopgap", { "1 paired", "1 paired" } };

FIXTURE_SETUP(peer)
{
	MMN_REQUIRE_MODULE();
	if (!mmn_dmirror_available())
		SKIP(return, "no /dev/hmm_dmirror0 (load lib/test_hmm)");
	ASSERT_EQ(0, mmn_clean_state());
	ASSERT_EQ(0, mmn_victim_start_flags(&self->v, VICTIM_MIB,
					    MMN_VICTIM_PARK | MMN_VICTIM_DMIRROR));
	ASSERT_TRUE(mmn_wait_for(mmn_parked_at_least, 1, 5000));
}

FIXTURE_TEARDOWN(peer)
{
	if (mmn_wedged_steps) {
		TH_LOG("%d step(s) wedged: no cleanup", mmn_wedged_steps);
		return;
	}
	mmn_victim_stop(&self->v);
	mmn_ctl("detach all");
	mmn_ctl("policy stopgap");
}

/*
 * test_hmm's dmirror, a real C interval notifier, on the same mm as our
 * subscribers: after refused reaps its reads (mmu_interval_read_begin(),
 * hmm_range_fault()) still work, and so does its removal.
 */
TEST_F(peer, dmirror_reads_after_refused_reaps)
{
	pid_t pid = self->v.pid;
	int i;

	ASSERT_EQ(VICTIM_PAGES, mmn_dmirror_read(&self->v, VICTIM_PAGES));
	ASSERT_EQ(0, CTL("policy %s", variant->policy));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, CTL("attach %d %s", pid, variant->attach[i]));
	ASSERT_EQ(0, mmn_victim_kill(&self->v));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(-EAGAIN, mmn_mrelease(&self->v));
	/* Refused: the memory is still there, and dmirror reads it. */
	EXPECT_EQ(VICTIM_PAGES, mmn_dmirror_read(&self->v, VICTIM_PAGES));
	expect_paired(_metadata, pid);
	ASSERT_EQ(0, CTL("policy stopgap"));
	EXPECT_EQ(-EAGAIN, mmn_mrelease(&self->v));
	EXPECT_EQ(VICTIM_PAGES, mmn_dmirror_read(&self->v, VICTIM_PAGES));
	ASSERT_EQ(0, CTL("detach all"));
	EXPECT_EQ(VICTIM_PAGES, mmn_dmirror_read(&self->v, VICTIM_PAGES));
	ASSERT_EQ(0, mm_is_healthy(self->v.parked_tid));
	/* No subscriber of ours left: the reap goes through, dmirror included. */
	EXPECT_EQ(0, mmn_mrelease(&self->v));
	ASSERT_EQ(0, mmn_dmirror_close(&self->v));
	expect_quiet(_metadata);
}

/* rmmod right after refused reaps: the gates go, nothing blocks, reload works. */
TEST_F(wedge, rmmod_after_refused_reaps)
{
	ASSERT_EQ(0, CTL("policy off"));
	ASSERT_EQ(0, CTL("attach %d 2 paired", self->v.pid));
	ASSERT_EQ(0, CTL("attach %d 1 eagain", self->v.pid));
	ASSERT_EQ(0, mmn_victim_kill(&self->v));
	EXPECT_EQ(-EAGAIN, mmn_mrelease(&self->v));
	/* The parked writer holds the control file: unpark, then unload. */
	mmn_victim_stop(&self->v);
	ASSERT_EQ(0, mmn_unload());
	ASSERT_EQ(0, mmn_load());
	expect_quiet(_metadata);
}

TEST_HARNESS_MAIN
