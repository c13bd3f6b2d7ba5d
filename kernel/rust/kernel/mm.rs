// SPDX-License-Identifier: GPL-2.0

//! Memory management: the parts a driver's `mmap` sees.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h)

pub mod virt;
