// SPDX-License-Identifier: GPL-2.0

//! Must not build: a 32-bit register read at a constant offset that is not 4-byte
//! aligned. `Io::read32` checks constant offsets with `build_assert!`.

use kernel::{c_str, device::Core, pci, prelude::*};

struct Misuse;

kernel::pci_device_table!(
    PCI_TABLE,
    MODULE_PCI_TABLE,
    (),
    [(
        pci::DeviceId::from_id(pci::Vendor::from_raw(0x1234), 0x11e8),
        ()
    )]
);

impl pci::Driver for Misuse {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &PCI_TABLE;

    fn probe(pdev: &pci::Device<Core>, _info: &()) -> Result<Pin<KBox<Self>>> {
        let bar = KBox::pin_init(
            pdev.iomap_region_sized::<4096>(0, c_str!("misuse")),
            GFP_KERNEL,
        )?;
        // Offset 2 lies inside the BAR but splits a 32-bit register.
        let v = bar.try_access_with(|b| b.read32(2)).ok_or(ENXIO)?;
        pr_info!("{v}\n");
        pci::pin(Misuse)
    }
}

kernel::module_pci_driver! {
    type: Misuse,
    name: "mmio_misaligned",
    authors: ["dmabridge"],
    description: "compile-fail case",
    license: "GPL v2",
}
