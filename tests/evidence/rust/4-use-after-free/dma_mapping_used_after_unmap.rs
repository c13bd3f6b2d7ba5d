// SPDX-License-Identifier: GPL-2.0

//! Must not build: use a mapping's DMA address after unmapping it. `unmap`
//! consumes the mapping and gives the buffer back, so the borrow checker
//! rejects any later use (and the buffer cannot be freed while mapped: the
//! mapping owns or borrows it).

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
