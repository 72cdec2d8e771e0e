// SPDX-License-Identifier: GPL-2.0
/*
 * The mmn_stopgap demo (`make run`): the stop-gap rule on a real mm.
 *
 * A victim with 64 MiB of touched anonymous memory and one thread parked in
 * the module is SIGKILLed, then process_mrelease(2) reaps it:
 *   1 subscriber          -> 0, memory gone
 *   3 subscribers         -> EAGAIN, refused before any subscriber's start,
 *                            warning printed once, memory still there
 *   3 subscribers, off    -> 0 again, every pair balanced
 */
#include "mmn_stopgap.h"

#define MIB 64

static int failures;

#define CHECK(cond, fmt, ...)						\
	do {								\
		if (!(cond)) {						\
			printf("    !! unexpected: " fmt "\n", ##__VA_ARGS__); \
			failures++;					\
		}							\
	} while (0)

static void show_subscribers(void)
{
	char buf[8192];

	if (mmn_read_file(MMN_SUBSCRIBERS, buf, sizeof(buf)) > 0) {
		char *line, *save;

		for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			printf("      %s\n", line);
	}
}

static void show_warning_lines(void)
{
	char rec[8192];
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	ssize_t n;

	if (fd < 0)
		return;
	while ((n = read(fd, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		char *msg;

		if (n <= 0)
			continue;
		rec[n] = '\0';
		msg = strchr(rec, ';');
		if (msg && strstr(msg, "stop gap"))
			printf("      dmesg: %s", msg + 1);
	}
	close(fd);
}

/* One scenario: returns process_mrelease's errno (0 on success). */
/* The "State:" line of /proc/pid/task/tid/status, as the kernel says it (e.g. "I (idle)"). */
static const char *thread_state(pid_t pid, pid_t tid, char *buf, size_t size)
{
	char path[64], text[4096], *p;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	p = mmn_read_file(path, text, sizeof(text)) < 0 ? NULL : strstr(text, "State:");
	if (!p)
		return "state unknown";
	p += strlen("State:");
	p += strspn(p, " \t");
	snprintf(buf, size, "state %.*s", (int)strcspn(p, "\n"), p);
	return buf;
}

static int scenario(int n, const char *kind_policy, int subs)
{
	char state[64];
	struct mmn_victim v;
	struct mmn_totals t;
	struct mmn_stats s;
	long before, after;
	pid_t pid;
	int err;

	printf("\n[%d] %d paired subscriber%s, policy %s\n", n, subs, subs == 1 ? "" : "s",
	       kind_policy);
	mmn_ctl("policy %s", kind_policy);
	mmn_ctl("reset");
	err = mmn_victim_start(&v, MIB, true);
	if (err) {
		printf("    !! cannot start a victim: %s\n", strerror(-err));
		failures++;
		return err;
	}
	mmn_wait_for(mmn_parked_at_least, 1, 5000);
	err = mmn_ctl("attach %d %d paired", v.pid, subs);
	CHECK(!err, "attach failed: %s", strerror(-err));
	printf("    victim pid %d: %d MiB touched, thread %d parked in the module (%s)\n",
	       v.pid, MIB, v.parked_tid, thread_state(v.pid, v.parked_tid, state, sizeof(state)));
	before = mmn_rss_kb(v.pid, v.parked_tid);
	mmn_ctl("reset");
	mmn_victim_kill(&v);
	err = mmn_mrelease(&v);
	after = mmn_rss_kb(v.pid, v.parked_tid);
	if (err)
		printf("    SIGKILL, then process_mrelease(pidfd, 0) = -1, errno %s\n",
		       err == -EAGAIN ? "EAGAIN" : strerror(-err));
	else
		printf("    SIGKILL, then process_mrelease(pidfd, 0) = 0\n");
	printf("    victim RSS: %ld kB before, %ld kB after%s\n", before, after,
	       after < before / 4 ? " (reaped)" : " (not reaped)");
	mmn_stats(&s);
	mmn_totals("paired", v.pid, &t);
	if (s.gates)
		printf("    gate: %ld non-blocking ranges seen, %ld refused\n", s.nonblock_seen,
		       s.refused);
	else
		printf("    gate: none (policy off: no stop gap, and paired subscribers need no gate)\n");
	printf("    subscribers: %ld starts (%ld non-blocking), %ld ends, %ld in flight, %ld unpaired\n",
	       t.starts, t.nonblock, t.ends, t.in_flight, t.unpaired);
	show_subscribers();
	pid = v.pid;
	mmn_victim_stop(&v);
	mmn_ctl("detach pid %d", pid);
	return -err;
}

int main(void)
{
	struct mmn_stats s;
	int err, warnings;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("mmn_stopgap demo: the stop-gap rule on a real mm\n");
	printf("rule: a non-blocking invalidation (OOM reaper, process_mrelease) of an mm\n"
	       "      with 2+ subscribers is refused with -EAGAIN before any\n"
	       "      invalidate_range_start runs, so no start is left without its end\n");
	if (mmn_clean_state()) {
		printf("!! module not loaded or not writable\n");
		return 1;
	}

	err = scenario(1, "stopgap", 1);
	CHECK(err == 0, "1 subscriber: process_mrelease should succeed, got %s", strerror(err));

	err = scenario(2, "stopgap", 3);
	CHECK(err == EAGAIN, "3 subscribers: want EAGAIN, got %s", strerror(err));
	mmn_stats(&s);
	warnings = mmn_kmsg_count("stop gap: refused");
	printf("    warning printed %d time(s) (pr_warn_once), warned=%ld:\n", warnings, s.warned);
	show_warning_lines();
	CHECK(warnings == 1, "the warning should appear exactly once, saw %d", warnings);

	err = scenario(3, "stopgap", 3);
	CHECK(err == EAGAIN, "3 subscribers again: want EAGAIN, got %s", strerror(err));
	warnings = mmn_kmsg_count("stop gap: refused");
	printf("    second refusal: the warning is still printed %d time(s)\n", warnings);
	CHECK(warnings == 1, "the warning should still appear once, saw %d", warnings);

	err = scenario(4, "off", 3);
	CHECK(err == 0, "policy off: process_mrelease should succeed, got %s", strerror(err));

	mmn_ctl("policy stopgap");
	printf("\n%s\n", failures ? "demo: UNEXPECTED RESULTS (see !! lines)"
				  : "demo: every step behaved as the rule says");
	return failures ? 1 : 0;
}
