// SPDX-License-Identifier: GPL-2.0

//! Sequence files: the text a file operation such as `show_fdinfo` prints.
//!
//! C header: [`include/linux/seq_file.h`](srctree/include/linux/seq_file.h)

use crate::{bindings, types::Opaque};

/// A `struct seq_file` being written by the caller's thread.
///
/// # Invariants
///
/// `inner` is a valid `struct seq_file` that only the current thread writes
/// while a reference to this value exists.
#[repr(transparent)]
pub struct SeqFile {
    inner: Opaque<bindings::seq_file>,
}

impl SeqFile {
    /// Wraps a raw `struct seq_file`.
    ///
    /// # Safety
    ///
    /// `ptr` is valid, and written only by the current thread, for `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::seq_file) -> &'a SeqFile {
        // SAFETY: `repr(transparent)` over the C type; the caller guarantees the invariants.
        unsafe { &*ptr.cast() }
    }

    /// Prints formatted text; used by [`seq_print!`](crate::seq_print).
    pub fn call_printf(&self, args: core::fmt::Arguments<'_>) {
        // SAFETY: `inner` is valid and ours to write (invariant). `%pA` formats a
        // `core::fmt::Arguments` passed by pointer; `args` outlives the call.
        unsafe {
            bindings::seq_printf(
                self.inner.get(),
                crate::c_str!("%pA").as_char_ptr(),
                core::ptr::from_ref(&args).cast::<crate::ffi::c_void>(),
            )
        };
    }
}

/// Prints formatted text into a [`SeqFile`].
#[macro_export]
macro_rules! seq_print {
    ($m:expr, $($arg:tt)+) => (
        $m.call_printf(format_args!($($arg)+))
    );
}
