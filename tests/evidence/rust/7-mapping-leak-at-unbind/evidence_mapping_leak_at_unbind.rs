// SPDX-License-Identifier: GPL-2.0

//! Must not build: keep a mapping beyond the `Access` scope that holds the
//! device bound. A mapping made in an `Access` scope cannot outlive it; an owned
//! mapping (`map_owned`) holds the binding, so unbind waits for it and unmaps
//! nothing twice.

use kernel::{
    dma::{DmaAddress, DmaDevice, ToDevice},
    prelude::*,
};

pub fn keep(dma: &DmaDevice, buf: KVec<u8>) -> Result<DmaAddress> {
    let m = {
        let acc = dma.access()?;
        acc.map_single::<ToDevice, _>(buf)?
    };
    Ok(m.dma_handle())
}

include!("case_module.rs");
