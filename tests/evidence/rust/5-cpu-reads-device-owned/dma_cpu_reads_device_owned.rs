// SPDX-License-Identifier: GPL-2.0

//! Must not build: read a buffer mapped `FromDevice` while the mapping (the
//! device's ownership) lives. The mapping owns the buffer until `unmap`
//! gives it back; the CPU reads it through `sync_for_cpu`.

use kernel::{
    dma::{Access, FromDevice},
    prelude::*,
};

pub fn receive(acc: &Access<'_>, buf: KVec<u8>) -> Result<u8> {
    let m = acc.map_single::<FromDevice, _>(buf)?;
    let first = buf[0];
    drop(m);
    Ok(first)
}

include!("case_module.rs");
