/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the mmn_stopgap kselftests: driving the debugfs files,
 * loading the module, and building victims for process_mrelease(2).
 */
#ifndef MMN_STOPGAP_H
#define MMN_STOPGAP_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#define MMN_DIR		"/sys/kernel/debug/mmn_stopgap"
#define MMN_CONTROL	MMN_DIR "/control"
#define MMN_SUBSCRIBERS	MMN_DIR "/subscribers"
#define MMN_STATS	MMN_DIR "/stats"
#define MMN_MODULE	"mmn_stopgap"
#define MMN_MAX_SUBS	1024

#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_process_mrelease
#define __NR_process_mrelease 448
#endif

static inline double mmn_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void mmn_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Whether a path exists. */
static inline bool mmn_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/*
 * One command, one write(2), exactly len bytes. Returns 0 or -errno; a short
 * write is reported as -EIO.
 */
static inline int mmn_write_raw(const void *buf, size_t len)
{
	ssize_t ret;
	int fd, err;

	fd = open(MMN_CONTROL, O_WRONLY);
	if (fd < 0)
		return -errno;
	ret = write(fd, buf, len);
	err = ret < 0 ? -errno : ((size_t)ret == len ? 0 : -EIO);
	close(fd);
	return err;
}

/* printf-style command, written without a trailing newline. */
static inline int mmn_ctl(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -E2BIG;
	return mmn_write_raw(buf, n);
}

/* Reads a whole file into buf (NUL-terminated). Returns length or -errno. */
static inline ssize_t mmn_read_file(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += n;
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	buf[len] = '\0';
	close(fd);
	return len;
}

struct mmn_stats {
	char policy[16];
	long groups, gates, subscribers, gate_calls, nonblock_seen, refused, warned, parked;
	long memory_bytes;
};

/* Parses the stats file. Returns 0, or -1 if a key is missing. */
static inline int mmn_stats(struct mmn_stats *s)
{
	char buf[4096], *line, *save;
	int seen = 0;

	memset(s, 0, sizeof(*s));
	if (mmn_read_file(MMN_STATS, buf, sizeof(buf)) < 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		seen += sscanf(line, "policy: %15s", s->policy);
		seen += sscanf(line, "groups: %ld", &s->groups);
		seen += sscanf(line, "gates: %ld", &s->gates);
		seen += sscanf(line, "subscribers: %ld", &s->subscribers);
		seen += sscanf(line, "gate_calls: %ld", &s->gate_calls);
		seen += sscanf(line, "nonblock_seen: %ld", &s->nonblock_seen);
		seen += sscanf(line, "refused: %ld", &s->refused);
		seen += sscanf(line, "warned: %ld", &s->warned);
		seen += sscanf(line, "parked: %ld", &s->parked);
		seen += sscanf(line, "memory_bytes: %ld", &s->memory_bytes);
	}
	return seen == 10 ? 0 : -1;
}

struct mmn_sub {
	long id, pid;
	char kind[16];
	long starts, ends, nonblock, in_flight, unpaired;
	char state[16];
};

/*
 * Parses the subscribers file into subs (at most max). Returns the number of
 * subscribers, or -1 on a malformed file.
 */
static inline int mmn_subs(struct mmn_sub *subs, int max)
{
	static char buf[256 * 1024];
	char *line, *save;
	int n = 0, i = 0;

	if (mmn_read_file(MMN_SUBSCRIBERS, buf, sizeof(buf)) < 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save), i++) {
		struct mmn_sub s;

		if (i == 0) {
			if (!strstr(line, "id") || !strstr(line, "in_flight"))
				return -1;
			continue;
		}
		if (sscanf(line, "%ld %ld %15s %ld %ld %ld %ld %ld %15s", &s.id, &s.pid,
			   s.kind, &s.starts, &s.ends, &s.nonblock, &s.in_flight,
			   &s.unpaired, s.state) != 9)
			return -1;
		if (n < max)
			subs[n] = s;
		n++;
	}
	return n;
}

/* Sum of one counter over every subscriber of a kind (NULL: all kinds). */
struct mmn_totals {
	int count;
	long starts, ends, nonblock, in_flight, unpaired, dead;
};

static inline int mmn_totals(const char *kind, long pid, struct mmn_totals *t)
{
	static struct mmn_sub subs[MMN_MAX_SUBS];
	int n, i;

	memset(t, 0, sizeof(*t));
	n = mmn_subs(subs, MMN_MAX_SUBS);
	if (n < 0)
		return -1;
	for (i = 0; i < n && i < MMN_MAX_SUBS; i++) {
		if (kind && strcmp(subs[i].kind, kind))
			continue;
		if (pid > 0 && subs[i].pid != pid)
			continue;
		t->count++;
		t->starts += subs[i].starts;
		t->ends += subs[i].ends;
		t->nonblock += subs[i].nonblock;
		t->in_flight += subs[i].in_flight;
		t->unpaired += subs[i].unpaired;
		t->dead += !strcmp(subs[i].state, "dead");
	}
	return 0;
}

/* Module handling: loaded from $MMN_STOPGAP_KO or with modprobe. */
static inline bool mmn_loaded(void)
{
	return mmn_exists("/sys/module/" MMN_MODULE);
}

static inline int mmn_run(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline int mmn_load(void)
{
	const char *ko = getenv("MMN_STOPGAP_KO");

	if (mmn_loaded())
		return 0;
	if (ko && *ko)
		return mmn_run("insmod %s", ko) == 0 ? 0 : -1;
	return mmn_run("modprobe " MMN_MODULE " 2>/dev/null") == 0 ? 0 : -1;
}

static inline int mmn_unload(void)
{
	if (!mmn_loaded())
		return 0;
	return mmn_run("rmmod " MMN_MODULE) == 0 ? 0 : -1;
}

/* In a FIXTURE_SETUP or TEST: skip, saying why, when the module cannot be found. */
#define MMN_REQUIRE_MODULE()							\
	do {									\
		if (!mmn_available())						\
			SKIP(return, "mmn_stopgap.ko not found (set MMN_STOPGAP_KO or install it)"); \
	} while (0)

/* Whether the module can be found at all (for SKIP on foreign kernels). */
static inline bool mmn_available(void)
{
	const char *ko = getenv("MMN_STOPGAP_KO");

	if (mmn_loaded())
		return true;
	if (ko && *ko)
		return mmn_exists(ko);
	return mmn_run("modprobe -n " MMN_MODULE " 2>/dev/null") == 0;
}

/* Brings the module to a known state: loaded, nothing attached, policy stopgap, zeroed. */
static inline int mmn_clean_state(void)
{
	if (mmn_load())
		return -1;
	if (mmn_ctl("unpark") || mmn_ctl("detach all") || mmn_ctl("policy stopgap") ||
	    mmn_ctl("reset"))
		return -1;
	return 0;
}

/* A blocking invalidation of our own mm: map, touch and unmap `len` bytes. */
static inline int mmn_touch_and_unmap(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	memset(p, 1, len);
	return munmap(p, len) ? -errno : 0;
}

/* Polls fn(arg) until it returns true or timeout_ms passes. */
static inline bool mmn_wait_for(bool (*fn)(long), long arg, int timeout_ms)
{
	double end = mmn_now() + timeout_ms / 1000.0;

	while (mmn_now() < end) {
		if (fn(arg))
			return true;
		mmn_sleep_ms(5);
	}
	return fn(arg);
}

static inline bool mmn_parked_at_least(long n)
{
	struct mmn_stats s;

	return mmn_stats(&s) == 0 && s.parked >= n;
}

/* ---- Victims ----------------------------------------------------------- */

/*
 * A victim is a forked child with `mib` MiB of touched anonymous memory and,
 * if `park` is set, one extra thread parked in the module (uninterruptible),
 * which keeps its mm alive after SIGKILL. The main thread then sleeps.
 */
struct mmn_victim {
	pid_t pid;
	pid_t parked_tid;
	int pidfd;
	size_t bytes;
};

struct mmn_victim_msg {
	pid_t tid;
	int err;
};

/*
 * A victim's parker thread: reports a struct mmn_victim_msg (its tid, and the
 * errno of opening the control file) on the fd passed as arg, unless it is
 * -1, then parks in the module until "unpark" (or 60 s).
 */
static inline void *mmn_parker(void *arg)
{
	struct mmn_victim_msg msg = { .tid = (pid_t)syscall(SYS_gettid) };
	int report = (int)(intptr_t)arg;
	int fd = open(MMN_CONTROL, O_WRONLY);

	msg.err = fd < 0 ? errno : 0;
	if (report >= 0 && write(report, &msg, sizeof(msg)) != sizeof(msg))
		_exit(3);
	if (fd >= 0 && write(fd, "park 60", 7) < 0)
		_exit(4);
	return NULL;
}

/* Starts a victim. Returns 0, or -errno. */
static inline int mmn_victim_start(struct mmn_victim *v, size_t mib, bool park)
{
	struct mmn_victim_msg msg = { 0 };
	int mmn_victim_pipe[2];

	memset(v, 0, sizeof(*v));
	v->pidfd = -1;
	v->bytes = mib << 20;
	if (pipe(mmn_victim_pipe))
		return -errno;
	v->pid = fork();
	if (v->pid < 0)
		return -errno;
	if (v->pid == 0) {
		pthread_t t;
		char *p = NULL;
		size_t i;

		close(mmn_victim_pipe[0]);
		if (v->bytes) {
			p = mmap(NULL, v->bytes, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED)
				_exit(1);
			for (i = 0; i < v->bytes; i += 4096)
				p[i] = 1;
		}
		/* The parker reports its tid once it is about to park. */
		if (park && pthread_create(&t, NULL, mmn_parker,
					   (void *)(intptr_t)mmn_victim_pipe[1]))
			_exit(2);
		if (!park) {
			msg.tid = getpid();
			if (write(mmn_victim_pipe[1], &msg, sizeof(msg)) != sizeof(msg))
				_exit(3);
		}
		for (;;)
			pause();
	}
	close(mmn_victim_pipe[1]);
	if (read(mmn_victim_pipe[0], &msg, sizeof(msg)) != sizeof(msg)) {
		close(mmn_victim_pipe[0]);
		kill(v->pid, SIGKILL);
		waitpid(v->pid, NULL, 0);
		return -ECHILD;
	}
	close(mmn_victim_pipe[0]);
	if (msg.err) {
		kill(v->pid, SIGKILL);
		waitpid(v->pid, NULL, 0);
		return -msg.err;
	}
	v->parked_tid = msg.tid;
	v->pidfd = syscall(__NR_pidfd_open, v->pid, 0);
	if (v->pidfd < 0)
		return -errno;
	return 0;
}

/* Reads VmRSS (kB) of one thread of pid; -1 if unavailable. */
static inline long mmn_rss_kb(pid_t pid, pid_t tid)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	if (mmn_read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, "VmRSS:");
	return p ? strtol(p + 6, NULL, 10) : -1;
}

/* The highest tid of pid's threads (after SIGKILL: the parked one), or -1. */
static inline pid_t mmn_last_tid(pid_t pid)
{
	char path[64];
	struct dirent *e;
	pid_t tid = -1;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (atoi(e->d_name) > tid)
			tid = atoi(e->d_name);
	closedir(d);
	return tid;
}

/* Whether the parked thread of v sits in the kernel (state D). */
static inline bool mmn_thread_state_is(pid_t pid, pid_t tid, char want)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	if (mmn_read_file(path, buf, sizeof(buf)) < 0)
		return false;
	p = strstr(buf, "State:");
	return p && strchr(p, want) && strchr(p, want) < strchr(p, '\n');
}

/* Polls until pid is a zombie (state Z), without reaping it. */
static inline bool mmn_wait_for_zombie(pid_t pid, int timeout_ms)
{
	double end = mmn_now() + timeout_ms / 1000.0;
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	while (mmn_now() < end) {
		if (mmn_read_file(path, buf, sizeof(buf)) > 0) {
			p = strrchr(buf, ')');
			if (p && p[1] == ' ' && p[2] == 'Z')
				return true;
		}
		mmn_sleep_ms(5);
	}
	return false;
}

static inline int mmn_mrelease(struct mmn_victim *v)
{
	return syscall(__NR_process_mrelease, v->pidfd, 0) ? -errno : 0;
}

/* Kills the victim; its parked thread keeps the mm alive until unpark. */
static inline int mmn_victim_kill(struct mmn_victim *v)
{
	return kill(v->pid, SIGKILL) ? -errno : 0;
}

/* Ends the victim for good: unpark, kill, reap. Safe to call twice. */
static inline void mmn_victim_stop(struct mmn_victim *v)
{
	if (v->pid > 0) {
		kill(v->pid, SIGKILL);
		mmn_ctl("unpark");
		waitpid(v->pid, NULL, 0);
		v->pid = 0;
	}
	if (v->pidfd >= 0) {
		close(v->pidfd);
		v->pidfd = -1;
	}
}

/* Writes a string to a (sysfs, cgroupfs, debugfs) file. Returns 0 or -errno. */
static inline int mmn_write_str(const char *path, const char *str)
{
	int fd = open(path, O_WRONLY), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, str, strlen(str)) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* ---- Memory cgroups (v2) --------------------------------------------------- */

#define MMN_CG_ROOT "/sys/fs/cgroup"

/* NULL if a memcg can be made here, else why not. */
static inline const char *mmn_memcg_missing(void)
{
	char buf[256];

	if (!mmn_exists(MMN_CG_ROOT "/cgroup.subtree_control"))
		return "cgroup v2 is not mounted on " MMN_CG_ROOT;
	if (mmn_read_file(MMN_CG_ROOT "/cgroup.controllers", buf, sizeof(buf)) < 0 ||
	    !strstr(buf, "memory"))
		return "the memory controller is not available (CONFIG_MEMCG)";
	return NULL;
}

/* Creates MMN_CG_ROOT/<name> with memory.max = limit_mib MiB; path gets its directory. */
static inline int mmn_memcg_create(const char *name, long limit_mib, char *path, size_t size)
{
	char file[320], limit[32];
	int err;

	err = mmn_write_str(MMN_CG_ROOT "/cgroup.subtree_control", "+memory");
	if (err)
		return err;
	snprintf(path, size, MMN_CG_ROOT "/%s", name);
	if (mkdir(path, 0755) && errno != EEXIST)
		return -errno;
	snprintf(file, sizeof(file), "%s/memory.max", path);
	snprintf(limit, sizeof(limit), "%ldM", limit_mib);
	return mmn_write_str(file, limit);
}

/* Moves the calling process into the memcg at path. */
static inline int mmn_memcg_enter(const char *path)
{
	char file[320];

	snprintf(file, sizeof(file), "%s/cgroup.procs", path);
	return mmn_write_str(file, "0");
}

/*
 * The body of an OOM victim (never returns): joins the memcg at cg, parks
 * one thread in the module (reporting a struct mmn_victim_msg on tid_fd if
 * >= 0), waits for a byte on go_fd, then allocates without bound until the
 * OOM killer kills the process. The parked thread keeps the mm alive for the
 * OOM reaper.
 */
static inline void mmn_oom_victim(const char *cg, int go_fd, int tid_fd)
{
	pthread_t t;
	char go;

	if (mmn_memcg_enter(cg) ||
	    pthread_create(&t, NULL, mmn_parker, (void *)(intptr_t)tid_fd))
		_exit(2);
	if (read(go_fd, &go, 1) != 1)
		_exit(5);
	for (;;) {
		char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p != MAP_FAILED)
			memset(p, 0x11, 1 << 20);
	}
}

/* ---- Kernel log ---------------------------------------------------------- */

/* Counts kernel log lines that contain both a and b. */
static inline int mmn_kmsg_count2(const char *a, const char *b)
{
	char rec[8192];
	int fd, count = 0;
	ssize_t n;

	fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return -1;
	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0) {
			if (errno == EPIPE)
				continue;
			break;
		}
		rec[n] = '\0';
		if (strstr(rec, a) && strstr(rec, b))
			count++;
	}
	close(fd);
	return count;
}

/* Counts kernel log lines containing needle. */
static inline int mmn_kmsg_count(const char *needle)
{
	return mmn_kmsg_count2(needle, "");
}

/* Writes a marker into the kernel log (seen by the splat checker). */
static inline void mmn_kmsg_mark(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int fd, n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fd = open("/dev/kmsg", O_WRONLY);
	if (fd < 0)
		return;
	n = write(fd, buf, n);
	close(fd);
}

#endif /* MMN_STOPGAP_H */
