// SPDX-License-Identifier: GPL-2.0

//! Must not build: using a mapping's DMA address without checking whether
//! mapping failed (C: no `dma_mapping_error`).

use kernel::{
    dma::{DmaAddress, DmaDevice, ToDevice},
    prelude::*,
};

pub fn start(dma: &DmaDevice, buf: KVec<u8>) -> DmaAddress {
    let m = dma.map_owned::<ToDevice, _>(buf);
    m.dma_handle()
}

include!("case_module.rs");
