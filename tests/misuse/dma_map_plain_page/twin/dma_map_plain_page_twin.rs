// SPDX-License-Identifier: GPL-2.0

//! Must build: the same mapping of a `ZeroedPage`.

use kernel::{
    dma::{DmaDevice, FromDevice, ZeroedPage},
    prelude::*,
};

pub fn receive(dma: &DmaDevice) -> Result<u8> {
    let page = ZeroedPage::alloc(GFP_KERNEL)?;
    let m = dma.map_owned::<FromDevice, _>(page)?;
    let cpu = m.sync_for_cpu()?;
    Ok(cpu.as_slice()[0])
}

include!("case_module.rs");
