// SPDX-License-Identifier: GPL-2.0

//! Revocable objects.
//!
//! A [`Revocable`] wraps an object that is taken away (dropped) at a point its
//! users do not choose, typically when a device is unbound from its driver.
//! Users reach the object only through [`Revocable::try_access`], which fails
//! once the object is revoked, so no user ever sees freed state.

use crate::{
    bindings,
    init::PinInit,
    lifetime::{may_sleep, wait_bounded},
};
use core::cell::UnsafeCell;
use core::mem::ManuallyDrop;
use core::ops::Deref;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

/// Set in [`Revocable::state`] once revocation started: no new users.
const REVOKING: usize = 1 << (usize::BITS - 1);

/// An object that can be revoked.
///
/// Each access counts as a user for as long as its guard lives; revocation
/// stops new accesses, waits for the users to end and then drops the object.
/// A guard may be held across sleeps, and may be leaked (`mem::forget`):
/// revocation waits at most 10 s (less when the same task already gave up on
/// another wait: see `lifetime::wait_bounded`), then leaves the object, with
/// a log line,
/// instead of dropping it under a user; it is dropped with the `Revocable`.
/// Nothing else waits on a guard, so a leaked one cannot stall the rest of
/// the system.
///
/// # Invariants
///
/// - The low bits of `state` count the live [`RevocableGuard`]s; the
///   [`REVOKING`] bit, once set, is never cleared, and no guard is created
///   after it was seen set.
/// - `data` holds a valid `T` until it is dropped, once: by the one caller
///   that set `dropping`, only once the user count was zero with
///   [`REVOKING`] set (then `dropped` is set), or by `drop`.
/// - `revoker` is the dropping task while it drops `data`; then null.
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
/// assert!(r.is_revoked());
/// ```
pub struct Revocable<T> {
    state: AtomicUsize,
    /// Set by the one caller that drops (or leaks) the object.
    dropping: AtomicBool,
    /// Set once the object was dropped.
    dropped: AtomicBool,
    /// Set once the object was leaked (its users did not end in time).
    leaked: AtomicBool,
    /// The task dropping the object, until it has; then null.
    revoker: AtomicPtr<bindings::task_struct>,
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
        // INVARIANT: No users, not revoking; `data` is valid.
        Self {
            state: AtomicUsize::new(0),
            dropping: AtomicBool::new(false),
            dropped: AtomicBool::new(false),
            leaked: AtomicBool::new(false),
            revoker: AtomicPtr::new(core::ptr::null_mut()),
            data: UnsafeCell::new(ManuallyDrop::new(data)),
        }
    }

    /// Creates a new, available revocable object, initialising it in place.
    pub fn pin_init<E>(data: impl PinInit<T, E>) -> impl PinInit<Self, E> {
        let init = move |slot: *mut Self| {
            // SAFETY: `slot` is valid for writes (the closure's contract). `data`
            // is `UnsafeCell<ManuallyDrop<T>>`, both transparent wrappers, so
            // its address is the `T`'s; on failure `__pinned_init` left nothing
            // to drop, and no other field was written yet.
            unsafe { data.__pinned_init(core::ptr::addr_of_mut!((*slot).data).cast::<T>())? };
            // SAFETY: As above, each field is written once. INVARIANT: No
            // users, not revoking; `data` is valid.
            unsafe {
                core::ptr::addr_of_mut!((*slot).state).write(AtomicUsize::new(0));
                core::ptr::addr_of_mut!((*slot).dropping).write(AtomicBool::new(false));
                core::ptr::addr_of_mut!((*slot).dropped).write(AtomicBool::new(false));
                core::ptr::addr_of_mut!((*slot).leaked).write(AtomicBool::new(false));
                core::ptr::addr_of_mut!((*slot).revoker)
                    .write(AtomicPtr::new(core::ptr::null_mut()));
            }
            Ok(())
        };
        // SAFETY: On `Ok` every field of `*slot` is initialised (above); on
        // `Err` nothing is, and nothing needs dropping. Pinning: the `T` is
        // never moved out of `data` (it is dropped in place or with `Self`),
        // and `Self` is `!Unpin` whenever `T` is.
        unsafe { crate::init::pin_init_from_closure(init) }
    }

    /// Tries to access the object.
    ///
    /// Returns a guard that derefs to the object, or `None` once revocation
    /// started. The object is not dropped while the guard lives (revocation
    /// waits for it, up to 10 s, then leaves the object to be dropped with the
    /// `Revocable`).
    #[inline]
    pub fn try_access(&self) -> Option<RevocableGuard<'_, T>> {
        // Once revocation started, failed attempts do not touch the count
        // (a spinning caller would keep the revoker's wait from seeing zero).
        if !self.is_available() {
            return None;
        }
        let prev = self.state.fetch_add(1, Ordering::Acquire);
        if prev & REVOKING != 0 {
            self.state.fetch_sub(1, Ordering::Release);
            return None;
        }
        // INVARIANT: Counted as a user before `REVOKING` was set, so the
        // object is not dropped until the guard ends.
        Some(RevocableGuard { rev: self })
    }

    /// Runs `f` on the object; `None` once revocation started.
    #[inline]
    pub fn try_access_with<R>(&self, f: impl FnOnce(&T) -> R) -> Option<R> {
        self.try_access().map(|g| f(&g))
    }

    /// Revokes the object: stops new accesses, waits for current users to
    /// end, then drops it.
    ///
    /// Returns true for the caller that dropped the object. Revocation sleeps
    /// while it waits: in a context that cannot sleep (an interrupt handler,
    /// interrupts off) it only stops new accesses and returns false; the
    /// object is dropped by a later revocation from process context, or with
    /// the `Revocable` itself. Users that do not end within 10 s (a leaked
    /// guard) make it leak the object, with a log line.
    ///
    /// A caller that did not drop the object waits, where it may sleep, until
    /// the dropping caller is done, except from inside the object's own drop
    /// (the dropping task: an `Arc` cycle, or a shared handler that `free_irq`
    /// calls once more). [`Revocable::is_revoked`] then tells whether the
    /// object is gone; a caller that frees what the object guards must leak
    /// it instead when it is not (see `irq::Registration`).
    pub fn revoke(&self) -> bool {
        let data = self.data.get();
        let control = Control {
            state: &self.state,
            dropping: &self.dropping,
            dropped: &self.dropped,
            leaked: &self.leaked,
            revoker: &self.revoker,
        };
        revoke(control, &mut || {
            // SAFETY: `revoke` calls this at most once, and only after this caller set `dropping`
            // (so it is the only caller dropping) and saw the user count zero with `REVOKING` set,
            // so no guard exists or can be created (invariant): nobody reaches `data` any more.
            unsafe { ManuallyDrop::drop(&mut *data) }
        })
    }

    /// Whether a revocation has dropped the object.
    pub fn is_revoked(&self) -> bool {
        self.dropped.load(Ordering::Acquire)
    }

    /// Whether the object is still available (it may be revoked right after).
    pub fn is_available(&self) -> bool {
        self.state.load(Ordering::Relaxed) & REVOKING == 0
    }
}

/// The fields of a [`Revocable`] that do not depend on its type.
struct Control<'a> {
    state: &'a AtomicUsize,
    dropping: &'a AtomicBool,
    dropped: &'a AtomicBool,
    leaked: &'a AtomicBool,
    revoker: &'a AtomicPtr<bindings::task_struct>,
}

/// [`Revocable::revoke`], compiled once: `drop_data` drops the object. It is
/// called at most once, by the caller that sets `dropping`, and only once
/// the user count is zero with [`REVOKING`] set.
fn revoke(c: Control<'_>, drop_data: &mut dyn FnMut()) -> bool {
    c.state.fetch_or(REVOKING, Ordering::AcqRel);
    if !may_sleep() {
        return false;
    }
    // SAFETY: `get_current` only reads the current task pointer.
    let me = unsafe { bindings::get_current() };
    if !c.dropping.swap(true, Ordering::AcqRel) {
        if !wait_bounded(|| c.state.load(Ordering::Acquire) == REVOKING) {
            crate::pr_err!(
                "revocable: users still hold the object after a bounded wait \
                 (a leaked or long-held guard); not dropping it now\n"
            );
            c.leaked.store(true, Ordering::Release);
            return false;
        }
        c.revoker.store(me, Ordering::Relaxed);
        drop_data();
        c.revoker.store(core::ptr::null_mut(), Ordering::Relaxed);
        c.dropped.store(true, Ordering::Release);
        return true;
    }
    // Another caller drops the object: wait until it is done (its own wait
    // for users is bounded; the drop itself is the object's), except inside
    // that drop itself (`revoker == me`). Not bounded: a caller that frees
    // what the object guards (unbind's next devres actions, e.g. the IRQ
    // vectors after `free_irq`) must not run before it.
    let mut waited_ms = 0u32;
    while !(c.dropped.load(Ordering::Acquire)
        || c.leaked.load(Ordering::Acquire)
        || c.revoker.load(Ordering::Relaxed) == me)
    {
        if waited_ms > 0 && waited_ms % 10_000 == 0 {
            crate::pr_warn!("revocable: still waiting for another revocation to drop the object\n");
        }
        crate::delay::msleep(10);
        waited_ms += 10;
    }
    false
}

impl<T> Drop for Revocable<T> {
    fn drop(&mut self) {
        // With `&mut self` no guard is alive: guards borrow `self`, and a
        // leaked guard's borrow has ended (its count stays, its access
        // cannot). So an object a timed-out revocation left is dropped now.
        if !*self.dropped.get_mut() {
            // SAFETY: Not dropped yet, and nobody can reach it: valid, dropped exactly once here.
            unsafe { ManuallyDrop::drop(self.data.get_mut()) };
        }
    }
}

/// A guard giving access to a revocable object that was available.
///
/// While the guard exists the object is not dropped: revocation waits for it.
///
/// # Invariants
///
/// The guard is counted in `rev`'s user count.
pub struct RevocableGuard<'a, T> {
    rev: &'a Revocable<T>,
}

impl<T> Deref for RevocableGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: The guard is a counted user (invariant), so `data` is valid and not dropped while
        // it lives.
        unsafe { &*self.rev.data.get() }
    }
}

impl<T> Drop for RevocableGuard<'_, T> {
    fn drop(&mut self) {
        self.rev.state.fetch_sub(1, Ordering::Release);
    }
}
