// SPDX-License-Identifier: GPL-2.0

//! Must not build: mapping vmalloc memory for streaming DMA (a `KVVec` may
//! live in `vmalloc` space, which is not physically contiguous; in C:
//! `dma_map_single` of a `kvmalloc` buffer). Only kmalloc and page memory
//! implement `DmaBuffer`.

use kernel::{
    dma::{Access, ToDevice},
    prelude::*,
};

pub fn send(acc: &Access<'_>, buf: KVVec<u8>) -> Result {
    let _m = acc.map_single::<ToDevice, _>(buf)?;
    Ok(())
}

include!("case_module.rs");
