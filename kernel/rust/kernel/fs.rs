// SPDX-License-Identifier: GPL-2.0

//! Kernel file systems: the parts a character device's file operations see.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

pub mod file;
pub mod kiocb;

pub use self::file::File;
pub use self::kiocb::Kiocb;
