// SPDX-License-Identifier: GPL-2.0

//! Revocable objects.
//!
//! A [`Revocable`] wraps an object that is taken away (dropped) at a point its
//! users do not choose, typically when a device is unbound from its driver.
//! Users reach the object only through [`Revocable::try_access`], which fails
//! once the object is revoked, so no user ever sees freed state.

use crate::{bindings, sync::rcu};
use core::cell::UnsafeCell;
use core::mem::ManuallyDrop;
use core::ops::Deref;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

/// An object that can be revoked.
///
/// Access happens inside an RCU read-side critical section; revocation marks
/// the object unavailable, waits for an RCU grace period (so every access that
/// saw it available has ended) and then drops it.
///
/// # Invariants
///
/// - `data` holds a valid `T` while `is_available` is `true`, and for the
///   duration of any RCU read-side critical section that observed
///   `is_available == true`.
/// - Once `is_available` is `false` it never becomes `true` again, and `data`
///   has been (or is being) dropped.
/// - `revoked` becomes `true` only after `data` was dropped by a revocation;
///   `revoker` is the revoking task while that drop runs.
///
/// # Examples
///
/// ```
/// use kernel::revocable::Revocable;
///
/// let r = Revocable::new(42u32);
/// assert_eq!(r.try_access().map(|v| *v), Some(42));
/// assert!(r.revoke());
/// assert!(r.try_access().is_none());
/// // Revoking twice is harmless and reports that nothing was left to drop.
/// assert!(!r.revoke());
/// ```
pub struct Revocable<T> {
    is_available: AtomicBool,
    /// The task revoking the object, until it has dropped it; then null.
    revoker: AtomicPtr<bindings::task_struct>,
    /// Set once the revocation has dropped the object.
    revoked: AtomicBool,
    data: UnsafeCell<ManuallyDrop<T>>,
}

// SAFETY: `Revocable<T>` owns a `T`; moving it to another thread moves the `T`,
// which is fine when `T: Send`.
unsafe impl<T: Send> Send for Revocable<T> {}

// SAFETY: Shared references give `&T` to any thread (needs `T: Sync`), and
// `revoke` may drop the `T` from any thread (needs `T: Send`).
unsafe impl<T: Send + Sync> Sync for Revocable<T> {}

impl<T> Revocable<T> {
    /// Creates a new, available revocable object.
    pub fn new(data: T) -> Self {
        // INVARIANT: `data` is valid and marked available.
        Self {
            is_available: AtomicBool::new(true),
            revoker: AtomicPtr::new(core::ptr::null_mut()),
            revoked: AtomicBool::new(false),
            data: UnsafeCell::new(ManuallyDrop::new(data)),
        }
    }

    /// Tries to access the object.
    ///
    /// Returns a guard that derefs to the object, or `None` once it has been
    /// revoked. The guard holds an RCU read-side critical section: code holding
    /// it must not sleep.
    #[inline]
    pub fn try_access(&self) -> Option<RevocableGuard<'_, T>> {
        let guard = rcu::read_lock();
        if self.is_available.load(Ordering::Relaxed) {
            // SAFETY: The object is available and we are in an RCU read-side critical section that lasts as long as the returned guard, so by the type invariant it stays valid for the guard's lifetime.
            let data = unsafe { &*self.data.get() };
            Some(RevocableGuard { data, _rcu: guard })
        } else {
            None
        }
    }

    /// Accesses the object inside an RCU critical section the caller holds.
    #[inline]
    pub fn try_access_with_guard<'a>(&'a self, _guard: &'a rcu::Guard) -> Option<&'a T> {
        if self.is_available.load(Ordering::Relaxed) {
            // SAFETY: As in `try_access`; `_guard` proves that an RCU read-side critical section lasts at least for `'a`.
            Some(unsafe { &*self.data.get() })
        } else {
            None
        }
    }

    /// Revokes the object: marks it unavailable, waits for every access that
    /// saw it available to end (an RCU grace period), then drops it.
    ///
    /// Returns true for the caller that dropped the object. Another caller
    /// waits (sleeping) until that drop has finished, so that on return the
    /// object is gone, except where it cannot wait: in interrupt context,
    /// from inside the object's own drop (the revoking task, e.g. an `Arc`
    /// cycle or a shared handler that `free_irq` calls once more), or after
    /// 10 s. [`Revocable::is_revoked`] tells the caller whether the object is
    /// gone; a caller that frees what the object guards must leak it instead
    /// when it is not (see `irq::Registration`).
    ///
    /// The winning caller sleeps (an RCU grace period): process context only.
    pub fn revoke(&self) -> bool {
        // SAFETY: `get_current` only reads the current task pointer.
        let me = unsafe { bindings::get_current() };
        if self.is_available.swap(false, Ordering::Relaxed) {
            self.revoker.store(me, Ordering::Relaxed);
            rcu::synchronize_rcu();
            // SAFETY: We are the only caller that saw `is_available == true` in the swap, and the grace period guarantees that every reader that saw it `true` has left its critical section, so nobody can reach `data` any more and it is dropped exactly once.
            unsafe { ManuallyDrop::drop(&mut *self.data.get()) };
            self.revoker.store(core::ptr::null_mut(), Ordering::Relaxed);
            self.revoked.store(true, Ordering::Release);
            return true;
        }
        let mut waited_ms = 0u32;
        while !self.is_revoked() {
            // SAFETY: `dmabridge_in_task` only reads the preempt count.
            let in_task = unsafe { bindings::dmabridge_in_task() };
            if !in_task || self.revoker.load(Ordering::Relaxed) == me {
                break;
            }
            if waited_ms == 10_000 {
                crate::pr_err!("revocable: a revocation takes over 10 s; not waiting for it\n");
                break;
            }
            crate::delay::msleep(1);
            waited_ms += 1;
        }
        false
    }

    /// Whether a revocation has dropped the object.
    pub fn is_revoked(&self) -> bool {
        self.revoked.load(Ordering::Acquire)
    }

    /// Whether the object is still available (it may be revoked right after).
    pub fn is_available(&self) -> bool {
        self.is_available.load(Ordering::Relaxed)
    }
}

impl<T> Drop for Revocable<T> {
    fn drop(&mut self) {
        if *self.is_available.get_mut() {
            // SAFETY: We have exclusive access and the object was not revoked, so it is valid and dropped exactly once here.
            unsafe { ManuallyDrop::drop(self.data.get_mut()) };
        }
    }
}

/// A guard giving access to a revocable object that was available.
///
/// While the guard exists the object cannot be dropped: it holds an RCU
/// read-side critical section.
pub struct RevocableGuard<'a, T> {
    data: &'a T,
    _rcu: rcu::Guard,
}

impl<T> Deref for RevocableGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.data
    }
}
