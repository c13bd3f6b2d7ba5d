// SPDX-License-Identifier: GPL-2.0

//! Must not build: map a borrowed buffer for the device to write, forget the
//! mapping (ending the borrow, never unmapping) and read the buffer the device
//! still owns. Only owned buffers are `DmaBuffer`s.

use kernel::{
    dma::{Access, FromDevice},
    prelude::*,
};

pub fn peek(acc: &Access<'_>, buf: &mut KVec<u8>) -> Result<u8> {
    core::mem::forget(acc.map_single::<FromDevice, _>(&mut *buf)?);
    Ok(buf[0])
}

include!("case_module.rs");
