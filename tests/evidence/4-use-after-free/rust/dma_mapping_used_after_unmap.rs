// SPDX-License-Identifier: GPL-2.0

//! Must not build: using a mapping's DMA address after it was unmapped.
//! `unmap` consumes the mapping.

use kernel::{
    dma::{Access, DmaAddress, ToDevice},
    prelude::*,
};

pub fn send(acc: &Access<'_>, buf: KVec<u8>) -> Result<DmaAddress> {
    let m = acc.map_single::<ToDevice, _>(buf)?;
    let _buf = m.unmap();
    Ok(m.dma_handle())
}

include!("case_module.rs");
