// SPDX-License-Identifier: GPL-2.0

//! Misuse: an interrupt handler uses the bound device it is given to tie
//! resources to the binding (a `Devres`, `devres::register`, the DMA mask),
//! and the driver names its IRQ after a procfs entry.

use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{
    c_str,
    device::{Bound, Core, Device},
    devres::{self, Devres},
    dma::{DmaDevice, DmaMask},
    irq, pci,
    prelude::*,
    str::CStr,
    sync::Arc,
};

const IRQ_STATUS: usize = 0x24;
const IRQ_RAISE: usize = 0x60;
const IRQ_ACK: usize = 0x64;

fn show<T>(what: &str, r: Result<T>) {
    match r {
        Ok(_) => pr_err!("misuse: {what}: accepted\n"),
        Err(e) if e == EINVAL => pr_info!("misuse: {what}: EINVAL\n"),
        Err(e) => pr_err!("misuse: {what}: {:?}\n", e),
    }
}

struct Binder {
    bar: Arc<Devres<pci::Bar<4096>>>,
    tried: AtomicBool,
}

impl irq::ThreadedHandler for Binder {
    fn handle(&self, dev: &Device<Bound>) -> irq::ThreadedIrqReturn {
        let Some(status) = self.bar.try_access_with(|b| b.read32(IRQ_STATUS)) else {
            return irq::ThreadedIrqReturn::None;
        };
        if status == 0 {
            return irq::ThreadedIrqReturn::None;
        }
        let _ = self.bar.try_access_with(|b| b.write32(status, IRQ_ACK));
        if !self.tried.load(Ordering::Relaxed) {
            let r = KBox::pin_init(Devres::new(dev, 1u32), GFP_ATOMIC);
            show("Devres::new in the hard half", r);
        }
        irq::ThreadedIrqReturn::WakeThread
    }

    fn handle_threaded(&self, dev: &Device<Bound>) -> irq::IrqReturn {
        if !self.tried.swap(true, Ordering::Relaxed) {
            let r = KBox::pin_init(Devres::new(dev, 1u32), GFP_KERNEL);
            show("Devres::new in the threaded half", r);
            let r = devres::register(dev, 1u32, GFP_KERNEL);
            show("devres::register in the threaded half", r);
            let r = DmaDevice::set_mask_and_coherent(dev, DmaMask::new::<32>());
            show("DMA mask in the threaded half", r);
        }
        irq::IrqReturn::Handled
    }
}

#[pin_data]
struct MisuseIrqBind {
    #[pin]
    irq: irq::ThreadedRegistration<Binder>,
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

/// Requests the IRQ under `name`, which must be refused; `what` says which.
fn try_name(
    pdev: &pci::Device<Core>,
    bar: &Arc<Devres<pci::Bar<4096>>>,
    name: &'static CStr,
    what: &str,
) {
    let binder = Ok(Binder {
        bar: bar.clone(),
        tried: AtomicBool::new(true),
    });
    let r = pdev
        .request_threaded_irq(0, irq::Flags::NONE, name, binder)
        .and_then(|init| KBox::pin_init(init, GFP_KERNEL));
    show(what, r);
}

impl pci::Driver for MisuseIrqBind {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &PCI_TABLE;

    fn probe(pdev: &pci::Device<Core>, _info: &()) -> Result<Pin<KBox<Self>>> {
        pdev.enable_device_mem()?;
        // An MSI is a memory write by the device: it needs bus mastering.
        pdev.set_master();
        let bar = Arc::pin_init(
            pdev.iomap_region_sized::<4096>(0, c_str!("misuse_irq_bind")),
            GFP_KERNEL,
        )?;
        pdev.alloc_irq_vectors(1, 1, pci::IrqTypes::MSI)?;
        try_name(pdev, &bar, c_str!("spurious"), "IRQ name \"spurious\"");
        try_name(pdev, &bar, c_str!(""), "IRQ name \"\"");
        try_name(pdev, &bar, c_str!("a/b"), "IRQ name \"a/b\"");
        let binder = Ok(Binder {
            bar: bar.clone(),
            tried: AtomicBool::new(false),
        });
        let this = KBox::pin_init(
            try_pin_init!(MisuseIrqBind {
                irq <- pdev.request_threaded_irq(
                    0,
                    irq::Flags::NONE,
                    c_str!("misuse_irq_bind"),
                    binder,
                )?,
            }? Error),
            GFP_KERNEL,
        )?;
        bar.try_access_with(|b| b.write32(1, IRQ_RAISE))
            .ok_or(ENXIO)?;
        Ok(this)
    }
}

kernel::module_pci_driver! {
    type: MisuseIrqBind,
    name: "misuse_irq_bind",
    authors: ["dmabridge"],
    description: "misuse case: interrupt handlers tie resources to the binding",
    license: "GPL v2",
}
