// SPDX-License-Identifier: GPL-2.0

//! Misuse: leaks a misc device registration and a PCI driver registration
//! (`mem::forget` is safe Rust) in module init. Without the binding's
//! module tracking both would stay registered after `rmmod`, pointing at the
//! freed module's file operations, name and probe function.

use kernel::{
    c_str,
    device::Core,
    driver::Registration,
    fs::File,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    pci,
    prelude::*,
};

struct Leaked;

#[vtable]
impl MiscDevice for Leaked {
    type Ptr = ();

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result {
        Ok(())
    }
}

/// A driver for a device nobody has: it only needs to be registered.
struct NoDevice;

kernel::pci_device_table!(
    PCI_TABLE,
    MODULE_PCI_TABLE,
    (),
    [(
        pci::DeviceId::from_id(pci::Vendor::from_raw(0x1234), 0xdead),
        ()
    )]
);

impl pci::Driver for NoDevice {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &PCI_TABLE;

    fn probe(_pdev: &pci::Device<Core>, _info: &()) -> Result<Pin<KBox<Self>>> {
        Err(ENODEV)
    }
}

struct MisuseLeak;

impl kernel::Module for MisuseLeak {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let options = MiscDeviceOptions {
            name: c_str!("dmabridge_leak"),
        };
        core::mem::forget(KBox::pin_init(
            MiscDeviceRegistration::<Leaked>::register(options),
            GFP_KERNEL,
        )?);
        core::mem::forget(Registration::<pci::Adapter<NoDevice>>::new(
            c_str!("misuse_leak"),
            module,
        )?);
        pr_info!("misuse: leaked a misc device and a driver registration\n");
        Ok(MisuseLeak)
    }
}

module! {
    type: MisuseLeak,
    name: "misuse_leak",
    authors: ["dmabridge"],
    description: "misuse case: registrations leaked past module unload",
    license: "GPL v2",
}
