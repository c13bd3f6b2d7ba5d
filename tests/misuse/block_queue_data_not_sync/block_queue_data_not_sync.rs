// SPDX-License-Identifier: GPL-2.0

//! Must not build: queue data in a `Cell`, which `queue_rq` would update from
//! several CPUs at once.

use kernel::{
    block::mq::{gen_disk::GenDiskBuilder, Operations, Request, TagSet},
    prelude::*,
    sync::Arc,
    types::ARef,
};

struct Counting;

#[vtable]
impl Operations for Counting {
    type QueueData = KBox<core::cell::Cell<u64>>;

    fn queue_rq(count: &core::cell::Cell<u64>, rq: ARef<Request<Self>>, _is_last: bool) -> Result {
        count.set(count.get() + 1);
        let _ = Request::end_ok(rq);
        Ok(())
    }

    fn commit_rqs(_count: &core::cell::Cell<u64>) {}

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
            KBox::new(core::cell::Cell::new(0), GFP_KERNEL)?,
        )?;
        drop(disk);
        Ok(Module)
    }
}

module! {
    type: Module,
    name: "block_queue_data_not_sync",
    authors: ["dmabridge"],
    description: "misuse case: queue data that is not Sync",
    license: "GPL v2",
}
