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

#define CG_ROOT "/sys/fs/cgroup"
#define LIMIT_MIB 48

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* Counts kernel log lines that contain both a and b. */
static int kmsg_count2(const char *a, const char *b)
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

FIXTURE(oom)
{
	char cg[128];
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
	char buf[256], limit[32];

	if (!mmn_available())
		SKIP(return, "mmn_stopgap.ko not found (set MMN_STOPGAP_KO or install it)");
	if (!mmn_exists(CG_ROOT "/cgroup.subtree_control"))
		SKIP(return, "cgroup v2 is not mounted on " CG_ROOT);
	if (mmn_read_file(CG_ROOT "/cgroup.controllers", buf, sizeof(buf)) < 0 ||
	    !strstr(buf, "memory"))
		SKIP(return, "the memory controller is not available (CONFIG_MEMCG)");
	ASSERT_EQ(0, mmn_clean_state());
	ASSERT_EQ(0, write_str(CG_ROOT "/cgroup.subtree_control", "+memory"));
	snprintf(self->cg, sizeof(self->cg), CG_ROOT "/mmn_oom_%d", getpid());
	ASSERT_EQ(0, mkdir(self->cg, 0755));
	snprintf(buf, sizeof(buf), "%s/memory.max", self->cg);
	snprintf(limit, sizeof(limit), "%dM", LIMIT_MIB);
	ASSERT_EQ(0, write_str(buf, limit));
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

static void *oom_parker(void *arg)
{
	int *fds = arg;
	pid_t tid = syscall(SYS_gettid);
	int fd = open(MMN_CONTROL, O_WRONLY);

	if (write(fds[1], &tid, sizeof(tid)) != sizeof(tid))
		_exit(3);
	if (fd >= 0 && write(fd, "park 60", 7) < 0)
		_exit(4);
	return NULL;
}

/*
 * The victim: joins the cgroup, parks a thread, then waits for the go byte
 * and allocates without bound.
 */
static pid_t start_victim(const char *cg, int pipefd[2], int gofd[2])
{
	pid_t pid = fork();
	char path[256], go;
	pthread_t t;

	if (pid)
		return pid;
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	if (write_str(path, "0"))
		_exit(2);
	if (pthread_create(&t, NULL, oom_parker, pipefd))
		_exit(2);
	if (read(gofd[0], &go, 1) != 1)
		_exit(5);
	for (;;) {
		char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p != MAP_FAILED)
			memset(p, 0x11, 1 << 20);
	}
}

TEST_F_TIMEOUT(oom, reaper, 120)
{
	char needle[64], tag[64];
	int gofd[2], status, found = 0;
	long rss;
	double end;

	ASSERT_EQ(0, pipe(self->pipefd));
	ASSERT_EQ(0, pipe(gofd));
	self->pid = start_victim(self->cg, self->pipefd, gofd);
	ASSERT_GT(self->pid, 0);
	ASSERT_EQ((ssize_t)sizeof(pid_t), read(self->pipefd[0], &self->parked_tid, sizeof(pid_t)));
	ASSERT_TRUE(mmn_wait_for(mmn_parked_at_least, 1, 5000));
	ASSERT_EQ(0, mmn_ctl("policy %s", variant->policy));
	ASSERT_EQ(0, mmn_ctl("attach %d %d", self->pid, variant->subscribers));
	ASSERT_EQ(0, mmn_ctl("reset"));
	mmn_kmsg_mark("mmn-selftest: oom victim %d starts allocating\n", self->pid);
	ASSERT_EQ(1, write(gofd[1], "g", 1));

	/* The memcg OOM killer kills it; the parked thread keeps the mm. */
	snprintf(tag, sizeof(tag), "pid:%d ", self->pid);
	snprintf(needle, sizeof(needle), "process %d ", self->pid);
	end = mmn_now() + 30;
	while (mmn_now() < end) {
		if (variant->reaped)
			found = kmsg_count2("oom_reaper: reaped", needle);
		else
			found = kmsg_count2("oom_reaper: unable to reap", tag);
		if (found > 0)
			break;
		mmn_sleep_ms(100);
	}
	EXPECT_EQ(1, found) {
		TH_LOG("no \"oom_reaper: %s\" line for pid %d within 30 s",
		       variant->reaped ? "reaped" : "unable to reap", self->pid);
	}
	EXPECT_LE(1, kmsg_count2("Killed process", needle));

	rss = mmn_rss_kb(self->pid, self->parked_tid);
	if (variant->reaped) {
		EXPECT_LT(rss, LIMIT_MIB * 1024 / 4);
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
