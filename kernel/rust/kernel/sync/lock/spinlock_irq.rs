// SPDX-License-Identifier: GPL-2.0

//! A spinlock that also disables local interrupts while held.
//!
//! C header: [`include/linux/spinlock.h`](srctree/include/linux/spinlock.h)

use macros::pin_data;

/// Creates a [`SpinLockIrq`] initialiser with the given name and a
/// newly-created lock class.
#[macro_export]
macro_rules! new_spinlock_irq {
    ($inner:expr $(, $name:literal)? $(,)?) => {
        $crate::sync::SpinLockIrq::new(
            $inner, $crate::optional_name!($($name)?), $crate::static_lock_class!())
    };
}
pub use new_spinlock_irq;

/// A spinlock taken with `spin_lock_irqsave`: for data shared with an
/// interrupt handler.
///
/// A plain [`super::spinlock::SpinLock`] taken both by a thread and by an
/// interrupt handler deadlocks when the interrupt arrives on the CPU holding
/// it (lockdep reports the pattern as an inconsistent lock state). This lock
/// keeps interrupts off while held and restores their previous state on
/// unlock, so it may be taken from any context.
///
/// It is held only inside [`SpinLockIrq::lock_with`]: each unlock restores
/// the interrupt state its lock saved, so guards released out of order
/// would turn interrupts back on while a lock is still held, and a forgotten
/// guard would leave them off for good. Closures nest, so locks are released
/// in the reverse order they were taken.
///
/// # Examples
///
/// ```
/// use kernel::sync::{new_spinlock_irq, SpinLockIrq};
///
/// let counter = KBox::pin_init(new_spinlock_irq!(0u32), GFP_KERNEL)?;
/// counter.lock_with(|c| *c += 1);
/// assert_eq!(counter.lock_with(|c| *c), 1);
/// # Ok::<(), Error>(())
/// ```
#[pin_data]
pub struct SpinLockIrq<T> {
    #[pin]
    inner: super::Lock<T, SpinLockIrqBackend>,
}

impl<T> SpinLockIrq<T> {
    /// A new lock protecting `t`, of lock class `key`.
    pub fn new(
        t: T,
        name: &'static crate::str::CStr,
        key: &'static crate::sync::LockClassKey,
    ) -> impl crate::init::PinInit<Self> {
        crate::pin_init!(Self {
            inner <- super::Lock::new(t, name, key),
        })
    }

    /// Runs `f` with the lock held and local interrupts off.
    pub fn lock_with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut guard = self.inner.lock();
        f(&mut guard)
    }
}

/// A kernel `spinlock_t` backend locked with `spin_lock_irqsave`. Not public:
/// a `Lock` of it would hand out guards that can be dropped out of order.
pub(crate) struct SpinLockIrqBackend;

// SAFETY: The kernel `spinlock_t` ensures mutual exclusion; the guard state is
// the interrupt state `spin_lock_irqsave` saved, which `unlock` restores.
// `relock` uses the default implementation, which saves the state anew.
unsafe impl super::Backend for SpinLockIrqBackend {
    type State = crate::bindings::spinlock_t;
    type GuardState = crate::ffi::c_ulong;

    unsafe fn init(
        ptr: *mut Self::State,
        name: *const crate::ffi::c_char,
        key: *mut crate::bindings::lock_class_key,
    ) {
        // SAFETY: The caller guarantees `ptr` is valid for writes and `name`, `key` valid forever.
        unsafe { crate::bindings::__spin_lock_init(ptr, name, key) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: The caller guarantees `ptr` is a valid, initialised lock.
        unsafe { crate::bindings::dmabridge_spin_lock_irqsave(ptr) }
    }

    unsafe fn unlock(ptr: *mut Self::State, guard_state: &Self::GuardState) {
        // SAFETY: The caller owns the lock, taken by `lock`, which saved `guard_state`.
        unsafe { crate::bindings::spin_unlock_irqrestore(ptr, *guard_state) }
    }
}
