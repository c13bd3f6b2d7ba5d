// SPDX-License-Identifier: GPL-2.0
/*
 * DMA binding benchmark, C side (cargo xtask bench dma).
 *
 * Binds to QEMU's edu device and times the operations dma_bench times through
 * dmabridge's Rust bindings, here through direct calls of the C DMA API, on
 * the same device. One run per load; each result is one line:
 * "dma_bench: c OP ITERATIONS NANOSECONDS".
 */

#include <linux/dma-mapping.h>
#include <linux/dmapool.h>
#include <linux/gfp.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/slab.h>

#define ITERATIONS 100000
#define BUF_LEN 4096
#define WORDS 1024

static void report(const char *op, u64 start)
{
	pr_info("dma_bench: c %s %d %llu\n", op, ITERATIONS,
		ktime_get_ns() - start);
}

static int bench_map_unmap(struct device *dev, void *buf)
{
	u64 start = ktime_get_ns();
	dma_addr_t h;
	int i;

	for (i = 0; i < ITERATIONS; i++) {
		h = dma_map_single(dev, buf, BUF_LEN, DMA_TO_DEVICE);
		if (dma_mapping_error(dev, h))
			return -ENOMEM;
		dma_unmap_single(dev, h, BUF_LEN, DMA_TO_DEVICE);
	}
	report("map_unmap", start);
	return 0;
}

/*
 * The buffer is synced for the CPU before the unmap, so the unmap skips the
 * second CPU sync (what the Rust binding does for a CPU-owned mapping).
 */
static int bench_map_sync_unmap(struct device *dev, void *buf)
{
	u64 start = ktime_get_ns();
	dma_addr_t h;
	int i;

	for (i = 0; i < ITERATIONS; i++) {
		h = dma_map_single(dev, buf, BUF_LEN, DMA_FROM_DEVICE);
		if (dma_mapping_error(dev, h))
			return -ENOMEM;
		dma_sync_single_for_cpu(dev, h, BUF_LEN, DMA_FROM_DEVICE);
		dma_unmap_single_attrs(dev, h, BUF_LEN, DMA_FROM_DEVICE,
				       DMA_ATTR_SKIP_CPU_SYNC);
	}
	report("map_sync_unmap", start);
	return 0;
}

static int bench_map_page_unmap(struct device *dev)
{
	struct page *page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	u64 start = ktime_get_ns();
	dma_addr_t h;
	int i, ret = 0;

	if (!page)
		return -ENOMEM;
	for (i = 0; i < ITERATIONS; i++) {
		h = dma_map_page(dev, page, 0, PAGE_SIZE, DMA_TO_DEVICE);
		if (dma_mapping_error(dev, h)) {
			ret = -ENOMEM;
			break;
		}
		dma_unmap_page(dev, h, PAGE_SIZE, DMA_TO_DEVICE);
	}
	if (!ret)
		report("map_page_unmap", start);
	__free_page(page);
	return ret;
}

static int bench_coherent(struct device *dev)
{
	dma_addr_t handle;
	u32 *words;
	u64 start;
	int ret = 0;
	u32 i;

	words = dma_alloc_coherent(dev, WORDS * sizeof(u32), &handle,
				   GFP_KERNEL);
	if (!words)
		return -ENOMEM;
	start = ktime_get_ns();
	for (i = 0; i < ITERATIONS; i++) {
		WRITE_ONCE(words[i % WORDS], i);
		if (READ_ONCE(words[i % WORDS]) != i) {
			ret = -EIO;
			break;
		}
	}
	if (!ret)
		report("coherent_write_read", start);
	dma_free_coherent(dev, WORDS * sizeof(u32), words, handle);
	return ret;
}

static int bench_pool(struct device *dev)
{
	struct dma_pool *pool;
	dma_addr_t handle;
	void *block;
	u64 start;
	int i, ret = 0;

	pool = dma_pool_create("dma_bench_c", dev, 64, 64, 0);
	if (!pool)
		return -ENOMEM;
	start = ktime_get_ns();
	/* Zeroed, as the Rust binding's blocks always are. */
	for (i = 0; i < ITERATIONS; i++) {
		block = dma_pool_zalloc(pool, GFP_KERNEL, &handle);
		if (!block) {
			ret = -ENOMEM;
			break;
		}
		dma_pool_free(pool, block, handle);
	}
	if (!ret)
		report("pool_alloc_free", start);
	dma_pool_destroy(pool);
	return ret;
}

static int dma_bench_c_probe(struct pci_dev *pdev,
			     const struct pci_device_id *id)
{
	struct device *dev = &pdev->dev;
	void *buf;
	int ret;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	pci_set_master(pdev);
	ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(28));
	if (ret)
		return ret;
	buf = kmalloc(BUF_LEN, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	memset(buf, 0x5a, BUF_LEN);
	ret = bench_map_unmap(dev, buf);
	if (!ret)
		ret = bench_map_sync_unmap(dev, buf);
	kfree(buf);
	if (!ret)
		ret = bench_map_page_unmap(dev);
	if (!ret)
		ret = bench_coherent(dev);
	if (!ret)
		ret = bench_pool(dev);
	return ret;
}

static const struct pci_device_id dma_bench_c_ids[] = {
	{ PCI_DEVICE(0x1234, 0x11e8) },
	{ }
};
MODULE_DEVICE_TABLE(pci, dma_bench_c_ids);

static struct pci_driver dma_bench_c_driver = {
	.name = "dma_bench_c",
	.id_table = dma_bench_c_ids,
	.probe = dma_bench_c_probe,
};
module_pci_driver(dma_bench_c_driver);

MODULE_AUTHOR("dmabridge");
MODULE_DESCRIPTION("DMA binding benchmark (C side)");
MODULE_LICENSE("GPL");
