// SPDX-License-Identifier: GPL-2.0

//! RCU read-side critical sections.
//!
//! C header: [`include/linux/rcupdate.h`](srctree/include/linux/rcupdate.h)

use crate::bindings;
use core::marker::PhantomData;

/// An RCU read-side critical section, held for the lifetime of the guard.
///
/// The guard cannot be sent to another thread: the critical section belongs to
/// the CPU context that entered it. It exists only inside [`read_lock_with`]:
/// a guard that could be leaked (`mem::forget` is safe) would never end its
/// critical section, and every `synchronize_rcu` in the system would wait
/// forever.
///
/// No safe API of the bindings lets memory depend on an RCU grace period, so
/// sleeping inside the section (which the checkers report) cannot free memory
/// under its reader.
#[must_use = "the RCU read-side critical section ends when the guard is dropped"]
pub struct Guard(PhantomData<*mut ()>);

impl Guard {
    /// Enters an RCU read-side critical section.
    #[inline]
    fn new() -> Self {
        // SAFETY: `rcu_read_lock` may be called from any context; the matching unlock happens in
        // `Drop`.
        unsafe { bindings::rcu_read_lock() };
        Self(PhantomData)
    }
}

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: A `Guard` exists only between `rcu_read_lock` in `new` and this call, on the same
        // thread (it is not `Send`).
        unsafe { bindings::rcu_read_unlock() };
    }
}

/// Runs `f` inside an RCU read-side critical section, which ends when `f`
/// returns.
///
/// # Examples
///
/// ```
/// use kernel::sync::rcu;
///
/// assert_eq!(rcu::read_lock_with(|_guard| 2 + 2), 4);
/// ```
#[inline]
pub fn read_lock_with<R>(f: impl FnOnce(&Guard) -> R) -> R {
    let guard = Guard::new();
    f(&guard)
}

/// Waits until every RCU read-side critical section that started before the
/// call has ended. Sleeps: only for process context.
#[inline]
pub fn synchronize_rcu() {
    // SAFETY: `synchronize_rcu` has no preconditions beyond process context, which every caller of
    // a safe, sleeping function is in.
    unsafe { bindings::synchronize_rcu() };
}
