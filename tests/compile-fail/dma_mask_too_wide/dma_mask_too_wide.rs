// SPDX-License-Identifier: GPL-2.0

//! Must not build: a DMA mask of more than 64 bits.

use kernel::{dma::DmaMask, prelude::*};

struct Case;

impl kernel::Module for Case {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        pr_info!("{:?}\n", DmaMask::new::<65>());
        Ok(Case)
    }
}

module! {
    type: Case,
    name: "dma_mask_too_wide",
    license: "GPL v2",
}
