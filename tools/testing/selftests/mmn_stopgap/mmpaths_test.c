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
 * The non-blocking paths (process_mrelease, the OOM reaper, with test_hmm
 * next to us) are in peer_test.c.
 */
#include "mmn_stopgap.h"
#include <linux/userfaultfd.h>
#include "kselftest_harness.h"

#ifndef MPOL_MF_MOVE
#define MPOL_MF_MOVE (1 << 1)
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
#define UFFD_FEATURE_MOVE (1 << 16)
#endif

#define HPAGE	(2UL << 20)

FIXTURE(mm)
{
	struct mmn_snapshot before;
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
	ASSERT_EQ(0, mmn_clean_state());
}

FIXTURE_TEARDOWN(mm)
{
	mmn_ctl("detach all");
}

/* Attaches the variant's subscribers to pid and snapshots them. */
static void attach(struct __test_metadata *_metadata, FIXTURE_DATA(mm) *self, int subscribers,
		   pid_t pid)
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

/* kB of AnonHugePages (PMD-mapped THP) in this process. */
static long anon_huge_kb(void)
{
	char buf[8192], *p;

	if (mmn_read_file("/proc/self/smaps_rollup", buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, "AnonHugePages:");
	return p ? strtol(p + 14, NULL, 10) : -1;
}

/* A PMD-mapped transparent huge page at the start of a 4 MiB region, or NULL. */
static char *thp(void)
{
	char *p = aligned(2 * HPAGE);

	if (p == MAP_FAILED || madvise(p, 2 * HPAGE, MADV_HUGEPAGE))
		return NULL;
	memset(p, 0x5a, 2 * HPAGE);
	return anon_huge_kb() >= 2048 ? p : NULL;
}

TEST_F(mm, thp_pmd_munmap)
{
	char *p = thp();

	ASSERT_NE(NULL, p) TH_LOG("no PMD-mapped THP (AnonHugePages %ld kB)", anon_huge_kb());
	attach(_metadata, self, variant->subscribers, getpid());
	ASSERT_EQ(0, munmap(p, 2 * HPAGE));
	CHECK_EACH();
}

TEST_F(mm, thp_split_by_partial_mprotect)
{
	char *p = thp();

	ASSERT_NE(NULL, p);
	attach(_metadata, self, variant->subscribers, getpid());
	/* 4 KiB in the middle of the PMD: split_huge_pmd(), then the change. */
	ASSERT_EQ(0, mprotect(p + HPAGE / 2, 4096, PROT_READ));
	CHECK_EACH();
	EXPECT_EQ(0x5a, p[HPAGE / 2]);
	munmap(p, 2 * HPAGE);
}

TEST_F(mm, thp_split_by_partial_munmap)
{
	char *p = thp();

	ASSERT_NE(NULL, p);
	attach(_metadata, self, variant->subscribers, getpid());
	ASSERT_EQ(0, munmap(p + HPAGE / 2, 4096));
	CHECK_EACH();
	EXPECT_EQ(0x5a, p[HPAGE / 2 + 4096]);
	munmap(p, 2 * HPAGE);
}

TEST_F(mm, madv_collapse)
{
	char *p = aligned(HPAGE);

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, madvise(p, HPAGE, MADV_NOHUGEPAGE));
	memset(p, 0x5a, HPAGE);
	ASSERT_EQ(0, madvise(p, HPAGE, MADV_HUGEPAGE));
	attach(_metadata, self, variant->subscribers, getpid());
	/* Synchronous collapse of 512 small pages into one huge page. */
	ASSERT_EQ(0, madvise(p, HPAGE, MADV_COLLAPSE)) TH_LOG("MADV_COLLAPSE: %s", strerror(errno));
	EXPECT_GE(anon_huge_kb(), 2048);
	CHECK_EACH();
	EXPECT_EQ(0x5a, p[HPAGE - 1]);
	munmap(p, HPAGE);
}

TEST_F(mm, hugetlb_munmap)
{
	char *p;

	ASSERT_EQ(0, mmn_write_str("/proc/sys/vm/nr_hugepages", "4"));
	p = mmap(NULL, HPAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB,
		 -1, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("no hugetlb page: %s", strerror(errno));
	memset(p, 0x5a, HPAGE);
	attach(_metadata, self, variant->subscribers, getpid());
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
	attach(_metadata, self, variant->subscribers, getpid());
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
	attach(_metadata, self, variant->subscribers, getpid());
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
	attach(_metadata, self, variant->subscribers, getpid());
	ASSERT_EQ(0, madvise(p, len, MADV_MERGEABLE));
	ASSERT_EQ(0, mmn_write_str("/sys/kernel/mm/ksm/sleep_millisecs", "0"));
	ASSERT_EQ(0, mmn_write_str("/sys/kernel/mm/ksm/pages_to_scan", "1000"));
	ASSERT_EQ(0, mmn_write_str("/sys/kernel/mm/ksm/run", "1"));
	end = mmn_now() + 60;
	while (mmn_now() < end && ksm_counter("pages_sharing") < 32)
		mmn_sleep_ms(100);
	EXPECT_LE(32, ksm_counter("pages_sharing")) TH_LOG("ksmd merged nothing in 60 s");
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

	ASSERT_EQ(2, online_nodes()) TH_LOG("needs two NUMA nodes (numa=fake=2)");
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
	attach(_metadata, self, variant->subscribers, getpid());
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
	attach(_metadata, self, variant->subscribers, getpid());
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
	attach(_metadata, self, variant->subscribers, getpid());
	/* 4: clear the soft-dirty bits of the whole mm. */
	ASSERT_EQ(0, mmn_write_str("/proc/self/clear_refs", "4"));
	CHECK_EACH();
	munmap(p, len);
}

/* exec() of the target: its old mm goes (release), the new one is fresh. */
TEST_F(mm, exec_releases_old_mm)
{
	struct mmn_sub subs[16];
	struct mmn_stats s;
	int go[2], i, n;
	pid_t pid;
	char c;

	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);

		memset(p, 0x5a, 1 << 20);
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		execl("/bin/sleep", "sleep", "60", NULL);
		_exit(2);
	}
	close(go[0]);
	attach(_metadata, self, variant->subscribers, pid);
	ASSERT_EQ(1, write(go[1], "g", 1));
	/* After exec the pid has another mm: wait until the old one was released. */
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
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

TEST_HARNESS_MAIN
