// SPDX-License-Identifier: GPL-2.0

//! DMA binding benchmark, Rust side (`cargo xtask bench dma`).
//!
//! Binds to QEMU's edu device and times, through dmabridge's bindings, the
//! same operations `dma_bench_c` times through direct C calls, on the same
//! device. One run per load; the host alternates the two modules and compares.
//! Each result is one line: `dma_bench: rust OP ITERATIONS NANOSECONDS`.

use core::hint::black_box;
use kernel::{
    c_str,
    device::Core,
    dma::{CoherentAllocation, DmaMask, DmaPool, FromDevice, ToDevice, ZeroedPage},
    pci,
    prelude::*,
    time::Ktime,
};

/// Iterations of each operation per run (matches `dma_bench_c`).
const ITERATIONS: u32 = 100_000;
const BUF_LEN: usize = 4096;
const WORDS: usize = 1024;

struct DmaBench;

kernel::pci_device_table!(
    PCI_TABLE,
    MODULE_PCI_TABLE,
    (),
    [(
        pci::DeviceId::from_id(pci::Vendor::from_raw(0x1234), 0x11e8),
        ()
    )]
);

fn time(op: &str, mut f: impl FnMut(u32) -> Result) -> Result {
    let start = Ktime::ktime_get();
    for i in 0..ITERATIONS {
        f(i)?;
    }
    let ns = (Ktime::ktime_get() - start).to_ns();
    // `pr_info!` prefixes the module name: `dma_bench: rust OP ...`.
    pr_info!("rust {} {} {}\n", op, ITERATIONS, ns);
    Ok(())
}

impl pci::Driver for DmaBench {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &PCI_TABLE;

    fn probe(pdev: &pci::Device<Core>, _info: &()) -> Result<Pin<KBox<Self>>> {
        pdev.enable_device_mem()?;
        pdev.set_master();
        let dma = pdev.dma_set_mask_and_coherent(DmaMask::new::<28>())?;
        let acc = dma.access()?;
        let mut vec = KVec::with_capacity(BUF_LEN, GFP_KERNEL)?;
        vec.extend_from_slice(&[0x5a; BUF_LEN], GFP_KERNEL)?;
        // Held in an `Option`, as the page below: taking it out leaves `None`.
        // (`mem::take` would leave an empty vector, whose drop at the next
        // assignment calls the allocator: work the C loop does not do.)
        let mut buf = Some(vec);

        time("map_unmap", |_| {
            let m = acc.map_single::<ToDevice, _>(buf.take().ok_or(EINVAL)?)?;
            black_box(m.dma_handle());
            buf = Some(m.unmap());
            Ok(())
        })?;
        time("map_sync_unmap", |_| {
            let m = acc.map_single::<FromDevice, _>(buf.take().ok_or(EINVAL)?)?;
            buf = Some(black_box(m.sync_for_cpu()?).unmap());
            Ok(())
        })?;
        let mut page = Some(ZeroedPage::alloc(GFP_KERNEL)?);
        time("map_page_unmap", |_| {
            let m = acc.map_single::<ToDevice, _>(page.take().ok_or(EINVAL)?)?;
            black_box(m.dma_handle());
            page = Some(m.unmap());
            Ok(())
        })?;
        let words = CoherentAllocation::<u32>::alloc_coherent(&dma, WORDS, GFP_KERNEL)?;
        let view = words.access()?;
        time("coherent_write_read", |i| {
            let at = i as usize % WORDS;
            view.write(at, i)?;
            if view.read(at)? != i {
                return Err(EIO);
            }
            Ok(())
        })?;
        drop(view);
        let pool = DmaPool::<[u8; 64]>::new(&dma, c_str!("dma_bench"), 64, 0)?;
        time("pool_alloc_free", |_| {
            let block = pool.alloc(&acc, GFP_KERNEL)?;
            black_box(block.dma_handle());
            Ok(())
        })?;
        pci::pin(DmaBench)
    }
}

kernel::module_pci_driver! {
    type: DmaBench,
    name: "dma_bench",
    authors: ["dmabridge"],
    description: "DMA binding benchmark (Rust side)",
    license: "GPL v2",
}
