// SPDX-License-Identifier: GPL-2.0

#include <linux/dma-mapping.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

int rust_helper_dma_set_mask_and_coherent(struct device *dev, u64 mask)
{
	return dma_set_mask_and_coherent(dev, mask);
}

/*
 * dma_map_single_attrs() for memory that is in the linear map by the Rust
 * caller's type (a DmaBuffer holds slab or page allocator memory), without
 * its is_vmalloc_addr() test: that call made the helper save and restore
 * every argument on each map, and the answer is known. DMA-API debugging
 * still reports a bad address (debug_dma_map_single()), without refusing it.
 */
dma_addr_t rust_helper_dmabridge_map_linear(struct device *dev, void *ptr,
					    size_t size,
					    enum dma_data_direction dir,
					    unsigned long attrs)
{
	debug_dma_map_single(dev, ptr, size);
	return dma_map_page_attrs(dev, virt_to_page(ptr), offset_in_page(ptr),
				  size, dir, attrs);
}

void rust_helper_dma_sync_sg_for_cpu(struct device *dev,
				     struct scatterlist *sg, int nelems,
				     enum dma_data_direction dir)
{
	dma_sync_sg_for_cpu(dev, sg, nelems, dir);
}

void rust_helper_dma_sync_sg_for_device(struct device *dev,
					struct scatterlist *sg, int nelems,
					enum dma_data_direction dir)
{
	dma_sync_sg_for_device(dev, sg, nelems, dir);
}

void rust_helper_sg_set_buf(struct scatterlist *sg, const void *buf,
			    unsigned int buflen)
{
	sg_set_buf(sg, buf, buflen);
}

void rust_helper_sg_set_page(struct scatterlist *sg, struct page *page,
			     unsigned int len, unsigned int offset)
{
	sg_set_page(sg, page, len, offset);
}

void *rust_helper_page_address(const struct page *page)
{
	return page_address(page);
}

unsigned int rust_helper_dma_get_max_seg_size(struct device *dev)
{
	return dma_get_max_seg_size(dev);
}

/*
 * The DMA memory of one binding that is still allocated (coherent
 * allocations, pools): unbind frees what is left. Nodes are added and
 * removed from any context, hence the irqsave lock.
 */
struct dmabridge_live {
	spinlock_t lock;
	struct list_head head;
};

void *rust_helper_dmabridge_live_new(void)
{
	struct dmabridge_live *l = kmalloc(sizeof(*l), GFP_KERNEL);

	if (l) {
		spin_lock_init(&l->lock);
		INIT_LIST_HEAD(&l->head);
	}
	return l;
}

void rust_helper_dmabridge_live_free(void *live)
{
	kfree(live);
}

void rust_helper_dmabridge_live_add(void *live, struct list_head *node)
{
	struct dmabridge_live *l = live;
	unsigned long flags;

	spin_lock_irqsave(&l->lock, flags);
	list_add_tail(node, &l->head);
	spin_unlock_irqrestore(&l->lock, flags);
}

/* Removes @node if it is listed; returns whether it was. */
bool rust_helper_dmabridge_live_del(void *live, struct list_head *node)
{
	struct dmabridge_live *l = live;
	unsigned long flags;
	bool listed;

	spin_lock_irqsave(&l->lock, flags);
	listed = !list_empty(node);
	list_del_init(node);
	spin_unlock_irqrestore(&l->lock, flags);
	return listed;
}

/* Removes and returns the first node, or NULL. */
struct list_head *rust_helper_dmabridge_live_pop(void *live)
{
	struct dmabridge_live *l = live;
	struct list_head *node = NULL;
	unsigned long flags;

	spin_lock_irqsave(&l->lock, flags);
	if (!list_empty(&l->head)) {
		node = l->head.next;
		list_del_init(node);
	}
	spin_unlock_irqrestore(&l->lock, flags);
	return node;
}

/*
 * Stops a PCI device's DMA at unbind, before its DMA memory is freed (devres
 * disables the device only after that). Not a PCI device: nothing to do.
 */
void rust_helper_dmabridge_stop_bus_master(struct device *dev)
{
	if (dev_is_pci(dev))
		pci_clear_master(to_pci_dev(dev));
}

void rust_helper_dma_rmb(void)
{
	dma_rmb();
}

/* dma_set_max_seg_size() WARNs on a device without DMA parameters. */
int rust_helper_dmabridge_set_max_seg_size(struct device *dev, unsigned int size)
{
	if (!dev->dma_parms)
		return -EIO;
	dma_set_max_seg_size(dev, size);
	return 0;
}

/* dma_set_min_align_mask() WARNs on a device without DMA parameters. */
int rust_helper_dmabridge_set_min_align_mask(struct device *dev, unsigned int mask)
{
	if (!dev->dma_parms)
		return -EIO;
	dma_set_min_align_mask(dev, mask);
	return 0;
}
