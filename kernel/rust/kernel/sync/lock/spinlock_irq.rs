// SPDX-License-Identifier: GPL-2.0

//! A spinlock that also disables local interrupts while held.
//!
//! C header: [`include/linux/spinlock.h`](srctree/include/linux/spinlock.h)

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
/// # Examples
///
/// ```
/// use kernel::sync::{new_spinlock_irq, SpinLockIrq};
///
/// let counter = KBox::pin_init(new_spinlock_irq!(0u32), GFP_KERNEL)?;
/// *counter.lock() += 1;
/// assert_eq!(*counter.lock(), 1);
/// # Ok::<(), Error>(())
/// ```
pub type SpinLockIrq<T> = super::Lock<T, SpinLockIrqBackend>;

/// A kernel `spinlock_t` backend locked with `spin_lock_irqsave`.
pub struct SpinLockIrqBackend;

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
