// SPDX-License-Identifier: GPL-2.0

//! Must not build: unmap with a size of one's own. A mapping remembers its size
//! and its direction is part of its type; `unmap` takes no size or direction to
//! get wrong.

use kernel::{
    dma::{Mapping, ToDevice},
    prelude::*,
};

pub fn finish(m: Mapping<'static, ToDevice, KVec<u8>>) -> KVec<u8> {
    m.unmap(4096)
}

include!("case_module.rs");
