// SPDX-License-Identifier: GPL-2.0

//! Must build: the same `dma_struct!` with `kind` widened to four bytes: no
//! padding.

use kernel::{dma::CoherentAllocation, prelude::*};

kernel::dma_struct! {
    /// A command without a hole.
    pub struct Command {
        /// Four bytes.
        pub kind: u32,
        /// Four bytes, aligned to four.
        pub arg: u32,
    }
}

/// Reads a field of the first command.
pub fn ring(ring: &CoherentAllocation<Command>) -> Result<u32> {
    kernel::dma_read!(ring[0].arg)
}

include!("case_module.rs");
