// SPDX-License-Identifier: GPL-2.0

//! Must not build: a DMA mask of more than 64 bits.

use kernel::{dma::DmaMask, prelude::*};

pub fn too_wide() -> u64 {
    DmaMask::new::<65>().value()
}

include!("case_module.rs");
