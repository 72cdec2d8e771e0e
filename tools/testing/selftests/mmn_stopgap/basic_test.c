// SPDX-License-Identifier: GPL-2.0
/*
 * mmn_stopgap basics: loading creates the debugfs files with root-only
 * modes, unloading removes them, and a fresh module reports a clean state.
 */
#include "mmn_stopgap.h"
#include "kselftest_harness.h"

FIXTURE(module)
{
};

FIXTURE_SETUP(module)
{
	MMN_REQUIRE_MODULE();
	if (!mmn_exists("/sys/kernel/debug/"))
		SKIP(return, "debugfs is not mounted on /sys/kernel/debug");
	ASSERT_EQ(0, mmn_unload());
}

FIXTURE_TEARDOWN(module)
{
	mmn_load();
}

/* insmod creates the directory and its three files, with root-only modes. */
TEST_F(module, load_creates_files)
{
	struct stat st;

	ASSERT_FALSE(mmn_exists(MMN_DIR));
	ASSERT_EQ(0, mmn_load());
	ASSERT_EQ(0, stat(MMN_STATS, &st));
	EXPECT_EQ(0400, (int)(st.st_mode & 07777));
	ASSERT_EQ(0, stat(MMN_SUBSCRIBERS, &st));
	EXPECT_EQ(0400, (int)(st.st_mode & 07777));
	ASSERT_EQ(0, stat(MMN_CONTROL, &st));
	EXPECT_EQ(0200, (int)(st.st_mode & 07777));
}

/* rmmod removes the whole directory. */
TEST_F(module, unload_removes_files)
{
	ASSERT_EQ(0, mmn_load());
	ASSERT_TRUE(mmn_exists(MMN_STATS));
	ASSERT_EQ(0, mmn_unload());
	EXPECT_FALSE(mmn_exists(MMN_DIR));
	EXPECT_FALSE(mmn_loaded());
}

/* A fresh module: policy stopgap, nothing attached, every counter zero. */
TEST_F(module, fresh_stats)
{
	struct mmn_stats s;
	struct mmn_sub subs[1];

	ASSERT_EQ(0, mmn_load());
	ASSERT_EQ(0, mmn_stats(&s));
	EXPECT_STREQ("stopgap", s.policy);
	EXPECT_EQ(0, s.groups);
	EXPECT_EQ(0, s.subscribers);
	EXPECT_EQ(0, s.gate_calls);
	EXPECT_EQ(0, s.nonblock_seen);
	EXPECT_EQ(0, s.refused);
	EXPECT_EQ(0, s.warned);
	EXPECT_EQ(0, s.parked);
	EXPECT_EQ(0, mmn_subs(subs, 1));
}

TEST_HARNESS_MAIN
