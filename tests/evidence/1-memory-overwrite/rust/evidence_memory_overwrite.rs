// SPDX-License-Identifier: GPL-2.0

//! Must not build: copying `count` bytes from userspace into a buffer of
//! `len < count` bytes (C: `copy_from_user(buf, ubuf, count)`). The safe
//! reader copies exactly the destination's length; the raw copy is unsafe.

use kernel::{bindings, prelude::*};

pub fn fill(buf: &mut KVec<u8>, ubuf: usize, count: usize) -> Result {
    let left = bindings::copy_from_user(buf.as_mut_ptr().cast(), ubuf as _, count as _);
    if left != 0 {
        return Err(EFAULT);
    }
    Ok(())
}

include!("case_module.rs");
