// SPDX-License-Identifier: GPL-2.0

//! Must build: the same counter as an atomic.

use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{
    block::mq::{gen_disk::GenDiskBuilder, Operations, Request, TagSet},
    prelude::*,
    sync::Arc,
    types::ARef,
};

struct Counting;

#[vtable]
impl Operations for Counting {
    type QueueData = KBox<AtomicU64>;

    fn queue_rq(count: &AtomicU64, rq: ARef<Request<Self>>, _is_last: bool) -> Result {
        count.fetch_add(1, Ordering::Relaxed);
        let _ = Request::end_ok(rq);
        Ok(())
    }

    fn commit_rqs(_count: &AtomicU64) {}

    fn complete(rq: ARef<Request<Self>>) {
        let _ = Request::end_ok(rq);
    }
}

struct Module;

impl kernel::Module for Module {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let tagset = Arc::pin_init(TagSet::<Counting>::new(1, 4, 1), GFP_KERNEL)?;
        let disk = GenDiskBuilder::new().capacity_sectors(8).build(
            format_args!("countblk"),
            tagset,
            KBox::new(AtomicU64::new(0), GFP_KERNEL)?,
        )?;
        drop(disk);
        Ok(Module)
    }
}

module! {
    type: Module,
    name: "block_queue_data_not_sync_twin",
    authors: ["dmabridge"],
    description: "misuse case: queue data that is not Sync",
    license: "GPL v2",
}
