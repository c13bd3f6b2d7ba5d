// SPDX-License-Identifier: GPL-2.0

//! Must not build: an index expression in the field path, which would be
//! evaluated inside the macro's unsafe block (here it dereferences a raw
//! pointer without the word `unsafe`).

use kernel::{dma::CoherentAllocation, prelude::*};

/// Would read through a wild pointer.
pub fn wild(ring: &CoherentAllocation<[u32; 4]>) -> Result<u32> {
    let p = 0x10 as *const usize;
    kernel::dma_read!(ring[0][*p])
}

include!("case_module.rs");
