// SPDX-License-Identifier: GPL-2.0

//! Misuse: holds a guard of the BAR's `Devres` across a 2 s sleep in a work
//! item while the driver is unbound, then reads through it.

use kernel::{
    c_str,
    delay::msleep,
    device::Core,
    pci,
    prelude::*,
    sync::{Arc, Completion},
    workqueue,
};

struct MisuseGuardSleep;

kernel::pci_device_table!(
    PCI_TABLE,
    MODULE_PCI_TABLE,
    (),
    [(
        pci::DeviceId::from_id(pci::Vendor::from_raw(0x1234), 0x11e8),
        ()
    )]
);

impl pci::Driver for MisuseGuardSleep {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &PCI_TABLE;

    fn probe(pdev: &pci::Device<Core>, _info: &()) -> Result<Pin<KBox<Self>>> {
        pdev.enable_device_mem()?;
        let bar = Arc::pin_init(
            pdev.iomap_region_sized::<4096>(0, c_str!("misuse_guard_sleep")),
            GFP_KERNEL,
        )?;
        // Probe returns (and the test unbinds) only once the guard is held.
        let holding = Arc::pin_init(Completion::new(), GFP_KERNEL)?;
        let signal = holding.clone();
        workqueue::system().try_spawn(GFP_KERNEL, move || {
            let id = bar.try_access_with(|b| {
                signal.complete_all();
                msleep(2000);
                b.read32(0)
            });
            match id {
                Some(id) => pr_info!(
                    "misuse: BAR read after a 2 s sleep under the guard: {:#x}\n",
                    id
                ),
                None => pr_err!("misuse: guard refused: ENXIO\n"),
            }
        })?;
        if !holding.wait_timeout(5000) {
            pr_err!("misuse: the work item did not take the guard\n");
        }
        pci::pin(MisuseGuardSleep)
    }
}

kernel::module_pci_driver! {
    type: MisuseGuardSleep,
    name: "misuse_guard_sleep",
    authors: ["dmabridge"],
    description: "misuse case: a Devres guard held across a sleep during unbind",
    license: "GPL v2",
}
