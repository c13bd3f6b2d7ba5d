// SPDX-License-Identifier: GPL-2.0

//! Must not build: copy `count` bytes from userspace into a `len`-byte DMA
//! buffer. The safe `UserSliceReader::read_slice` copies exactly the
//! destination slice's length, so there is no length to get wrong; the closest
//! attempt is the raw `copy_from_user`, which a driver cannot call without
//! `unsafe`. (A slice range past the end, e.g. `&mut buf[..count]`, would panic
//! rather than overwrite.)

use kernel::{bindings, prelude::*};

pub fn fill(buf: &mut KVec<u8>, ubuf: usize, count: usize) -> Result {
    let left = bindings::copy_from_user(buf.as_mut_ptr().cast(), ubuf as _, count as _);
    if left != 0 {
        return Err(EFAULT);
    }
    Ok(())
}

include!("case_module.rs");
