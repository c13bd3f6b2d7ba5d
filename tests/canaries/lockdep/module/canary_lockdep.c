// SPDX-License-Identifier: GPL-2.0
/*
 * Canary: takes two mutexes in one order, then in the other. lockdep must
 * report the possible deadlock and the test run must fail.
 */
#include <linux/module.h>
#include <linux/mutex.h>

static DEFINE_MUTEX(canary_a);
static DEFINE_MUTEX(canary_b);

static int __init canary_lockdep_init(void)
{
	mutex_lock(&canary_a);
	mutex_lock(&canary_b);
	mutex_unlock(&canary_b);
	mutex_unlock(&canary_a);

	mutex_lock(&canary_b);
	mutex_lock(&canary_a);
	mutex_unlock(&canary_a);
	mutex_unlock(&canary_b);
	return 0;
}
module_init(canary_lockdep_init);

MODULE_DESCRIPTION("dmabridge canary: an AB-BA lock order");
MODULE_LICENSE("GPL");
