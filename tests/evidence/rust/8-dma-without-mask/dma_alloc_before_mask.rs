// SPDX-License-Identifier: GPL-2.0

//! Must not build: allocate (or map) before the mask is set. Allocators and
//! mappers take the `DmaDevice` that only setting the mask returns.

use kernel::{device::Core, dma::CoherentAllocation, pci, prelude::*};

pub fn probe_part(pdev: &pci::Device<Core>) -> Result<CoherentAllocation<u64>> {
    pdev.enable_device_mem()?;
    CoherentAllocation::<u64>::alloc_coherent(pdev, 64, GFP_KERNEL)
}

include!("case_module.rs");
