// SPDX-License-Identifier: GPL-2.0

//! Must not build: a pool block used after its pool was dropped
//! (`dma_pool_destroy` with a block still allocated). Blocks borrow their pool.

use kernel::{
    c_str,
    dma::{Access, DmaDevice, DmaPool},
    prelude::*,
};

pub fn leak(dma: &DmaDevice, acc: &Access<'_>) -> Result {
    let block;
    {
        let pool = DmaPool::<u64>::new(dma, c_str!("case"), 0, 0)?;
        block = pool.alloc(acc, GFP_KERNEL)?;
    }
    block.write(1);
    Ok(())
}

include!("case_module.rs");
