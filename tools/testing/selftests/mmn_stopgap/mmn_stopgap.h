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
#include <stdatomic.h>
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
#include <poll.h>
#include <sys/ioctl.h>
#include "lib/test_hmm_uapi.h"
#include "kselftest.h"

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

double mmn_now(void);

void mmn_sleep_ms(int ms);

/* Whether a path exists. */
bool mmn_exists(const char *path);

/*
 * One command, one write(2), exactly len bytes. Returns 0 or -errno; a short
 * write is reported as -EIO. No watchdog: see mmn_ctl().
 */
int mmn_write_raw(const void *buf, size_t len);

/* ---- Watchdog ------------------------------------------------------------ */

/*
 * Nothing may hang the suite: a step that can block in the kernel (a control
 * write, a read of a file behind the module's lock, rmmod, closing a device
 * whose release removes an interval notifier) runs in a child process, and
 * the caller waits for it at most MMN_WATCHDOG_SECS. A child still blocked
 * then is reported (its state and wait channel) and left behind: a task
 * blocked in D state cannot be killed. The step's result is MMN_WEDGED.
 */
#define MMN_WATCHDOG_SECS	20
#define MMN_WEDGED		(-100000)
/*
 * The buffer of a watched read: room for the subscribers file at 1024
 * subscribers (about 86 KiB) and more. A file that does not fit is an error
 * (-EOVERFLOW), never a silent truncation.
 */
#define MMN_MAX_STEP_READ	(256 * 1024)
/* The longest watched control write: the over-long command cases write 64 KiB. */
#define MMN_MAX_STEP_WRITE	(64 * 1024)

/* Steps found wedged by this process (a fixture teardown skips what would block again). */
extern int mmn_wedged_steps;

/*
 * Runs fn(arg) in a forked child and returns its int result, or MMN_WEDGED if
 * the child is still running after secs seconds (what names the step in the
 * report). in_parent(arg), if given, runs in the parent right after the fork.
 * The fork copies the caller's page tables, an invalidation of its own mm:
 * control writes and file reads use mmn_step() instead.
 */
int mmn_watchdog_hook(int secs, const char *what, int (*fn)(void *), void *arg,
		      void (*in_parent)(void *));

/*
 * Runs fn(arg) in a child and returns its int result, or MMN_WEDGED if the
 * child is still running after secs seconds (what names the step in the
 * report).
 */
int mmn_watchdog(int secs, const char *what, int (*fn)(void *), void *arg);

/*
 * Reads a whole file into buf (NUL-terminated). Returns the length, -errno,
 * or -EOVERFLOW if the file does not fit in size - 1 bytes: a comparison or a
 * parse of a truncated file would pass for the whole file's.
 */
ssize_t mmn_read_raw(const char *path, char *buf, size_t size);

/*
 * Runs one step (a control write of arg, at most MMN_MAX_STEP_WRITE bytes, or
 * with out a read of the file named by arg into out, NUL-terminated) in the
 * calling thread's worker, at most secs seconds. Returns the step's result
 * (for a read, the length), -errno, -EOVERFLOW for a file that does not fit
 * in outsize - 1 bytes (out is then left empty), or MMN_WEDGED.
 */
int mmn_step(int secs, const char *what, const void *arg, size_t len, char *out, size_t outsize);

/* One control write under a watchdog of secs seconds. */
int mmn_write_wd(int secs, const void *buf, size_t len);

/* printf-style command under a watchdog of secs seconds, without a trailing newline. */
__printf(2, 3) int mmn_ctl_wd(int secs, const char *fmt, ...);

/*
 * printf-style command, written without a trailing newline, under the
 * default watchdog. Returns 0, -errno, or MMN_WEDGED.
 */
#define mmn_ctl(...) mmn_ctl_wd(MMN_WATCHDOG_SECS, __VA_ARGS__)

/*
 * printf-style command in a forked child, at most secs seconds: for steps
 * expected to block for good, which would keep a worker thread, and so the
 * process, from ever exiting. The fork invalidates the caller's own mm: not
 * for tests that attach to themselves.
 */
__printf(2, 3) int mmn_ctl_fork(int secs, const char *fmt, ...);

/*
 * Reads a whole file into buf (NUL-terminated). Returns length, -errno, or
 * MMN_WEDGED: the module's files are read under the watchdog, other files
 * directly.
 */
ssize_t mmn_read_file(const char *path, char *buf, size_t size);

/*
 * kB of AnonHugePages (PMD-mapped THP) in the VMAs of pid (0: ours) that
 * overlap [addr, addr + len), from its smaps: the mapping's own count, not
 * the process's (smaps_rollup would count any other THP of the process).
 * -1 if smaps cannot be read. Reading it invalidates nothing.
 */
long mmn_huge_kb(pid_t pid, const void *addr, size_t len);

struct mmn_stats {
	char policy[16];
	long groups, gates, subscribers, gate_calls, nonblock_seen, refused, warned, parked;
	long memory_bytes, removing;
	char teardown[16];
};

/* Parses the stats file. Returns 0, or -1 if a key is missing. */
int mmn_stats(struct mmn_stats *s);

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
int mmn_subs(struct mmn_sub *subs, int max);

/* Sum of one counter over every subscriber of a kind (NULL: all kinds). */
struct mmn_totals {
	int count;
	long starts, ends, nonblock, in_flight, unpaired, dead;
};

int mmn_totals(const char *kind, long pid, struct mmn_totals *t);

/*
 * A snapshot of every subscriber attached with pid (by id), to check each one
 * after a path: mmn_snapshot() before, mmn_check_each() after.
 */
struct mmn_snapshot {
	int n;
	struct mmn_sub subs[64];
};

int mmn_snapshot(long pid, struct mmn_snapshot *snap);

/*
 * Checks each subscriber of the snapshot against its state now: it saw at
 * least one more start (the path reached it), every start has its end,
 * nothing is in flight (after up to 2 s) or unpaired, and it saw exactly
 * nonblock more non-blockable starts (-1: at least one). Returns the number
 * of violations, each printed.
 */
int mmn_check_each(const struct mmn_snapshot *before, long nonblock);

/* Module handling: loaded from $MMN_STOPGAP_KO or with modprobe. */
bool mmn_loaded(void);

int mmn_run(const char *fmt, ...);

int mmn_load(void);

/* rmmod under the watchdog: 0, -1 if it failed, MMN_WEDGED if it blocked. */
int mmn_unload(void);

/* In a FIXTURE_SETUP or TEST: skip, saying why, when the module cannot be found. */
#define MMN_NO_MODULE	"mmn_stopgap.ko not found (set MMN_STOPGAP_KO or install it)"
#define MMN_REQUIRE_MODULE()							\
	do {									\
		if (!mmn_available())						\
			SKIP(return, MMN_NO_MODULE);				\
	} while (0)

/*
 * In a TEST: end it as an expected failure (KSFT_XFAIL), saying why, like
 * the harness's SKIP(): "ok N name # XFAIL reason" in the TAP output. A case
 * whose EXPECT_*() already failed stays failed.
 */
#define MMN_XFAIL(statement, fmt, ...)						\
	do {									\
		if (_metadata->exit_code == KSFT_PASS) {			\
			snprintf(_metadata->results->reason,			\
				 sizeof(_metadata->results->reason), fmt,	\
				 ##__VA_ARGS__);				\
			fprintf(TH_LOG_STREAM, "#      XFAIL     %s\n",		\
				_metadata->results->reason);			\
			_metadata->exit_code = KSFT_XFAIL;			\
		}								\
		_metadata->trigger = 0;						\
		statement;							\
	} while (0)

/* Whether the module can be found at all (for SKIP on foreign kernels). */
bool mmn_available(void);

/* Brings the module to a known state: loaded, nothing attached, policy stopgap, zeroed. */
int mmn_clean_state(void);

/* A blocking invalidation of our own mm: map, touch and unmap `len` bytes. */
int mmn_touch_and_unmap(size_t len);

/* Polls fn(arg) until it returns true or timeout_ms passes. */
bool mmn_wait_for(bool (*fn)(long), long arg, int timeout_ms);

bool mmn_parked_at_most(long n);

bool mmn_parked_at_least(long n);

/* ---- Victims ----------------------------------------------------------- */

/*
 * A victim is a forked child with `mib` MiB of touched anonymous memory and,
 * if `park` is set, one extra thread parked in the module (a TASK_IDLE sleep
 * that SIGKILL does not end), which keeps its mm alive after SIGKILL. The main
 * thread then sleeps.
 */
struct mmn_victim {
	pid_t pid;
	pid_t parked_tid;
	int pidfd;
	size_t bytes;
	/* The victim's memory, in its address space. */
	uint64_t addr;
	/* With MMN_VICTIM_DMIRROR: our copy of its /dev/hmm_dmirror0 file, else -1. */
	int dmirror_fd;
};

/* mmn_victim_start_flags() */
#define MMN_VICTIM_PARK		0x1	/* one thread parks in the module */
#define MMN_VICTIM_DMIRROR	0x2	/* the victim opens test_hmm's dmirror */

struct mmn_victim_msg {
	pid_t tid;
	int err;
	int dmirror_fd;		/* in the victim, or -1 */
	uint64_t addr;
};

/* What a victim reports about itself; filled in the victim before its parker starts. */
extern struct mmn_victim_msg mmn_victim_info;

/*
 * A victim's parker thread: reports a struct mmn_victim_msg (mmn_victim_info
 * with its tid, and the errno of opening the control file) on the fd passed as
 * arg, unless it is -1, then parks in the module until "unpark" (or 120 s).
 */
void *mmn_parker(void *arg);

#ifndef __NR_pidfd_getfd
#define __NR_pidfd_getfd 438
#endif

/* Starts a victim with MMN_VICTIM_* flags. Returns 0, or -errno. */
int mmn_victim_start_flags(struct mmn_victim *v, size_t mib, int flags);

/* Starts a victim, parked if park. Returns 0, or -errno. */
int mmn_victim_start(struct mmn_victim *v, size_t mib, bool park);

/* Reads VmRSS (kB) of one thread of pid; -1 if unavailable. */
long mmn_rss_kb(pid_t pid, pid_t tid);

/* The highest tid of pid's threads (after SIGKILL: the parked one), or -1. */
pid_t mmn_last_tid(pid_t pid);

/* Whether the parked thread of v sits in the kernel (state D). */
bool mmn_thread_state_is(pid_t pid, pid_t tid, char want);

/* Polls until pid is a zombie (state Z), without reaping it. */
bool mmn_wait_for_zombie(pid_t pid, int timeout_ms);

int mmn_mrelease(struct mmn_victim *v);

/* Kills the victim; its parked thread keeps the mm alive until unpark. */
int mmn_victim_kill(struct mmn_victim *v);

/* ---- test_hmm's dmirror: the kernel's own C interval notifier ------------- */

/* Whether /dev/hmm_dmirror0 (lib/test_hmm) is there. */
bool mmn_dmirror_available(void);

struct mmn_dmirror_args {
	int fd;
	int go[2];
	struct hmm_dmirror_cmd cmd;
};

int mmn_dmirror_read_step(void *arg);

/*
 * Reads npages of the victim's memory through test_hmm's dmirror, under the
 * watchdog: dmirror faults the pages with mmu_interval_read_begin() and
 * hmm_range_fault() on the victim's mm, so on an mm whose interval tree was
 * left invalidating it never returns. Checks the victim's byte pattern.
 * Returns the pages read, -errno, -EBADMSG on wrong data, or MMN_WEDGED.
 */
int mmn_dmirror_read(struct mmn_victim *v, size_t npages);

/*
 * Closes the victim's dmirror file, whose release removes dmirror's interval
 * notifier (it waits for the mm's invalidations), under the watchdog.
 */
int mmn_dmirror_close(struct mmn_victim *v);

/* Ends the victim for good: unpark, kill, reap, close its dmirror. Safe to call twice. */
void mmn_victim_stop(struct mmn_victim *v);

/* Writes a string to a (sysfs, cgroupfs, debugfs) file. Returns 0 or -errno. */
int mmn_write_str(const char *path, const char *str);

/*
 * One blockable invalidation of the victim's mm, on command and from outside
 * it: clearing its soft-dirty bits ("4" into /proc/<pid>/clear_refs,
 * CONFIG_PROC_PAGE_MONITOR) runs one invalidate_range_start/end over the
 * whole address space whatever it maps, so each subscriber on that mm counts
 * a start and an end and its gate a call, while the victim itself does
 * nothing. It takes the victim's mmap lock for writing, so it runs under the
 * watchdog, whose fork is an invalidation of the caller's own mm (like
 * mmn_ctl_fork(): not for tests that attach to themselves). Returns 0,
 * -errno, or MMN_WEDGED.
 */
int mmn_victim_invalidate(struct mmn_victim *v);

/* ---- Memory cgroups (v2) --------------------------------------------------- */

#define MMN_CG_ROOT "/sys/fs/cgroup"

/* NULL if a memcg can be made here, else why not. */
const char *mmn_memcg_missing(void);

/* Creates MMN_CG_ROOT/<name> with memory.max = limit_mib MiB; path gets its directory. */
int mmn_memcg_create(const char *name, long limit_mib, char *path, size_t size);

/* Moves the calling process into the memcg at path. */
int mmn_memcg_enter(const char *path);

/*
 * The body of an OOM victim (never returns): joins the memcg at cg, parks
 * one thread in the module (reporting a struct mmn_victim_msg on tid_fd if
 * >= 0), waits for a byte on go_fd, then allocates without bound until the
 * OOM killer kills the process. The parked thread keeps the mm alive for the
 * OOM reaper.
 */
void mmn_oom_victim_flags(const char *cg, int go_fd, int tid_fd, int flags);

void mmn_oom_victim(const char *cg, int go_fd, int tid_fd);

/* ---- Kernel log ---------------------------------------------------------- */

/* Counts kernel log lines that contain both a and b. */
int mmn_kmsg_count2(const char *a, const char *b);

/* Counts kernel log lines containing needle. */
int mmn_kmsg_count(const char *needle);

/* Writes a marker into the kernel log (seen by the splat checker). */
void mmn_kmsg_mark(const char *fmt, ...);

#endif /* MMN_STOPGAP_H */
