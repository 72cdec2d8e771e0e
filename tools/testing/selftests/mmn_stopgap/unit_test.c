// SPDX-License-Identifier: GPL-2.0
/*
 * The module's in-kernel unit tests (rust/selftest.rs): load it with
 * selftest=1 and hold it to what it prints in the kernel log.
 */
#include "mmn_stopgap.h"
#include "kselftest_harness.h"

/* How many unit tests rust/selftest.rs has; a test removed there must fail here. */
#define UNIT_TESTS 6

TEST(in_kernel_unit_tests)
{
	const char *ko = getenv("MMN_STOPGAP_KO");
	char line[64];
	int passed = -1, failed = -1, i;

	if (!ko || !*ko)
		SKIP(return, "needs MMN_STOPGAP_KO (the module file, to load it with selftest=1)");
	ASSERT_EQ(0, mmn_unload());
	mmn_kmsg_mark("mmn-selftest: unit tests begin\n");
	ASSERT_EQ(0, mmn_run("insmod %s selftest=1", ko));
	for (i = 0; i <= UNIT_TESTS && passed < 0; i++) {
		int p, f;

		for (p = UNIT_TESTS; p >= 0 && passed < 0; p--)
			for (f = 0; f <= UNIT_TESTS; f++) {
				snprintf(line, sizeof(line), "selftest: %d passed, %d failed", p, f);
				if (mmn_kmsg_count(line) > 0) {
					passed = p;
					failed = f;
					break;
				}
			}
	}
	EXPECT_EQ(UNIT_TESTS, passed);
	EXPECT_EQ(0, failed);
	EXPECT_EQ(0, mmn_kmsg_count("selftest: not ok"));
	EXPECT_EQ(UNIT_TESTS, mmn_kmsg_count2("mmn_stopgap: selftest: ok ", ""));
	/* Back to a plain load for whatever runs next. */
	ASSERT_EQ(0, mmn_unload());
	ASSERT_EQ(0, mmn_load());
}

TEST_HARNESS_MAIN
