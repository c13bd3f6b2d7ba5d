// SPDX-License-Identifier: GPL-2.0

//! Must not build: enter an RCU read-side critical section and forget its
//! guard, so that the section never ends.

use kernel::{prelude::*, sync::rcu};

pub fn stall() -> Result {
    core::mem::forget(rcu::read_lock());
    Ok(())
}

include!("case_module.rs");
