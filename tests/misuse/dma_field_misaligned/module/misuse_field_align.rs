// SPDX-License-Identifier: GPL-2.0

//! Misuse: calls the accessors that `dma_read!` and `dma_write!` expand to
//! with pointers of its own: a `u64` at object 1 of a `[u32; 3]` allocation
//! (12 bytes in, so misaligned for a `u64` although its offset in the object
//! is 0) and a `u32` past the end of object 0. Both must be refused.

use kernel::{
    device::Core,
    dma::{CoherentAllocation, DmaMask},
    pci,
    prelude::*,
};

struct MisuseFieldAlign;

kernel::pci_device_table!(
    PCI_TABLE,
    MODULE_PCI_TABLE,
    (),
    [(
        pci::DeviceId::from_id(pci::Vendor::from_raw(0x1234), 0x11e8),
        ()
    )]
);

fn refused<T>(what: &str, r: Result<T>) -> Result {
    match r {
        Err(e) if e == EINVAL => {
            pr_info!("misuse: {what} refused with EINVAL\n");
            Ok(())
        }
        Err(e) => {
            pr_err!("misuse: {what} failed with {:?}, not EINVAL\n", e);
            Err(EINVAL)
        }
        Ok(_) => {
            pr_err!("misuse: {what} was allowed\n");
            Err(EINVAL)
        }
    }
}

impl pci::Driver for MisuseFieldAlign {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &PCI_TABLE;

    fn probe(pdev: &pci::Device<Core>, _info: &()) -> Result<Pin<KBox<Self>>> {
        pdev.enable_device_mem()?;
        let dma = pdev.dma_set_mask_and_coherent(DmaMask::new::<28>())?;
        let words = CoherentAllocation::<[u32; 3]>::alloc_coherent(&dma, 2, GFP_KERNEL)?;
        refused(
            "a misaligned field read",
            words.__field_read(1, |p| p.cast::<u64>()),
        )?;
        refused(
            "a misaligned field write",
            words.__field_write(1, |p| p.cast::<u64>(), 0),
        )?;
        refused(
            "a field past its object",
            words.__field_read(0, |p| p.cast::<u32>().wrapping_add(3)),
        )?;
        words.__field_write(1, |p| p.cast::<u32>().wrapping_add(2), 0x5a5a)?;
        if words.__field_read(1, |p| p.cast::<u32>().wrapping_add(2))? != 0x5a5a {
            pr_err!("misuse: an aligned field did not read back\n");
            return Err(EINVAL);
        }
        pr_info!("misuse: an aligned field read back\n");
        pci::pin(MisuseFieldAlign)
    }
}

kernel::module_pci_driver! {
    type: MisuseFieldAlign,
    name: "misuse_field_align",
    authors: ["dmabridge"],
    description: "misuse case: field accesses misaligned or outside their object",
    license: "GPL v2",
}
