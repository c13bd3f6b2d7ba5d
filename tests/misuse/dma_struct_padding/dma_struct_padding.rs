// SPDX-License-Identifier: GPL-2.0

//! Must not build: a `dma_struct!` with three bytes of padding after `kind`.

use kernel::{dma::CoherentAllocation, prelude::*};

kernel::dma_struct! {
    /// A command with a hole.
    pub struct Command {
        /// One byte.
        pub kind: u8,
        /// Four bytes, aligned to four.
        pub arg: u32,
    }
}

/// Would hand the device uninitialised bytes, and read them back as values.
pub fn ring(ring: &CoherentAllocation<Command>) -> Result<u32> {
    kernel::dma_read!(ring[0].arg)
}

include!("case_module.rs");
