// SPDX-License-Identifier: GPL-2.0

//! Must build: the same read through a mapping made `FromDevice`, so the case
//! fails only because of its direction.

use kernel::{
    dma::{Access, FromDevice},
    prelude::*,
};

pub fn read_back(acc: &Access<'_>, buf: KVec<u8>) -> Result<u8> {
    let m = acc.map_single::<FromDevice, _>(buf)?;
    let cpu = m.sync_for_cpu()?;
    Ok(cpu.as_slice()[0])
}

include!("case_module.rs");
