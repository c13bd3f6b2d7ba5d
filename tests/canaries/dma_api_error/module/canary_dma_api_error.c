// SPDX-License-Identifier: GPL-2.0
/*
 * Canary: maps a buffer for QEMU's edu device and unmaps it with the wrong
 * size. DMA-API debugging must report it and the test run must fail.
 */
#include <linux/dma-mapping.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/slab.h>

static int __init canary_dma_init(void)
{
	struct pci_dev *pdev = pci_get_device(0x1234, 0x11e8, NULL);
	dma_addr_t handle;
	void *buf;
	int ret = 0;

	if (!pdev)
		return -ENODEV;
	buf = kzalloc(64, GFP_KERNEL);
	if (!buf) {
		ret = -ENOMEM;
		goto put;
	}
	handle = dma_map_single(&pdev->dev, buf, 64, DMA_TO_DEVICE);
	if (dma_mapping_error(&pdev->dev, handle)) {
		ret = -EIO;
		goto free;
	}
	dma_unmap_single(&pdev->dev, handle, 32, DMA_TO_DEVICE);
free:
	kfree(buf);
put:
	pci_dev_put(pdev);
	return ret;
}
module_init(canary_dma_init);

MODULE_DESCRIPTION("dmabridge canary: a DMA-API contract violation");
MODULE_LICENSE("GPL");
