// SPDX-License-Identifier: GPL-2.0

#include <linux/blk-mq.h>
#include <linux/blkdev.h>

struct request *rust_helper_blk_mq_tag_to_rq(struct blk_mq_tags *tags,
					     unsigned int tag)
{
	return blk_mq_tag_to_rq(tags, tag);
}

unsigned short rust_helper_blk_rq_nr_phys_segments(struct request *rq)
{
	return blk_rq_nr_phys_segments(rq);
}

int rust_helper_blk_rq_map_sg(struct request_queue *q, struct request *rq,
			      struct scatterlist *sglist)
{
	return blk_rq_map_sg(q, rq, sglist);
}

sector_t rust_helper_blk_rq_pos(const struct request *rq)
{
	return blk_rq_pos(rq);
}

unsigned int rust_helper_blk_rq_bytes(const struct request *rq)
{
	return blk_rq_bytes(rq);
}

enum req_op rust_helper_req_op(const struct request *rq)
{
	return req_op(rq);
}

bool rust_helper_dmabridge_rq_is_fua(const struct request *rq)
{
	return rq->cmd_flags & REQ_FUA;
}
