// SPDX-License-Identifier: GPL-2.0

//! Must not build: inserting a page into an area being set up by `mmap`
//! without setting `VM_MIXEDMAP` first. `vm_insert_page` on such an area
//! changes its flags under only the mmap lock's read side in C; the binding
//! offers it only on the `VmaMixedMap` that `set_mixedmap` returns.

use kernel::{mm::virt::VmaNew, page::Page, prelude::*};

include!("case_module.rs");

/// The misuse.
pub fn insert(vma: &VmaNew, page: &Page) -> Result {
    vma.vm_insert_page(vma.start(), page)
}
