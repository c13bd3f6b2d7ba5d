// SPDX-License-Identifier: GPL-2.0

//! Must build: the same mapping of a kmalloc-backed `KVec`.

use kernel::{
    dma::{Access, ToDevice},
    prelude::*,
};

pub fn send(acc: &Access<'_>, buf: KVec<u8>) -> Result {
    let _m = acc.map_single::<ToDevice, _>(buf)?;
    Ok(())
}

include!("case_module.rs");
