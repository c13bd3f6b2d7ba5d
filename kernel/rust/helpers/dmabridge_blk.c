// SPDX-License-Identifier: GPL-2.0

#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/memremap.h>
#include <linux/module.h>
#include <linux/slab.h>

struct request *rust_helper_blk_mq_tag_to_rq(struct blk_mq_tags *tags,
					     unsigned int tag)
{
	return blk_mq_tag_to_rq(tags, tag);
}

struct bio_vec rust_helper_req_bvec(struct request *rq)
{
	return req_bvec(rq);
}

bool rust_helper_is_pci_p2pdma_page(const struct page *page)
{
	return is_pci_p2pdma_page(page);
}

int rust_helper_blk_rq_map_sg(struct request_queue *q, struct request *rq,
			      struct scatterlist *sglist)
{
	return blk_rq_map_sg(q, rq, sglist);
}

/*
 * Adds a request ended without error to a completion batch, which
 * blk_mq_end_request_batch() ends; false if the block layer cannot batch it.
 */
bool rust_helper_dmabridge_add_to_batch(struct request *rq,
					struct io_comp_batch *iob)
{
	return blk_mq_add_to_batch(rq, iob, false, blk_mq_end_request_batch);
}

struct request *rust_helper_rq_list_pop(struct rq_list *rl)
{
	return rq_list_pop(rl);
}

unsigned long rust_helper_dmabridge_blk_tags_lock(struct blk_mq_tags *tags)
{
	unsigned long flags;

	spin_lock_irqsave(&tags->lock, flags);
	return flags;
}

void rust_helper_dmabridge_blk_tags_unlock(struct blk_mq_tags *tags,
					   unsigned long flags)
{
	spin_unlock_irqrestore(&tags->lock, flags);
}

struct module *rust_helper_dmabridge_module_of(const void *addr)
{
	struct module *mod;

	preempt_disable();
	mod = __module_address((unsigned long)addr);
	preempt_enable();
	return mod;
}

static void dmabridge_free_disk(struct gendisk *disk)
{
	kfree(disk->fops);
}

/*
 * The operations of a disk of a Rust block driver: only its owner (pinned
 * while the disk is open) and free_disk, which frees this copy with the disk,
 * so that the table outlives the module if the disk does.
 */
const struct block_device_operations *
rust_helper_dmabridge_disk_fops(struct module *owner)
{
	const struct block_device_operations tmpl = {
		.owner = owner,
		.free_disk = dmabridge_free_disk,
	};

	return kmemdup(&tmpl, sizeof(tmpl), GFP_KERNEL);
}

void rust_helper_dmabridge_disk_fops_free(const struct block_device_operations *ops)
{
	kfree(ops);
}
