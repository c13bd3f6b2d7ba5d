// SPDX-License-Identifier: GPL-2.0

//! Must not build: mapping a buffer on the stack (stack and vmalloc memory are
//! not DMA-able). Only kmalloc and page allocator buffers implement
//! `DmaBuffer`.

use kernel::{
    dma::{Access, ToDevice},
    prelude::*,
};

pub fn send(acc: &Access<'_>) -> Result {
    let buf = [0u8; 64];
    let _m = acc.map_single::<ToDevice, _>(buf)?;
    Ok(())
}

include!("case_module.rs");
