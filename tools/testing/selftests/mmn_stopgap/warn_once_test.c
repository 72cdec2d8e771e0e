// SPDX-License-Identifier: GPL-2.0
/*
 * The stop-gap warning: printed exactly once per module load however many
 * refusals happen, and it says it is a TODO / stop gap.
 */
#include "mmn_stopgap.h"
#include "kselftest_harness.h"

#define WARN_NEEDLE "mmn_stopgap: stop gap: refused"

static int refuse_one(void)
{
	struct mmn_victim v;
	int err;

	err = mmn_victim_start(&v, 4, true);
	if (err)
		return err;
	if (!mmn_wait_for(mmn_parked_at_least, 1, 5000)) {
		mmn_victim_stop(&v);
		return -ETIMEDOUT;
	}
	err = mmn_ctl("attach %d 3", v.pid);
	if (!err) {
		mmn_victim_kill(&v);
		err = mmn_mrelease(&v);
	}
	mmn_victim_stop(&v);
	mmn_ctl("detach all");
	return err;
}

FIXTURE(warn)
{
};

FIXTURE_SETUP(warn)
{
	MMN_REQUIRE_MODULE();
}

FIXTURE_TEARDOWN(warn)
{
	mmn_load();
}

TEST_F_TIMEOUT(warn, printed_once_per_load, 180)
{
	struct mmn_stats s;
	int base, i;

	/* A fresh load re-arms pr_warn_once. */
	ASSERT_EQ(0, mmn_unload());
	ASSERT_EQ(0, mmn_load());
	ASSERT_EQ(0, mmn_clean_state());
	base = mmn_kmsg_count(WARN_NEEDLE);
	ASSERT_LE(0, base);
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_EQ(0, s.warned);

	for (i = 0; i < 4; i++)
		ASSERT_EQ(-EAGAIN, refuse_one());
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_GE(s.refused, 4);
	EXPECT_EQ(1, s.warned);
	EXPECT_EQ(base + 1, mmn_kmsg_count(WARN_NEEDLE));
	/* The line names the rule and says it is a stop gap with a TODO. */
	EXPECT_EQ(base + 1, mmn_kmsg_count("TODO: remove this stop gap"));
	EXPECT_LE(1, mmn_kmsg_count("before any invalidate_range_start ran"));

	/* reset does not re-arm it either. */
	ASSERT_EQ(0, mmn_ctl("reset"));
	ASSERT_EQ(-EAGAIN, refuse_one());
	EXPECT_EQ(base + 1, mmn_kmsg_count(WARN_NEEDLE));

	/* A new load prints it once more. */
	ASSERT_EQ(0, mmn_unload());
	ASSERT_EQ(0, mmn_load());
	ASSERT_EQ(-EAGAIN, refuse_one());
	ASSERT_EQ(-EAGAIN, refuse_one());
	EXPECT_EQ(base + 2, mmn_kmsg_count(WARN_NEEDLE));
}

TEST_HARNESS_MAIN
