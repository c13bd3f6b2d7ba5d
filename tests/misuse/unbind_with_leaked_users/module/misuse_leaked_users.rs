// SPDX-License-Identifier: GPL-2.0

//! Misuse: leaks (`mem::forget`) a DMA access scope and a guard of its BAR's
//! `Devres` in probe. Each keeps a user count that unbind would wait for
//! forever (holding the device lock and the PCI rescan lock).

use kernel::{c_str, device::Core, dma::DmaMask, pci, prelude::*};

struct MisuseLeakedUsers {
    _bar: Pin<KBox<kernel::devres::Devres<pci::Bar<4096>>>>,
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

impl pci::Driver for MisuseLeakedUsers {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &PCI_TABLE;

    fn probe(pdev: &pci::Device<Core>, _info: &()) -> Result<Pin<KBox<Self>>> {
        pdev.enable_device_mem()?;
        let dma = pdev.dma_set_mask_and_coherent(DmaMask::new::<28>())?;
        core::mem::forget(dma.access()?);
        let bar = pdev.iomap_region_sized::<4096>(0, c_str!("misuse_leaked_users"));
        let bar = KBox::pin_init(bar, GFP_KERNEL)?;
        core::mem::forget(bar.try_access());
        pr_info!("misuse: leaked a DMA access scope and a BAR guard\n");
        pci::pin(MisuseLeakedUsers { _bar: bar })
    }
}

kernel::module_pci_driver! {
    type: MisuseLeakedUsers,
    name: "misuse_leaked_users",
    authors: ["dmabridge"],
    description: "misuse case: users of the binding leaked before unbind",
    license: "GPL v2",
}
