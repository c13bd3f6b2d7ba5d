// SPDX-License-Identifier: GPL-2.0

//! Must not build: use the DMA address of a mapping without checking that the
//! mapping succeeded. Mapping returns `Result<Mapping>`; the address exists
//! only on the `Mapping`, so the error must be handled first.

use kernel::{
    dma::{DmaAddress, DmaDevice, ToDevice},
    prelude::*,
};

pub fn start(dma: &DmaDevice, buf: KVec<u8>) -> DmaAddress {
    let m = dma.map_owned::<ToDevice, _>(buf);
    m.dma_handle()
}

include!("case_module.rs");
