// SPDX-License-Identifier: GPL-2.0

//! Misuse: registers two PCI drivers with the same name. The driver core
//! refuses the second (`EBUSY`); the binding must return that errno and log
//! it, and must not unregister the driver that was never registered (which
//! WARNs "Unexpected driver unregister!").

use kernel::{c_str, device::Core, driver, pci, prelude::*};

struct Nothing;

kernel::pci_device_table!(
    PCI_TABLE,
    MODULE_PCI_TABLE,
    (),
    [(
        pci::DeviceId::from_id(pci::Vendor::from_raw(0x1234), 0xdead),
        ()
    )]
);

impl pci::Driver for Nothing {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &PCI_TABLE;

    fn probe(_pdev: &pci::Device<Core>, _info: &()) -> Result<Pin<KBox<Self>>> {
        Err(ENODEV)
    }
}

type Reg = Pin<KBox<driver::Registration<pci::Adapter<Nothing>>>>;

struct MisuseDriverDup {
    _first: Reg,
}

impl kernel::Module for MisuseDriverDup {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let name = c_str!("dmabridge_dup_drv");
        let first: Reg = driver::Registration::new(name, module)?;
        let second: Result<Reg> = driver::Registration::new(name, module);
        match second {
            Err(e) => pr_info!("misuse: second driver registration refused: {:?}\n", e),
            Ok(_) => {
                pr_err!("misuse: second driver registration succeeded\n");
                return Err(EINVAL);
            }
        }
        Ok(MisuseDriverDup { _first: first })
    }
}

module! {
    type: MisuseDriverDup,
    name: "misuse_driver_dup",
    authors: ["dmabridge"],
    description: "misuse case: a duplicate driver name",
    license: "GPL v2",
}
