// SPDX-License-Identifier: GPL-2.0

//! DMA binding benchmark, Rust side (`cargo xtask bench dma`).
//!
//! Binds to QEMU's edu device and times, through dmabridge's bindings, the
//! same operations `dma_bench_c` times through direct C calls, on the same
//! device. One run per load; the host alternates the two modules and compares.
//! Each result is one line: `dma_bench: rust OP ITERATIONS NANOSECONDS`.

use kernel::{
    c_str,
    device::Core,
    dma::{
        Access, CoherentAllocation, CoherentView, DmaMask, DmaPool, FromDevice, ToDevice,
        ZeroedPage,
    },
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

/// Prints one result: `dma_bench: rust OP ITERATIONS NANOSECONDS` (`pr_info!`
/// prefixes the module name).
fn report(op: &str, start: Ktime) {
    let ns = (Ktime::ktime_get() - start).to_ns();
    pr_info!("rust {} {} {}\n", op, ITERATIONS, ns);
}

// One function per operation, each a plain loop, as `dma_bench_c` has them:
// the compiler sees each loop whole. The buffer a C loop keeps in a register
// is passed by value from one iteration to the next.

fn map_unmap(acc: &Access<'_>, mut buf: KVec<u8>) -> Result<KVec<u8>> {
    let start = Ktime::ktime_get();
    for _ in 0..ITERATIONS {
        buf = acc.map_single::<ToDevice, _>(buf)?.unmap();
    }
    report("map_unmap", start);
    Ok(buf)
}

fn map_sync_unmap(acc: &Access<'_>, buf: KVec<u8>) -> Result<KVec<u8>> {
    // A local, not the argument's slot in the caller's frame: the compiler
    // keeps it in registers.
    let mut buf = buf;
    let start = Ktime::ktime_get();
    for _ in 0..ITERATIONS {
        let m = acc.map_single::<FromDevice, _>(buf)?;
        buf = m.sync_for_cpu()?.unmap();
    }
    report("map_sync_unmap", start);
    Ok(buf)
}

fn map_page_unmap(acc: &Access<'_>, mut page: ZeroedPage) -> Result {
    let start = Ktime::ktime_get();
    for _ in 0..ITERATIONS {
        page = acc.map_single::<ToDevice, _>(page)?.unmap();
    }
    report("map_page_unmap", start);
    Ok(())
}

fn coherent_write_read(view: &CoherentView<'_, u32>) -> Result {
    // Checked once here, the index checks of `read` and `write` fold away
    // (`at < WORDS <= len`), as in a driver's hot loop.
    if view.len() < WORDS {
        return Err(EINVAL);
    }
    let start = Ktime::ktime_get();
    // The loop of `dma_bench_c`: one counter.
    let mut i = 0;
    while i < ITERATIONS {
        let at = i as usize % WORDS;
        view.write(at, i)?;
        if view.read(at)? != i {
            pr_err!("coherent memory did not read back what was written\n");
            return Err(EIO);
        }
        i += 1;
    }
    report("coherent_write_read", start);
    Ok(())
}

fn pool_alloc_free(acc: &Access<'_>, pool: &DmaPool<[u8; 64]>) -> Result {
    let start = Ktime::ktime_get();
    for _ in 0..ITERATIONS {
        drop(pool.alloc(acc, GFP_KERNEL)?);
    }
    report("pool_alloc_free", start);
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
        let vec = map_unmap(&acc, vec)?;
        map_sync_unmap(&acc, vec)?;
        map_page_unmap(&acc, ZeroedPage::alloc(GFP_KERNEL)?)?;
        let words = CoherentAllocation::<u32>::alloc_coherent(&dma, WORDS, GFP_KERNEL)?;
        coherent_write_read(&words.access()?)?;
        let pool = DmaPool::<[u8; 64]>::new(&dma, c_str!("dma_bench"), 64, 0)?;
        pool_alloc_free(&acc, &pool)?;
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
