// SPDX-License-Identifier: GPL-2.0

//! Must not build: allocating coherent DMA memory before the DMA mask is set.
//! Allocators take the `DmaDevice` that only setting the mask returns; the PCI
//! device itself is not accepted.

use kernel::{dma::CoherentAllocation, driver::Core, pci, prelude::*};

pub fn probe_part(pdev: &pci::Device<Core>) -> Result<CoherentAllocation<u64>> {
    pdev.enable_device_mem()?;
    CoherentAllocation::<u64>::alloc_coherent(pdev, 64, GFP_KERNEL)
}

include!("case_module.rs");
