// SPDX-License-Identifier: GPL-2.0

//! Must build: the same struct without the `Deref` implementation, reading
//! its own field.

use kernel::{dma::CoherentAllocation, prelude::*};

kernel::dma_struct! {
    /// What the device writes.
    pub struct Entry {
        /// A word.
        pub word: u32,
    }
}

/// Reads the first entry's word.
pub fn peek(ring: &CoherentAllocation<Entry>) -> Result<u32> {
    kernel::dma_read!(ring[0].word)
}

include!("case_module.rs");
