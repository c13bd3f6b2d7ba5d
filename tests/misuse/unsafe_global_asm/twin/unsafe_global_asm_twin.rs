// SPDX-License-Identifier: GPL-2.0

//! Must build: the same module without the `global_asm!`.

use kernel::prelude::*;

include!("case_module.rs");
