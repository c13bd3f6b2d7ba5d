// SPDX-License-Identifier: GPL-2.0

//! Misuse: an interrupt handler that drops the last owners of a coherent
//! allocation, of a pool (through its last block) and of its own IRQ
//! registration. Each release sleeps in C (`dma_free_coherent` must run with
//! interrupts on, `dma_pool_destroy` takes a mutex, `free_irq` waits for the
//! running handler: this one).

use kernel::{
    c_str,
    device::{Bound, Core, Device},
    devres::Devres,
    dma::{CoherentAllocation, DmaMask, DmaPool, OwnedPoolBlock},
    irq, new_spinlock_irq, pci,
    prelude::*,
    sync::{Arc, SpinLockIrq},
};

const IRQ_STATUS: usize = 0x24;
const IRQ_RAISE: usize = 0x60;
const IRQ_ACK: usize = 0x64;

/// What the handler drops (only dropped, never read).
#[allow(dead_code)]
struct Owned {
    coherent: CoherentAllocation<u64>,
    block: OwnedPoolBlock<u64>,
    registration: Pin<KBox<irq::Registration<Dropper>>>,
}

#[pin_data]
struct Slot {
    #[pin]
    owned: SpinLockIrq<Option<Owned>>,
}

struct Dropper {
    slot: Arc<Slot>,
    bar: Arc<Devres<pci::Bar<4096>>>,
}

impl irq::Handler for Dropper {
    fn handle(&self, _dev: &Device<Bound>) -> irq::IrqReturn {
        let Some(status) = self.bar.try_access_with(|b| b.read32(IRQ_STATUS)) else {
            return irq::IrqReturn::None;
        };
        if status == 0 {
            return irq::IrqReturn::None;
        }
        let _ = self.bar.try_access_with(|b| b.write32(status, IRQ_ACK));
        let owned = self.slot.owned.lock_with(|o| o.take());
        if owned.is_some() {
            drop(owned);
            pr_info!("misuse: handler dropped its registration, allocation and pool\n");
        }
        irq::IrqReturn::Handled
    }
}

struct MisuseIrqDrop;

kernel::pci_device_table!(
    PCI_TABLE,
    MODULE_PCI_TABLE,
    (),
    [(
        pci::DeviceId::from_id(pci::Vendor::from_raw(0x1234), 0x11e8),
        ()
    )]
);

impl pci::Driver for MisuseIrqDrop {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &PCI_TABLE;

    fn probe(pdev: &pci::Device<Core>, _info: &()) -> Result<Pin<KBox<Self>>> {
        pdev.enable_device_mem()?;
        // An MSI is a memory write by the device: it needs bus mastering.
        pdev.set_master();
        let dma = pdev.dma_set_mask_and_coherent(DmaMask::new::<28>())?;
        let bar = Arc::pin_init(
            pdev.iomap_region_sized::<4096>(0, c_str!("misuse_irq_drop")),
            GFP_KERNEL,
        )?;
        pdev.alloc_irq_vectors(1, 1, pci::IrqTypes::MSI)?;
        let slot = Arc::pin_init(
            pin_init!(Slot {
                owned <- new_spinlock_irq!(None),
            }),
            GFP_KERNEL,
        )?;
        let registration = pdev.request_irq(
            0,
            irq::Flags::NONE,
            c_str!("misuse_irq_drop"),
            Ok(Dropper {
                slot: slot.clone(),
                bar: bar.clone(),
            }),
        )?;
        let registration = KBox::pin_init(registration, GFP_KERNEL)?;
        let coherent = CoherentAllocation::<u64>::alloc_coherent(&dma, 512, GFP_KERNEL)?;
        let pool = DmaPool::<u64>::new(&dma, c_str!("misuse_irq_drop"), 0, 0)?;
        let block = pool.alloc_owned(GFP_KERNEL)?;
        drop(pool);
        slot.owned.lock_with(|o| {
            *o = Some(Owned {
                coherent,
                block,
                registration,
            })
        });
        bar.try_access_with(|b| b.write32(1, IRQ_RAISE))
            .ok_or(ENXIO)?;
        pci::pin(MisuseIrqDrop)
    }
}

kernel::module_pci_driver! {
    type: MisuseIrqDrop,
    name: "misuse_irq_drop",
    authors: ["dmabridge"],
    description: "misuse case: last owners dropped in an interrupt handler",
    license: "GPL v2",
}
