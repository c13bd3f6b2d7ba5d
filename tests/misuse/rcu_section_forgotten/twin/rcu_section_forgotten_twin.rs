// SPDX-License-Identifier: GPL-2.0

//! Must build: a read section that ends when the closure returns.

use kernel::{prelude::*, sync::rcu};

pub fn section() -> Result<u32> {
    Ok(rcu::read_lock_with(|_guard| 1))
}

include!("case_module.rs");
