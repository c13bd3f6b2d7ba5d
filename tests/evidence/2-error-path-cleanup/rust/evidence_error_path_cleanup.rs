// SPDX-License-Identifier: GPL-2.0

//! Must not build: an error path unmaps, and the normal path unmaps again
//! (a double unmap in C). `unmap` consumes the mapping.

use kernel::{
    dma::{DmaDevice, ToDevice},
    prelude::*,
};

pub fn send(dma: &DmaDevice, buf: KVec<u8>, failed: bool) -> Result<KVec<u8>> {
    let m = dma.map_owned::<ToDevice, _>(buf)?;
    if failed {
        let _buf = m.unmap();
    }
    Ok(m.unmap())
}

include!("case_module.rs");
