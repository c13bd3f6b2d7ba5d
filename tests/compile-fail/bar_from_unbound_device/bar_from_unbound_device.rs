// SPDX-License-Identifier: GPL-2.0

//! Must not build: mapping a BAR through a device reference that does not prove
//! the device is bound. Only `pci::Device<Bound>` (and `Core`, in probe) can
//! make resources tied to the binding; a plain `ARef<pci::Device>` kept by the
//! driver may outlive the binding.

use kernel::{c_str, device::Core, pci, prelude::*, types::ARef};

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

fn map_later(dev: &ARef<pci::Device>) -> Result {
    let _bar = KBox::pin_init(
        dev.iomap_region_sized::<4096>(0, c_str!("misuse")),
        GFP_KERNEL,
    )?;
    Ok(())
}

impl pci::Driver for Misuse {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &PCI_TABLE;

    fn probe(pdev: &pci::Device<Core>, _info: &()) -> Result<Pin<KBox<Self>>> {
        let kept: ARef<pci::Device> = ARef::from(&***pdev);
        map_later(&kept)?;
        pci::pin(Misuse)
    }
}

kernel::module_pci_driver! {
    type: Misuse,
    name: "bar_from_unbound_device",
    authors: ["dmabridge"],
    description: "compile-fail case",
    license: "GPL v2",
}
