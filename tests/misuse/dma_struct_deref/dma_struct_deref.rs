// SPDX-License-Identifier: GPL-2.0

//! Must not build: a `dma_struct!` that dereferences to another struct, so
//! that `ring[0].secret` would go through `Deref::deref`.

use core::ops::Deref;
use kernel::{dma::CoherentAllocation, prelude::*};

kernel::dma_struct! {
    /// What the device writes.
    pub struct Entry {
        /// A word.
        pub word: u32,
    }
}

/// Somewhere else.
pub struct Elsewhere {
    /// Not in DMA memory.
    pub secret: u32,
}

static ELSEWHERE: Elsewhere = Elsewhere { secret: 7 };

impl Deref for Entry {
    type Target = Elsewhere;

    fn deref(&self) -> &Elsewhere {
        &ELSEWHERE
    }
}

/// Would read `secret` through a reference to device-written memory.
pub fn peek(ring: &CoherentAllocation<Entry>) -> Result<u32> {
    kernel::dma_read!(ring[0].secret)
}

include!("case_module.rs");
