// SPDX-License-Identifier: GPL-2.0

#include <linux/completion.h>
#include <linux/dma-mapping.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>

int rust_helper_dma_set_mask_and_coherent(struct device *dev, u64 mask)
{
	return dma_set_mask_and_coherent(dev, mask);
}

dma_addr_t rust_helper_dma_map_single_attrs(struct device *dev, void *ptr,
					    size_t size,
					    enum dma_data_direction dir,
					    unsigned long attrs)
{
	return dma_map_single_attrs(dev, ptr, size, dir, attrs);
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

dma_addr_t rust_helper_sg_dma_address(struct scatterlist *sg)
{
	return sg_dma_address(sg);
}

unsigned int rust_helper_sg_dma_len(struct scatterlist *sg)
{
	return sg_dma_len(sg);
}

void *rust_helper_page_address(const struct page *page)
{
	return page_address(page);
}

void rust_helper_init_completion(struct completion *x)
{
	init_completion(x);
}

void rust_helper_reinit_completion(struct completion *x)
{
	reinit_completion(x);
}

unsigned int rust_helper_dma_get_max_seg_size(struct device *dev)
{
	return dma_get_max_seg_size(dev);
}
