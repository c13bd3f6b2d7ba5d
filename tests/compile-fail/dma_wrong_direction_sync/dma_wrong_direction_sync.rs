// SPDX-License-Identifier: GPL-2.0

//! Must not build: reading device-written data through a mapping made
//! `ToDevice` (in C: `dma_sync_single_for_cpu(..., DMA_FROM_DEVICE)` on a
//! `DMA_TO_DEVICE` mapping). The sync takes the direction from the mapping's
//! type, and only directions in which the device writes let the CPU read.

use kernel::{
    dma::{Access, ToDevice},
    prelude::*,
};

pub fn read_back(acc: &Access<'_>, buf: &mut KVec<u8>) -> Result<u8> {
    let m = acc.map_single::<ToDevice, _>(buf)?;
    let cpu = m.sync_for_cpu()?;
    Ok(cpu.as_slice()[0])
}

include!("case_module.rs");
