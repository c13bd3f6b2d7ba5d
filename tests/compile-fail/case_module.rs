// SPDX-License-Identifier: GPL-2.0

// The module around a compile-fail case, shared by the cases that `include!`
// it (the runner copies it next to each case). The misuse itself is a public
// function: the compiler checks and builds it although nothing calls it.

struct Case;

impl kernel::Module for Case {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(Case)
    }
}

module! {
    type: Case,
    name: "compile_fail_case",
    license: "GPL v2",
}
