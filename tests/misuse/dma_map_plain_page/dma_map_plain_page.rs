// SPDX-License-Identifier: GPL-2.0

//! Must not build: mapping a page that `Page::alloc_page` did not zero, for
//! the device to write: where the device writes less than the page,
//! `as_slice()` after `sync_for_cpu()` would hand stale kernel memory to the
//! driver (and on to userspace). Only `ZeroedPage` is a page `DmaBuffer`.

use kernel::{
    dma::{DmaDevice, FromDevice},
    page::Page,
    prelude::*,
};

pub fn receive(dma: &DmaDevice) -> Result<u8> {
    let page = Page::alloc_page(GFP_KERNEL)?;
    let m = dma.map_owned::<FromDevice, _>(page)?;
    let cpu = m.sync_for_cpu()?;
    Ok(cpu.as_slice()[0])
}

include!("case_module.rs");
