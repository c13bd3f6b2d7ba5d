// SPDX-License-Identifier: GPL-2.0

//! Must not build: registering a raw KUnit suite whose case array has no
//! terminator. KUnit would walk past the array at module load and call
//! whatever follows it. The raw macro takes the word `unsafe`, which a
//! driver cannot write; drivers use `kunit_suite!`.

use kernel::{bindings, c_str, kunit, prelude::*};

extern "C" fn boom(_test: *mut bindings::kunit) {}

static mut CASES: [bindings::kunit_case; 1] = [kunit::kunit_case(c_str!("boom"), boom)];

kernel::kunit_unsafe_test_suite!(no_sentinel, CASES);

include!("case_module.rs");
