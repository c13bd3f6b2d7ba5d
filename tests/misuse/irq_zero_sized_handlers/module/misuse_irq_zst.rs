// SPDX-License-Identifier: GPL-2.0

//! Misuse: two zero-sized IRQ handlers on edu's shared INTx line. `free_irq`
//! finds an action by its `dev_id`; were both handlers' `dev_id` the same
//! dangling address of an empty box, dropping the second registration would
//! remove the first one's action and leave its own installed (pointing at
//! freed memory, or at unloaded code). The binding gives every handler an
//! address of its own.

use kernel::{
    c_str,
    device::{Bound, Core, Device},
    irq, pci,
    prelude::*,
};

struct Quiet;

impl irq::Handler for Quiet {
    fn handle(&self, _dev: &Device<Bound>) -> irq::IrqReturn {
        irq::IrqReturn::None
    }
}

struct MisuseIrqZst {
    _first: Pin<KBox<irq::Registration<Quiet>>>,
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

impl pci::Driver for MisuseIrqZst {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &PCI_TABLE;

    fn probe(pdev: &pci::Device<Core>, _info: &()) -> Result<Pin<KBox<Self>>> {
        pdev.enable_device_mem()?;
        pdev.alloc_irq_vectors(1, 1, pci::IrqTypes::INTX)?;
        let shared = irq::Flags::SHARED;
        let first = pdev.request_irq(0, shared, c_str!("misuse_zst_first"), Ok(Quiet))?;
        let first = KBox::pin_init(first, GFP_KERNEL)?;
        let second = pdev.request_irq(0, shared, c_str!("misuse_zst_second"), Ok(Quiet))?;
        let second = KBox::pin_init(second, GFP_KERNEL)?;
        drop(second);
        pr_info!("misuse: second zero-sized handler freed\n");
        pci::pin(MisuseIrqZst { _first: first })
    }
}

kernel::module_pci_driver! {
    type: MisuseIrqZst,
    name: "misuse_irq_zst",
    authors: ["dmabridge"],
    description: "misuse case: zero-sized IRQ handlers on a shared line",
    license: "GPL v2",
}
