// SPDX-License-Identifier: GPL-2.0

//! Must not build: a mapping kept after the `Access` scope that keeps the
//! device bound has ended (in C, a mapping that survives unbind).

use kernel::{
    dma::{DmaAddress, DmaDevice, ToDevice},
    prelude::*,
};

pub fn keep(dma: &DmaDevice, buf: &mut KVec<u8>) -> Result<DmaAddress> {
    let m = {
        let acc = dma.access()?;
        acc.map_single::<ToDevice, _>(buf)?
    };
    Ok(m.dma_handle())
}

include!("case_module.rs");
