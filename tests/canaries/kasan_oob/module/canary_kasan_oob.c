// SPDX-License-Identifier: GPL-2.0
/*
 * Canary: reads one byte past a 16-byte allocation. KASAN must report a
 * slab-out-of-bounds access and the test run must fail.
 */
#include <linux/module.h>
#include <linux/slab.h>

static int __init canary_kasan_init(void)
{
	size_t i = 16;
	u8 *p = kzalloc(16, GFP_KERNEL);
	u8 v;

	if (!p)
		return -ENOMEM;
	/* The compiler must neither see nor drop the bad index. */
	OPTIMIZER_HIDE_VAR(i);
	v = READ_ONCE(p[i]);
	pr_info("canary_kasan_oob: read %u past the end\n", v);
	kfree(p);
	return 0;
}
module_init(canary_kasan_init);

MODULE_DESCRIPTION("dmabridge canary: an out-of-bounds read");
MODULE_LICENSE("GPL");
