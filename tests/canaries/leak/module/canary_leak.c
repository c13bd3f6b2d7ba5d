// SPDX-License-Identifier: GPL-2.0
/*
 * Canary: leaks one allocation at load. kmemleak must report it and the
 * test run must fail on that report.
 */
#include <linux/module.h>
#include <linux/slab.h>

static int __init canary_leak_init(void)
{
	u8 *p = kzalloc(160, GFP_KERNEL);

	if (!p)
		return -ENOMEM;
	p[0] = 0x5a;
	pr_info("canary_leak: leaked 160 bytes\n");
	return 0;
}
module_init(canary_leak_init);

MODULE_DESCRIPTION("dmabridge canary: a memory leak");
MODULE_LICENSE("GPL");
