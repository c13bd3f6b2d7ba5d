// SPDX-License-Identifier: GPL-2.0

//! Must not build: `global_asm!` that adds a wild pointer to the module's
//! `.kunit_test_suites` section (KUnit would dereference it at load). Rust
//! 2021 accepts `global_asm!` without the word `unsafe`; `-Funsafe_code`
//! rejects it.

use kernel::prelude::*;

core::arch::global_asm!(
    ".pushsection .kunit_test_suites,\"aw\"",
    ".quad 0x10",
    ".popsection"
);

include!("case_module.rs");
