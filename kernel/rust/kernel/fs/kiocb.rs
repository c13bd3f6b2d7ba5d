// SPDX-License-Identifier: GPL-2.0

//! I/O control blocks: the file position and private data of a `read_iter`
//! or `write_iter` call.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use crate::{bindings, types::ForeignOwnable};
use core::{marker::PhantomData, ptr::NonNull};

/// A `struct kiocb` for the duration of one file operation, whose file's
/// private data is a `T`.
///
/// # Invariants
///
/// `inner` points to a valid `struct kiocb` for `'a`, owned by the calling
/// thread for that time, whose file's `private_data` came from
/// `T::into_foreign` and stays valid for `'a`.
pub struct Kiocb<'a, T> {
    inner: NonNull<bindings::kiocb>,
    _phantom: PhantomData<&'a T>,
}

impl<'a, T: ForeignOwnable> Kiocb<'a, T> {
    /// Wraps a raw `struct kiocb`.
    ///
    /// # Safety
    ///
    /// `kiocb` is valid and used only through the result for `'a`, and its
    /// file's private data is a `T` (from `into_foreign`) valid for `'a`.
    pub unsafe fn from_raw(kiocb: *mut bindings::kiocb) -> Self {
        // INVARIANT: The caller's guarantees.
        Self {
            // SAFETY: A valid pointer is not null.
            inner: unsafe { NonNull::new_unchecked(kiocb) },
            _phantom: PhantomData,
        }
    }

    /// The raw `struct kiocb`.
    pub fn as_raw(&self) -> *mut bindings::kiocb {
        self.inner.as_ptr()
    }

    /// The driver's data of the file.
    pub fn file(&self) -> <T as ForeignOwnable>::Borrowed<'a> {
        // SAFETY: `inner` and its file are valid for `'a` (invariant).
        let private = unsafe { (*(*self.as_raw()).ki_filp).private_data };
        // SAFETY: `private` came from `T::into_foreign` and stays valid for `'a` (invariant).
        unsafe { T::borrow(private) }
    }

    /// The file position of this call.
    pub fn ki_pos(&self) -> i64 {
        // SAFETY: `inner` is valid (invariant).
        unsafe { (*self.as_raw()).ki_pos }
    }

    /// The file position of this call, to update.
    pub fn ki_pos_mut(&mut self) -> &mut i64 {
        // SAFETY: `inner` is valid and this thread's alone for `'a` (invariant); `&mut self`
        // makes the reference unique.
        unsafe { &mut (*self.as_raw()).ki_pos }
    }
}
