// SPDX-License-Identifier: GPL-2.0

//! RCU read-side critical sections.
//!
//! C header: [`include/linux/rcupdate.h`](srctree/include/linux/rcupdate.h)

use crate::bindings;
use core::marker::PhantomData;

/// An RCU read-side critical section, held for the lifetime of the guard.
///
/// The guard cannot be sent to another thread: the critical section belongs to
/// the CPU context that entered it.
#[must_use = "the RCU read-side critical section ends when the guard is dropped"]
pub struct Guard(PhantomData<*mut ()>);

impl Guard {
    /// Enters an RCU read-side critical section.
    #[inline]
    pub fn new() -> Self {
        // SAFETY: `rcu_read_lock` may be called from any context; the matching unlock happens in `Drop`.
        unsafe { bindings::rcu_read_lock() };
        Self(PhantomData)
    }

    /// Leaves the critical section.
    #[inline]
    pub fn unlock(self) {}
}

impl Default for Guard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: A `Guard` exists only between `rcu_read_lock` in `new` and this call, on the same thread (it is not `Send`).
        unsafe { bindings::rcu_read_unlock() };
    }
}

/// Enters an RCU read-side critical section.
#[inline]
pub fn read_lock() -> Guard {
    Guard::new()
}

/// Waits until every RCU read-side critical section that started before the
/// call has ended. Sleeps: only for process context.
#[inline]
pub fn synchronize_rcu() {
    // SAFETY: `synchronize_rcu` has no preconditions beyond process context, which every caller of a safe, sleeping function is in.
    unsafe { bindings::synchronize_rcu() };
}
