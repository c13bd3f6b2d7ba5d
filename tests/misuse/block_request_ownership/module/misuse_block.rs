// SPDX-License-Identifier: GPL-2.0

//! Misuse: a block driver that ends a request while its data is still
//! mapped, and twice, ends one through the reference `unmap` hands back (in a
//! completion batch), keeps a request whose `queue_rq` fails, refuses a read
//! twice with `EBUSY` while nothing else is in flight, looks up tags it does
//! not own, and asks for a tag set with two queue maps.

use core::sync::atomic::{AtomicU32, Ordering};
use kernel::{
    block::mq::{
        gen_disk::{GenDisk, GenDiskBuilder},
        Command, IoCompBatch, Operations, Request, TagSet,
    },
    device::Core,
    dma::{DmaDevice, DmaMask},
    new_spinlock, pci,
    prelude::*,
    sync::{Arc, ArcBorrow, SpinLock},
    types::ARef,
};

struct Ops;

#[pin_data]
struct State {
    dma: DmaDevice,
    tagset: Arc<TagSet<Ops>>,
    /// The write whose `queue_rq` failed, kept.
    #[pin]
    kept: SpinLock<Option<ARef<Request<Ops>>>>,
    /// Reads queued so far.
    reads: AtomicU32,
    /// Reads refused with `EBUSY` so far.
    refused: AtomicU32,
}

impl State {
    fn read(&self, rq: ARef<Request<Ops>>) -> Result {
        // The first read (the partition scan's) ends with the mapping dropped; the others
        // through `unmap`.
        if self.reads.fetch_add(1, Ordering::Relaxed) > 0 {
            // The first read after the partition scan's is refused twice, with nothing else in
            // flight: no request's end will rerun the queue, so the block layer must (a device
            // resource shortage would wait for an end that never comes).
            match self.refused.fetch_add(1, Ordering::Relaxed) {
                0 | 1 => return Err(EBUSY),
                2 => pr_info!("misuse: a read refused twice with EBUSY was queued again\n"),
                _ => {}
            }
            return self.read_unmapped(rq);
        }
        let tag = rq.tag();
        if self.tagset.tag_to_rq(0, tag).is_some() {
            pr_info!("misuse: tag lookup finds the request in flight\n");
        }
        if self.tagset.tag_to_rq(7, tag).is_none() && self.tagset.tag_to_rq(0, 100_000).is_none() {
            pr_info!("misuse: tag lookup of an unknown queue or tag finds nothing\n");
        }
        let mapping = Request::dma_map(&rq, &self.dma)?;
        let again = rq.clone();
        // The mapping (and `again`) still refer to the request: the end waits for them.
        let _ = Request::end_ok(rq);
        if self.tagset.tag_to_rq(0, tag).is_none() {
            pr_info!("misuse: the end waits while the data is mapped\n");
        }
        // A second end of the same request: ignored.
        let _ = Request::end_ok(again);
        // Unmapping drops the last reference: the request ends now.
        drop(mapping);
        pr_info!("misuse: ended after unmapping\n");
        if self.tagset.tag_to_rq(0, tag).is_none() {
            pr_info!("misuse: tag lookup of an ended request finds nothing\n");
        }
        Ok(())
    }

    /// `RequestMapping::unmap` hands back the mapping's reference: the
    /// request stays the driver's until that reference ends it.
    fn read_unmapped(&self, rq: ARef<Request<Ops>>) -> Result {
        let tag = rq.tag();
        let mapping = Request::dma_map(&rq, &self.dma)?;
        drop(rq);
        let back = mapping.unmap();
        if self.tagset.tag_to_rq(0, tag).is_some() {
            pr_info!("misuse: unmap hands back the request, still in flight\n");
        }
        // Ended in a batch: the block layer's at once (no tag lookup finds it), ended when the
        // closure returns.
        IoCompBatch::with(|batch| {
            batch.end(back, Ok(()));
            if self.tagset.tag_to_rq(0, tag).is_none() {
                pr_info!("misuse: a request ended in a batch is no longer the driver's\n");
            }
        });
        if self.tagset.tag_to_rq(0, tag).is_none() {
            pr_info!("misuse: ended through the reference unmap handed back\n");
        }
        Ok(())
    }
}

#[vtable]
impl Operations for Ops {
    type QueueData = Arc<State>;

    fn queue_rq(state: ArcBorrow<'_, State>, rq: ARef<Request<Self>>, _is_last: bool) -> Result {
        match rq.command() {
            Command::Read => state.read(rq),
            _ => {
                *state.kept.lock() = Some(rq);
                Err(EIO)
            }
        }
    }

    fn commit_rqs(_state: ArcBorrow<'_, State>) {}

    fn complete(rq: ARef<Request<Self>>) {
        let _ = Request::end_ok(rq);
    }
}

kernel::pci_device_table!(
    PCI_TABLE,
    MODULE_PCI_TABLE,
    (),
    [(
        pci::DeviceId::from_id(pci::Vendor::from_raw(0x1234), 0x11e8),
        ()
    )]
);

struct MisuseBlock {
    state: Arc<State>,
    _disk: GenDisk<Ops>,
}

impl pci::Driver for MisuseBlock {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &PCI_TABLE;

    fn probe(pdev: &pci::Device<Core>, _info: &()) -> Result<Pin<KBox<Self>>> {
        pdev.enable_device_mem()?;
        let dma = pdev.dma_set_mask_and_coherent(DmaMask::new::<28>())?;
        if Arc::pin_init(TagSet::<Ops>::new(1, 4, 2), GFP_KERNEL).is_ok() {
            pr_err!("misuse: a tag set with two queue maps was made\n");
            return Err(EINVAL);
        }
        let tagset = Arc::pin_init(TagSet::new(1, 4, 1), GFP_KERNEL)?;
        let shared = tagset.clone();
        let state = Arc::pin_init(
            pin_init!(State {
                dma,
                tagset: shared,
                kept <- new_spinlock!(None),
                reads: AtomicU32::new(0),
                refused: AtomicU32::new(0),
            }),
            GFP_KERNEL,
        )?;
        let disk = GenDiskBuilder::new()
            .logical_block_size(512)?
            .physical_block_size(512)?
            .capacity_sectors(8)
            .build(format_args!("misuseblk"), tagset, state.clone())?;
        pci::pin(MisuseBlock { state, _disk: disk })
    }

    fn unbind(_pdev: &pci::Device<Core>, this: Pin<&Self>) {
        let kept = this.state.kept.lock().take();
        if let Some(rq) = kept {
            if Request::end(rq, Err(EIO)).is_ok() {
                pr_info!("misuse: the kept write ended with EIO\n");
            }
        }
    }
}

kernel::module_pci_driver! {
    type: MisuseBlock,
    name: "misuse_block",
    authors: ["dmabridge"],
    description: "misuse case: requests ended too early, kept past a failed queue_rq",
    license: "GPL v2",
}
