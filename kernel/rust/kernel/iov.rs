// SPDX-License-Identifier: GPL-2.0

//! I/O vectors: the user (or kernel) buffers of a `read_iter`/`write_iter`.
//!
//! C header: [`include/linux/uio.h`](srctree/include/linux/uio.h)
//!
//! The copy functions check every user address (a bad one ends the copy,
//! like the end of the vector), so safe code can only ever move bytes
//! between its own slices and the buffers the caller described.

use crate::{
    alloc::{flags::__GFP_NOWARN, Allocator, Flags},
    bindings,
    error::{code::EINVAL, Result},
    types::Opaque,
};
use core::{marker::PhantomData, mem::MaybeUninit, slice};

/// The number of bytes left in `iov`.
///
/// # Safety
///
/// `iov` is valid for reads.
unsafe fn count(iov: *const bindings::iov_iter) -> usize {
    // SAFETY: `iov` is valid (the caller's guarantee); `count` is the vector's length for every
    // iterator type.
    unsafe { (*iov).__bindgen_anon_1.__bindgen_anon_1.as_ref().count }
}

/// Whether `iov` may be copied to or from here: a vector of user memory may
/// fault, which sleeps, so it is refused (with a log line) where the caller
/// may not sleep (under a spinlock, in an interrupt). The copy then moves no
/// bytes, as at the end of the vector.
///
/// # Safety
///
/// `iov` is valid for reads.
unsafe fn may_copy(iov: *const bindings::iov_iter) -> bool {
    // SAFETY: `iov` is valid (the caller's guarantee).
    let ty = unsafe { (*iov).iter_type } as bindings::iter_type;
    let user = ty == bindings::iter_type_ITER_UBUF || ty == bindings::iter_type_ITER_IOVEC;
    if !user || crate::lifetime::may_sleep() {
        return true;
    }
    if crate::lifetime::log_allowed() {
        crate::pr_err!("iov: a copy of user memory where the caller may not sleep; refused\n");
    }
    false
}

/// The methods both directions share: one body, expanded for each type.
macro_rules! iov_iter_methods {
    ($ty:ident) => {
        impl<'data> $ty<'data> {
            /// The raw `struct iov_iter`.
            pub fn as_raw(&mut self) -> *mut bindings::iov_iter {
                self.iov.get()
            }

            /// The bytes left (a bad user address may end the vector
            /// sooner).
            pub fn len(&self) -> usize {
                // SAFETY: `iov` is valid (invariant).
                unsafe { count(self.iov.get()) }
            }

            /// Whether no bytes are left.
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// Skips `bytes` bytes (at most to the end).
            pub fn advance(&mut self, bytes: usize) {
                // SAFETY: `iov` is valid (invariant); the C function clamps to the end.
                unsafe { bindings::iov_iter_advance(self.as_raw(), bytes) };
            }

            /// Goes back `bytes` bytes.
            ///
            /// # Safety
            ///
            /// Not before the vector's start.
            pub unsafe fn revert(&mut self, bytes: usize) {
                // SAFETY: `iov` is valid (invariant); the caller keeps `bytes` in range.
                unsafe { bindings::iov_iter_revert(self.as_raw(), bytes) };
            }
        }
    };
}

iov_iter_methods!(IovIterSource);
iov_iter_methods!(IovIterDest);

/// An I/O vector to read data from (`ITER_SOURCE`): what a `write` gives.
///
/// Not `Send`: the vector may refer to memory mapped for this thread only
/// (`kmap_local_page`).
///
/// # Invariants
///
/// `iov` is a valid `struct iov_iter` with `data_source` set, readable with
/// the C copy functions for `'data`.
#[repr(transparent)]
pub struct IovIterSource<'data> {
    iov: Opaque<bindings::iov_iter>,
    _source: PhantomData<&'data [u8]>,
}

impl<'data> IovIterSource<'data> {
    /// Wraps a raw `struct iov_iter`.
    ///
    /// # Safety
    ///
    /// For `'iov`, `ptr` is valid and used only through the result; it has
    /// `data_source` set; and it may be read with the C copy functions for
    /// `'data`.
    pub unsafe fn from_raw<'iov>(ptr: *mut bindings::iov_iter) -> &'iov mut IovIterSource<'data> {
        // SAFETY: `repr(transparent)` over the C type; the caller guarantees the invariants.
        unsafe { &mut *ptr.cast() }
    }

    /// Copies into `out`; returns the number of bytes copied.
    pub fn copy_from_iter(&mut self, out: &mut [u8]) -> usize {
        // SAFETY: `copy_from_iter_raw` writes only initialised bytes, so `out` stays a valid
        // `[u8]`; the layouts of `u8` and `MaybeUninit<u8>` are the same.
        let out = unsafe { &mut *(core::ptr::from_mut(out) as *mut [MaybeUninit<u8>]) };
        self.copy_from_iter_raw(out).len()
    }

    /// Appends the rest of the vector to `out`; returns the number of bytes
    /// copied.
    pub fn copy_from_iter_vec<A: Allocator>(
        &mut self,
        out: &mut crate::alloc::Vec<u8, A>,
        flags: Flags,
    ) -> Result<usize> {
        // The length is userspace's: failing to allocate it is an error, not
        // a warning.
        out.reserve(self.len(), flags | __GFP_NOWARN)?;
        let len = self.copy_from_iter_raw(out.spare_capacity_mut()).len();
        // SAFETY: The first `len` bytes of the spare capacity were initialised just above, and
        // `len` is at most the spare capacity.
        unsafe { out.set_len(out.len() + len) };
        Ok(len)
    }

    /// Copies into possibly uninitialised memory; returns the part of `out`
    /// that was written.
    pub fn copy_from_iter_raw(&mut self, out: &mut [MaybeUninit<u8>]) -> &mut [u8] {
        // SAFETY: `iov` is valid (invariant).
        let capacity = if unsafe { may_copy(self.iov.get()) } {
            out.len()
        } else {
            0
        };
        let out = out.as_mut_ptr().cast::<u8>();
        // SAFETY: `iov` is readable (invariant); `out` is writable for `capacity` bytes. The C
        // function returns how many bytes it wrote, from the start.
        let len = unsafe { bindings::_copy_from_iter(out.cast(), capacity, self.as_raw()) };
        // SAFETY: The first `len <= capacity` bytes of `out` are initialised.
        unsafe { slice::from_raw_parts_mut(out, len) }
    }
}

/// An I/O vector to write data to (`ITER_DEST`): what a `read` gives.
///
/// # Invariants
///
/// `iov` is a valid `struct iov_iter` with `data_source` clear, writable with
/// the C copy functions for `'data`.
#[repr(transparent)]
pub struct IovIterDest<'data> {
    iov: Opaque<bindings::iov_iter>,
    _dest: PhantomData<&'data mut [u8]>,
}

impl<'data> IovIterDest<'data> {
    /// Wraps a raw `struct iov_iter`.
    ///
    /// # Safety
    ///
    /// For `'iov`, `ptr` is valid and used only through the result; it has
    /// `data_source` clear; and it may be written with the C copy functions
    /// for `'data`.
    pub unsafe fn from_raw<'iov>(ptr: *mut bindings::iov_iter) -> &'iov mut IovIterDest<'data> {
        // SAFETY: `repr(transparent)` over the C type; the caller guarantees the invariants.
        unsafe { &mut *ptr.cast() }
    }

    /// Copies `input` into the vector; returns the number of bytes copied.
    pub fn copy_to_iter(&mut self, input: &[u8]) -> usize {
        // SAFETY: `iov` is valid (invariant).
        if !unsafe { may_copy(self.iov.get()) } {
            return 0;
        }
        // SAFETY: `iov` is writable (invariant); `input` is readable for its length.
        unsafe { bindings::_copy_to_iter(input.as_ptr().cast(), input.len(), self.as_raw()) }
    }

    /// A read of a file whose contents are `contents`, at `*ppos`: copies what
    /// fits and advances `*ppos`. `EINVAL` for a negative position; 0 at or
    /// past the end.
    pub fn simple_read_from_buffer(&mut self, ppos: &mut i64, contents: &[u8]) -> Result<usize> {
        if *ppos < 0 {
            return Err(EINVAL);
        }
        let pos = match usize::try_from(*ppos) {
            Ok(pos) if pos < contents.len() => pos,
            _ => return Ok(0),
        };
        let written = self.copy_to_iter(&contents[pos..]);
        // `pos + written <= contents.len()`, which fits in an `i64`.
        *ppos = (pos + written) as i64;
        Ok(written)
    }
}
