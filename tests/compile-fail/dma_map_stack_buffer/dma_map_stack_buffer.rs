// SPDX-License-Identifier: GPL-2.0

//! Must not build: mapping a buffer on the stack (stack and vmalloc memory are
//! not DMA-able). Only kmalloc and page allocator buffers implement
//! `DmaBuffer`.

use kernel::{
    dma::{Access, ToDevice},
    prelude::*,
};

pub fn send(acc: &Access<'_>) -> Result {
    let mut buf = [0u8; 64];
    let _m = acc.map_single::<ToDevice, _>(&mut buf)?;
    Ok(())
}

struct Case;

impl kernel::Module for Case {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(Case)
    }
}

module! {
    type: Case,
    name: "dma_map_stack_buffer",
    license: "GPL v2",
}
