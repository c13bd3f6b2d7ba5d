// SPDX-License-Identifier: GPL-2.0

//! Canary: a compile-fail case that fails with its expected error (a type
//! mismatch, E0308) and with another one its `expected.txt` does not name
//! (E0599). The compile-fail verdict must reject it.

use kernel::prelude::*;

module! {
    type: CanaryCompileFailExtra,
    name: "canary_compile_fail_extra",
    authors: ["dmabridge"],
    description: "fails to build for one more reason than expected",
    license: "GPL",
}

struct CanaryCompileFailExtra;

impl kernel::Module for CanaryCompileFailExtra {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let n: u32 = "not a number";
        let m = n.no_such_method();
        pr_info!("{n} {m}\n");
        Ok(CanaryCompileFailExtra)
    }
}
