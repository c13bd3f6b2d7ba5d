// SPDX-License-Identifier: GPL-2.0

//! Must not build: a sync with a direction of its own (in C:
//! `dma_sync_single_for_cpu(dev, addr, len, DMA_FROM_DEVICE)` on a mapping
//! made `DMA_TO_DEVICE`). A mapping's syncs take no direction: they use the
//! one the mapping was made with, its type parameter.

use kernel::{
    dma::{Access, DataDirection, ToDevice},
    prelude::*,
};

pub fn sync_back(acc: &Access<'_>, buf: KVec<u8>) -> Result {
    let m = acc.map_single::<ToDevice, _>(buf)?;
    let _cpu = m.sync_for_cpu(DataDirection::FromDevice)?;
    Ok(())
}

include!("case_module.rs");
