// SPDX-License-Identifier: GPL-2.0

//! Canary: a compile-fail case that fails for another reason than its
//! `expected.txt` names (a type mismatch, E0308, where E0599 is expected).
//! The compile-fail verdict must reject it.

use kernel::prelude::*;

module! {
    type: CanaryCompileFail,
    name: "canary_compile_fail",
    authors: ["dmabridge"],
    description: "fails to build for the wrong reason",
    license: "GPL",
}

struct CanaryCompileFail;

impl kernel::Module for CanaryCompileFail {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let n: u32 = "not a number";
        pr_info!("{n}\n");
        Ok(CanaryCompileFail)
    }
}
