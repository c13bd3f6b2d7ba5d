// SPDX-License-Identifier: GPL-2.0

//! Must not build: a static placed in `.init_array` with `#[link_section]`
//! (Rust 2021 accepts the attribute without the word `unsafe`): at load, the
//! module loader would call the address it holds. Driver crates are built
//! with `-Funsafe_code`, which rejects it.

use kernel::prelude::*;

#[used]
#[link_section = ".init_array"]
static WILD_CONSTRUCTOR: usize = 0x10;

pub fn address() -> usize {
    WILD_CONSTRUCTOR
}

include!("case_module.rs");
