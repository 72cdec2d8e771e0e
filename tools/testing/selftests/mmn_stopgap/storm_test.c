// SPDX-License-Identifier: GPL-2.0
/*
 * Command storm: 4 threads write random commands (valid, invalid and hostile)
 * to the control file while other processes fork, fault, munmap, exit and
 * get process_mrelease()d. Bounded in commands and in time. Afterwards every
 * live subscriber is balanced, the module still answers, and (checked by
 * the runner) the kernel log has no splat.
 *
 * MMN_STORM_COMMANDS (default 10000) sets the total; `make check` runs a
 * shorter storm, `make check-debug` the full one.
 *
 * The storm never writes "policy raw" (no word forms it): raw is the one
 * policy documented to wedge a stock kernel, and core_repro covers it. With
 * eagain subscribers, policy switches and refused reaps in the mix, the storm
 * is also a never-wedge test: a blocked writer would trip the hung-task
 * detector and fail the run.
 *
 * A refused process_mrelease() proves nothing by itself: any victim may have
 * two subscribers by chance. So one thread also reaps "clean" victims, which
 * no writer ever attaches to (a writer never sends an attach that names one,
 * checked under a lock that registering a victim takes exclusively): with no
 * subscriber on their mm, their process_mrelease() must reap (0) or find the
 * process gone (ESRCH), never be refused (EAGAIN). Each parks a thread in the
 * module, again whenever the storm's "unpark" wakes it, so that its mm
 * outlives the SIGKILL and the reap really runs.
 */
#include "mmn_stopgap.h"
#include <ctype.h>
#include <sys/prctl.h>
#include "kselftest_harness.h"

#define WRITERS 4
#define CHURNERS 3
#define MAX_SECONDS 240

struct storm {
	atomic_int stop;
	long per_writer;
	pid_t pids[16];		/* churn victims, refreshed by the churners */
	pthread_mutex_t lock;
	long ok, einval, other_expected, unexpected;
	/* process_mrelease() results: reaped, refused, gone already, anything else. */
	long reaped, refused, gone, reap_unexpected;
	int reap_unexpected_errno;
	/*
	 * The clean victim of the moment: its pid and its parker's tid (0: none).
	 * Writers hold clean_lock for reading from their check of a command to
	 * the end of its write; registering a victim takes it for writing.
	 */
	pthread_rwlock_t clean_lock;
	pid_t clean[2];
	/* Clean victims: process_mrelease() results, and the rounds that did not count. */
	long clean_reaped, clean_gone, clean_refused, clean_unexpected;
	int clean_unexpected_errno;
	long clean_discarded, clean_leaked, clean_failed;
	int unexpected_errno;
	char unexpected_cmd[300];
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static pid_t some_pid(struct storm *st, uint64_t *s)
{
	switch (rnd(s) % 8) {
	case 0:
		return 1;		/* init */
	case 1:
		return 2;		/* kthreadd: no mm */
	case 2:
		return getpid();
	case 3:
		return (pid_t)(rnd(s) % 5000);
	default:
		return st->pids[rnd(s) % 16];
	}
}

/* Builds one command; returns its length. */
static size_t make_command(struct storm *st, uint64_t *s, char *buf, size_t size)
{
	static const char *const words[] = {
		"attach", "detach", "policy", "reset", "park", "unpark", "pid", "all",
		"paired", "eagain", "stopgap", "off", "0", "1", "64", "65", "-1", "0x10",
		"4194304", "18446744073709551616", "\t", " ", "\n",
	};
	size_t len, i, n;

	switch (rnd(s) % 16) {
	case 0: case 1: case 2: case 3:
		return snprintf(buf, size, "attach %d %d %s", some_pid(st, s),
				(int)(rnd(s) % 6) + 1, rnd(s) % 4 ? "paired" : "eagain");
	case 4: case 5:
		return snprintf(buf, size, "detach pid %d", some_pid(st, s));
	case 6:
		return snprintf(buf, size, "detach %llu", (unsigned long long)(rnd(s) % 4000));
	case 7:
		return snprintf(buf, size, rnd(s) % 4 ? "reset" : "detach all");
	case 8:
		return snprintf(buf, size, "policy %s", rnd(s) % 2 ? "off" : "stopgap");
	case 9:
		return snprintf(buf, size, "unpark");
	case 10: case 11:
		/* Random words. */
		n = rnd(s) % 6;
		len = 0;
		for (i = 0; i < n && len < size - 32; i++)
			len += snprintf(buf + len, size - len, "%s ", words[rnd(s) % 23]);
		return len;
	case 12:
		/* Random bytes, NULs included. */
		len = rnd(s) % 300;
		for (i = 0; i < len && i < size; i++)
			buf[i] = (char)rnd(s);
		return i;
	case 13:
		/* Printable garbage, sometimes over-long. */
		len = rnd(s) % 400;
		for (i = 0; i < len && i < size; i++)
			buf[i] = 32 + rnd(s) % 95;
		return i;
	case 14:
		/* A valid command with one byte flipped. */
		len = snprintf(buf, size, "attach %d 2 paired", some_pid(st, s));
		buf[rnd(s) % len] ^= 1 << (rnd(s) % 8);
		return len;
	default:
		return snprintf(buf, size, "park 1");
	}
}

static bool expected_errno(int err)
{
	switch (err) {
	case EINVAL: case ESRCH: case ENOENT: case ENOSPC: case ETIMEDOUT:
		return true;
	default:
		return false;
	}
}

/*
 * Whether the command might attach to the clean victim: its first word is
 * "attach" and a later word is the victim's pid or tid. Conservative: a word
 * is any run of letters and digits, whatever separates it (NUL, control
 * bytes, signs), and a number's leading zeros are ignored, so that no
 * spelling the parser could possibly take for that pid gets through.
 */
static bool names_clean(struct storm *st, const char *buf, size_t len)
{
	bool first = true, number;
	unsigned long long v;
	size_t i = 0, n;
	char word[8];

	if (!st->clean[0])
		return false;
	while (i < len) {
		while (i < len && !isalnum((unsigned char)buf[i]))
			i++;
		if (i == len)
			break;
		number = true;
		v = 0;
		for (n = 0; i < len && isalnum((unsigned char)buf[i]); i++, n++) {
			if (n < sizeof(word) - 1)
				word[n] = buf[i];
			if (!isdigit((unsigned char)buf[i]))
				number = false;
			else if (v < 1ULL << 40)
				v = v * 10 + (buf[i] - '0');
		}
		word[n < sizeof(word) - 1 ? n : sizeof(word) - 1] = '\0';
		if (first) {
			if (n != 6 || strcasecmp(word, "attach"))
				return false;
			first = false;
		} else if (number && v && (v == (unsigned long long)st->clean[0] ||
					   v == (unsigned long long)st->clean[1])) {
			return true;
		}
	}
	return false;
}

static void *writer(void *arg)
{
	struct storm *st = arg;
	uint64_t seed = 0x9e3779b97f4a7c15ULL ^ (uint64_t)syscall(SYS_gettid) * 2654435761ULL;
	char buf[512];
	long i, ok = 0, einval = 0, other = 0, bad = 0;
	int fd = open(MMN_CONTROL, O_WRONLY);

	if (fd < 0)
		return NULL;
	for (i = 0; i < st->per_writer && !st->stop;) {
		size_t len = make_command(st, &seed, buf, sizeof(buf) - 1);
		ssize_t ret;
		int err;

		pthread_rwlock_rdlock(&st->clean_lock);
		if (names_clean(st, buf, len)) {
			/* Another command instead: nothing may attach to a clean victim. */
			pthread_rwlock_unlock(&st->clean_lock);
			continue;
		}
		ret = write(fd, buf, len);
		err = ret < 0 ? errno : 0;
		pthread_rwlock_unlock(&st->clean_lock);
		i++;
		if (!err && (size_t)ret == len) {
			ok++;
		} else if (err == EINVAL) {
			einval++;
		} else if (expected_errno(err)) {
			other++;
		} else {
			bad++;
			pthread_mutex_lock(&st->lock);
			st->unexpected_errno = err;
			memcpy(st->unexpected_cmd, buf, len < 299 ? len : 299);
			pthread_mutex_unlock(&st->lock);
		}
	}
	close(fd);
	pthread_mutex_lock(&st->lock);
	st->ok += ok;
	st->einval += einval;
	st->other_expected += other;
	st->unexpected += bad;
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

/*
 * A churner keeps short-lived processes around: some fault and munmap and
 * exit, some are SIGKILLed and reaped with process_mrelease() first.
 */
static void *churner(void *arg)
{
	struct storm *st = arg;
	uint64_t seed = 0x51ed2701 ^ (uint64_t)syscall(SYS_gettid);
	long slot = syscall(SYS_gettid) % 16;

	while (!st->stop) {
		int fds[2];
		pid_t pid;
		char c;

		if (pipe(fds))
			continue;
		pid = fork();
		if (pid == 0) {
			size_t len = (1 + rnd(&seed) % 8) << 20;
			char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			close(fds[0]);
			if (p != MAP_FAILED) {
				memset(p, 3, len);
				munmap(p, len / 2);
				if (fork() == 0)
					_exit(p[len - 1] == 3 ? 0 : 1);
				p[len - 1] = 4;
				madvise(p + len / 2, len / 4, MADV_DONTNEED);
			}
			if (write(fds[1], "r", 1) != 1)
				_exit(2);
			for (;;) {
				if (p != MAP_FAILED)
					p[(rnd(&seed) % (len / 2)) + len / 2] = 5;
				usleep(1000);
			}
		}
		close(fds[1]);
		if (pid < 0) {
			close(fds[0]);
			continue;
		}
		if (read(fds[0], &c, 1) != 1)
			c = 0;
		close(fds[0]);
		st->pids[slot] = pid;
		slot = (slot + 1) % 16;
		usleep(2000 + rnd(&seed) % 20000);
		if (rnd(&seed) % 2) {
			int pidfd = syscall(__NR_pidfd_open, pid, 0);

			kill(pid, SIGKILL);
			if (pidfd >= 0) {
				int err = syscall(__NR_process_mrelease, pidfd, 0) ? errno : 0;

				pthread_mutex_lock(&st->lock);
				if (!err) {
					st->reaped++;
				} else if (err == EAGAIN) {
					st->refused++;
				} else if (err == ESRCH) {
					st->gone++;
				} else {
					st->reap_unexpected++;
					st->reap_unexpected_errno = err;
				}
				pthread_mutex_unlock(&st->lock);
				close(pidfd);
			}
		} else {
			kill(pid, SIGTERM);
		}
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
	return NULL;
}

#ifndef __NR_pidfd_send_signal
#define __NR_pidfd_send_signal 424
#endif

/*
 * A clean victim: never attached to, by construction. It is named by its
 * pidfd once forked: the churners' waitpid(-1) may reap it, and its pid may
 * then be another process's.
 */
struct clean_victim {
	pid_t pid, tid;
	int pidfd;
};

static void clean_kill(struct clean_victim *v)
{
	syscall(__NR_pidfd_send_signal, v->pidfd, SIGKILL, NULL, 0);
}

/*
 * Ends a clean victim: kills it and unparks until it is gone (its pidfd polls
 * readable), at most 10 s, then reaps it unless a churner did.
 */
static void clean_end(struct clean_victim *v)
{
	struct pollfd pfd = { .fd = v->pidfd, .events = POLLIN };
	siginfo_t info;
	int i;

	clean_kill(v);
	for (i = 0; i < 100; i++) {
		mmn_ctl("unpark");
		if (poll(&pfd, 1, 100) == 1)
			break;
	}
	waitid(P_PIDFD, v->pidfd, &info, WEXITED | WNOHANG);
	close(v->pidfd);
}

/*
 * A clean victim's parker: reports its tid, then parks in the module (1 s at
 * a time: a park entered just after the SIGKILL ends soon) and parks again
 * whenever it is woken, so that after SIGKILL the mm stays until the next
 * "unpark" and process_mrelease() finds memory to reap.
 */
static void *clean_parker(void *arg)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);
	int report = (int)(intptr_t)arg;
	int fd = open(MMN_CONTROL, O_WRONLY);

	if (write(report, &tid, sizeof(tid)) != sizeof(tid))
		_exit(3);
	close(report);
	while (fd >= 0 && (write(fd, "park 1", 6) >= 0 || errno == ETIMEDOUT))
		;
	/* No control file, or it failed: stay, unparked. */
	for (;;)
		pause();
	return NULL;
}

/* Starts a clean victim with 4 MiB of touched memory. Returns 0 or -errno. */
static int clean_start(struct clean_victim *v)
{
	int fds[2];
	ssize_t n;

	if (pipe(fds))
		return -errno;
	v->pid = fork();
	if (v->pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (v->pid == 0) {
		size_t len = 4 << 20;
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		pthread_t t;

		close(fds[0]);
		if (p != MAP_FAILED)
			memset(p, 6, len);
		if (pthread_create(&t, NULL, clean_parker, (void *)(intptr_t)fds[1]))
			_exit(2);
		for (;;)
			pause();
	}
	close(fds[1]);
	/*
	 * At once: the child is busy touching its memory, so it has not died and
	 * been reaped, and the pid is still its own.
	 */
	v->pidfd = (int)syscall(__NR_pidfd_open, v->pid, 0);
	n = read(fds[0], &v->tid, sizeof(v->tid));
	close(fds[0]);
	if (v->pidfd < 0) {
		/* No pidfd to end it by: killed, left to the churners' waitpid(-1). */
		kill(v->pid, SIGKILL);
		mmn_ctl("unpark");
		return -ECHILD;
	}
	if (n != sizeof(v->tid)) {
		clean_end(v);
		return -ECHILD;
	}
	return 0;
}

/* 1 if a subscriber was attached with pid a or b, 0 if none, -1 on error. */
static int attached_to(pid_t a, pid_t b)
{
	static __thread struct mmn_sub subs[MMN_MAX_SUBS];
	int n = mmn_subs(subs, MMN_MAX_SUBS), i;

	if (n < 0)
		return -1;
	for (i = 0; i < n && i < MMN_MAX_SUBS; i++)
		if (subs[i].pid == a || subs[i].pid == b)
			return 1;
	return 0;
}

/* Publishes the clean victim (or none: 0, 0) to the writers. */
static void clean_publish(struct storm *st, pid_t pid, pid_t tid)
{
	pthread_rwlock_wrlock(&st->clean_lock);
	st->clean[0] = pid;
	st->clean[1] = tid;
	pthread_rwlock_unlock(&st->clean_lock);
}

/*
 * One clean victim: started, published, checked, left to the storm for a
 * moment, killed and released. A writer may have attached to it between its
 * fork and its publication (a random pid); once published, every write that
 * could have named it has returned, so if nothing is attached then, nothing
 * ever will be. Such a round is discarded, and a subscriber that shows up
 * later is a leak of the writers' check.
 */
static void clean_round(struct storm *st, uint64_t *seed)
{
	struct clean_victim v;
	int err, att;

	if (clean_start(&v)) {
		pthread_mutex_lock(&st->lock);
		st->clean_failed++;
		pthread_mutex_unlock(&st->lock);
		return;
	}
	clean_publish(st, v.pid, v.tid);
	att = attached_to(v.pid, v.tid);
	if (att) {
		clean_end(&v);
		clean_publish(st, 0, 0);
		pthread_mutex_lock(&st->lock);
		if (att > 0)
			st->clean_discarded++;
		else
			st->clean_failed++;
		pthread_mutex_unlock(&st->lock);
		return;
	}
	usleep(2000 + rnd(seed) % 20000);
	att = attached_to(v.pid, v.tid);
	clean_kill(&v);
	err = syscall(__NR_process_mrelease, v.pidfd, 0) ? errno : 0;
	clean_end(&v);
	clean_publish(st, 0, 0);
	pthread_mutex_lock(&st->lock);
	if (att)
		st->clean_leaked++;
	if (!err) {
		st->clean_reaped++;
	} else if (err == ESRCH) {
		st->clean_gone++;
	} else {
		if (err == EAGAIN)
			st->clean_refused++;
		else
			st->clean_unexpected++;
		st->clean_unexpected_errno = err;
	}
	pthread_mutex_unlock(&st->lock);
}

/* Clean victims, one after the other, for as long as the storm lasts (one at least). */
static void *clean_reaper(void *arg)
{
	struct storm *st = arg;
	uint64_t seed = 0x2545f4914f6cdd1dULL ^ (uint64_t)syscall(SYS_gettid);

	do {
		clean_round(st, &seed);
	} while (!st->stop);
	return NULL;
}

FIXTURE(storm)
{
};

FIXTURE_SETUP(storm)
{
	MMN_REQUIRE_MODULE();
	/* Orphaned grandchildren of the churners come back to us to be reaped. */
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1));
}

FIXTURE_TEARDOWN(storm)
{
	mmn_ctl("unpark");
	mmn_ctl("detach all");
	mmn_ctl("policy stopgap");
}

TEST_F_TIMEOUT(storm, storm, MAX_SECONDS + 120)
{
	struct storm st = { .lock = PTHREAD_MUTEX_INITIALIZER };
	pthread_t w[WRITERS], c[CHURNERS], cr;
	pthread_rwlockattr_t rwa;
	const char *env = getenv("MMN_STORM_COMMANDS");
	long total = env ? atol(env) : 10000;
	struct mmn_totals t;
	struct mmn_stats s;
	double t0;
	int i;

	ASSERT_EQ(0, mmn_clean_state());
	ASSERT_GT(total, 0);
	/* Writer-preferring: the writers' reads come back to back. */
	ASSERT_EQ(0, pthread_rwlockattr_init(&rwa));
	ASSERT_EQ(0, pthread_rwlockattr_setkind_np(&rwa,
						   PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP));
	ASSERT_EQ(0, pthread_rwlock_init(&st.clean_lock, &rwa));
	st.per_writer = (total + WRITERS - 1) / WRITERS;
	for (i = 0; i < 16; i++)
		st.pids[i] = getpid();
	t0 = mmn_now();
	for (i = 0; i < CHURNERS; i++)
		ASSERT_EQ(0, pthread_create(&c[i], NULL, churner, &st));
	ASSERT_EQ(0, pthread_create(&cr, NULL, clean_reaper, &st));
	for (i = 0; i < WRITERS; i++)
		ASSERT_EQ(0, pthread_create(&w[i], NULL, writer, &st));
	/* Bounded in time as well: the writers stop at MAX_SECONDS. */
	for (i = 0; i < WRITERS; i++) {
		while (pthread_tryjoin_np(w[i], NULL)) {
			if (mmn_now() - t0 > MAX_SECONDS)
				st.stop = 1;
			mmn_sleep_ms(50);
		}
	}
	st.stop = 1;
	for (i = 0; i < CHURNERS; i++)
		pthread_join(c[i], NULL);
	pthread_join(cr, NULL);
	mmn_ctl("unpark");
	TH_LOG("%ld commands in %.1f s: %ld ok, %ld EINVAL, %ld other expected errors",
	       st.ok + st.einval + st.other_expected + st.unexpected, mmn_now() - t0,
	       st.ok, st.einval, st.other_expected);
	EXPECT_EQ(0, st.unexpected) {
		TH_LOG("unexpected errno %d for \"%s\"", st.unexpected_errno, st.unexpected_cmd);
	}
	EXPECT_GE(st.ok + st.einval + st.other_expected, total * 9 / 10);
	/* Every process_mrelease(): reaped, refused by the rule, or already gone. */
	TH_LOG("process_mrelease: %ld reaped, %ld refused (EAGAIN), %ld gone (ESRCH)",
	       st.reaped, st.refused, st.gone);
	EXPECT_EQ(0, st.reap_unexpected) {
		TH_LOG("process_mrelease failed with errno %d", st.reap_unexpected_errno);
	}
	/*
	 * Reaps happened, not only refusals: most churn victims have no
	 * subscriber or one, and hundreds are released.
	 */
	EXPECT_GT(st.reaped, 0);
	/*
	 * The clean victims: no subscriber, so no refusal, whatever the storm
	 * did to the others; and their mm outlives the SIGKILL, so their
	 * reaps really ran.
	 */
	TH_LOG("clean victims: %ld reaped, %ld gone (ESRCH), %ld refused (EAGAIN), %ld other",
	       st.clean_reaped, st.clean_gone, st.clean_refused, st.clean_unexpected);
	TH_LOG("clean victims: %ld discarded (attached before published), %ld not started",
	       st.clean_discarded, st.clean_failed);
	EXPECT_EQ(0, st.clean_refused);
	EXPECT_EQ(0, st.clean_unexpected) {
		TH_LOG("process_mrelease of a clean victim failed with errno %d",
		       st.clean_unexpected_errno);
	}
	EXPECT_EQ(0, st.clean_leaked) TH_LOG("a writer attached to a published clean victim");
	EXPECT_GT(st.clean_reaped, 0);
	EXPECT_GT(st.ok, 0);
	EXPECT_GT(st.einval, 0);

	/* Everything still attached is balanced now that the storm is over. */
	ASSERT_EQ(0, mmn_totals(NULL, 0, &t));
	TH_LOG("%d subscribers left (%ld dead): %ld starts, %ld ends", t.count, t.dead,
	       t.starts, t.ends);
	/*
	 * The pairing invariants: nothing open, no end without its start.
	 * (starts == ends is not one here: "reset" raced with open ranges.)
	 */
	EXPECT_EQ(0, t.in_flight);
	EXPECT_EQ(0, t.unpaired);
	/* Quiet now: one more blocking invalidation on our own mm pairs exactly. */
	ASSERT_EQ(0, mmn_ctl("policy stopgap"));
	ASSERT_EQ(0, mmn_ctl("attach %d 3", getpid()));
	ASSERT_EQ(0, mmn_ctl("reset"));
	ASSERT_EQ(0, mmn_touch_and_unmap(1 << 20));
	ASSERT_EQ(0, mmn_totals("paired", getpid(), &t));
	EXPECT_GT(t.starts, 0);
	EXPECT_EQ(t.starts, t.ends);
	EXPECT_EQ(0, t.in_flight);
	EXPECT_EQ(0, t.unpaired);
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(0, s.parked);
	/* The module still cleans up. */
	ASSERT_EQ(0, mmn_ctl("detach all"));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(0, s.subscribers);
	EXPECT_EQ(0, s.groups);
}

TEST_HARNESS_MAIN
