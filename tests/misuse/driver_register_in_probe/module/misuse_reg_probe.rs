// SPDX-License-Identifier: GPL-2.0

//! Misuse: a probe that registers another driver matching the device being
//! probed. `driver_register` attaches matching devices and takes each
//! one's device lock: this device's is held by the probe itself.

use kernel::{c_str, device::Core, driver::Registration, pci, prelude::*};

kernel::pci_device_table!(
    PCI_TABLE,
    MODULE_PCI_TABLE,
    (),
    [(
        pci::DeviceId::from_id(pci::Vendor::from_raw(0x1234), 0x11e8),
        ()
    )]
);

struct Inner;

impl pci::Driver for Inner {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &PCI_TABLE;

    fn probe(_pdev: &pci::Device<Core>, _info: &()) -> Result<Pin<KBox<Self>>> {
        Err(ENODEV)
    }
}

struct MisuseRegProbe;

impl pci::Driver for MisuseRegProbe {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &PCI_TABLE;

    fn probe(_pdev: &pci::Device<Core>, _info: &()) -> Result<Pin<KBox<Self>>> {
        match Registration::<pci::Adapter<Inner>>::new(
            c_str!("misuse_reg_probe_inner"),
            &THIS_MODULE,
        ) {
            Ok(_) => {
                pr_err!("misuse: driver registration in probe accepted\n");
                Err(EINVAL)
            }
            Err(e) => {
                pr_info!("misuse: driver registration in probe refused: {:?}\n", e);
                pci::pin(MisuseRegProbe)
            }
        }
    }
}

kernel::module_pci_driver! {
    type: MisuseRegProbe,
    name: "misuse_reg_probe",
    authors: ["dmabridge"],
    description: "misuse case: a driver registered from a probe",
    license: "GPL v2",
}
