// SPDX-License-Identifier: GPL-2.0

//! Must not build: the CPU reading, as if the device had written it, a buffer
//! mapped `ToDevice` (in C: reading a `DMA_TO_DEVICE` buffer after
//! `dma_sync_single_for_cpu` and treating it as received data). Only
//! directions in which the device writes give the CPU `as_slice()`.

use kernel::{
    dma::{Access, ToDevice},
    prelude::*,
};

pub fn read_back(acc: &Access<'_>, buf: KVec<u8>) -> Result<u8> {
    let m = acc.map_single::<ToDevice, _>(buf)?;
    let cpu = m.sync_for_cpu()?;
    Ok(cpu.as_slice()[0])
}

include!("case_module.rs");
