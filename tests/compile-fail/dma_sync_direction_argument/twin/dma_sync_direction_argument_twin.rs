// SPDX-License-Identifier: GPL-2.0

//! Must build: the same sync without a direction.

use kernel::{
    dma::{Access, ToDevice},
    prelude::*,
};

pub fn sync_back(acc: &Access<'_>, buf: KVec<u8>) -> Result {
    let m = acc.map_single::<ToDevice, _>(buf)?;
    let _cpu = m.sync_for_cpu()?;
    Ok(())
}

include!("case_module.rs");
