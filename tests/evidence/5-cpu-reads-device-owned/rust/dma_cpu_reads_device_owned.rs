// SPDX-License-Identifier: GPL-2.0

//! Must not build: the CPU reads a buffer while the device owns it (mapped
//! `FromDevice`, no `sync_for_cpu`). The mapping holds the only borrow of the
//! buffer until it is synced for the CPU or dropped.

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
