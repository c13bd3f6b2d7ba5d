// SPDX-License-Identifier: GPL-2.0
/*
 * Canary: a KUnit case that passes but makes the kernel WARN while the suite
 * runs, the way a DMA-API report or a devres warning would. The warning must
 * reach the host and fail the run although every case says ok.
 */
#include <kunit/test.h>
#include <linux/module.h>

static void canary_warn_case(struct kunit *test)
{
	WARN(1, "canary_warn_in_kunit: a warning during a KUnit case\n");
	KUNIT_EXPECT_EQ(test, 1, 1);
}

static struct kunit_case canary_warn_cases[] = {
	KUNIT_CASE(canary_warn_case),
	{}
};

static struct kunit_suite canary_warn_suite = {
	.name = "canary_warn",
	.test_cases = canary_warn_cases,
};
kunit_test_suite(canary_warn_suite);

MODULE_DESCRIPTION("dmabridge canary: a warning during a KUnit suite");
MODULE_LICENSE("GPL");
