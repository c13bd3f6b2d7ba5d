// SPDX-License-Identifier: GPL-2.0

//! Generic CPU definitions.
//!
//! C header: [`include/linux/cpu.h`](srctree/include/linux/cpu.h)

use crate::bindings;

/// Returns the maximum number of possible CPUs in the current system configuration (C
/// `nr_cpu_ids`): one more than the highest CPU number that can ever be online.
#[inline]
pub fn nr_cpu_ids() -> u32 {
    // SAFETY: The helper reads `nr_cpu_ids` (or its constant on configurations where it is one);
    // it is set once during boot, before any module can run.
    unsafe { bindings::dmabridge_nr_cpu_ids() }
}
