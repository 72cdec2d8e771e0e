// SPDX-License-Identifier: GPL-2.0
/*
 * The mirror subscriber: an interval notifier that mirrors pages of its target
 * with the sequence protocol (read_begin, hmm_range_fault, lock, read_retry)
 * and clears them in its invalidation (under the same lock, which sets the
 * sequence).
 *
 *   - a snapshot records the pfns the target really maps (checked against
 *     /proc/<pid>/pagemap);
 *   - munmap, MADV_DONTNEED, mprotect and process_mrelease invalidate it (the
 *     pages are cleared, each invalidation's two passes pair), and the next
 *     snapshot validates it again;
 *   - a mirror over a chosen interval sees only invalidations of it;
 *   - a snapshot racing invalidations from another thread never shows a
 *     stale page: every page it still shows is mapped there (retries counted);
 *   - next to paired subscribers a mirror does not count toward "several",
 *     under stopgap and off.
 */
#include "mmn_stopgap.h"
#include "kselftest_harness.h"

#define MMN_MIRROR	MMN_DIR "/mirror"
#define PAGES		16

/* What the mirror file says of one mirror subscriber. */
struct mirror {
	long id, pid;
	unsigned long istart, ilen, start;
	long pages, valid, seq, snapshots, retries, refused;
	unsigned long pfn[64];	/* 0: cleared */
};

/* Reads mirror id from the mirror file. Returns 0, or -1 if absent or malformed. */
static int mirror_read(long id, struct mirror *m)
{
	static char buf[65536];
	char *line, *save, tag[32];
	int i = 0, found = 0;

	if (mmn_read_file(MMN_MIRROR, buf, sizeof(buf)) < 0)
		return -1;
	snprintf(tag, sizeof(tag), "pfns %ld:", id);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save), i++) {
		if (i == 0)
			continue;
		if (!strncmp(line, tag, strlen(tag)) && found == 1) {
			char *p = line + strlen(tag), *tok, *s2;
			int k = 0;

			for (tok = strtok_r(p, " ", &s2); tok && k < 64;
			     tok = strtok_r(NULL, " ", &s2))
				m->pfn[k++] = strcmp(tok, "-") ? strtoul(tok, NULL, 16) : 0;
			if (k != m->pages)
				return -1;
			found = 2;
			continue;
		}
		if (sscanf(line, "%ld %ld %lx %lx %lx %ld %ld %ld %ld %ld %ld", &m->id, &m->pid,
			   &m->istart, &m->ilen, &m->start, &m->pages, &m->valid, &m->seq,
			   &m->snapshots, &m->retries, &m->refused) == 11 && m->id == id)
			found = 1;
	}
	return found == 2 ? 0 : -1;
}

/* The pfn at addr in pid's address space (/proc/<pid>/pagemap), 0 if none. */
static unsigned long pagemap_pfn(pid_t pid, unsigned long addr)
{
	char path[64];
	uint64_t e = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	if (pread(fd, &e, sizeof(e), (addr / 4096) * sizeof(e)) != sizeof(e))
		e = 0;
	close(fd);
	return (e >> 63) ? (unsigned long)(e & ((1ULL << 55) - 1)) : 0;
}

/* The id of the newest subscriber of kind attached with pid. */
static long newest(pid_t pid, const char *kind)
{
	struct mmn_sub subs[64];
	int n = mmn_subs(subs, 64), i;
	long id = -1;

	for (i = 0; i < n; i++)
		if (subs[i].pid == pid && !strcmp(subs[i].kind, kind))
			id = subs[i].id;
	return id;
}

/*
 * Shared with the target's racer (MAP_SHARED, made before the fork): the test
 * pauses the racer right after a snapshot, so that what the snapshot stored is
 * still there to be checked.
 */
struct race_ctl {
	int pause;	/* set by the test */
	int paused;	/* set by the racer while it waits */
};

/* A target that maps PAGES pages and does what it is told through a pipe. */
struct target {
	pid_t pid, tid;
	int cmd[2], ack[2];
	unsigned long addr;
	struct race_ctl *rc;
	struct mmn_victim v;
};

enum {
	T_DONTNEED = 'd',
	T_TOUCH = 't',
	T_MPROTECT = 'p',
	T_MUNMAP = 'u',
	T_RACE = 'r',
	T_STOP = 's',
};

static atomic_int racing;
static struct race_ctl *race_ctl;
static char *race_pages;

static void *target_racer(void *arg)
{
	struct race_ctl *rc = race_ctl;
	char *p = race_pages;
	int i = 0;

	(void)arg;
	while (racing) {
		if (__atomic_load_n(&rc->pause, __ATOMIC_ACQUIRE)) {
			__atomic_store_n(&rc->paused, 1, __ATOMIC_RELEASE);
			while (racing && __atomic_load_n(&rc->pause, __ATOMIC_ACQUIRE))
				usleep(50);
			__atomic_store_n(&rc->paused, 0, __ATOMIC_RELEASE);
			continue;
		}
		madvise(p + (i % PAGES) * 4096, 4096, MADV_DONTNEED);
		p[(i % PAGES) * 4096] = (char)i;
		i++;
	}
	return NULL;
}

static void target_main(struct target *t)
{
	char *p = mmap(NULL, PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	pthread_t racer;
	char c;

	if (p == MAP_FAILED)
		_exit(1);
	memset(p, 1, PAGES * 4096);
	t->addr = (uintptr_t)p;
	if (write(t->ack[1], &t->addr, sizeof(t->addr)) != sizeof(t->addr))
		_exit(2);
	while (read(t->cmd[0], &c, 1) == 1) {
		switch (c) {
		case T_DONTNEED:
			madvise(p, PAGES * 4096, MADV_DONTNEED);
			break;
		case T_TOUCH:
			memset(p, 2, PAGES * 4096);
			break;
		case T_MPROTECT:
			mprotect(p, PAGES * 4096, PROT_READ);
			break;
		case T_MUNMAP:
			munmap(p, PAGES * 4096);
			break;
		case T_RACE:
			racing = 1;
			race_ctl = t->rc;
			race_pages = p;
			pthread_create(&racer, NULL, target_racer, NULL);
			break;
		case T_STOP:
			racing = 0;
			pthread_join(racer, NULL);
			break;
		}
		if (write(t->ack[1], &c, 1) != 1)
			_exit(3);
	}
	_exit(0);
}

static int target_start(struct target *t)
{
	t->rc = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t->rc == MAP_FAILED)
		return -errno;
	if (pipe(t->cmd) || pipe(t->ack))
		return -errno;
	t->pid = fork();
	if (t->pid < 0)
		return -errno;
	if (t->pid == 0)
		target_main(t);
	return read(t->ack[0], &t->addr, sizeof(t->addr)) == sizeof(t->addr) ? 0 : -EIO;
}

/* Tells the target to do c and waits until it did. */
static int target_do(struct target *t, char c)
{
	char a;

	if (write(t->cmd[1], &c, 1) != 1 || read(t->ack[0], &a, 1) != 1)
		return -EIO;
	return a == c ? 0 : -EIO;
}

static void target_stop(struct target *t)
{
	if (t->pid > 0) {
		kill(t->pid, SIGKILL);
		waitpid(t->pid, NULL, 0);
		t->pid = 0;
	}
}

FIXTURE(mirror)
{
	struct target t;
	long id;
};

FIXTURE_SETUP(mirror)
{
	MMN_REQUIRE_MODULE();
	ASSERT_EQ(0, mmn_clean_state());
	ASSERT_EQ(0, target_start(&self->t));
	ASSERT_EQ(0, mmn_ctl("attach %d 1 mirror", self->t.pid));
	self->id = newest(self->t.pid, "mirror");
	ASSERT_LT(0, self->id);
}

FIXTURE_TEARDOWN(mirror)
{
	target_stop(&self->t);
	mmn_ctl("detach all");
}

/* Every page the mirror shows is the page the target maps there now. */
static int stale_pages(pid_t pid, const struct mirror *m)
{
	int i, stale = 0;

	for (i = 0; i < m->pages; i++)
		if (m->pfn[i] && m->pfn[i] != pagemap_pfn(pid, m->start + i * 4096UL))
			stale++;
	return stale;
}

TEST_F(mirror, snapshot_is_what_is_mapped)
{
	struct mirror m;
	struct mmn_stats s;

	ASSERT_EQ(0, mmn_ctl("mirror %ld %lu %d", self->id, self->t.addr, PAGES));
	ASSERT_EQ(0, mirror_read(self->id, &m));
	EXPECT_EQ(0UL, m.istart);
	EXPECT_EQ(PAGES, m.pages);
	EXPECT_EQ(PAGES, m.valid);
	EXPECT_EQ(1, m.snapshots);
	EXPECT_EQ(1, m.seq & 1) TH_LOG("a read sequence is odd");
	EXPECT_EQ(0, stale_pages(self->t.pid, &m));
	/*
	 * stats counts listed subscribers, the mirror included (whether the rule
	 * counts it among "several" is what the beside cases test).
	 */
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(1, s.subscribers);
	EXPECT_EQ(1, s.groups);
	/* Bad snapshots: unaligned, too long, not a mirror, no such id. */
	EXPECT_EQ(-EINVAL, mmn_ctl("mirror %ld %lu 1", self->id, self->t.addr + 1));
	EXPECT_EQ(-EINVAL, mmn_ctl("mirror %ld %lu 65", self->id, self->t.addr));
	ASSERT_EQ(0, mmn_ctl("attach %d 1", self->t.pid));
	EXPECT_EQ(-EINVAL, mmn_ctl("mirror %ld %lu 1", newest(self->t.pid, "paired"),
				   self->t.addr));
	EXPECT_EQ(-ENOENT, mmn_ctl("mirror 999999 %lu 1", self->t.addr));
}

/*
 * Each path clears the mirror (with both passes of every invalidation), and
 * the next snapshot validates it again, after touch if the pages went, or
 * fails (EFAULT) if nothing is mapped there any more.
 */
enum after { RETOUCH, STILL_MAPPED, UNMAPPED };

static void invalidated_then_revalidated(struct __test_metadata *_metadata,
					 FIXTURE_DATA(mirror) *self, char path, enum after after)
{
	struct mmn_snapshot before;
	struct mirror m;

	ASSERT_EQ(0, mmn_ctl("mirror %ld %lu %d", self->id, self->t.addr, PAGES));
	ASSERT_EQ(1, mmn_snapshot(self->t.pid, &before));
	ASSERT_EQ(0, target_do(&self->t, path));
	ASSERT_EQ(0, mirror_read(self->id, &m));
	EXPECT_EQ(0, m.valid) TH_LOG("%c left %ld valid pages", path, m.valid);
	EXPECT_EQ(0, mmn_check_each(&before, 0));
	if (after == UNMAPPED) {
		EXPECT_EQ(-EFAULT, mmn_ctl("mirror %ld %lu %d", self->id, self->t.addr, PAGES));
		return;
	}
	if (after == RETOUCH)
		ASSERT_EQ(0, target_do(&self->t, T_TOUCH));
	ASSERT_EQ(0, mmn_ctl("mirror %ld %lu %d", self->id, self->t.addr, PAGES));
	ASSERT_EQ(0, mirror_read(self->id, &m));
	EXPECT_EQ(PAGES, m.valid);
	EXPECT_EQ(2, m.snapshots);
	EXPECT_EQ(0, stale_pages(self->t.pid, &m));
}

TEST_F(mirror, madv_dontneed)
{
	invalidated_then_revalidated(_metadata, self, T_DONTNEED, RETOUCH);
}

TEST_F(mirror, mprotect)
{
	invalidated_then_revalidated(_metadata, self, T_MPROTECT, STILL_MAPPED);
}

TEST_F(mirror, munmap)
{
	invalidated_then_revalidated(_metadata, self, T_MUNMAP, UNMAPPED);
}

/* A mirror over a chosen interval sees only its invalidations. */
TEST_F(mirror, chosen_interval)
{
	struct mmn_sub subs[8];
	struct mirror m;
	long id;
	int n, i;

	ASSERT_EQ(0, mmn_ctl("attach %d 1 mirror %lu 4", self->t.pid, self->t.addr));
	id = newest(self->t.pid, "mirror");
	ASSERT_EQ(0, mirror_read(id, &m));
	EXPECT_EQ(self->t.addr, m.istart);
	EXPECT_EQ(4UL * 4096, m.ilen);
	/* A snapshot must lie in the interval. */
	EXPECT_EQ(-EINVAL, mmn_ctl("mirror %ld %lu 5", id, self->t.addr));
	ASSERT_EQ(0, mmn_ctl("mirror %ld %lu 4", id, self->t.addr));
	ASSERT_EQ(0, mmn_ctl("reset"));
	/* The target's MADV_DONTNEED covers both intervals: both mirrors see it. */
	ASSERT_EQ(0, target_do(&self->t, T_DONTNEED));
	n = mmn_subs(subs, 8);
	ASSERT_EQ(2, n);
	for (i = 0; i < n; i++) {
		EXPECT_GT(subs[i].starts, 0) TH_LOG("mirror %ld", subs[i].id);
		EXPECT_EQ(subs[i].starts, subs[i].ends);
	}
	ASSERT_EQ(0, mirror_read(id, &m));
	EXPECT_EQ(0, m.valid);
}

/* An invalidation outside a chosen interval does not reach it. */
TEST(interval_outside)
{
	struct mmn_sub subs[4];
	char *p;
	long id;

	MMN_REQUIRE_MODULE();
	ASSERT_EQ(0, mmn_clean_state());
	p = mmap(NULL, 8 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 1, 8 * 4096);
	ASSERT_EQ(0, mmn_ctl("attach %d 1 mirror %lu 4", getpid(), (unsigned long)p));
	id = newest(getpid(), "mirror");
	ASSERT_EQ(0, madvise(p + 4 * 4096, 4 * 4096, MADV_DONTNEED));
	ASSERT_EQ(1, mmn_subs(subs, 4));
	EXPECT_EQ(0, subs[0].starts) TH_LOG("an invalidation outside the interval reached it");
	ASSERT_EQ(0, madvise(p, 4096, MADV_DONTNEED));
	ASSERT_EQ(1, mmn_subs(subs, 4));
	EXPECT_EQ(1, subs[0].starts);
	EXPECT_EQ(1, subs[0].ends);
	ASSERT_EQ(0, mmn_ctl("detach %ld", id));
	munmap(p, 8 * 4096);
}

/* Pauses the target's racer; 0 once it waits, -ETIMEDOUT after 5 s. */
static int racer_pause(struct race_ctl *rc)
{
	int i;

	__atomic_store_n(&rc->pause, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 50000; i++) {
		if (__atomic_load_n(&rc->paused, __ATOMIC_ACQUIRE))
			return 0;
		usleep(100);
	}
	return -ETIMEDOUT;
}

static void racer_resume(struct race_ctl *rc)
{
	__atomic_store_n(&rc->pause, 0, __ATOMIC_RELEASE);
}

/*
 * Snapshots racing invalidations from another thread of the target: each one
 * retries until no invalidation collided. Right after each snapshot the racer
 * is paused, and every page the mirror still shows must be the one mapped
 * there: a snapshot that stored pfns an invalidation had already made stale
 * (a broken read_retry) is caught before the racer clears them again. The
 * check counts only when it saw valid pages.
 */
TEST_F_TIMEOUT(mirror, race_never_stale, 120)
{
	int i, ok = 0, busy = 0, checked = 0, stale = 0;
	struct mirror m;

	ASSERT_EQ(0, target_do(&self->t, T_RACE));
	for (i = 0; i < 200; i++) {
		int err = mmn_ctl("mirror %ld %lu %d", self->id, self->t.addr, PAGES);

		ASSERT_EQ(0, racer_pause(self->t.rc)) TH_LOG("the racer did not pause");
		if (!err) {
			ok++;
			ASSERT_EQ(0, mirror_read(self->id, &m));
			if (m.valid > 0) {
				checked++;
				stale += stale_pages(self->t.pid, &m);
			}
		} else if (err == -EBUSY) {
			busy++;
		} else {
			ASSERT_EQ(0, err);
		}
		racer_resume(self->t.rc);
	}
	ASSERT_EQ(0, target_do(&self->t, T_STOP));
	ASSERT_EQ(0, mirror_read(self->id, &m));
	TH_LOG("%d snapshots (%d checked with valid pages), %d EBUSY, %ld retries, %d stale",
	       ok, checked, busy, m.retries, stale);
	EXPECT_GT(ok, 0);
	EXPECT_GT(checked, 0) TH_LOG("no snapshot left a valid page to check: proved nothing");
	EXPECT_GT(m.retries, 0) TH_LOG("no snapshot ever collided: the race proved nothing");
	EXPECT_EQ(0, stale) TH_LOG("a snapshot stored pfns an invalidation had made stale");
}

/* process_mrelease clears the mirror: a non-blocking invalidation, paired. */
TEST(reaped)
{
	struct mmn_snapshot before;
	struct mmn_victim v;
	struct mirror m;
	long id;

	MMN_REQUIRE_MODULE();
	ASSERT_EQ(0, mmn_clean_state());
	ASSERT_EQ(0, mmn_victim_start(&v, 1, true));
	ASSERT_TRUE(mmn_wait_for(mmn_parked_at_least, 1, 5000));
	ASSERT_EQ(0, mmn_ctl("attach %d 1 mirror", v.pid));
	id = newest(v.pid, "mirror");
	ASSERT_EQ(0, mmn_ctl("mirror %ld %lu %d", id, v.addr, PAGES));
	ASSERT_EQ(1, mmn_snapshot(v.pid, &before));
	ASSERT_EQ(0, mmn_victim_kill(&v));
	/* A mirror alone is no reason to refuse: reaped. */
	EXPECT_EQ(0, mmn_mrelease(&v));
	ASSERT_EQ(0, mirror_read(id, &m));
	EXPECT_EQ(0, m.valid);
	EXPECT_EQ(0, mmn_check_each(&before, -1));
	mmn_victim_stop(&v);
	mmn_ctl("detach all");
}

/* Next to paired subscribers: the mirror is not one of "several", under both policies. */
FIXTURE(beside)
{
	struct mmn_victim v;
};

FIXTURE_VARIANT(beside)
{
	const char *policy;
	int paired;
	int want;
};

FIXTURE_VARIANT_ADD(beside, stopgap_one_paired) { "stopgap", 1, 0 };
FIXTURE_VARIANT_ADD(beside, stopgap_two_paired) { "stopgap", 2, -EAGAIN };
FIXTURE_VARIANT_ADD(beside, off_two_paired) { "off", 2, 0 };

FIXTURE_SETUP(beside)
{
	MMN_REQUIRE_MODULE();
	ASSERT_EQ(0, mmn_clean_state());
	ASSERT_EQ(0, mmn_victim_start(&self->v, 4, true));
	ASSERT_TRUE(mmn_wait_for(mmn_parked_at_least, 1, 5000));
}

FIXTURE_TEARDOWN(beside)
{
	mmn_victim_stop(&self->v);
	mmn_ctl("detach all");
	mmn_ctl("policy stopgap");
}

TEST_F(beside, reap)
{
	struct mmn_sub subs[8];
	long id;
	int n, i;

	ASSERT_EQ(0, mmn_ctl("policy %s", variant->policy));
	ASSERT_EQ(0, mmn_ctl("attach %d %d paired", self->v.pid, variant->paired));
	ASSERT_EQ(0, mmn_ctl("attach %d 1 mirror", self->v.pid));
	id = newest(self->v.pid, "mirror");
	ASSERT_EQ(0, mmn_ctl("mirror %ld %lu 16", id, self->v.addr));
	ASSERT_EQ(0, mmn_victim_kill(&self->v));
	EXPECT_EQ(variant->want, mmn_mrelease(&self->v));
	n = mmn_subs(subs, 8);
	ASSERT_EQ(variant->paired + 1, n);
	for (i = 0; i < n; i++) {
		EXPECT_EQ(subs[i].starts, subs[i].ends) TH_LOG("subscriber %ld", subs[i].id);
		EXPECT_EQ(0, subs[i].in_flight);
		EXPECT_EQ(0, subs[i].unpaired);
		/* Refused: no paired subscriber saw a start. */
		if (variant->want && !strcmp(subs[i].kind, "paired"))
			EXPECT_EQ(0, subs[i].starts);
		if (!variant->want)
			EXPECT_GT(subs[i].nonblock, 0) TH_LOG("subscriber %ld", subs[i].id);
	}
}

TEST_HARNESS_MAIN
