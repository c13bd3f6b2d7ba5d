// SPDX-License-Identifier: GPL-2.0

//! Open files.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use crate::{bindings, types::Opaque};

/// Flags of an open file (`f_flags`), as in `include/uapi/asm-generic/fcntl.h`.
pub mod flags {
    use crate::bindings;

    /// The access mode bits: compare `flags & O_ACCMODE` with [`O_RDONLY`],
    /// [`O_WRONLY`] or [`O_RDWR`].
    pub const O_ACCMODE: u32 = bindings::O_ACCMODE;
    /// Open for reading only.
    pub const O_RDONLY: u32 = bindings::O_RDONLY;
    /// Open for writing only.
    pub const O_WRONLY: u32 = bindings::O_WRONLY;
    /// Open for reading and writing.
    pub const O_RDWR: u32 = bindings::O_RDWR;
    /// Writes append to the end of the file.
    pub const O_APPEND: u32 = bindings::O_APPEND;
    /// Operations do not block.
    pub const O_NONBLOCK: u32 = bindings::O_NONBLOCK;
    /// Writes are synchronous.
    pub const O_SYNC: u32 = bindings::O_SYNC;
    /// Close on `exec`.
    pub const O_CLOEXEC: u32 = bindings::O_CLOEXEC;
}

/// An open file (`struct file`), borrowed for the duration of a file
/// operation.
///
/// A `&File` is only handed out by the bindings to the file operation that
/// runs on it; the VFS keeps the file alive for the whole call.
///
/// # Invariants
///
/// `inner` is a valid `struct file` for the lifetime of every reference to
/// this value.
#[repr(transparent)]
pub struct File {
    inner: Opaque<bindings::file>,
}

// SAFETY: The methods of `File` read fields the VFS allows any thread to
// read while the file is open (`f_flags`); it is shared across threads in C.
unsafe impl Send for File {}
// SAFETY: As above.
unsafe impl Sync for File {}

impl File {
    /// Wraps a file the caller keeps open.
    ///
    /// # Safety
    ///
    /// `ptr` points to a valid `struct file` that stays open for `'a`.
    pub unsafe fn from_raw_file<'a>(ptr: *const bindings::file) -> &'a File {
        // SAFETY: `File` is `repr(transparent)` over the C type; the caller guarantees validity
        // for `'a`.
        unsafe { &*ptr.cast() }
    }

    /// The raw `struct file`.
    pub fn as_ptr(&self) -> *mut bindings::file {
        self.inner.get()
    }

    /// The file's flags (`f_flags`, see [`flags`]).
    pub fn flags(&self) -> u32 {
        // SAFETY: `inner` is valid (invariant). `fcntl(F_SETFL)` may change the flags
        // concurrently, as C readers of `f_flags` allow: a volatile read keeps the compiler from
        // assuming it does not.
        unsafe { core::ptr::read_volatile(&raw const (*self.inner.get()).f_flags) }
    }
}
