// SPDX-License-Identifier: GPL-2.0

//! KUnit test suites in loadable Rust modules.
//!
//! [`kunit_case`] and [`kunit_unsafe_test_suite!`](crate::kunit_unsafe_test_suite)
//! follow the mainline names. [`kunit_suite!`](crate::kunit_suite) builds a
//! suite from safe `fn() -> Result` cases: a case fails when it returns an
//! error, and the error is logged. [`Fixture`] hands a module's state (a bound
//! device, say) to its cases.

use crate::{bindings, error::Error, str::CStr, sync::Arc};
use core::{
    cell::UnsafeCell,
    sync::atomic::{AtomicBool, Ordering},
};

/// A KUnit test case running `run_case` (C `KUNIT_CASE`).
pub const fn kunit_case(
    name: &'static CStr,
    run_case: unsafe extern "C" fn(*mut bindings::kunit),
) -> bindings::kunit_case {
    bindings::kunit_case {
        run_case: Some(run_case),
        name: name.as_char_ptr(),
        attr: bindings::kunit_attributes {
            speed: bindings::kunit_speed_KUNIT_SPEED_NORMAL,
        },
        generate_params: None,
        status: bindings::kunit_status_KUNIT_SUCCESS,
        module_name: core::ptr::null_mut(),
        log: core::ptr::null_mut(),
    }
}

/// The all-zero case that ends a case array.
pub const fn kunit_case_null() -> bindings::kunit_case {
    bindings::kunit_case {
        run_case: None,
        name: core::ptr::null(),
        attr: bindings::kunit_attributes {
            speed: bindings::kunit_speed_KUNIT_SPEED_UNSET,
        },
        generate_params: None,
        status: bindings::kunit_status_KUNIT_SUCCESS,
        module_name: core::ptr::null_mut(),
        log: core::ptr::null_mut(),
    }
}

/// Builds a suite name as `struct kunit_suite` stores it.
#[doc(hidden)]
pub const fn suite_name(name: &str) -> [crate::ffi::c_char; 256] {
    let bytes = name.as_bytes();
    assert!(
        bytes.len() < 256,
        "a KUnit suite name has at most 255 bytes"
    );
    let mut out = [0; 256];
    let mut i = 0;
    while i < bytes.len() {
        out[i] = bytes[i] as crate::ffi::c_char;
        i += 1;
    }
    out
}

/// Runs one safe case for the C test runner: an error fails the case.
///
/// # Safety
///
/// `test` is the `struct kunit` KUnit passes to the running case.
#[doc(hidden)]
pub unsafe fn run_case(test: *mut bindings::kunit, name: &str, case: fn() -> Result<(), Error>) {
    if let Err(e) = case() {
        crate::kunit::err(format_args!("    # {}: failed with {:?}\n", name, e));
        // SAFETY: `test` is the running case's context (caller's guarantee); KUnit reads `status`
        // after the case returns (C `kunit_mark_failed`).
        unsafe {
            core::ptr::write_volatile(
                &raw mut (*test).status,
                bindings::kunit_status_KUNIT_FAILURE,
            )
        };
    }
}

/// Registers a suite `$name` of unsafe C cases (mainline's macro).
///
/// Unlike mainline's, an invocation must start with the word `unsafe`
/// (`kunit_unsafe_test_suite!(unsafe name, CASES)`): the macro has a safety
/// contract that the compiler cannot check, and a driver without `unsafe`
/// must not be able to call it (a case array without its terminator makes
/// KUnit walk past it and call a wild pointer at module load; the `unsafe`
/// blocks of the expansion belong to the `kernel` crate, where
/// `forbid(unsafe_code)` does not see them). Drivers use [`kunit_suite!`](crate::kunit_suite),
/// which builds the terminated array itself.
///
/// # Safety
///
/// `$test_cases` is a `static mut` array of [`kunit_case`]s ended by
/// [`kunit_case_null`], used only by KUnit.
#[macro_export]
macro_rules! kunit_unsafe_test_suite {
    (unsafe $name:ident, $test_cases:ident) => {
        const _: () = {
            static mut KUNIT_TEST_SUITE: $crate::bindings::kunit_suite =
                $crate::bindings::kunit_suite {
                    name: $crate::kunit::suite_name(::core::stringify!($name)),
                    // SAFETY: Only the address of the array is taken.
                    test_cases: unsafe { (&raw mut $test_cases).cast() },
                    suite_init: None,
                    suite_exit: None,
                    init: None,
                    exit: None,
                    attr: $crate::bindings::kunit_attributes {
                        speed: $crate::bindings::kunit_speed_KUNIT_SPEED_NORMAL,
                    },
                    status_comment: [0; 256],
                    debugfs: ::core::ptr::null_mut(),
                    log: ::core::ptr::null_mut(),
                    suite_init_err: 0,
                    is_init: false,
                };

            #[used]
            #[link_section = ".kunit_test_suites"]
            static mut KUNIT_TEST_SUITE_ENTRY: *const $crate::bindings::kunit_suite =
                // SAFETY: Only the address of the suite is taken; KUnit owns the suite from here.
                unsafe { &raw const KUNIT_TEST_SUITE };
        };
    };
}

/// Declares a KUnit suite `$name` whose cases are safe functions
/// `fn() -> Result`; KUnit runs them when the module is loaded.
///
/// ```ignore
/// fn adds() -> Result {
///     if 1 + 1 == 2 { Ok(()) } else { Err(EINVAL) }
/// }
/// kernel::kunit_suite!(my_suite, [adds]);
/// ```
#[macro_export]
macro_rules! kunit_suite {
    ($name:ident, [$($case:ident),+ $(,)?]) => {
        #[doc(hidden)]
        mod $name {
            $(
                unsafe extern "C" fn $case(test: *mut $crate::bindings::kunit) {
                    // SAFETY: KUnit calls the case with its running context.
                    unsafe {
                        $crate::kunit::run_case(test, ::core::stringify!($case), super::$case)
                    }
                }
            )+

            const COUNT: usize = [$(::core::stringify!($case)),+].len() + 1;
            static mut CASES: [$crate::bindings::kunit_case; COUNT] = [
                $($crate::kunit::kunit_case($crate::c_str!(::core::stringify!($case)), $case),)+
                $crate::kunit::kunit_case_null(),
            ];

            // SAFETY: `CASES` is the `static mut` array built above, ended by `kunit_case_null()`,
            // used only by KUnit.
            $crate::kunit_unsafe_test_suite!(unsafe $name, CASES);
        }
    };
}

/// A slot for state a module shares with its test cases (which take no
/// arguments): set when the state exists, taken when it goes away.
///
/// # Invariants
///
/// `slot` is accessed only while `busy` is held (set by this thread).
pub struct Fixture<T: Send + Sync> {
    busy: AtomicBool,
    slot: UnsafeCell<Option<Arc<T>>>,
}

// SAFETY: The slot is accessed under the `busy` lock only; it holds `Arc<T>` with `T: Send + Sync`.
unsafe impl<T: Send + Sync> Sync for Fixture<T> {}

impl<T: Send + Sync> Fixture<T> {
    /// An empty slot.
    pub const fn new() -> Self {
        Self {
            busy: AtomicBool::new(false),
            slot: UnsafeCell::new(None),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Option<Arc<T>>) -> R) -> R {
        while self
            .busy
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        // SAFETY: We hold `busy`, so this is the only access to the slot; `f` cannot re-enter (it
        // gets no `&self`).
        let r = f(unsafe { &mut *self.slot.get() });
        self.busy.store(false, Ordering::Release);
        r
    }

    /// Puts `value` in the slot, returning what was there.
    pub fn set(&self, value: Arc<T>) -> Option<Arc<T>> {
        self.with(|s| s.replace(value))
    }

    /// A reference to the value, if set.
    pub fn get(&self) -> Option<Arc<T>> {
        self.with(|s| s.clone())
    }

    /// Empties the slot. The value is dropped outside the lock.
    pub fn take(&self) -> Option<Arc<T>> {
        self.with(|s| s.take())
    }
}

impl<T: Send + Sync> Default for Fixture<T> {
    fn default() -> Self {
        Self::new()
    }
}
