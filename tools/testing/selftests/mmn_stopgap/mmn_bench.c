// SPDX-License-Identifier: GPL-2.0
/*
 * mmn_stopgap benchmark (`make bench`). Runs in one boot and reports ratios
 * only: under QEMU TCG absolute times are emulated, ratios measured side by
 * side in the same boot are what means something.
 *
 * 1. Invalidation cycle: touch a 4 KiB page (or a 2 MiB region) of our own
 *    mm, then madvise(MADV_DONTNEED) it. Configurations, interleaved in every
 *    round: no notifier at all (the floor, measured twice for the noise),
 *    1/2/8/64 paired subscribers without gate (policy off) and with gate
 *    (policy stopgap), and the kernel's own C interval notifier from
 *    lib/test_hmm (open /dev/hmm_dmirror0).
 * 2. The stop gap's price: MiB freed by process_mrelease(2) and by the OOM
 *    reaper for a 256 MiB victim, 1 vs 3 subscribers, stopgap vs off.
 * 3. Memory: SUnreclaim growth per subscriber and per group.
 * 4. Teardown: attach and detach of 1, 64 and 1,024 subscribers, time per
 *    subscriber as a ratio to attaching one, with "teardown sync" (each
 *    subscriber unregistered with mmu_notifier_unregister(), a full SRCU
 *    grace period each: how the module did it before) and "teardown deferred"
 *    (mmu_notifier_put(): the core frees them all after one grace period).
 *
 * Output: a table on stdout and CSV between "MMN-CSV-BEGIN" and "MMN-CSV-END"
 * (kind,config,size,subscribers,gate,metric,median,min,max,q1,q3,n).
 */
#include "mmn_stopgap.h"
#include <sched.h>

#define ROUNDS 15
#define SMALL 4096UL
#define LARGE (2UL << 20)

struct config {
	const char *name;
	int subscribers;	/* -1: test_hmm */
	bool gate;
};

static const struct config configs[] = {
	{ "floor", 0, false },
	{ "floor-again", 0, false },
	{ "paired-1", 1, false },
	{ "paired-2", 2, false },
	{ "paired-8", 8, false },
	{ "paired-64", 64, false },
	{ "gate+paired-1", 1, true },
	{ "gate+paired-2", 2, true },
	{ "gate+paired-8", 8, true },
	{ "gate+paired-64", 64, true },
	{ "test_hmm", -1, false },
};
#define NCONFIGS (sizeof(configs) / sizeof(configs[0]))

static FILE *csv;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ns per touch+DONTNEED cycle over `iters` cycles of `size` bytes at p. */
static double cycle_ns(char *p, size_t size, long iters)
{
	double t0 = mmn_now();
	size_t off;
	long i;

	for (i = 0; i < iters; i++) {
		for (off = 0; off < size; off += 4096)
			p[off] = (char)i;
		if (madvise(p, size, MADV_DONTNEED))
			return -1;
	}
	return (mmn_now() - t0) * 1e9 / iters;
}

static int hmm_fd = -1;

static int setup(const struct config *c)
{
	if (hmm_fd >= 0) {
		close(hmm_fd);
		hmm_fd = -1;
	}
	if (mmn_ctl("detach all") || mmn_ctl("policy %s", c->gate ? "stopgap" : "off"))
		return -1;
	if (c->subscribers > 0 && mmn_ctl("attach %d %d paired", getpid(), c->subscribers))
		return -1;
	if (c->subscribers < 0) {
		hmm_fd = open("/dev/hmm_dmirror0", O_RDWR);
		if (hmm_fd < 0)
			return -1;
	}
	return 0;
}

/* Linear-interpolated quantile of sorted v[0..n-1]. */
static double quantile(const double *v, int n, double q)
{
	double pos = q * (n - 1);
	int i = (int)pos;

	return i + 1 < n ? v[i] + (pos - i) * (v[i + 1] - v[i]) : v[n - 1];
}

static void report(const char *kind, const char *config, const char *size, int subs, bool gate,
		   const char *metric, double *v, int n)
{
	double med = median(v, n);	/* sorts v */

	fprintf(csv, "%s,%s,%s,%d,%d,%s,%.4f,%.4f,%.4f,%.4f,%.4f,%d\n", kind, config, size, subs,
		gate, metric, med, v[0], v[n - 1], quantile(v, n, 0.25), quantile(v, n, 0.75), n);
}

/* Part 1: the invalidation cycle. */
static void bench_cycles(bool have_hmm)
{
	static double ns[2][NCONFIGS][ROUNDS];
	const size_t sizes[2] = { SMALL, LARGE };
	const char *names[2] = { "4KiB", "2MiB" };
	const long iters[2] = { 4000, 200 };
	double ratio[ROUNDS];
	char *region;
	size_t c;
	int s, r;

	region = mmap(NULL, 2 * LARGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED)
		return;
	/* 2 MiB aligned, so that the large cycle can fault one huge page. */
	region = (char *)(((unsigned long)region + LARGE - 1) & ~(LARGE - 1));

	for (r = 0; r < ROUNDS; r++) {
		size_t k;

		/* Each round starts at another configuration: no fixed neighbours. */
		for (k = 0; k < NCONFIGS; k++) {
			c = (k + r * 7) % NCONFIGS;
			if (configs[c].subscribers < 0 && !have_hmm)
				continue;
			if (setup(&configs[c])) {
				printf("!! cannot set up %s\n", configs[c].name);
				continue;
			}
			/* Let the previous configuration's teardown (SRCU, kworkers) settle. */
			mmn_sleep_ms(200);
			for (s = 0; s < 2; s++) {
				cycle_ns(region, sizes[s], iters[s] / 4);	/* warm up */
				ns[s][c][r] = cycle_ns(region, sizes[s], iters[s]);
			}
		}
		printf("  round %d/%d done\n", r + 1, ROUNDS);
	}
	setup(&configs[0]);

	for (s = 0; s < 2; s++) {
		printf("\n%s cycle (touch + MADV_DONTNEED), %d rounds, ratio to the floor:\n",
		       names[s], ROUNDS);
		printf("  %-16s %10s %10s %10s %10s %10s\n", "config", "median", "q1", "q3", "min",
		       "max");
		for (c = 0; c < NCONFIGS; c++) {
			double v[ROUNDS];

			if (configs[c].subscribers < 0 && !have_hmm)
				continue;
			/* Ratio per round: each round's config against the same round's floor. */
			for (r = 0; r < ROUNDS; r++)
				ratio[r] = ns[s][c][r] / ns[s][0][r];
			memcpy(v, ratio, sizeof(v));
			report("cycle", configs[c].name, names[s], configs[c].subscribers,
			       configs[c].gate, "ratio_to_floor", v, ROUNDS);
			memcpy(v, ratio, sizeof(v));
			qsort(v, ROUNDS, sizeof(double), cmp_double);
			printf("  %-16s %9.3fx %9.3fx %9.3fx %9.3fx %9.3fx\n", configs[c].name,
			       median(v, ROUNDS), quantile(v, ROUNDS, 0.25),
			       quantile(v, ROUNDS, 0.75), v[0], v[ROUNDS - 1]);
		}
		/* The gate's own cost: gate+N against N in the same round. */
		printf("  gate cost (gate+paired-N / paired-N):");
		for (c = 6; c <= 9; c++) {
			double v[ROUNDS];

			for (r = 0; r < ROUNDS; r++)
				v[r] = ns[s][c][r] / ns[s][c - 4][r];
			report("gate", configs[c].name, names[s], configs[c].subscribers, true,
			       "ratio_to_no_gate", v, ROUNDS);
			printf(" N=%d %.3fx", configs[c].subscribers, median(v, ROUNDS));
		}
		printf("\n");
		/* Absolute floor, for the record only. */
		{
			double v[ROUNDS];

			memcpy(v, ns[s][0], sizeof(v));
			report("cycle", "floor", names[s], 0, false, "ns_per_cycle_tcg", v, ROUNDS);
		}
	}
}

/* Part 2: what the stop gap costs the reaper. */
static double mrelease_freed_mib(int subs, const char *policy, int *err)
{
	struct mmn_victim v;
	long before, after;

	*err = 0;
	if (mmn_ctl("detach all") || mmn_ctl("policy %s", policy))
		return -1;
	if (mmn_victim_start(&v, 256, true))
		return -1;
	mmn_wait_for(mmn_parked_at_least, 1, 10000);
	mmn_ctl("attach %d %d", v.pid, subs);
	before = mmn_rss_kb(v.pid, v.parked_tid);
	mmn_victim_kill(&v);
	*err = -mmn_mrelease(&v);
	after = mmn_rss_kb(v.pid, v.parked_tid);
	mmn_victim_stop(&v);
	mmn_ctl("detach all");
	return after >= before ? 0 : (before - after) / 1024.0;
}

static double oom_freed_mib(int subs, const char *policy)
{
	char cg[256], name[64], needle[64], tag[64];
	long before = 256 * 1024, after = -1;
	pid_t pid;
	double end;
	int go[2];

	snprintf(name, sizeof(name), "mmn_bench_%d_%s", subs, policy);
	if (mmn_memcg_create(name, 256, cg, sizeof(cg)) || pipe(go))
		return -1;
	mmn_ctl("detach all");
	mmn_ctl("policy %s", policy);
	pid = fork();
	if (pid == 0)
		mmn_oom_victim(cg, go[0], -1);
	mmn_wait_for(mmn_parked_at_least, 1, 10000);
	mmn_ctl("attach %d %d", pid, subs);
	if (write(go[1], "g", 1) != 1)
		return -1;
	snprintf(needle, sizeof(needle), "process %d ", pid);
	snprintf(tag, sizeof(tag), "pid:%d ", pid);
	end = mmn_now() + 40;
	while (mmn_now() < end) {
		if (mmn_kmsg_count2("oom_reaper: reaped", needle) > 0 ||
		    mmn_kmsg_count2("oom_reaper: unable to reap", tag) > 0)
			break;
		mmn_sleep_ms(100);
	}
	/* The parked thread is the only one left: read the mm's RSS there. */
	after = mmn_rss_kb(pid, mmn_last_tid(pid));
	/* What the victim had charged when it was killed. */
	{
		char file[320], peak[64];

		snprintf(file, sizeof(file), "%s/memory.peak", cg);
		if (mmn_read_file(file, peak, sizeof(peak)) > 0)
			before = atol(peak) / 1024;
	}
	kill(pid, SIGKILL);
	mmn_ctl("unpark");
	waitpid(pid, NULL, 0);
	mmn_ctl("detach all");
	close(go[0]);
	close(go[1]);
	rmdir(cg);
	if (after < 0)
		return -1;
	return after >= before ? 0 : (before - after) / 1024.0;
}

static void bench_reap(void)
{
	static const struct { int subs; const char *policy; } cases[] = {
		{ 1, "stopgap" }, { 3, "stopgap" }, { 1, "off" }, { 3, "off" },
	};
	size_t i;

	printf("\nThe stop gap's price: MiB freed from a 256 MiB victim\n");
	printf("  %-22s %18s %18s\n", "subscribers, policy", "process_mrelease", "OOM reaper");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double v;
		int err;
		double m = mrelease_freed_mib(cases[i].subs, cases[i].policy, &err);
		double o = mmn_memcg_missing() ? -1 : oom_freed_mib(cases[i].subs, cases[i].policy);
		char label[64];

		snprintf(label, sizeof(label), "%d, %s", cases[i].subs, cases[i].policy);
		printf("  %-22s %9.0f MiB %-6s %12.0f MiB\n", label, m, err ? "EAGAIN" : "(0)", o);
		v = m;
		report("reap", "process_mrelease", "256MiB", cases[i].subs,
		       !strcmp(cases[i].policy, "stopgap"), "mib_freed", &v, 1);
		v = o;
		report("reap", "oom_reaper", "256MiB", cases[i].subs,
		       !strcmp(cases[i].policy, "stopgap"), "mib_freed", &v, 1);
	}
}

/*
 * Part 3: memory per subscriber and per group, as the module counts it
 * (stats memory_bytes: ksize() of its allocations), over 64 groups of 16.
 */
#define MEM_VICTIMS 64

static long memory_bytes(void)
{
	struct mmn_stats s;

	return mmn_stats(&s) ? -1 : s.memory_bytes;
}

static void bench_memory(void)
{
	static struct mmn_victim v[MEM_VICTIMS];
	double per_sub, per_group;
	long base, after;
	int i, ok = 1;

	mmn_ctl("detach all");
	mmn_ctl("policy stopgap");
	for (i = 0; i < MEM_VICTIMS; i++)
		ok &= mmn_victim_start(&v[i], 0, false) == 0;
	if (!ok)
		return;
	/* Grow the registry's vectors to their final size first. */
	for (i = 0; i < MEM_VICTIMS; i++)
		mmn_ctl("attach %d 16", v[i].pid);
	mmn_ctl("detach all");
	base = memory_bytes();
	for (i = 0; i < MEM_VICTIMS; i++)
		mmn_ctl("attach %d 1", v[i].pid);
	after = memory_bytes();
	per_group = (double)(after - base) / MEM_VICTIMS;
	base = after;
	for (i = 0; i < MEM_VICTIMS; i++)
		mmn_ctl("attach %d 15", v[i].pid);
	after = memory_bytes();
	per_sub = (double)(after - base) / (MEM_VICTIMS * 15);
	per_group -= per_sub;
	printf("\nMemory (ksize of the module's allocations; %d groups, %d subscribers, registry"
	       " %ld bytes in all): %.0f bytes per subscriber, %.0f bytes per group, plus the"
	       " core's per-mm notifier table\n", MEM_VICTIMS, MEM_VICTIMS * 16, after, per_sub,
	       per_group);
	mmn_ctl("detach all");
	for (i = 0; i < MEM_VICTIMS; i++)
		mmn_victim_stop(&v[i]);
	report("memory", "subscriber", "-", 1, true, "bytes", &per_sub, 1);
	report("memory", "group", "-", 0, true, "bytes", &per_group, 1);
}

/*
 * Part 4: teardown. n subscribers over n/64 victims (64 per mm, one write each),
 * then "detach all", timed; TEARDOWN_ROUNDS rounds, both modes interleaved.
 */
#define TEARDOWN_ROUNDS 5

static double attach_detach(struct mmn_victim *v, int n, double *detach_s)
{
	double t0, t1, t2;
	int left = n, i;

	t0 = mmn_now();
	for (i = 0; left > 0; i++, left -= 64)
		mmn_ctl("attach %d %d", v[i].pid, left < 64 ? left : 64);
	t1 = mmn_now();
	mmn_ctl("detach all");
	t2 = mmn_now();
	*detach_s = t2 - t1;
	return t1 - t0;
}

static void bench_teardown(void)
{
	static const int sizes[] = { 1, 64, 1024 };
	static const char *const modes[] = { "sync", "deferred" };
	static double attach[2][3][TEARDOWN_ROUNDS], detach[2][3][TEARDOWN_ROUNDS];
	static struct mmn_victim v[16];
	double unit[TEARDOWN_ROUNDS];
	int r, m, k, i, ok = 1;

	mmn_ctl("detach all");
	mmn_ctl("policy stopgap");
	for (i = 0; i < 16; i++)
		ok &= mmn_victim_start(&v[i], 0, false) == 0;
	if (!ok)
		return;
	for (r = 0; r < TEARDOWN_ROUNDS; r++) {
		for (m = 0; m < 2; m++) {
			mmn_ctl("teardown %s", modes[(m + r) % 2]);
			for (k = 0; k < 3; k++) {
				int mi = (m + r) % 2;

				attach[mi][k][r] = attach_detach(v, sizes[k], &detach[mi][k][r]);
			}
		}
		/* The unit: attaching one subscriber, in this round. */
		unit[r] = (attach[0][0][r] + attach[1][0][r]) / 2;
		printf("  teardown round %d/%d done\n", r + 1, TEARDOWN_ROUNDS);
	}
	mmn_ctl("teardown deferred");
	printf("\nTeardown: time per subscriber, ratio to attaching one (median of %d rounds):\n",
	       TEARDOWN_ROUNDS);
	printf("  %-9s %6s %12s %12s\n", "mode", "N", "attach", "detach");
	for (m = 0; m < 2; m++) {
		for (k = 0; k < 3; k++) {
			double a[TEARDOWN_ROUNDS], d[TEARDOWN_ROUNDS];
			double am, dm;

			for (r = 0; r < TEARDOWN_ROUNDS; r++) {
				a[r] = attach[m][k][r] / sizes[k] / unit[r];
				d[r] = detach[m][k][r] / sizes[k] / unit[r];
			}
			report("teardown", modes[m], "-", sizes[k], true, "attach_per_sub", a,
			       TEARDOWN_ROUNDS);
			am = median(a, TEARDOWN_ROUNDS);
			report("teardown", modes[m], "-", sizes[k], true, "detach_per_sub", d,
			       TEARDOWN_ROUNDS);
			dm = median(d, TEARDOWN_ROUNDS);
			printf("  %-9s %6d %11.3fx %11.3fx\n", modes[m], sizes[k], am, dm);
		}
	}
	for (i = 0; i < 16; i++)
		mmn_victim_stop(&v[i]);
}

int main(int argc, char **argv)
{
	char *buf = NULL;
	size_t len = 0;
	bool have_hmm;

	cpu_set_t cpu0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* One CPU for the whole run: no migration between samples. */
	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	sched_setaffinity(0, sizeof(cpu0), &cpu0);
	csv = open_memstream(&buf, &len);
	if (!csv || mmn_clean_state()) {
		printf("!! module not loaded\n");
		return 1;
	}
	fprintf(csv, "kind,config,size,subscribers,gate,metric,median,min,max,q1,q3,n\n");
	have_hmm = access("/dev/hmm_dmirror0", R_OK | W_OK) == 0;
	printf("mmn_stopgap benchmark: %d rounds, configurations interleaved in each round%s\n",
	       ROUNDS, have_hmm ? ", with test_hmm" : " (no /dev/hmm_dmirror0: no test_hmm peer)");
	bench_cycles(have_hmm);
	bench_reap();
	bench_memory();
	bench_teardown();
	mmn_ctl("policy stopgap");
	fclose(csv);
	printf("MMN-CSV-BEGIN\n%sMMN-CSV-END\n", buf);
	free(buf);
	return 0;
}
