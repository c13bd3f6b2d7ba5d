// SPDX-License-Identifier: GPL-2.0

//! Misuse: reads pool blocks before writing them: a fresh one (where dmapool
//! keeps its free-list link) and a reused one (where the previous user left
//! 0xa5 bytes). Both must read as zeros.

use kernel::{
    c_str,
    device::Core,
    dma::{DmaMask, DmaPool},
    pci,
    prelude::*,
};

struct MisusePoolReuse;

kernel::pci_device_table!(
    PCI_TABLE,
    MODULE_PCI_TABLE,
    (),
    [(
        pci::DeviceId::from_id(pci::Vendor::from_raw(0x1234), 0x11e8),
        ()
    )]
);

fn check(what: &str, block: [u8; 64]) -> Result {
    if block.iter().all(|&b| b == 0) {
        pr_info!("misuse: {what} block reads zeros\n");
        Ok(())
    } else {
        pr_err!("misuse: {what} block holds stale bytes\n");
        Err(EINVAL)
    }
}

impl pci::Driver for MisusePoolReuse {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &PCI_TABLE;

    fn probe(pdev: &pci::Device<Core>, _info: &()) -> Result<Pin<KBox<Self>>> {
        pdev.enable_device_mem()?;
        let dma = pdev.dma_set_mask_and_coherent(DmaMask::new::<28>())?;
        let pool = DmaPool::<[u8; 64]>::new(&dma, c_str!("misuse_pool_reuse"), 64, 0)?;
        let acc = dma.access()?;
        let first = pool.alloc(&acc, GFP_KERNEL)?;
        check("fresh", first.read())?;
        first.write([0xa5; 64]);
        let handle = first.dma_handle();
        drop(first);
        let again = pool.alloc(&acc, GFP_KERNEL)?;
        if again.dma_handle() != handle {
            pr_err!("misuse: dmapool did not reuse the block\n");
            return Err(EINVAL);
        }
        check("reused", again.read())?;
        pci::pin(MisusePoolReuse)
    }
}

kernel::module_pci_driver! {
    type: MisusePoolReuse,
    name: "misuse_pool_reuse",
    authors: ["dmabridge"],
    description: "misuse case: pool blocks read before they are written",
    license: "GPL v2",
}
