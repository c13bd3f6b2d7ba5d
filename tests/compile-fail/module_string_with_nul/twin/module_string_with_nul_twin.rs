// SPDX-License-Identifier: GPL-2.0

//! Must build: the same module with a space where the case has a NUL.

use kernel::prelude::*;

struct Case;

impl kernel::Module for Case {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(Case)
    }
}

module! {
    type: Case,
    name: "module_string_with_nul_twin",
    description: "a case vermagic=6.12.0 SMP mod_unload",
    license: "GPL v2",
}
