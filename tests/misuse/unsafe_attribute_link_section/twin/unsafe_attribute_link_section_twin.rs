// SPDX-License-Identifier: GPL-2.0

//! Must build: the same static without `#[link_section]`.

use kernel::prelude::*;

#[used]
static WILD_CONSTRUCTOR: usize = 0x10;

pub fn address() -> usize {
    WILD_CONSTRUCTOR
}

include!("case_module.rs");
