// SPDX-License-Identifier: GPL-2.0
/*
 * Lifecycle: the target exits while attached, groups come and go, the
 * module unloads with subscribers attached, and with a writer parked, and
 * control writes race with each other and with invalidations.
 */
#include "mmn_stopgap.h"
#include <linux/sched.h>
#include "kselftest_harness.h"

#ifndef O_NONBLOCK
#define O_NONBLOCK 04000
#endif

static int delete_module(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK) ? -errno : 0;
}

FIXTURE(life)
{
	struct mmn_victim v;
	/* A process a case starts besides v (the reused pid's), killed by the teardown. */
	pid_t other;
};

FIXTURE_SETUP(life)
{
	MMN_REQUIRE_MODULE();
	self->other = 0;
	ASSERT_EQ(0, mmn_clean_state());
	ASSERT_EQ(0, mmn_victim_start(&self->v, 2, false));
}

FIXTURE_TEARDOWN(life)
{
	if (self->other > 0) {
		kill(self->other, SIGKILL);
		waitpid(self->other, NULL, 0);
	}
	mmn_victim_stop(&self->v);
	mmn_load();
	mmn_ctl("detach all");
}

/* The target exits: subscribers turn dead, stay readable, detach works. */
TEST_F(life, target_exits_while_attached)
{
	struct mmn_sub subs[4];
	struct mmn_stats s;
	pid_t pid = self->v.pid;
	int i;

	ASSERT_EQ(0, mmn_ctl("attach %d 2", pid));
	ASSERT_EQ(0, mmn_ctl("attach %d 1 eagain", pid));
	mmn_victim_stop(&self->v);
	ASSERT_EQ(3, mmn_subs(subs, 4));
	for (i = 0; i < 3; i++) {
		EXPECT_STREQ("dead", subs[i].state);
		EXPECT_EQ(pid, subs[i].pid);
		EXPECT_EQ(0, subs[i].in_flight);
		EXPECT_EQ(0, subs[i].unpaired);
	}
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(1, s.groups);
	ASSERT_EQ(0, mmn_ctl("detach %ld", subs[0].id));
	ASSERT_EQ(0, mmn_ctl("detach pid %d", pid));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(0, s.groups);
	EXPECT_EQ(0, s.subscribers);
}

/* A process with pid want, made with clone3(set_tid); it touches 1 MiB and waits. */
static pid_t spawn_with_pid(pid_t want)
{
	struct clone_args args = {
		.exit_signal = SIGCHLD,
		.set_tid = (uintptr_t)&want,
		.set_tid_size = 1,
	};
	pid_t pid = syscall(__NR_clone3, &args, sizeof(args));

	if (pid == 0) {
		char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);

		if (p != MAP_FAILED)
			memset(p, 1, 1 << 20);
		for (;;)
			pause();
	}
	return pid;
}

/*
 * The pid of a dead target is reused, on purpose (clone3 with set_tid): the
 * new process gets a fresh group, the dead one stays; "detach pid" names the
 * pid given to attach, so it takes both groups' subscribers.
 */
TEST_F(life, fresh_group_after_pid_reuse)
{
	struct mmn_sub subs[4];
	struct mmn_stats s;
	pid_t pid = self->v.pid, again;

	ASSERT_EQ(0, mmn_ctl("attach %d 2", pid));
	mmn_victim_stop(&self->v);
	again = spawn_with_pid(pid);
	/* It waits forever: if an ASSERT below fires, the teardown kills it. */
	if (again > 0)
		self->other = again;
	ASSERT_EQ(pid, again) TH_LOG("clone3(set_tid = %d): %s", pid, strerror(errno));
	ASSERT_EQ(0, mmn_ctl("attach %d 1", pid));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(2, s.groups);
	ASSERT_EQ(3, mmn_subs(subs, 4));
	EXPECT_STREQ("dead", subs[0].state);
	EXPECT_STREQ("dead", subs[1].state);
	EXPECT_STREQ("live", subs[2].state);
	EXPECT_EQ(pid, subs[0].pid);
	EXPECT_EQ(pid, subs[2].pid);
	/* One id at a time: the dead group goes with its last subscriber only. */
	ASSERT_EQ(0, mmn_ctl("detach %ld", subs[0].id));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(2, s.groups);
	/* By pid: both groups' subscribers. */
	ASSERT_EQ(0, mmn_ctl("detach pid %d", pid));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(0, s.groups);
	EXPECT_EQ(0, s.subscribers);
	EXPECT_EQ(0, s.gates);
	kill(again, SIGKILL);
	waitpid(again, NULL, 0);
	self->other = 0;
}

/* rmmod with subscribers attached leaves nothing registered; re-insmod works. */
TEST_F(life, unload_with_subscribers)
{
	struct mmn_stats s;

	ASSERT_EQ(0, mmn_ctl("attach %d 4", self->v.pid));
	ASSERT_EQ(0, mmn_ctl("attach %d 2", getpid()));
	ASSERT_EQ(0, mmn_unload());
	EXPECT_FALSE(mmn_exists(MMN_DIR));
	/* Our mm had subscribers: invalidating it now must not call into the module. */
	ASSERT_EQ(0, mmn_touch_and_unmap(1 << 20));
	ASSERT_EQ(0, mmn_load());
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(0, s.subscribers);
	EXPECT_EQ(0, s.groups);
	ASSERT_EQ(0, mmn_ctl("attach %d 2", self->v.pid));
	ASSERT_EQ(0, mmn_ctl("attach %d 2", getpid()));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(4, s.subscribers);
	EXPECT_EQ(2, s.groups);
}

/*
 * A parked writer holds the control file open, and an open file pins the
 * module (owner = THIS_MODULE): rmmod fails with EAGAIN (EWOULDBLOCK) and
 * changes nothing; after unpark it unloads cleanly.
 */
TEST_F(life, unload_while_parked)
{
	struct mmn_victim p;

	ASSERT_EQ(0, mmn_ctl("attach %d 2", self->v.pid));
	ASSERT_EQ(0, mmn_victim_start(&p, 1, true));
	ASSERT_TRUE(mmn_wait_for(mmn_parked_at_least, 1, 5000));
	EXPECT_EQ(-EWOULDBLOCK, delete_module(MMN_MODULE));
	EXPECT_TRUE(mmn_loaded());
	EXPECT_TRUE(mmn_exists(MMN_CONTROL));
	/* Still fully working. */
	EXPECT_EQ(0, mmn_ctl("attach %d 1", p.pid));
	/* SIGKILL does not end the park; unpark does. */
	kill(p.pid, SIGKILL);
	mmn_sleep_ms(100);
	EXPECT_TRUE(mmn_parked_at_least(1));
	mmn_victim_stop(&p);
	ASSERT_TRUE(mmn_wait_for(mmn_parked_at_least, 0, 1000));
	EXPECT_EQ(0, delete_module(MMN_MODULE));
	EXPECT_FALSE(mmn_exists(MMN_DIR));
}

/* An open stats file also pins the module; closing it releases it. */
TEST_F(life, open_file_pins_module)
{
	int fd = open(MMN_STATS, O_RDONLY);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EWOULDBLOCK, delete_module(MMN_MODULE));
	close(fd);
	EXPECT_EQ(0, delete_module(MMN_MODULE));
}

/* ---- Concurrency --------------------------------------------------------- */

struct race {
	atomic_int stop;
	pid_t target;
	atomic_int mapper_tid;	/* a pid_t */
	long attaches, detaches, cycles, errors;
	/* The first unexpected result, and of which command. */
	int first_err;
	const char *first_cmd;
	pthread_mutex_t lock;
};

static void *mapper(void *arg)
{
	struct race *r = arg;
	int none = 0;
	long n = 0;

	atomic_compare_exchange_strong(&r->mapper_tid, &none, (int)syscall(SYS_gettid));

	while (!r->stop) {
		char *p = mmap(NULL, 256 << 10, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			continue;
		memset(p, 1, 256 << 10);
		if (n & 1)
			madvise(p, 256 << 10, MADV_DONTNEED);
		munmap(p, 256 << 10);
		n++;
	}
	pthread_mutex_lock(&r->lock);
	r->cycles += n;
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static void race_error(struct race *r, int err, const char *cmd)
{
	pthread_mutex_lock(&r->lock);
	if (!r->first_err) {
		r->first_err = err;
		r->first_cmd = cmd;
	}
	pthread_mutex_unlock(&r->lock);
}

/*
 * Attaches 2 and detaches them by pid, in a loop. The mm holds at most 6
 * subscribers (2 witnesses, 2 per attacher), far below the cap of 64: an
 * ENOSPC would mean slots leaked, so every attach must succeed. A detach may
 * find nothing (ENOENT): the other attacher's "detach pid" took them.
 */
static void *attacher(void *arg)
{
	struct race *r = arg;
	long a = 0, d = 0, e = 0;
	int err;

	while (!r->stop) {
		err = mmn_ctl("attach %d 2", r->target);
		if (!err) {
			a++;
		} else {
			e++;
			race_error(r, err, "attach");
		}
		err = mmn_ctl("detach pid %d", r->target);
		if (!err) {
			d++;
		} else if (err != -ENOENT) {
			e++;
			race_error(r, err, "detach pid");
		}
	}
	pthread_mutex_lock(&r->lock);
	r->attaches += a;
	r->detaches += d;
	r->errors += e;
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/*
 * 4 threads mmap/touch/munmap in our mm while 2 threads attach and detach
 * subscribers on it for 3 s. Two witnesses, attached through a mapper
 * thread's tid before the race (so the attachers' "detach pid" leaves them),
 * live through all of it: each saw the invalidations and each is balanced,
 * and the module still works.
 */
TEST_F_TIMEOUT(life, concurrent_attach_detach_and_faults, 120)
{
	struct race r = { .target = getpid(), .lock = PTHREAD_MUTEX_INITIALIZER };
	struct mmn_sub subs[MMN_MAX_SUBS];
	pthread_t t[6];
	struct mmn_stats s;
	int i, n, witnesses = 0;
	pid_t witness;

	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, mapper, &r));
	while (!r.mapper_tid)
		mmn_sleep_ms(1);
	witness = r.mapper_tid;
	ASSERT_EQ(0, mmn_ctl("attach %d 2", witness));
	for (i = 4; i < 6; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, attacher, &r));
	mmn_sleep_ms(3000);
	r.stop = 1;
	for (i = 0; i < 6; i++)
		pthread_join(t[i], NULL);
	TH_LOG("%ld attaches, %ld detaches, %ld map cycles", r.attaches, r.detaches, r.cycles);
	EXPECT_EQ(0, r.errors) TH_LOG("first: %s returned %d", r.first_cmd, r.first_err);
	EXPECT_GT(r.attaches, 0);
	EXPECT_GT(r.cycles, 0);
	/* The witnesses lived through the race: each one saw it, and is balanced. */
	n = mmn_subs(subs, MMN_MAX_SUBS);
	ASSERT_LE(0, n);
	for (i = 0; i < n; i++) {
		if (subs[i].pid != witness)
			continue;
		witnesses++;
		EXPECT_GT(subs[i].starts, r.cycles / 2) TH_LOG("witness %ld", subs[i].id);
		EXPECT_EQ(subs[i].starts, subs[i].ends) TH_LOG("witness %ld", subs[i].id);
		EXPECT_EQ(0, subs[i].in_flight) TH_LOG("witness %ld", subs[i].id);
		EXPECT_EQ(0, subs[i].unpaired) TH_LOG("witness %ld", subs[i].id);
	}
	EXPECT_EQ(2, witnesses);
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(0, s.refused);
	EXPECT_EQ(1, s.groups);
	/* Each attacher's last command was its detach: only the witnesses are left. */
	EXPECT_EQ(2, s.subscribers);
	ASSERT_EQ(0, mmn_ctl("detach all"));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(0, s.groups);
}

/* Writers racing on several victims at once: every command succeeds or fails cleanly. */
TEST_F_TIMEOUT(life, concurrent_writers_many_targets, 180)
{
	struct mmn_victim w[3];
	struct mmn_stats s;
	pid_t kids[4];
	int i, status;

	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, mmn_victim_start(&w[i], 1, false));
	for (i = 0; i < 4; i++) {
		kids[i] = fork();
		ASSERT_GE(kids[i], 0);
		if (kids[i] == 0) {
			int k, bad = 0;

			for (k = 0; k < 150; k++) {
				int err = mmn_ctl("attach %d %d", w[(i + k) % 3].pid, 1 + k % 3);

				if (err && err != -ENOSPC)
					bad++;
				err = mmn_ctl("detach pid %d", w[(i + k + 1) % 3].pid);
				if (err && err != -ENOENT)
					bad++;
				if (k % 50 == 0 && mmn_ctl("reset"))
					bad++;
			}
			_exit(bad ? 1 : 0);
		}
	}
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(kids[i], waitpid(kids[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_LE(s.groups, 3);
	ASSERT_EQ(0, mmn_ctl("detach all"));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(0, s.groups);
	EXPECT_EQ(0, s.subscribers);
	for (i = 0; i < 3; i++)
		mmn_victim_stop(&w[i]);
}

TEST_HARNESS_MAIN
