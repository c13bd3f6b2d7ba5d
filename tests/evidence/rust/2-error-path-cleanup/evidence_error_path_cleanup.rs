// SPDX-License-Identifier: GPL-2.0

//! Must not build: free a mapping on an error path and again on the normal
//! path. `Mapping::unmap` consumes the mapping, so the second unmap does not
//! compile; and nothing needs to be freed by hand on an error path, since `?`
//! drops (unmaps, frees) what was acquired.

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
