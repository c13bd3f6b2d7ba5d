// SPDX-License-Identifier: GPL-2.0

//! Misuse: sizes the C core cannot serve, as a driver passing on values from
//! userspace would: a coherent allocation past the page allocator's largest
//! block, and near `usize::MAX` (C's page rounding would wrap to 0); a pool
//! alignment dmapool would truncate to 0; a scatterlist entry longer than
//! the device's maximum segment; spread interrupt vectors the MSI core
//! cannot serve; an interrupt vector index past any device's; a second
//! vector allocation; a BAR mapped before the device is enabled; config
//! reads past the config space or misaligned. Each must fail
//! with a clean errno before the C core WARNs (or reads what is not there).

use kernel::{
    c_str,
    device::Core,
    dma::{CoherentAllocation, DmaMask, DmaPool, ToDevice},
    pci,
    prelude::*,
};

struct MisuseDmaBadSizes;

kernel::pci_device_table!(
    PCI_TABLE,
    MODULE_PCI_TABLE,
    (),
    [(
        pci::DeviceId::from_id(pci::Vendor::from_raw(0x1234), 0x11e8),
        ()
    )]
);

fn show<T>(what: &str, r: Result<T>) {
    match r {
        Ok(_) => pr_err!("misuse: {what}: accepted\n"),
        Err(e) => pr_info!("misuse: {what}: {:?}\n", e),
    }
}

impl pci::Driver for MisuseDmaBadSizes {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &PCI_TABLE;

    fn probe(pdev: &pci::Device<Core>, _info: &()) -> Result<Pin<KBox<Self>>> {
        // Memory decoding is still off: MMIO would read all-ones.
        show(
            "BAR before enable",
            KBox::pin_init(
                pdev.iomap_region(0, c_str!("misuse_dma_bad_sizes")),
                GFP_KERNEL,
            ),
        );
        // edu is a conventional PCI function: 256 bytes of config space.
        show("config read at 0x100", pdev.read_config_u32(0x100));
        show("misaligned config read", pdev.read_config_u16(1));
        pdev.enable_device_mem()?;
        let dma = pdev.dma_set_mask_and_coherent(DmaMask::new::<28>())?;
        show(
            "coherent past the largest block",
            CoherentAllocation::<u8>::alloc_coherent(&dma, 64 << 20, GFP_KERNEL),
        );
        show(
            "coherent near usize::MAX",
            CoherentAllocation::<u8>::alloc_coherent(&dma, usize::MAX - 100, GFP_KERNEL),
        );
        show(
            "pool alignment 2^32",
            DmaPool::<u64>::new(&dma, c_str!("huge"), 1 << 32, 0),
        );
        // One scatterlist entry longer than the device's maximum segment
        // (64 KiB for PCI devices that do not set one).
        let big = KVec::<u8>::from_elem(0, 128 << 10, GFP_KERNEL)?;
        let mut bufs = KVec::new();
        bufs.push(big, GFP_KERNEL)?;
        show(
            "sg entry of 128 KiB",
            dma.access()?.map_sg::<ToDevice, _>(bufs).map(|_| ()),
        );
        // Spread vectors: more kept out of the spread than required; none
        // kept out with an INTx fallback (the MSI core would leak the masks).
        show(
            "affinity with 2 vectors kept out of 1",
            pdev.alloc_irq_vectors_affinity(1, 2, pci::IrqTypes::MSI, 2),
        );
        show(
            "affinity with INTx and none kept out",
            pdev.alloc_irq_vectors_affinity(1, 2, pci::IrqTypes::ALL, 0),
        );
        pdev.alloc_irq_vectors(1, 1, pci::IrqTypes::MSI)?;
        show("vector index 0x10000", pdev.irq_vector(0x10000));
        show(
            "second vector allocation",
            pdev.alloc_irq_vectors(1, 1, pci::IrqTypes::MSI),
        );
        pci::pin(MisuseDmaBadSizes)
    }
}

kernel::module_pci_driver! {
    type: MisuseDmaBadSizes,
    name: "misuse_dma_bad_sizes",
    authors: ["dmabridge"],
    description: "misuse case: sizes and indexes the C core cannot serve",
    license: "GPL v2",
}
