// SPDX-License-Identifier: GPL-2.0

//! Virtual memory areas (`struct vm_area_struct`) of a user process.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h)
//!
//! The types say what the caller may do with an area: [`VmaRef`] reads it
//! (the mmap lock is held), [`VmaMixedMap`] also inserts pages (it has
//! `VM_MIXEDMAP`), and [`VmaNew`] is an area being set up in an `mmap`
//! file operation, whose flags may still change.

use crate::{
    bindings,
    error::{code::EINVAL, to_result, Result},
    page::Page,
    types::Opaque,
};
use core::ops::Deref;

/// The type of an area's flags.
pub use bindings::vm_flags_t;

/// An area's flags.
pub mod flags {
    use super::vm_flags_t;
    use crate::bindings;

    /// No flags.
    pub const NONE: vm_flags_t = bindings::VM_NONE as vm_flags_t;
    /// Readable.
    pub const READ: vm_flags_t = bindings::VM_READ as vm_flags_t;
    /// Writable.
    pub const WRITE: vm_flags_t = bindings::VM_WRITE as vm_flags_t;
    /// Executable.
    pub const EXEC: vm_flags_t = bindings::VM_EXEC as vm_flags_t;
    /// Shared between processes (`MAP_SHARED`).
    pub const SHARED: vm_flags_t = bindings::VM_SHARED as vm_flags_t;
    /// `mprotect` may make it readable.
    pub const MAYREAD: vm_flags_t = bindings::VM_MAYREAD as vm_flags_t;
    /// `mprotect` may make it writable.
    pub const MAYWRITE: vm_flags_t = bindings::VM_MAYWRITE as vm_flags_t;
    /// `mprotect` may make it executable.
    pub const MAYEXEC: vm_flags_t = bindings::VM_MAYEXEC as vm_flags_t;
    /// May be shared.
    pub const MAYSHARE: vm_flags_t = bindings::VM_MAYSHARE as vm_flags_t;
    /// Pages without `struct page` (pure PFNs).
    pub const PFNMAP: vm_flags_t = bindings::VM_PFNMAP as vm_flags_t;
    /// Memory-mapped I/O or similar: the kernel does not look at the pages.
    pub const IO: vm_flags_t = bindings::VM_IO as vm_flags_t;
    /// Not copied on `fork`.
    pub const DONTCOPY: vm_flags_t = bindings::VM_DONTCOPY as vm_flags_t;
    /// `mremap` may not grow it.
    pub const DONTEXPAND: vm_flags_t = bindings::VM_DONTEXPAND as vm_flags_t;
    /// Left out of core dumps.
    pub const DONTDUMP: vm_flags_t = bindings::VM_DONTDUMP as vm_flags_t;
    /// Both `struct page` pages and pure PFNs.
    pub const MIXEDMAP: vm_flags_t = bindings::VM_MIXEDMAP as vm_flags_t;
}

/// An area, readable: the caller holds the mmap (or the area's) read lock.
///
/// # Invariants
///
/// `vma` is valid, and its mmap or area read lock (or stronger) held, for
/// the lifetime of every reference to this value.
#[repr(transparent)]
pub struct VmaRef {
    vma: Opaque<bindings::vm_area_struct>,
}

impl VmaRef {
    /// Wraps a raw area.
    ///
    /// # Safety
    ///
    /// `vma` is valid, with its mmap or area read lock (or stronger) held,
    /// for `'a`.
    pub unsafe fn from_raw<'a>(vma: *const bindings::vm_area_struct) -> &'a Self {
        // SAFETY: `repr(transparent)` over the C type; the caller guarantees the invariants.
        unsafe { &*vma.cast() }
    }

    /// The raw area.
    pub fn as_ptr(&self) -> *mut bindings::vm_area_struct {
        self.vma.get()
    }

    /// The area's flags (see [`flags`]).
    pub fn flags(&self) -> vm_flags_t {
        // SAFETY: `vma` is valid and the read lock held (invariant): the flags do not change.
        unsafe { (*self.as_ptr()).__bindgen_anon_2.vm_flags }
    }

    /// The first address of the area.
    pub fn start(&self) -> usize {
        // SAFETY: As in `flags`.
        unsafe { (*self.as_ptr()).__bindgen_anon_1.__bindgen_anon_1.vm_start }
    }

    /// The address after the area's last byte.
    pub fn end(&self) -> usize {
        // SAFETY: As in `flags`.
        unsafe { (*self.as_ptr()).__bindgen_anon_1.__bindgen_anon_1.vm_end }
    }

    /// The area as one that may have pages inserted, if it has `VM_MIXEDMAP`.
    pub fn as_mixedmap_vma(&self) -> Option<&VmaMixedMap> {
        if self.flags() & flags::MIXEDMAP == 0 {
            return None;
        }
        // SAFETY: `VM_MIXEDMAP` is set; the rest is `self`'s invariant.
        Some(unsafe { VmaMixedMap::from_raw(self.as_ptr()) })
    }
}

/// An area with `VM_MIXEDMAP`, into which pages may be inserted.
///
/// # Invariants
///
/// Those of [`VmaRef`], and the area has `VM_MIXEDMAP`.
#[repr(transparent)]
pub struct VmaMixedMap {
    vma: VmaRef,
}

impl Deref for VmaMixedMap {
    type Target = VmaRef;

    fn deref(&self) -> &VmaRef {
        &self.vma
    }
}

impl VmaMixedMap {
    /// Wraps a raw area.
    ///
    /// # Safety
    ///
    /// As for [`VmaRef::from_raw`], and the area has `VM_MIXEDMAP`.
    pub unsafe fn from_raw<'a>(vma: *const bindings::vm_area_struct) -> &'a Self {
        // SAFETY: `repr(transparent)` over `VmaRef`; the caller guarantees the invariants.
        unsafe { &*vma.cast() }
    }

    /// Maps `page` at `address` (`EFAULT` outside the area). The mapping
    /// holds its own reference to the page: the page stays allocated while
    /// it is mapped, whatever happens to `page`.
    pub fn vm_insert_page(&self, address: usize, page: &Page) -> Result {
        // SAFETY: The area is valid, read-locked and has `VM_MIXEDMAP` (invariant), as
        // `vm_insert_page` requires; `page` is a valid order-0 page, which it takes a reference
        // to. It checks `address`.
        to_result(unsafe { bindings::vm_insert_page(self.as_ptr(), address as _, page.as_ptr()) })
    }
}

/// An area being set up by an `mmap` file operation, which may still change
/// its flags.
///
/// Not `Sync` (the flags are written without a lock: nobody else sees the
/// area yet).
///
/// # Invariants
///
/// `vma` is being set up in an `f_op->mmap` call (the mmap write lock is
/// held and the area is not visible to others) for the lifetime of every
/// reference to this value.
#[repr(transparent)]
pub struct VmaNew {
    vma: VmaRef,
    // `VmaRef` holds an `Opaque`, which is `!Sync`.
}

impl Deref for VmaNew {
    type Target = VmaRef;

    fn deref(&self) -> &VmaRef {
        &self.vma
    }
}

impl VmaNew {
    /// Wraps a raw area.
    ///
    /// # Safety
    ///
    /// `vma` is being set up in an `f_op->mmap` call for `'a`.
    pub unsafe fn from_raw<'a>(vma: *mut bindings::vm_area_struct) -> &'a Self {
        // SAFETY: `repr(transparent)` over `VmaRef`; the caller guarantees the invariants.
        unsafe { &*vma.cast() }
    }

    /// Sets `set` and clears `unset`.
    ///
    /// # Safety
    ///
    /// The result is a valid combination of flags.
    unsafe fn update_flags(&self, set: vm_flags_t, unset: vm_flags_t) {
        let flags = (self.flags() | set) & !unset;
        // SAFETY: The area is not visible to others yet and `Self` is `!Sync` (invariant): no
        // data race. The caller keeps the flags valid.
        unsafe { (*self.as_ptr()).__bindgen_anon_2.__vm_flags = flags };
    }

    /// Sets `VM_MIXEDMAP`; the result inserts pages.
    pub fn set_mixedmap(&self) -> &VmaMixedMap {
        // SAFETY: Nothing here sets `VM_PFNMAP`, the one flag `VM_MIXEDMAP` excludes.
        unsafe { self.update_flags(flags::MIXEDMAP, 0) };
        // SAFETY: `VM_MIXEDMAP` is set now; the rest is `self`'s invariant.
        unsafe { VmaMixedMap::from_raw(self.as_ptr()) }
    }

    /// Sets `VM_IO`.
    pub fn set_io(&self) {
        // SAFETY: `VM_IO` is valid with any flags.
        unsafe { self.update_flags(flags::IO, 0) };
    }

    /// Sets `VM_DONTEXPAND`.
    pub fn set_dontexpand(&self) {
        // SAFETY: `VM_DONTEXPAND` is valid with any flags.
        unsafe { self.update_flags(flags::DONTEXPAND, 0) };
    }

    /// Sets `VM_DONTCOPY`.
    pub fn set_dontcopy(&self) {
        // SAFETY: `VM_DONTCOPY` is valid with any flags.
        unsafe { self.update_flags(flags::DONTCOPY, 0) };
    }

    /// Sets `VM_DONTDUMP`.
    pub fn set_dontdump(&self) {
        // SAFETY: `VM_DONTDUMP` is valid with any flags.
        unsafe { self.update_flags(flags::DONTDUMP, 0) };
    }

    /// Whether the area is mapped readable.
    pub fn readable(&self) -> bool {
        self.flags() & flags::READ != 0
    }

    /// Clears `VM_MAYREAD` for good; `EINVAL` if the area is readable.
    pub fn try_clear_mayread(&self) -> Result {
        if self.readable() {
            return Err(EINVAL);
        }
        // SAFETY: Without `VM_READ`, clearing `VM_MAYREAD` is valid.
        unsafe { self.update_flags(0, flags::MAYREAD) };
        Ok(())
    }

    /// Whether the area is mapped writable.
    pub fn writable(&self) -> bool {
        self.flags() & flags::WRITE != 0
    }

    /// Clears `VM_MAYWRITE` for good; `EINVAL` if the area is writable.
    pub fn try_clear_maywrite(&self) -> Result {
        if self.writable() {
            return Err(EINVAL);
        }
        // SAFETY: Without `VM_WRITE`, clearing `VM_MAYWRITE` is valid.
        unsafe { self.update_flags(0, flags::MAYWRITE) };
        Ok(())
    }

    /// Whether the area is mapped executable.
    pub fn executable(&self) -> bool {
        self.flags() & flags::EXEC != 0
    }

    /// Clears `VM_MAYEXEC` for good; `EINVAL` if the area is executable.
    pub fn try_clear_mayexec(&self) -> Result {
        if self.executable() {
            return Err(EINVAL);
        }
        // SAFETY: Without `VM_EXEC`, clearing `VM_MAYEXEC` is valid.
        unsafe { self.update_flags(0, flags::MAYEXEC) };
        Ok(())
    }
}
