// SPDX-License-Identifier: GPL-2.0

//! Must build: forgetting a mapping of an owned buffer leaks the buffer.

use kernel::{
    dma::{Access, FromDevice},
    prelude::*,
};

pub fn peek(acc: &Access<'_>, buf: KVec<u8>) -> Result<u8> {
    core::mem::forget(acc.map_single::<FromDevice, _>(buf)?);
    Ok(0)
}

include!("case_module.rs");
