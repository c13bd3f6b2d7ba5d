// SPDX-License-Identifier: GPL-2.0

//! Must not build: handing the device a buffer the CPU owns (synced for the
//! CPU, not yet given back with `sync_for_device`). Only a device-owned
//! mapping has a DMA address.

use kernel::{
    dma::{Access, DmaAddress, ToDevice},
    prelude::*,
};

pub fn refill(acc: &Access<'_>, buf: KVec<u8>) -> Result<DmaAddress> {
    let m = acc.map_single::<ToDevice, _>(buf)?;
    let mut cpu = m.sync_for_cpu()?;
    cpu.as_mut_slice()[0] = 1;
    Ok(cpu.dma_handle())
}

include!("case_module.rs");
