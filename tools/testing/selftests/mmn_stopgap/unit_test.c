// SPDX-License-Identifier: GPL-2.0
/*
 * The module's in-kernel unit tests (rust/selftest.rs): load it with
 * selftest=1 and hold it to what it prints in the kernel log, after a marker
 * unique to this run (so that an earlier run in the same boot counts for
 * nothing).
 */
#include "mmn_stopgap.h"
#include "kselftest_harness.h"

/* How many unit tests rust/selftest.rs has; a test removed there must fail here. */
#define UNIT_TESTS 8

/*
 * Counts the kernel log records after the last one containing mark that
 * contain needle; -1 if the mark is not in the log.
 */
static int count_after(const char *mark, const char *needle)
{
	char rec[8192];
	int fd, count = -1;
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
		if (strstr(rec, mark))
			count = 0;
		else if (count >= 0 && strstr(rec, needle))
			count++;
	}
	close(fd);
	return count;
}

TEST(in_kernel_unit_tests)
{
	const char *ko = getenv("MMN_STOPGAP_KO");
	char mark[96], line[64];
	int passed = -1, failed = -1, p, f;
	struct timespec ts;

	if (!ko || !*ko)
		SKIP(return, "needs MMN_STOPGAP_KO (the module file, to load it with selftest=1)");
	ASSERT_EQ(0, mmn_unload());
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(mark, sizeof(mark), "mmn-selftest: unit tests begin %d.%ld.%ld", getpid(),
		 (long)ts.tv_sec, ts.tv_nsec);
	mmn_kmsg_mark("%s\n", mark);
	/* insmod returns after the module's init, which runs the tests and logs them. */
	ASSERT_EQ(0, mmn_run("insmod %s selftest=1", ko));
	for (p = UNIT_TESTS; p >= 0 && passed < 0; p--)
		for (f = 0; f <= UNIT_TESTS; f++) {
			snprintf(line, sizeof(line), "selftest: %d passed, %d failed", p, f);
			if (count_after(mark, line) > 0) {
				passed = p;
				failed = f;
				break;
			}
		}
	EXPECT_EQ(UNIT_TESTS, passed);
	EXPECT_EQ(0, failed);
	EXPECT_EQ(0, count_after(mark, "selftest: not ok"));
	EXPECT_EQ(UNIT_TESTS, count_after(mark, "mmn_stopgap: selftest: ok "));
	/* Back to a plain load for whatever runs next. */
	ASSERT_EQ(0, mmn_unload());
	ASSERT_EQ(0, mmn_load());
}

TEST_HARNESS_MAIN
