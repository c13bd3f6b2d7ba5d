// SPDX-License-Identifier: GPL-2.0

//! Delays.
//!
//! C header: [`include/linux/delay.h`](srctree/include/linux/delay.h)

use crate::bindings;

/// Sleeps for at least `ms` milliseconds (C `msleep`). Process context only.
pub fn msleep(ms: u32) {
    // SAFETY: `msleep` may be called from any sleepable context with any value.
    unsafe { bindings::msleep(ms) };
}
