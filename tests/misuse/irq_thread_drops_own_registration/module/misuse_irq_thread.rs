// SPDX-License-Identifier: GPL-2.0

//! Misuse: the threaded half of an interrupt handler drops the last owner of
//! its own registration. `free_irq` waits for the IRQ's thread to return, so
//! run from that thread it would wait for itself.

use kernel::{
    c_str,
    device::{Bound, Core, Device},
    devres::Devres,
    irq, new_mutex, pci,
    prelude::*,
    sync::{Arc, Mutex},
};

const IRQ_STATUS: usize = 0x24;
const IRQ_RAISE: usize = 0x60;
const IRQ_ACK: usize = 0x64;

#[pin_data]
struct Slot {
    #[pin]
    registration: Mutex<Option<Pin<KBox<irq::ThreadedRegistration<Dropper>>>>>,
}

struct Dropper {
    slot: Arc<Slot>,
    bar: Arc<Devres<pci::Bar<4096>>>,
}

impl irq::ThreadedHandler for Dropper {
    fn handle(&self, _dev: &Device<Bound>) -> irq::ThreadedIrqReturn {
        let Some(status) = self.bar.try_access_with(|b| b.read32(IRQ_STATUS)) else {
            return irq::ThreadedIrqReturn::None;
        };
        if status == 0 {
            return irq::ThreadedIrqReturn::None;
        }
        let _ = self.bar.try_access_with(|b| b.write32(status, IRQ_ACK));
        irq::ThreadedIrqReturn::WakeThread
    }

    fn handle_threaded(&self, _dev: &Device<Bound>) -> irq::IrqReturn {
        let registration = self.slot.registration.lock().take();
        if registration.is_some() {
            drop(registration);
            pr_info!("misuse: threaded handler dropped its own registration\n");
        }
        irq::IrqReturn::Handled
    }
}

struct MisuseIrqThread;

kernel::pci_device_table!(
    PCI_TABLE,
    MODULE_PCI_TABLE,
    (),
    [(
        pci::DeviceId::from_id(pci::Vendor::from_raw(0x1234), 0x11e8),
        ()
    )]
);

impl pci::Driver for MisuseIrqThread {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &PCI_TABLE;

    fn probe(pdev: &pci::Device<Core>, _info: &()) -> Result<Pin<KBox<Self>>> {
        pdev.enable_device_mem()?;
        // An MSI is a memory write by the device: it needs bus mastering.
        pdev.set_master();
        let bar = Arc::pin_init(
            pdev.iomap_region_sized::<4096>(0, c_str!("misuse_irq_thread")),
            GFP_KERNEL,
        )?;
        pdev.alloc_irq_vectors(1, 1, pci::IrqTypes::MSI)?;
        let slot = Arc::pin_init(
            pin_init!(Slot {
                registration <- new_mutex!(None),
            }),
            GFP_KERNEL,
        )?;
        let dropper = Ok(Dropper {
            slot: slot.clone(),
            bar: bar.clone(),
        });
        let registration =
            pdev.request_threaded_irq(0, irq::Flags::NONE, c_str!("misuse_irq_thread"), dropper)?;
        let registration = KBox::pin_init(registration, GFP_KERNEL)?;
        *slot.registration.lock() = Some(registration);
        bar.try_access_with(|b| b.write32(1, IRQ_RAISE))
            .ok_or(ENXIO)?;
        pci::pin(MisuseIrqThread)
    }
}

kernel::module_pci_driver! {
    type: MisuseIrqThread,
    name: "misuse_irq_thread",
    authors: ["dmabridge"],
    description: "misuse case: a threaded handler drops its own registration",
    license: "GPL v2",
}
