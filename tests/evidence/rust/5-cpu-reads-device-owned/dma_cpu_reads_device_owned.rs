// SPDX-License-Identifier: GPL-2.0

//! Must not build: read a buffer mapped `FromDevice` while the mapping (the
//! device's ownership) lives. The mapping holds the only borrow of the buffer
//! until `sync_for_cpu` or unmap.

use kernel::{
    dma::{Access, FromDevice},
    prelude::*,
};

pub fn receive(acc: &Access<'_>, buf: &mut KVec<u8>) -> Result<u8> {
    let m = acc.map_single::<FromDevice, _>(&mut *buf)?;
    let first = buf[0];
    drop(m);
    Ok(first)
}

include!("case_module.rs");
