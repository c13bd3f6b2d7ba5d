// SPDX-License-Identifier: GPL-2.0
/*
 * Canary: takes a mutex (which may sleep) while holding a spinlock. The
 * atomic-sleep check must report it and the test run must fail.
 */
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>

static DEFINE_SPINLOCK(canary_lock);
static DEFINE_MUTEX(canary_mutex);

static int __init canary_sleep_init(void)
{
	spin_lock(&canary_lock);
	mutex_lock(&canary_mutex);
	mutex_unlock(&canary_mutex);
	spin_unlock(&canary_lock);
	return 0;
}
module_init(canary_sleep_init);

MODULE_DESCRIPTION("dmabridge canary: sleeping in atomic context");
MODULE_LICENSE("GPL");
