// SPDX-License-Identifier: GPL-2.0

//! Must not build: unmapping with a size other than the mapped one (C:
//! `dma_unmap_single(dev, handle, EDU_BUF_SIZE, dir)` after mapping `len`).
//! The mapping remembers its size and direction.

use kernel::{
    dma::{Mapping, ToDevice},
    prelude::*,
};

pub fn finish(m: Mapping<'static, ToDevice, KVec<u8>>) -> KVec<u8> {
    m.unmap(4096)
}

include!("case_module.rs");
