// SPDX-License-Identifier: GPL-2.0
/*
 * The stop gap against the real OOM reaper.
 *
 * A victim runs in a cgroup v2 memory cgroup with a small memory.max. One
 * thread parks in the module (so the mm outlives the kill), another
 * allocates until the memcg OOM killer kills the process. The OOM reaper
 * (a kernel thread, non-blocking invalidations) then either reaps the mm,
 * or, with several subscribers under policy stopgap, is refused every time
 * and gives up: "oom_reaper: unable to reap pid:N".
 */
#include "mmn_stopgap.h"
#include "kselftest_harness.h"

#define LIMIT_MIB 48

FIXTURE(oom)
{
	struct mmn_snapshot each;
	char cg[256];
	pid_t pid;
	pid_t parked_tid;
	int pipefd[2];
};

FIXTURE_VARIANT(oom)
{
	int subscribers;
	const char *policy;
	bool reaped;
};

FIXTURE_VARIANT_ADD(oom, one_subscriber_reaped) { 1, "stopgap", true };
FIXTURE_VARIANT_ADD(oom, three_subscribers_refused) { 3, "stopgap", false };
FIXTURE_VARIANT_ADD(oom, three_subscribers_policy_off) { 3, "off", true };

FIXTURE_SETUP(oom)
{
	const char *missing = mmn_memcg_missing();
	char name[64];

	MMN_REQUIRE_MODULE();
	if (missing)
		SKIP(return, "%s", missing);
	ASSERT_EQ(0, mmn_clean_state());
	snprintf(name, sizeof(name), "mmn_oom_%d", getpid());
	ASSERT_EQ(0, mmn_memcg_create(name, LIMIT_MIB, self->cg, sizeof(self->cg)));
	self->pid = 0;
}

FIXTURE_TEARDOWN(oom)
{
	if (self->pid > 0) {
		kill(self->pid, SIGKILL);
		mmn_ctl("unpark");
		waitpid(self->pid, NULL, 0);
	}
	mmn_ctl("detach all");
	mmn_ctl("policy stopgap");
	rmdir(self->cg);
}

static pid_t start_victim(const char *cg, int pipefd[2], int gofd[2])
{
	pid_t pid = fork();

	if (pid == 0)
		mmn_oom_victim(cg, gofd[0], pipefd[1]);
	return pid;
}

TEST_F_TIMEOUT(oom, reaper, 120)
{
	struct mmn_victim_msg msg;
	char needle[64], tag[64];
	int gofd[2], status, found = 0;
	long rss;
	double end;

	ASSERT_EQ(0, pipe(self->pipefd));
	ASSERT_EQ(0, pipe(gofd));
	self->pid = start_victim(self->cg, self->pipefd, gofd);
	ASSERT_GT(self->pid, 0);
	ASSERT_EQ((ssize_t)sizeof(msg), read(self->pipefd[0], &msg, sizeof(msg)));
	ASSERT_EQ(0, msg.err);
	self->parked_tid = msg.tid;
	ASSERT_TRUE(mmn_wait_for(mmn_parked_at_least, 1, 5000));
	ASSERT_EQ(0, mmn_ctl("policy %s", variant->policy));
	ASSERT_EQ(0, mmn_ctl("attach %d %d", self->pid, variant->subscribers));
	ASSERT_EQ(0, mmn_ctl("reset"));
	ASSERT_EQ(variant->subscribers, mmn_snapshot(self->pid, &self->each));
	mmn_kmsg_mark("mmn-selftest: oom victim %d starts allocating\n", self->pid);
	ASSERT_EQ(1, write(gofd[1], "g", 1));

	/* The memcg OOM killer kills it; the parked thread keeps the mm. */
	snprintf(tag, sizeof(tag), "pid:%d ", self->pid);
	snprintf(needle, sizeof(needle), "process %d ", self->pid);
	end = mmn_now() + 30;
	while (mmn_now() < end) {
		if (variant->reaped)
			found = mmn_kmsg_count2("oom_reaper: reaped", needle);
		else
			found = mmn_kmsg_count2("oom_reaper: unable to reap", tag);
		if (found > 0)
			break;
		mmn_sleep_ms(100);
	}
	EXPECT_EQ(1, found) {
		TH_LOG("no \"oom_reaper: %s\" line for pid %d within 30 s",
		       variant->reaped ? "reaped" : "unable to reap", self->pid);
	}
	EXPECT_LE(1, mmn_kmsg_count2("Killed process", needle));

	rss = mmn_rss_kb(self->pid, self->parked_tid);
	if (variant->reaped) {
		struct mmn_stats s;

		EXPECT_LT(rss, LIMIT_MIB * 1024 / 4);
		/*
		 * Reaped: no refusal, a gate only under stopgap, and each subscriber saw
		 * the reaper's non-blockable ranges, each start with its end.
		 */
		ASSERT_EQ(0, mmn_stats(&s));
		EXPECT_EQ(0, s.refused);
		EXPECT_EQ(strcmp(variant->policy, "stopgap") ? 0 : 1, s.gates);
		if (s.gates)
			EXPECT_GT(s.nonblock_seen, 0);
		EXPECT_EQ(0, mmn_check_each(&self->each, -1));
	} else {
		struct mmn_stats s;
		struct mmn_totals t;

		/* Refused every time, by the gate, before any subscriber. */
		ASSERT_EQ(0, mmn_stats(&s));
		EXPECT_GT(s.refused, 0);
		ASSERT_EQ(0, mmn_totals(NULL, self->pid, &t));
		EXPECT_EQ(0, t.nonblock);
		EXPECT_EQ(0, t.in_flight);
		EXPECT_GE(rss, LIMIT_MIB * 1024 / 2);
	}
	mmn_ctl("unpark");
	ASSERT_EQ(self->pid, waitpid(self->pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	self->pid = 0;
}

TEST_HARNESS_MAIN
