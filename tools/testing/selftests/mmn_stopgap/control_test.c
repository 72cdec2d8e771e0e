// SPDX-License-Identifier: GPL-2.0
/*
 * mmn_stopgap control file: attach, detach, counters, and every bad command
 * (each with its exact errno, and with subscribers/stats/mirror
 * byte-identical before and after, in a state only a command can change).
 */
#include "mmn_stopgap.h"
#include "kselftest_harness.h"

FIXTURE(ctl)
{
	struct mmn_victim a, b;
	/* The busy state's parked victim, stopped by the teardown if a case fails. */
	struct mmn_victim parked;
};

FIXTURE_SETUP(ctl)
{
	self->parked.pidfd = -1;
	self->parked.dmirror_fd = -1;
	MMN_REQUIRE_MODULE();
	ASSERT_EQ(0, mmn_clean_state());
	ASSERT_EQ(0, mmn_victim_start(&self->a, 1, false));
	ASSERT_EQ(0, mmn_victim_start(&self->b, 1, false));
}

FIXTURE_TEARDOWN(ctl)
{
	mmn_victim_stop(&self->parked);
	mmn_victim_stop(&self->a);
	mmn_victim_stop(&self->b);
	mmn_ctl("detach all");
	/* The default, whatever a failed case left (reset does not change it). */
	mmn_ctl("teardown deferred");
}

#define MMN_MIRROR_FILE	MMN_DIR "/mirror"

/*
 * The files a command could change, whole: MMN_MAX_STEP_READ holds the
 * subscribers file at 1024 subscribers, and a file that does not fit fails
 * the read (-EOVERFLOW) rather than compare equal by its first bytes.
 */
struct ctl_files {
	char subs[MMN_MAX_STEP_READ];
	char stats[4096];
	char mirror[MMN_MAX_STEP_READ];
};

static void read_files(struct __test_metadata *_metadata, struct ctl_files *f)
{
	ASSERT_LE(0, mmn_read_file(MMN_SUBSCRIBERS, f->subs, sizeof(f->subs)));
	ASSERT_LE(0, mmn_read_file(MMN_STATS, f->stats, sizeof(f->stats)));
	ASSERT_LE(0, mmn_read_file(MMN_MIRROR_FILE, f->mirror, sizeof(f->mirror)));
}

/* Whether two reads of one file differ; logs the first line where they do. */
static bool differs(struct __test_metadata *_metadata, const char *file, const char *a,
		    const char *b)
{
	const char *ea, *eb;
	int line = 1;

	if (!strcmp(a, b))
		return false;
	for (;; line++) {
		ea = strchrnul(a, '\n');
		eb = strchrnul(b, '\n');
		if (ea - a != eb - b || memcmp(a, b, ea - a) || *ea != *eb || !*ea)
			break;
		a = ea + 1;
		b = eb + 1;
	}
	if (ea - a == eb - b && !memcmp(a, b, ea - a)) {
		/* One read ends on this line, the other goes on: show what follows. */
		line++;
		a = *ea ? ea + 1 : ea;
		b = *eb ? eb + 1 : eb;
		ea = strchrnul(a, '\n');
		eb = strchrnul(b, '\n');
	}
	TH_LOG("%s, line %d: \"%.*s\" then \"%.*s\"", file, line, (int)(ea - a), a,
	       (int)(eb - b), b);
	return true;
}

/* The number of files that differ between two reads, each logged. */
static int files_differ(struct __test_metadata *_metadata, const struct ctl_files *x,
			const struct ctl_files *y)
{
	return differs(_metadata, "subscribers", x->subs, y->subs) +
	       differs(_metadata, "stats", x->stats, y->stats) +
	       differs(_metadata, "mirror", x->mirror, y->mirror);
}

/*
 * The write of buf (len bytes) fails with err and changes no file, byte for
 * byte. That proves something only if nothing else changes them: the files
 * are read twice before the write, and must not have moved in between.
 */
static void write_changes_nothing(struct __test_metadata *_metadata, const char *name,
				  const char *buf, size_t len, int err)
{
	static struct ctl_files before, again, after;

	read_files(_metadata, &before);
	read_files(_metadata, &again);
	ASSERT_EQ(0, files_differ(_metadata, &before, &again)) {
		TH_LOG("before \"%s\": the state is not quiet (files changed, nothing written)",
		       name);
	}
	EXPECT_EQ(-err, mmn_write_wd(MMN_WATCHDOG_SECS, buf, len)) {
		TH_LOG("command \"%s\": wrong errno", name);
	}
	read_files(_metadata, &after);
	EXPECT_EQ(0, files_differ(_metadata, &before, &after)) {
		TH_LOG("command \"%s\" changed the files", name);
	}
}

/* attach creates live, zeroed subscribers of the right kind and pid. */
TEST_F(ctl, attach_lists_subscribers)
{
	struct mmn_sub subs[8];
	struct mmn_stats s;
	int i;

	ASSERT_EQ(0, mmn_ctl("attach %d 3", self->a.pid));
	ASSERT_EQ(0, mmn_ctl("attach %d 1 eagain\n", self->a.pid));
	ASSERT_EQ(4, mmn_subs(subs, 8));
	for (i = 0; i < 4; i++) {
		/* Ids are consecutive within one module load. */
		EXPECT_EQ(subs[0].id + i, subs[i].id);
		EXPECT_EQ(self->a.pid, subs[i].pid);
		EXPECT_STREQ(i < 3 ? "paired" : "eagain", subs[i].kind);
		EXPECT_EQ(0, subs[i].starts);
		EXPECT_EQ(0, subs[i].ends);
		EXPECT_EQ(0, subs[i].in_flight);
		EXPECT_EQ(0, subs[i].unpaired);
		EXPECT_STREQ("live", subs[i].state);
	}
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(1, s.groups);
	EXPECT_EQ(4, s.subscribers);
}

/* One group per mm: two victims make two groups. */
TEST_F(ctl, one_group_per_mm)
{
	struct mmn_stats s;

	ASSERT_EQ(0, mmn_ctl("attach %d 2", self->a.pid));
	ASSERT_EQ(0, mmn_ctl("attach %d 1", self->b.pid));
	ASSERT_EQ(0, mmn_ctl("attach %d 1", self->a.pid));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(2, s.groups);
	EXPECT_EQ(4, s.subscribers);
}

/* detach by id, by pid, all; the group goes with its last subscriber. */
TEST_F(ctl, detach_forms)
{
	struct mmn_sub subs[8];
	struct mmn_stats s;
	long first, second;

	ASSERT_EQ(0, mmn_ctl("attach %d 3", self->a.pid));
	ASSERT_EQ(0, mmn_ctl("attach %d 2", self->b.pid));
	ASSERT_EQ(5, mmn_subs(subs, 8));
	first = subs[0].id;
	second = subs[1].id;
	ASSERT_EQ(0, mmn_ctl("detach %ld", second));
	ASSERT_EQ(4, mmn_subs(subs, 8));
	EXPECT_EQ(first, subs[0].id);
	EXPECT_EQ(second + 1, subs[1].id);
	ASSERT_EQ(-ENOENT, mmn_ctl("detach %ld", second));
	ASSERT_EQ(0, mmn_ctl("detach pid %d", self->b.pid));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(1, s.groups);
	EXPECT_EQ(2, s.subscribers);
	ASSERT_EQ(-ENOENT, mmn_ctl("detach pid %d", self->b.pid));
	ASSERT_EQ(0, mmn_ctl("detach all"));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(0, s.groups);
	EXPECT_EQ(0, s.subscribers);
	/* detach all with nothing attached is not an error. */
	ASSERT_EQ(0, mmn_ctl("detach all"));
}

/*
 * teardown sync|deferred: stats shows the mode the command chose, and detach
 * removes every subscriber in both. What each mode costs is measured by
 * make bench, not here.
 */
TEST_F(ctl, teardown_modes)
{
	static const char *const modes[] = { "sync", "deferred" };
	struct mmn_stats s;

	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, mmn_ctl("teardown %s", modes[i]));
		ASSERT_EQ(0, mmn_stats(&s));
		EXPECT_STREQ(modes[i], s.teardown);
		ASSERT_EQ(0, mmn_ctl("attach %d 3", self->a.pid));
		ASSERT_EQ(0, mmn_ctl("attach %d 2", self->b.pid));
		ASSERT_EQ(0, mmn_ctl("detach all"));
		ASSERT_EQ(0, mmn_stats(&s));
		EXPECT_EQ(0, s.groups);
		EXPECT_EQ(0, s.subscribers);
		EXPECT_STREQ(modes[i], s.teardown);
	}
}

/* Ids are never reused, even after detach. */
TEST_F(ctl, ids_not_reused)
{
	struct mmn_sub subs[2];
	long old;

	ASSERT_EQ(0, mmn_ctl("attach %d", self->a.pid));
	ASSERT_EQ(1, mmn_subs(subs, 2));
	old = subs[0].id;
	ASSERT_EQ(0, mmn_ctl("detach all"));
	ASSERT_EQ(0, mmn_ctl("attach %d", self->a.pid));
	ASSERT_EQ(1, mmn_subs(subs, 2));
	EXPECT_EQ(old + 1, subs[0].id);
}

/* policy switches, reset zeroes the counters but keeps the subscribers. */
TEST_F(ctl, policy_and_reset)
{
	struct mmn_totals t;
	struct mmn_stats s;

	ASSERT_EQ(0, mmn_ctl("policy off"));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_STREQ("off", s.policy);
	ASSERT_EQ(0, mmn_ctl("policy raw"));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_STREQ("raw", s.policy);
	ASSERT_EQ(0, mmn_ctl("policy stopgap"));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_STREQ("stopgap", s.policy);

	/* Our own mm: munmap is a blocking invalidation every subscriber sees. */
	ASSERT_EQ(0, mmn_ctl("attach %d 2", getpid()));
	ASSERT_EQ(0, mmn_touch_and_unmap(1 << 20));
	ASSERT_EQ(0, mmn_totals("paired", getpid(), &t));
	EXPECT_GT(t.starts, 0);
	EXPECT_EQ(t.starts, t.ends);
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_GT(s.gate_calls, 0);

	ASSERT_EQ(0, mmn_ctl("reset"));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(0, s.gate_calls);
	EXPECT_EQ(0, s.refused);
	EXPECT_EQ(2, s.subscribers);
	ASSERT_EQ(0, mmn_totals("paired", getpid(), &t));
	EXPECT_EQ(2, t.count);
	/* The reset itself may race with nothing here: our mm is quiet. */
	EXPECT_EQ(0, t.starts);
	EXPECT_EQ(0, t.ends);
	ASSERT_EQ(0, mmn_ctl("detach pid %d", getpid()));
}

/* memory_bytes counts what subscribers and groups hold, and returns to its value. */
TEST_F(ctl, memory_accounting)
{
	struct mmn_stats s0, s1, s2;

	/* Warm the registry's vectors, which keep their capacity. */
	ASSERT_EQ(0, mmn_ctl("attach %d 4", self->a.pid));
	ASSERT_EQ(0, mmn_ctl("detach all"));
	ASSERT_EQ(0, mmn_stats(&s0));
	ASSERT_EQ(0, mmn_ctl("attach %d 4", self->a.pid));
	ASSERT_EQ(0, mmn_stats(&s1));
	/* Each subscriber is a struct mmu_notifier plus counters: 64+ bytes. */
	EXPECT_GE(s1.memory_bytes - s0.memory_bytes, 4 * 64);
	ASSERT_EQ(0, mmn_ctl("detach all"));
	ASSERT_EQ(0, mmn_stats(&s2));
	EXPECT_EQ(s0.memory_bytes, s2.memory_bytes);
}

/* Caps: 64 per mm, then ENOSPC, with nothing changed. */
TEST_F(ctl, per_mm_cap)
{
	struct mmn_stats s;

	ASSERT_EQ(0, mmn_ctl("attach %d 60", self->a.pid));
	ASSERT_EQ(-ENOSPC, mmn_ctl("attach %d 5", self->a.pid));
	ASSERT_EQ(0, mmn_ctl("attach %d 4", self->a.pid));
	ASSERT_EQ(-ENOSPC, mmn_ctl("attach %d", self->a.pid));
	/* Another mm is not affected by this one's cap. */
	ASSERT_EQ(0, mmn_ctl("attach %d", self->b.pid));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(65, s.subscribers);
}

/*
 * The total cap: 1024 subscribers in all, on 18 mms of 60 or 32, none at the
 * per-mm cap of 64, so that only the total can refuse what follows. Then
 * any attach is ENOSPC and changes nothing, on a new mm as on an mm with 60;
 * at 1023 in use, two more are refused whole (all or nothing), one more fits.
 */
#define CAP_VICTIMS	19	/* 16 with 60, 2 with 32, one new */

TEST_F_TIMEOUT(ctl, total_cap, 300)
{
	static struct mmn_sub subs[MMN_MAX_SUBS];
	struct mmn_victim v[CAP_VICTIMS];
	struct mmn_stats s;
	char cmd[64];
	int i, n;

	for (i = 0; i < CAP_VICTIMS; i++)
		ASSERT_EQ(0, mmn_victim_start(&v[i], 0, false));
	for (i = 0; i < 16; i++)
		ASSERT_EQ(0, mmn_ctl("attach %d 60", v[i].pid)) TH_LOG("victim %d", i);
	ASSERT_EQ(0, mmn_ctl("attach %d 32", v[16].pid));
	ASSERT_EQ(0, mmn_ctl("attach %d 32", v[17].pid));
	ASSERT_EQ(0, mmn_stats(&s));
	ASSERT_EQ(1024, s.subscribers);
	ASSERT_EQ(18, s.groups);

	snprintf(cmd, sizeof(cmd), "attach %d", v[18].pid);
	write_changes_nothing(_metadata, "1025th subscriber on a new mm", cmd, strlen(cmd), ENOSPC);
	/* 61 on this mm would be within its cap: the total refuses it. */
	snprintf(cmd, sizeof(cmd), "attach %d 1", v[0].pid);
	write_changes_nothing(_metadata, "1025th subscriber on an mm with 60", cmd, strlen(cmd),
			      ENOSPC);
	snprintf(cmd, sizeof(cmd), "attach %d 1 eagain", v[0].pid);
	write_changes_nothing(_metadata, "1025th subscriber (eagain) on an mm with 60", cmd,
			      strlen(cmd), ENOSPC);

	/* One out: 1023 in use, the last one listed (victim 17's). */
	n = mmn_subs(subs, MMN_MAX_SUBS);
	ASSERT_EQ(1024, n);
	ASSERT_EQ(v[17].pid, subs[n - 1].pid);
	ASSERT_EQ(0, mmn_ctl("detach %ld", subs[n - 1].id));
	ASSERT_EQ(0, mmn_stats(&s));
	ASSERT_EQ(1023, s.subscribers);
	/* Two do not fit, and neither is attached alone: all or nothing. */
	snprintf(cmd, sizeof(cmd), "attach %d 2", v[18].pid);
	write_changes_nothing(_metadata, "2 subscribers on a new mm at 1023", cmd, strlen(cmd),
			      ENOSPC);
	snprintf(cmd, sizeof(cmd), "attach %d 2", v[0].pid);
	write_changes_nothing(_metadata, "2 subscribers on an mm with 60 at 1023", cmd, strlen(cmd),
			      ENOSPC);
	/* One does. */
	ASSERT_EQ(0, mmn_ctl("attach %d 1", v[18].pid));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(1024, s.subscribers);
	EXPECT_EQ(19, s.groups);

	/* 60 out, 60 in on another mm. */
	ASSERT_EQ(0, mmn_ctl("detach pid %d", v[15].pid));
	ASSERT_EQ(0, mmn_ctl("attach %d 60", v[18].pid));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(1024, s.subscribers);
	EXPECT_EQ(18, s.groups);
	ASSERT_EQ(0, mmn_ctl("detach all"));
	for (i = 0; i < CAP_VICTIMS; i++)
		mmn_victim_stop(&v[i]);
}

/* attach by thread id: the thread's mm, the same group as its process. */
TEST_F(ctl, attach_by_thread_id)
{
	struct mmn_victim p;
	struct mmn_sub subs[4];
	struct mmn_stats s;

	ASSERT_EQ(0, mmn_victim_start(&p, 1, true));
	ASSERT_TRUE(mmn_wait_for(mmn_parked_at_least, 1, 5000));
	ASSERT_NE(p.pid, p.parked_tid);
	ASSERT_EQ(0, mmn_ctl("attach %d 1", p.parked_tid));
	ASSERT_EQ(0, mmn_ctl("attach %d 1", p.pid));
	ASSERT_EQ(2, mmn_subs(subs, 4));
	EXPECT_EQ(p.parked_tid, subs[0].pid);
	EXPECT_EQ(p.pid, subs[1].pid);
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(1, s.groups);
	/* detach pid names what attach was given: the thread's only. */
	ASSERT_EQ(0, mmn_ctl("detach pid %d", p.parked_tid));
	ASSERT_EQ(1, mmn_subs(subs, 4));
	EXPECT_EQ(p.pid, subs[0].pid);
	mmn_victim_stop(&p);
}

struct churn {
	atomic_int stop;
	pid_t target;
	long reads, bad_reads, nonempty_reads, commands, failed;
	/* The first command that failed, and its result. */
	char first_failed[64];
	int first_err;
};

/*
 * One command of the churn, its result counted: in one thread the sequence
 * is deterministic, so every command must succeed. Returns false once a
 * command wedged (the next one would only wedge too).
 */
static bool churn_step(struct churn *c, const char *cmd)
{
	int rc = mmn_write_wd(MMN_WATCHDOG_SECS, cmd, strlen(cmd));

	c->commands++;
	if (rc && !c->failed++) {
		snprintf(c->first_failed, sizeof(c->first_failed), "%s", cmd);
		c->first_err = rc;
	}
	return rc != MMN_WEDGED;
}

static void *churner(void *arg)
{
	struct churn *c = arg;
	char attach[32], attach_eagain[40], detach[32];
	const char *seq[] = { attach, attach_eagain, "policy off", detach, "policy stopgap" };
	size_t i;

	snprintf(attach, sizeof(attach), "attach %d 3", c->target);
	snprintf(attach_eagain, sizeof(attach_eagain), "attach %d 1 eagain", c->target);
	snprintf(detach, sizeof(detach), "detach pid %d", c->target);
	while (!c->stop)
		for (i = 0; i < ARRAY_SIZE(seq); i++)
			if (!churn_step(c, seq[i]))
				return NULL;
	return NULL;
}

static void *reader(void *arg)
{
	static __thread struct mmn_sub subs[MMN_MAX_SUBS];
	struct churn *c = arg;
	struct mmn_stats s;

	while (!c->stop) {
		int n = mmn_subs(subs, MMN_MAX_SUBS);

		/* Every read is whole and well formed, whatever is attached. */
		if (n < 0 || n > 4 || mmn_stats(&s) || s.subscribers > 4 || s.groups > 1 ||
		    s.gates > 1 || (strcmp(s.policy, "off") && strcmp(s.policy, "stopgap")))
			__sync_fetch_and_add(&c->bad_reads, 1);
		/* And some catch the churn with subscribers attached. */
		if (n > 0)
			__sync_fetch_and_add(&c->nonempty_reads, 1);
		__sync_fetch_and_add(&c->reads, 1);
	}
	return NULL;
}

/* Readers of stats and subscribers during attach/detach/policy churn. */
TEST_F_TIMEOUT(ctl, readers_during_churn, 60)
{
	struct churn c = { .target = self->a.pid };
	pthread_t t[3];
	int i;

	ASSERT_EQ(0, pthread_create(&t[0], NULL, churner, &c));
	for (i = 1; i < 3; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, reader, &c));
	mmn_sleep_ms(3000);
	c.stop = 1;
	for (i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	TH_LOG("%ld reads (%ld with subscribers) during %ld commands", c.reads, c.nonempty_reads,
	       c.commands);
	EXPECT_EQ(0, mmn_wedged_steps);
	EXPECT_EQ(0, c.failed) {
		TH_LOG("%ld of %ld commands failed, the first \"%s\" with %d", c.failed,
		       c.commands, c.first_failed, c.first_err);
	}
	EXPECT_EQ(0, c.bad_reads);
	EXPECT_GT(c.reads, 10);
	EXPECT_GT(c.nonempty_reads, 0);
	EXPECT_GT(c.commands, 10);
}

/* park/unpark: a parked writer is counted, unpark releases it with 0. */
TEST_F(ctl, park_unpark)
{
	struct mmn_stats s;
	pid_t child;
	int status;

	child = fork();
	ASSERT_GE(child, 0);
	if (child == 0)
		_exit(mmn_ctl("park 20") == 0 ? 0 : 1);
	ASSERT_TRUE(mmn_wait_for(mmn_parked_at_least, 1, 5000));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(1, s.parked);
	ASSERT_EQ(0, mmn_ctl("unpark"));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(0, s.parked);
}

/* park times out with ETIMEDOUT. */
TEST_F(ctl, park_times_out)
{
	double t0 = mmn_now();

	EXPECT_EQ(-ETIMEDOUT, mmn_ctl("park 1"));
	EXPECT_GE(mmn_now() - t0, 0.9);
}

/* ---- Bad input: exact errno, nothing changes ------------------------- */

struct bad_cmd {
	const char *name;
	const char *buf;	/* NULL: built by the test */
	size_t len;		/* 0: strlen(buf) */
	int err;
};

#define BAD(n, s, e) { n, s, 0, e }
#define BADN(n, s, l, e) { n, s, l, e }

static const struct bad_cmd bad_cmds[] = {
	BAD("empty", "", EINVAL),
	BAD("newline only", "\n", EINVAL),
	BAD("only spaces", "     ", EINVAL),
	BAD("tabs and spaces", " \t \t\n", EINVAL),
	BAD("unknown verb", "frobnicate", EINVAL),
	BAD("verb in capitals", "ATTACH 1", EINVAL),
	BAD("verb prefix", "att 1", EINVAL),
	BAD("verb with suffix", "resets", EINVAL),
	BAD("number as verb", "1", EINVAL),
	BAD("attach without pid", "attach", EINVAL),
	BAD("attach negative pid", "attach -1", EINVAL),
	BAD("attach plus pid", "attach +1", EINVAL),
	BAD("attach pid 0", "attach 0", EINVAL),
	BAD("attach hex pid", "attach 0x10", EINVAL),
	BAD("attach leading zero", "attach 01", EINVAL),
	BAD("attach garbage pid", "attach abc", EINVAL),
	BAD("attach pid with letters", "attach 12ab", EINVAL),
	BAD("attach overflowing pid", "attach 99999999999999999999999999", EINVAL),
	BAD("attach pid over PID_MAX_LIMIT", "attach 4194305", EINVAL),
	BAD("attach pid over INT_MAX", "attach 2147483648", EINVAL),
	BAD("attach count 0", "attach 1 0", EINVAL),
	BAD("attach count over cap", "attach 1 65", EINVAL),
	BAD("attach negative count", "attach 1 -2", EINVAL),
	BAD("attach hex count", "attach 1 0x2", EINVAL),
	BAD("attach overflowing count", "attach 1 18446744073709551616", EINVAL),
	BAD("attach unknown kind", "attach 1 2 lazy", EINVAL),
	BAD("attach kind in capitals", "attach 1 PAIRED", EINVAL),
	BAD("attach extra argument", "attach 1 2 paired extra", EINVAL),
	BAD("attach two counts", "attach 1 2 3", EINVAL),
	BAD("attach kind before count", "attach 1 paired 2", EINVAL),
	BAD("detach without target", "detach", EINVAL),
	BAD("detach id 0", "detach 0", EINVAL),
	BAD("detach negative id", "detach -3", EINVAL),
	BAD("detach hex id", "detach 0x1", EINVAL),
	BAD("detach overflowing id", "detach 18446744073709551616", EINVAL),
	BAD("detach pid without pid", "detach pid", EINVAL),
	BAD("detach pid garbage", "detach pid x", EINVAL),
	BAD("detach pid 0", "detach pid 0", EINVAL),
	BAD("detach extra argument", "detach all now", EINVAL),
	BAD("detach unknown word", "detach everything", EINVAL),
	BAD("policy without value", "policy", EINVAL),
	BAD("policy unknown", "policy on", EINVAL),
	BAD("policy extra", "policy off please", EINVAL),
	BAD("reset with argument", "reset 1", EINVAL),
	BAD("park 0 seconds", "park 0", EINVAL),
	BAD("park over the bound", "park 301", EINVAL),
	BAD("park garbage", "park soon", EINVAL),
	BAD("unpark with argument", "unpark 1", EINVAL),
	BADN("embedded NUL", "attach 1\0 2", 10, EINVAL),
	BADN("trailing NUL", "reset\0", 6, EINVAL),
	BAD("non-UTF-8 byte", "attach \xff", EINVAL),
	BAD("valid UTF-8 but not ASCII", "attach \xd9\xa1", EINVAL),
	BAD("carriage return", "reset\r\n", EINVAL),
	BAD("two commands in one write", "reset\nreset", EINVAL),
	BAD("two trailing newlines", "reset\n\n", EINVAL),
	BAD("escape sequence", "\x1b[2J", EINVAL),
	BAD("detach unknown id", "detach 999999", ENOENT),
	BAD("detach pid with no subscriber", "detach pid 4194304", ENOENT),
	BAD("attach pid that does not exist", "attach 4194303", ESRCH),
};

/*
 * A state in which a wrong command could show, and which only a command can
 * change: three groups, each with its gate (two paired on victim a, an
 * eagain on victim b, two paired on the parked victim), a writer parked in
 * the module, and non-zero counters everywhere. Every count comes from the
 * victims' mms, made on command and then left alone: one soft-dirty clear
 * of each (a blockable invalidation of the whole address space, which every
 * subscriber and gate counts), then a process_mrelease() of the parked
 * victim, killed, its mm kept by the parked thread, which its gate refuses
 * (two subscribers): nonblock_seen and refused. Nothing is attached to our
 * own mm, so nothing this test does afterwards (a write to a page it shares
 * copy-on-write with a victim, a watchdog's fork) can move a counter.
 */
static void busy_state(struct __test_metadata *_metadata, FIXTURE_DATA(ctl) *self)
{
	struct mmn_victim *parked = &self->parked;
	struct mmn_sub subs[8];
	struct mmn_stats s;
	int i;

	ASSERT_EQ(0, mmn_victim_start(parked, 1, true));
	ASSERT_TRUE(mmn_wait_for(mmn_parked_at_least, 1, 5000));
	ASSERT_EQ(0, mmn_ctl("attach %d 2", self->a.pid));
	ASSERT_EQ(0, mmn_ctl("attach %d 1 eagain", self->b.pid));
	ASSERT_EQ(0, mmn_ctl("attach %d 2", parked->pid));
	ASSERT_EQ(0, mmn_victim_invalidate(&self->a));
	ASSERT_EQ(0, mmn_victim_invalidate(&self->b));
	ASSERT_EQ(0, mmn_victim_invalidate(parked));
	ASSERT_EQ(0, mmn_victim_kill(parked));
	/* Its main thread is gone: only the parked thread is left in that mm. */
	ASSERT_TRUE(mmn_wait_for_zombie(parked->pid, 5000));
	ASSERT_EQ(-EAGAIN, mmn_mrelease(parked));

	ASSERT_EQ(5, mmn_subs(subs, 8));
	for (i = 0; i < 5; i++) {
		ASSERT_GT(subs[i].starts, 0) TH_LOG("subscriber %ld", subs[i].id);
		/* An eagain subscriber has no end op. */
		if (strcmp(subs[i].kind, "eagain")) {
			ASSERT_GT(subs[i].ends, 0) TH_LOG("subscriber %ld", subs[i].id);
		}
	}
	ASSERT_EQ(0, mmn_stats(&s));
	ASSERT_EQ(3, s.groups);
	ASSERT_EQ(3, s.gates);
	ASSERT_GT(s.gate_calls, 0);
	ASSERT_GT(s.nonblock_seen, 0);
	ASSERT_GT(s.refused, 0);
	ASSERT_EQ(1, s.parked);
}

/* Every row of the table, in a busy state: exact errno, files byte-identical. */
TEST_F(ctl, bad_commands)
{
	size_t i;

	busy_state(_metadata, self);
	for (i = 0; i < ARRAY_SIZE(bad_cmds); i++) {
		const struct bad_cmd *c = &bad_cmds[i];

		write_changes_nothing(_metadata, c->name, c->buf, c->len ? c->len : strlen(c->buf),
				      c->err);
	}
}

/*
 * Over-long writes, in a busy state: 257 bytes and 64 KiB are EINVAL and
 * change nothing; 256 bytes are a command, and this reset zeroes every
 * counter it names and keeps the rest.
 */
TEST_F(ctl, over_long_commands)
{
	static char buf[MMN_MAX_STEP_WRITE];
	struct mmn_sub subs[8];
	struct mmn_stats s;
	int i;

	busy_state(_metadata, self);
	memset(buf, ' ', sizeof(buf));
	memcpy(buf, "reset", 5);
	write_changes_nothing(_metadata, "reset + 252 spaces", buf, 257, EINVAL);
	write_changes_nothing(_metadata, "reset + 64 KiB of spaces", buf, sizeof(buf), EINVAL);
	ASSERT_EQ(0, mmn_write_wd(MMN_WATCHDOG_SECS, buf, 256));
	/* The victims are quiet: what the reset zeroed stays zero. */
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(0, s.gate_calls);
	EXPECT_EQ(0, s.nonblock_seen);
	EXPECT_EQ(0, s.refused);
	EXPECT_EQ(3, s.groups);
	EXPECT_EQ(3, s.gates);
	EXPECT_EQ(5, s.subscribers);
	EXPECT_EQ(1, s.parked);
	/* The refusal printed the warning; the reset keeps that. */
	EXPECT_EQ(1, s.warned);
	ASSERT_EQ(5, mmn_subs(subs, 8));
	for (i = 0; i < 5; i++) {
		EXPECT_EQ(0, subs[i].starts) TH_LOG("subscriber %ld", subs[i].id);
		EXPECT_EQ(0, subs[i].ends) TH_LOG("subscriber %ld", subs[i].id);
		EXPECT_EQ(0, subs[i].nonblock) TH_LOG("subscriber %ld", subs[i].id);
		EXPECT_EQ(0, subs[i].in_flight) TH_LOG("subscriber %ld", subs[i].id);
		EXPECT_EQ(0, subs[i].unpaired) TH_LOG("subscriber %ld", subs[i].id);
		EXPECT_STREQ("live", subs[i].state);
	}
}

/* A kernel thread has no mm: EINVAL. */
TEST_F(ctl, attach_kernel_thread)
{
	char comm[64];
	int pid, found = 0;

	/* kthreadd is pid 2 on every kernel since 2.6.x. */
	ASSERT_LE(0, mmn_read_file("/proc/2/comm", comm, sizeof(comm)));
	if (!strncmp(comm, "kthreadd", 8))
		found = 1;
	ASSERT_TRUE(found);
	pid = 2;
	EXPECT_EQ(-EINVAL, mmn_ctl("attach %d", pid));
}

/* An exited (and reaped) process: ESRCH. */
TEST_F(ctl, attach_exited_process)
{
	pid_t pid = self->a.pid;

	mmn_victim_stop(&self->a);
	EXPECT_EQ(-ESRCH, mmn_ctl("attach %d", pid));
}

/* A zombie has no mm any more: EINVAL. */
TEST_F(ctl, attach_zombie)
{
	pid_t child = fork();

	ASSERT_GE(child, 0);
	if (child == 0)
		_exit(0);
	/* Wait until it is a zombie, without reaping it. */
	ASSERT_TRUE(mmn_wait_for_zombie(child, 5000));
	EXPECT_EQ(-EINVAL, mmn_ctl("attach %d", child));
	waitpid(child, NULL, 0);
}

/* The results of an unprivileged writer that never got to write. */
#define UNPRIV_NO_OPEN		1	/* the control file did not open as root */
#define UNPRIV_NO_SETUID	2	/* setgid/setuid to nobody failed */

/*
 * In a child (under the watchdog): opens the control file as root, becomes
 * nobody, without CAP_SYS_PTRACE, and writes the command arg through that
 * file. Returns 0 or -errno of the write, or UNPRIV_*.
 */
static int unprivileged_write(void *arg)
{
	const char *cmd = arg;
	int fd = open(MMN_CONTROL, O_WRONLY);

	if (fd < 0)
		return UNPRIV_NO_OPEN;
	if (setgid(65534) || setuid(65534))
		return UNPRIV_NO_SETUID;
	return write(fd, cmd, strlen(cmd)) < 0 ? -errno : 0;
}

/* In a child: becomes nobody, then opens the control file. Returns 0 or -errno of the open. */
static int unprivileged_open(void *arg)
{
	int fd;

	if (setgid(65534) || setuid(65534))
		return UNPRIV_NO_SETUID;
	fd = open(MMN_CONTROL, O_WRONLY);
	return fd < 0 ? -errno : 0;
}

/*
 * Without CAP_SYS_PTRACE (setuid nobody, fd opened as root), attach and
 * mirror are EPERM and change nothing; a mirror command that root gets 0
 * for shows that the refusal is the privilege check's, not a bad id or
 * address.
 */
TEST_F(ctl, attach_unprivileged)
{
	static struct ctl_files before, after;
	char attach[32], mirror_bad[64], mirror_ok[64];
	struct mmn_sub subs[4];
	long id;
	int rc;

	ASSERT_EQ(0, mmn_ctl("attach %d 1 mirror", self->a.pid));
	ASSERT_EQ(1, mmn_subs(subs, 4));
	ASSERT_STREQ("mirror", subs[0].kind);
	id = subs[0].id;
	snprintf(attach, sizeof(attach), "attach %d", self->a.pid);
	/* Page 1 is not mapped: root would get EFAULT, the privilege check comes first. */
	snprintf(mirror_bad, sizeof(mirror_bad), "mirror %ld 4096 1", id);
	/* Victim a's touched page, which root can mirror. */
	snprintf(mirror_ok, sizeof(mirror_ok), "mirror %ld %llu 1", id,
		 (unsigned long long)self->a.addr);

	read_files(_metadata, &before);
	EXPECT_EQ(-EPERM, mmn_watchdog(MMN_WATCHDOG_SECS, "unprivileged attach",
				       unprivileged_write, attach));
	EXPECT_EQ(-EPERM, mmn_watchdog(MMN_WATCHDOG_SECS, "unprivileged mirror",
				       unprivileged_write, mirror_bad));
	EXPECT_EQ(-EPERM, mmn_watchdog(MMN_WATCHDOG_SECS, "unprivileged mirror",
				       unprivileged_write, mirror_ok));
	read_files(_metadata, &after);
	EXPECT_EQ(0, files_differ(_metadata, &before, &after)) {
		TH_LOG("a refused unprivileged command changed the files");
	}
	/* The same commands as root. */
	EXPECT_EQ(-EFAULT, mmn_ctl("%s", mirror_bad));
	EXPECT_EQ(0, mmn_ctl("%s", mirror_ok));

	/* Opening the file at all needs root: debugfs mode 0200. */
	rc = mmn_watchdog(MMN_WATCHDOG_SECS, "unprivileged open", unprivileged_open, NULL);
	EXPECT_TRUE(rc == -EACCES || rc == -EPERM) TH_LOG("open as nobody: %d", rc);
}

TEST_HARNESS_MAIN
