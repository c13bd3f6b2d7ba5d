// SPDX-License-Identifier: GPL-2.0

//! Must build: the whole object read, and indexed outside the macro.

use kernel::{dma::CoherentAllocation, prelude::*};

/// Reads word 3 of the first object.
pub fn word(ring: &CoherentAllocation<[u32; 4]>) -> Result<u32> {
    Ok(kernel::dma_read!(ring[0])?[3])
}

include!("case_module.rs");
