// SPDX-License-Identifier: GPL-2.0

//! Memory-mapped I/O.
//!
//! C header: [`include/asm-generic/io.h`](srctree/include/asm-generic/io.h)
//!
//! [`Io<SIZE>`] is a mapped MMIO region of at least `SIZE` bytes. Accesses at
//! offsets known at compile time (`read32(0x04)`) are checked at compile time
//! against `SIZE` and the access width: an offset past the end or a misaligned
//! one fails the build (`build_assert!`). Accesses at run-time offsets go through
//! `try_read*`/`try_write*`, which check against the mapping's real size and
//! return `EINVAL`.

use crate::{bindings, build_assert, error::code::EINVAL, error::Result};

/// The address and size of a mapped MMIO region.
///
/// # Invariants
///
/// `[addr, addr + maxsize)` is a valid MMIO mapping, and `maxsize >= SIZE`.
pub struct IoRaw<const SIZE: usize = 0> {
    addr: usize,
    maxsize: usize,
}

impl<const SIZE: usize> IoRaw<SIZE> {
    /// Describes a mapping of `maxsize` bytes at `addr`; `EINVAL` if it is
    /// smaller than `SIZE`.
    ///
    /// # Safety
    ///
    /// `[addr, addr + maxsize)` must be a valid MMIO mapping for as long as the
    /// returned value (and any [`Io`] made from it) is used.
    pub unsafe fn new(addr: usize, maxsize: usize) -> Result<Self> {
        if maxsize < SIZE || addr == 0 {
            return Err(EINVAL);
        }
        // INVARIANT: The caller guarantees the mapping; the size is checked.
        Ok(Self { addr, maxsize })
    }

    /// The start address of the mapping.
    pub fn addr(&self) -> usize {
        self.addr
    }

    /// The real size of the mapping.
    pub fn maxsize(&self) -> usize {
        self.maxsize
    }
}

/// A mapped MMIO region of at least `SIZE` bytes.
///
/// # Invariants
///
/// Same as [`IoRaw`]; `Io` is a transparent view on it.
#[repr(transparent)]
pub struct Io<const SIZE: usize = 0>(IoRaw<SIZE>);

macro_rules! define_read {
    ($(#[$attr:meta])* $name:ident, $try_name:ident, $c_fn:ident -> $type_name:ty) => {
        $(#[$attr])*
        /// The offset must be known at compile time to lie inside `SIZE` and be
        /// aligned to the access width, or the build fails.
        #[inline]
        pub fn $name(&self, offset: usize) -> $type_name {
            let addr = self.io_addr_assert::<$type_name>(offset);
            // SAFETY: By the type invariant `addr` lies in a valid mapping, and the offset was
            // checked at build time.
            unsafe { bindings::$c_fn(addr as *const _) }
        }

        $(#[$attr])*
        /// Checked at run time against the mapping's real size; `EINVAL` if the
        /// offset is out of bounds or misaligned.
        #[inline]
        pub fn $try_name(&self, offset: usize) -> Result<$type_name> {
            let addr = self.io_addr::<$type_name>(offset)?;
            // SAFETY: By the type invariant `addr` lies in a valid mapping, and the offset was
            // checked above.
            Ok(unsafe { bindings::$c_fn(addr as *const _) })
        }
    };
}

macro_rules! define_write {
    ($(#[$attr:meta])* $name:ident, $try_name:ident, $c_fn:ident <- $type_name:ty) => {
        $(#[$attr])*
        /// The offset must be known at compile time to lie inside `SIZE` and be
        /// aligned to the access width, or the build fails.
        #[inline]
        pub fn $name(&self, value: $type_name, offset: usize) {
            let addr = self.io_addr_assert::<$type_name>(offset);
            // SAFETY: By the type invariant `addr` lies in a valid mapping, and the offset was
            // checked at build time.
            unsafe { bindings::$c_fn(value, addr as *mut _) }
        }

        $(#[$attr])*
        /// Checked at run time against the mapping's real size; `EINVAL` if the
        /// offset is out of bounds or misaligned.
        #[inline]
        pub fn $try_name(&self, value: $type_name, offset: usize) -> Result {
            let addr = self.io_addr::<$type_name>(offset)?;
            // SAFETY: By the type invariant `addr` lies in a valid mapping, and the offset was
            // checked above.
            unsafe { bindings::$c_fn(value, addr as *mut _) }
            Ok(())
        }
    };
}

impl<const SIZE: usize> Io<SIZE> {
    /// Views `raw` as an `Io`.
    ///
    /// # Safety
    ///
    /// `raw` must describe a valid MMIO mapping for the lifetime `'a`.
    #[inline]
    pub unsafe fn from_raw<'a>(raw: &'a IoRaw<SIZE>) -> &'a Self {
        // SAFETY: `Io` is a transparent wrapper of `IoRaw`.
        unsafe { &*(raw as *const IoRaw<SIZE>).cast::<Self>() }
    }

    /// The start address of the mapping.
    #[inline]
    pub fn addr(&self) -> usize {
        self.0.addr()
    }

    /// The real size of the mapping (at least `SIZE`).
    #[inline]
    pub fn maxsize(&self) -> usize {
        self.0.maxsize()
    }

    /// Whether an access of `U` at `offset` fits in `size` bytes and is aligned.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::io::Io;
    ///
    /// assert!(Io::<256>::offset_valid::<u32>(0xfc, 256));
    /// assert!(!Io::<256>::offset_valid::<u32>(0xfd, 256)); // Misaligned.
    /// assert!(!Io::<256>::offset_valid::<u32>(0x100, 256)); // Past the end.
    /// assert!(!Io::<256>::offset_valid::<u64>(usize::MAX - 3, 256)); // Overflow.
    /// assert!(Io::<256>::offset_valid::<u8>(0xff, 256));
    /// ```
    #[inline]
    pub const fn offset_valid<U>(offset: usize, size: usize) -> bool {
        let type_size = core::mem::size_of::<U>();
        match offset.checked_add(type_size) {
            Some(end) => end <= size && offset % type_size == 0,
            None => false,
        }
    }

    #[inline]
    fn io_addr<U>(&self, offset: usize) -> Result<usize> {
        if !Self::offset_valid::<U>(offset, self.maxsize()) {
            return Err(EINVAL);
        }
        Ok(self.addr() + offset)
    }

    #[inline(always)]
    fn io_addr_assert<U>(&self, offset: usize) -> usize {
        build_assert!(Self::offset_valid::<U>(offset, SIZE));
        self.addr() + offset
    }

    define_read!(/// Reads a byte.
        read8, try_read8, readb -> u8);
    define_read!(/// Reads 16 bits.
        read16, try_read16, readw -> u16);
    define_read!(/// Reads 32 bits.
        read32, try_read32, readl -> u32);
    define_read!(/// Reads 64 bits.
        read64, try_read64, readq -> u64);
    define_read!(/// Reads a byte without ordering against other memory accesses.
        read8_relaxed, try_read8_relaxed, readb_relaxed -> u8);
    define_read!(/// Reads 16 bits without ordering against other memory accesses.
        read16_relaxed, try_read16_relaxed, readw_relaxed -> u16);
    define_read!(/// Reads 32 bits without ordering against other memory accesses.
        read32_relaxed, try_read32_relaxed, readl_relaxed -> u32);
    define_read!(/// Reads 64 bits without ordering against other memory accesses.
        read64_relaxed, try_read64_relaxed, readq_relaxed -> u64);
    define_write!(/// Writes a byte.
        write8, try_write8, writeb <- u8);
    define_write!(/// Writes 16 bits.
        write16, try_write16, writew <- u16);
    define_write!(/// Writes 32 bits.
        write32, try_write32, writel <- u32);
    define_write!(/// Writes 64 bits.
        write64, try_write64, writeq <- u64);
    define_write!(/// Writes a byte without ordering against other memory accesses.
        write8_relaxed, try_write8_relaxed, writeb_relaxed <- u8);
    define_write!(/// Writes 16 bits without ordering against other memory accesses.
        write16_relaxed, try_write16_relaxed, writew_relaxed <- u16);
    define_write!(/// Writes 32 bits without ordering against other memory accesses.
        write32_relaxed, try_write32_relaxed, writel_relaxed <- u32);
    define_write!(/// Writes 64 bits without ordering against other memory accesses.
        write64_relaxed, try_write64_relaxed, writeq_relaxed <- u64);
}
