// SPDX-License-Identifier: GPL-2.0
/*
 * The mm paths a maintainer asks for, each with 1, 2 and 8 paired
 * subscribers on the test's own mm (or a victim's), each subscriber checked
 * on its own (mmn_check_each()): it saw the path and stayed paired, and none
 * saw a non-blockable start on these blocking paths.
 *
 *   THP: unmap of a PMD-mapped huge page, a partial mprotect and a partial
 *        munmap that split one, MADV_COLLAPSE;
 *   hugetlb: unmap of a 2 MiB hugetlb page;
 *   userfaultfd: UFFDIO_WRITEPROTECT and UFFDIO_MOVE;
 *   KSM: ksmd merging two identical pages;
 *   migration: move_pages() to the other node (two nodes: numa=fake=2);
 *   MADV_FREE; soft-dirty clearing (/proc/self/clear_refs);
 *   exec() of the target: release of its old mm.
 *
 * THP is "madvise" on the test kernel (CONFIG_TRANSPARENT_HUGEPAGE_MADVISE):
 * only the THP cases' regions (MADV_HUGEPAGE) get huge pages, and whether a
 * region is PMD-mapped is read from its own VMAs' AnonHugePages in
 * /proc/self/smaps, not from the whole process's.
 *
 * The cases that change global knobs (nr_hugepages, ksmd's pace) save them
 * first and the teardown puts them back.
 *
 * The non-blocking paths (process_mrelease, the OOM reaper, with test_hmm
 * next to us) are in peer_test.c.
 */
#include "mmn_stopgap.h"
#include <linux/userfaultfd.h>
#include <sys/prctl.h>
#include "kselftest_harness.h"

#ifndef MPOL_MF_MOVE
#define MPOL_MF_MOVE 0x2		/* (1 << 1), <linux/mempolicy.h> */
#endif

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef UFFDIO_MOVE
struct uffdio_move {
	__u64 dst;
	__u64 src;
	__u64 len;
	__u64 mode;
	__s64 move;
};

#define _UFFDIO_MOVE	(0x05)
#define UFFDIO_MOVE	_IOWR(UFFDIO, _UFFDIO_MOVE, struct uffdio_move)
#define UFFD_FEATURE_MOVE 0x10000	/* (1 << 16), <linux/userfaultfd.h> */
#endif

#define HPAGE	(2UL << 20)
/* Global knobs a case may change, each put back by the teardown. */
#define KNOBS	4

FIXTURE(mm)
{
	struct mmn_snapshot before;
	/* exec_releases_old_mm's target, killed by the teardown. */
	pid_t target;
	int knobs;
	char knob_path[KNOBS][64];
	char knob_value[KNOBS][32];
};

FIXTURE_VARIANT(mm)
{
	int subscribers;
};

FIXTURE_VARIANT_ADD(mm, one) { 1 };
FIXTURE_VARIANT_ADD(mm, two) { 2 };
FIXTURE_VARIANT_ADD(mm, eight) { 8 };

FIXTURE_SETUP(mm)
{
	MMN_REQUIRE_MODULE();
	self->target = 0;
	self->knobs = 0;
	ASSERT_EQ(0, mmn_clean_state());
}

FIXTURE_TEARDOWN(mm)
{
	if (self->target > 0) {
		kill(self->target, SIGKILL);
		waitpid(self->target, NULL, 0);
	}
	mmn_ctl("detach all");
	/* Last changed, first restored: a knob written twice ends at its first value. */
	while (self->knobs > 0) {
		self->knobs--;
		if (mmn_write_str(self->knob_path[self->knobs], self->knob_value[self->knobs]))
			fprintf(stderr, "# could not restore %s to %s\n",
				self->knob_path[self->knobs], self->knob_value[self->knobs]);
	}
}

/* Sets a global knob (sysctl, sysfs), saving its value for the teardown. */
static int set_knob(FIXTURE_DATA(mm) *self, const char *path, const char *value)
{
	char old[32];

	if (self->knobs == KNOBS)
		return -ENOSPC;
	if (mmn_read_file(path, old, sizeof(old)) <= 0)
		return -EIO;
	old[strcspn(old, "\n")] = '\0';
	snprintf(self->knob_path[self->knobs], sizeof(self->knob_path[0]), "%s", path);
	snprintf(self->knob_value[self->knobs], sizeof(self->knob_value[0]), "%s", old);
	self->knobs++;
	return mmn_write_str(path, value);
}

/* Attaches the variant's subscribers to pid and snapshots them. */
static void attach_and_snapshot(struct __test_metadata *_metadata, FIXTURE_DATA(mm) *self,
				int subscribers, pid_t pid)
{
	ASSERT_EQ(0, mmn_ctl("attach %d %d", pid, subscribers));
	ASSERT_EQ(subscribers, mmn_snapshot(pid, &self->before));
}

#define CHECK_EACH() EXPECT_EQ(0, mmn_check_each(&self->before, 0))

/* A 2 MiB-aligned anonymous region of len bytes (len a multiple of 2 MiB). */
static char *aligned(size_t len)
{
	char *p = mmap(NULL, len + HPAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	char *q;

	if (p == MAP_FAILED)
		return p;
	q = (char *)(((uintptr_t)p + HPAGE - 1) & ~(HPAGE - 1));
	if (q > p)
		munmap(p, q - p);
	munmap(q + len, p + HPAGE - q);
	return q;
}

/*
 * A 4 MiB region of two PMD-mapped transparent huge pages (MADV_HUGEPAGE:
 * THP is "madvise" on the test kernel), or NULL; both are checked in the
 * region's own smaps.
 */
static char *thp(long *kb)
{
	char *p = aligned(2 * HPAGE);

	*kb = -1;
	if (p == MAP_FAILED || madvise(p, 2 * HPAGE, MADV_HUGEPAGE))
		return NULL;
	memset(p, 0x5a, 2 * HPAGE);
	*kb = mmn_huge_kb(0, p, 2 * HPAGE);
	return *kb == 4096 ? p : NULL;
}

#define NO_THP_LOG(kb) TH_LOG("no two PMD-mapped THPs: AnonHugePages of the region %ld kB", kb)

TEST_F(mm, thp_pmd_munmap)
{
	long kb;
	char *p = thp(&kb);

	ASSERT_NE(NULL, p) NO_THP_LOG(kb);
	attach_and_snapshot(_metadata, self, variant->subscribers, getpid());
	ASSERT_EQ(0, munmap(p, 2 * HPAGE));
	CHECK_EACH();
}

/*
 * A partial change of the first huge page splits its PMD (split_huge_pmd()
 * at the new VMA boundaries, then PTE paths); the second one, whole in its
 * VMA, stays PMD-mapped. The region's AnonHugePages drops from 4096 to 2048
 * kB: the first PMD is gone. Likewise for a partial munmap, below.
 */
TEST_F(mm, thp_split_by_partial_mprotect)
{
	long kb;
	char *p = thp(&kb);

	ASSERT_NE(NULL, p) NO_THP_LOG(kb);
	attach_and_snapshot(_metadata, self, variant->subscribers, getpid());
	/* 4 KiB in the middle of the PMD: split_huge_pmd(), then the change. */
	ASSERT_EQ(0, mprotect(p + HPAGE / 2, 4096, PROT_READ));
	CHECK_EACH();
	EXPECT_EQ(2048, mmn_huge_kb(0, p, 2 * HPAGE));
	/* The VMA left below the change holds a piece of the first one, PTE-mapped. */
	EXPECT_EQ(0, mmn_huge_kb(0, p, HPAGE / 2));
	EXPECT_EQ(0x5a, p[HPAGE / 2]);
	munmap(p, 2 * HPAGE);
}

TEST_F(mm, thp_split_by_partial_munmap)
{
	long kb;
	char *p = thp(&kb);

	ASSERT_NE(NULL, p) NO_THP_LOG(kb);
	attach_and_snapshot(_metadata, self, variant->subscribers, getpid());
	ASSERT_EQ(0, munmap(p + HPAGE / 2, 4096));
	CHECK_EACH();
	EXPECT_EQ(2048, mmn_huge_kb(0, p, 2 * HPAGE));
	/* The VMA left below the change holds a piece of the first one, PTE-mapped. */
	EXPECT_EQ(0, mmn_huge_kb(0, p, HPAGE / 2));
	EXPECT_EQ(0x5a, p[HPAGE / 2 + 4096]);
	munmap(p, 2 * HPAGE);
}

/*
 * MADV_COLLAPSE ignores the THP sysfs mode and needs no MADV_HUGEPAGE
 * (thp_vma_allowable_orders() with TVA_FORCED_COLLAPSE), so the region gets
 * none: under "madvise" it faults small pages, and khugepaged never scans it,
 * so the collapse is ours alone, made while the subscribers watch.
 */
TEST_F(mm, madv_collapse)
{
	char *p = aligned(HPAGE);

	ASSERT_NE(MAP_FAILED, p);
	memset(p, 0x5a, HPAGE);
	ASSERT_EQ(0, mmn_huge_kb(0, p, HPAGE)) TH_LOG("small pages expected (THP \"madvise\")");
	attach_and_snapshot(_metadata, self, variant->subscribers, getpid());
	/* Synchronous collapse of 512 small pages into one huge page. */
	ASSERT_EQ(0, madvise(p, HPAGE, MADV_COLLAPSE)) TH_LOG("MADV_COLLAPSE: %s", strerror(errno));
	CHECK_EACH();
	EXPECT_EQ(2048, mmn_huge_kb(0, p, HPAGE));
	EXPECT_EQ(0x5a, p[HPAGE - 1]);
	munmap(p, HPAGE);
}

TEST_F(mm, hugetlb_munmap)
{
	char *p;

	ASSERT_EQ(0, set_knob(self, "/proc/sys/vm/nr_hugepages", "4"));
	p = mmap(NULL, HPAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB,
		 -1, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("no hugetlb page: %s", strerror(errno));
	memset(p, 0x5a, HPAGE);
	attach_and_snapshot(_metadata, self, variant->subscribers, getpid());
	ASSERT_EQ(0, munmap(p, HPAGE));
	CHECK_EACH();
}

static int uffd_open(uint64_t features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api)) {
		close(fd);
		return -errno;
	}
	return fd;
}

TEST_F(mm, uffd_writeprotect)
{
	struct uffdio_writeprotect wp;
	struct uffdio_register reg;
	size_t len = 1 << 20;
	char *p;
	int fd;

	fd = uffd_open(UFFD_FEATURE_PAGEFAULT_FLAG_WP);
	ASSERT_LE(0, fd) TH_LOG("userfaultfd: %s", strerror(-fd));
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 0x5a, len);
	reg.range.start = (uintptr_t)p;
	reg.range.len = len;
	reg.mode = UFFDIO_REGISTER_MODE_WP;
	ASSERT_EQ(0, ioctl(fd, UFFDIO_REGISTER, &reg));
	attach_and_snapshot(_metadata, self, variant->subscribers, getpid());
	wp.range.start = (uintptr_t)p;
	wp.range.len = len;
	wp.mode = UFFDIO_WRITEPROTECT_MODE_WP;
	ASSERT_EQ(0, ioctl(fd, UFFDIO_WRITEPROTECT, &wp));
	CHECK_EACH();
	close(fd);
	munmap(p, len);
}

TEST_F(mm, uffd_move)
{
	struct uffdio_register reg;
	struct uffdio_move mv;
	size_t len = 1 << 20;
	char *src, *dst;
	int fd;

	fd = uffd_open(UFFD_FEATURE_MOVE);
	ASSERT_LE(0, fd) TH_LOG("userfaultfd with UFFD_FEATURE_MOVE: %s", strerror(-fd));
	src = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	dst = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, src);
	ASSERT_NE(MAP_FAILED, dst);
	memset(src, 0x5a, len);
	reg.range.start = (uintptr_t)dst;
	reg.range.len = len;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	ASSERT_EQ(0, ioctl(fd, UFFDIO_REGISTER, &reg));
	attach_and_snapshot(_metadata, self, variant->subscribers, getpid());
	mv.dst = (uintptr_t)dst;
	mv.src = (uintptr_t)src;
	mv.len = len;
	mv.mode = 0;
	mv.move = 0;
	ASSERT_EQ(0, ioctl(fd, UFFDIO_MOVE, &mv)) TH_LOG("UFFDIO_MOVE: %s", strerror(errno));
	EXPECT_EQ((__s64)len, mv.move);
	CHECK_EACH();
	EXPECT_EQ(0x5a, dst[len - 1]);
	close(fd);
	munmap(src, len);
	munmap(dst, len);
}

static long ksm_counter(const char *name)
{
	char path[128], buf[64];

	snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", name);
	return mmn_read_file(path, buf, sizeof(buf)) > 0 ? strtol(buf, NULL, 10) : -1;
}

TEST_F_TIMEOUT(mm, ksm_merge, 90)
{
	size_t len = 64 << 12;
	double end;
	char *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 0x5a, len);
	attach_and_snapshot(_metadata, self, variant->subscribers, getpid());
	ASSERT_EQ(0, madvise(p, len, MADV_MERGEABLE));
	ASSERT_EQ(0, set_knob(self, "/sys/kernel/mm/ksm/sleep_millisecs", "0"));
	ASSERT_EQ(0, set_knob(self, "/sys/kernel/mm/ksm/pages_to_scan", "1000"));
	ASSERT_EQ(0, set_knob(self, "/sys/kernel/mm/ksm/run", "1"));
	end = mmn_now() + 60;
	while (mmn_now() < end && ksm_counter("pages_sharing") < 32)
		mmn_sleep_ms(100);
	EXPECT_LE(32, ksm_counter("pages_sharing")) TH_LOG("ksmd merged nothing in 60 s");
	/*
	 * Stop ksmd before looking: it keeps scanning (sleep_millisecs 0), and a
	 * look in the middle of one of its invalidations sees it in flight (seen
	 * once in check-debug under load: "starts 111, ends 110, in_flight 1").
	 * run_store() takes ksm_thread_mutex, which ksm_scan_thread() holds
	 * across ksm_do_scan(): once the write returns, no scan is running and
	 * none starts.
	 */
	ASSERT_EQ(0, mmn_write_str("/sys/kernel/mm/ksm/run", "0"));
	/* Merging write-protects and replaces our PTEs: each subscriber saw it. */
	CHECK_EACH();
	ASSERT_EQ(0, mmn_write_str("/sys/kernel/mm/ksm/run", "2"));
	EXPECT_EQ(0x5a, p[len - 1]);
	munmap(p, len);
}

/* NUMA nodes online ("0-1" -> 2). */
static int online_nodes(void)
{
	char buf[64];
	int a, b;

	if (mmn_read_file("/sys/devices/system/node/online", buf, sizeof(buf)) <= 0)
		return -1;
	if (sscanf(buf, "%d-%d", &a, &b) == 2)
		return b - a + 1;
	return 1;
}

TEST_F(mm, migrate_to_other_node)
{
	size_t n = 16, i;
	void *pages[16];
	int nodes[16], status[16];
	char *p;

	/* The project's runners boot with numa=fake=2, where a skip fails the run. */
	if (online_nodes() < 2)
		SKIP(return, "needs two NUMA nodes (CONFIG_NUMA_EMU, numa=fake=2)");
	p = mmap(NULL, n << 12, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 0x5a, n << 12);
	for (i = 0; i < n; i++) {
		pages[i] = p + (i << 12);
		nodes[i] = 0;
	}
	/* Where are they? Move them to the other node. */
	ASSERT_EQ(0, syscall(__NR_move_pages, 0, n, pages, NULL, status, 0));
	for (i = 0; i < n; i++)
		nodes[i] = status[i] == 0 ? 1 : 0;
	attach_and_snapshot(_metadata, self, variant->subscribers, getpid());
	ASSERT_EQ(0, syscall(__NR_move_pages, 0, n, pages, nodes, status, MPOL_MF_MOVE));
	for (i = 0; i < n; i++)
		EXPECT_EQ(nodes[i], status[i]) TH_LOG("page %zu", i);
	CHECK_EACH();
	EXPECT_EQ(0x5a, p[(n << 12) - 1]);
	munmap(p, n << 12);
}

TEST_F(mm, madv_free)
{
	size_t len = 1 << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, p);
	memset(p, 0x5a, len);
	attach_and_snapshot(_metadata, self, variant->subscribers, getpid());
	ASSERT_EQ(0, madvise(p, len, MADV_FREE));
	CHECK_EACH();
	munmap(p, len);
}

TEST_F(mm, clear_refs_soft_dirty)
{
	size_t len = 1 << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, p);
	memset(p, 0x5a, len);
	attach_and_snapshot(_metadata, self, variant->subscribers, getpid());
	/* 4: clear the soft-dirty bits of the whole mm. */
	ASSERT_EQ(0, mmn_write_str("/proc/self/clear_refs", "4"));
	CHECK_EACH();
	munmap(p, len);
}

/* The environment variable that makes this binary the exec target. */
#define EXEC_TARGET_ENV	"MMN_MMPATHS_EXEC_FD"

/*
 * The program exec_releases_old_mm's target execs: this binary again, with
 * EXEC_TARGET_ENV naming a pipe. Only the new image has that variable (the
 * target passes it in exec's own environment, never in its old one): it
 * writes its pid on the pipe, proof that the exec happened in that same
 * process, and sleeps until it is killed. The harness never runs in it.
 */
static void __attribute__((constructor)) exec_target(void)
{
	const char *fd = getenv(EXEC_TARGET_ENV);
	pid_t self;

	if (!fd)
		return;
	self = getpid();
	if (write(atoi(fd), &self, sizeof(self)) != sizeof(self))
		_exit(1);
	for (;;)
		pause();
}

/* Reads /proc/<pid>/comm (without its newline) into buf. */
static void comm_of(pid_t pid, char *buf, size_t size)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if (mmn_read_file(path, buf, size) <= 0)
		snprintf(buf, size, "?");
	buf[strcspn(buf, "\n")] = '\0';
}

/* exec() of the target: its old mm goes (release), the new one is fresh. */
TEST_F(mm, exec_releases_old_mm)
{
	struct pollfd pfd = { .events = POLLIN };
	struct mmn_sub subs[16];
	struct mmn_stats s;
	int go[2], said[2], i, n;
	char comm[32];
	pid_t pid, who;
	char c;

	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(said));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char env[64], *envp[] = { env, NULL };
		char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);

		if (p == MAP_FAILED)
			_exit(1);
		memset(p, 0x5a, 1 << 20);
		/* Kept across the exec: the target dies with the test whatever happens. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL))
			_exit(1);
		close(go[1]);
		close(said[0]);
		snprintf(env, sizeof(env), EXEC_TARGET_ENV "=%d", said[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		execle("/proc/self/exe", "mmpaths_exec_target", (char *)NULL, envp);
		_exit(2);
	}
	self->target = pid;
	close(go[0]);
	close(said[1]);
	attach_and_snapshot(_metadata, self, variant->subscribers, pid);
	comm_of(pid, comm, sizeof(comm));
	EXPECT_STRNE("exe", comm);
	ASSERT_EQ(1, write(go[1], "g", 1));
	/* The new image answers with its pid (EOF if the exec failed). */
	pfd.fd = said[0];
	ASSERT_EQ(1, poll(&pfd, 1, 10000)) TH_LOG("no word from the exec'd image in 10 s");
	ASSERT_EQ((ssize_t)sizeof(who), read(said[0], &who, sizeof(who)))
		TH_LOG("the exec failed");
	EXPECT_EQ(pid, who);
	/* And the kernel says so too: the comm is the new file's name. */
	comm_of(pid, comm, sizeof(comm));
	EXPECT_STREQ("exe", comm);
	/* The old mm was released by the exec (exec_mmap()'s mmput()): wait for release. */
	for (i = 0; i < 500; i++) {
		n = mmn_subs(subs, 16);
		if (n > 0 && !strcmp(subs[n - 1].state, "dead"))
			break;
		mmn_sleep_ms(10);
	}
	ASSERT_EQ(variant->subscribers, n);
	for (i = 0; i < n; i++) {
		EXPECT_STREQ("dead", subs[i].state) TH_LOG("subscriber %ld", subs[i].id);
		EXPECT_EQ(subs[i].starts, subs[i].ends);
		EXPECT_EQ(0, subs[i].in_flight);
		EXPECT_EQ(0, subs[i].unpaired);
	}
	/* The same pid, its new mm: a second group. */
	ASSERT_EQ(0, mmn_ctl("attach %d 1", pid));
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(2, s.groups);
	close(go[1]);
	close(said[0]);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	self->target = 0;
}

TEST_HARNESS_MAIN
