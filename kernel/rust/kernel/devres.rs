// SPDX-License-Identifier: GPL-2.0

//! Device-managed resources.
//!
//! C header: [`include/linux/device.h`](srctree/include/linux/device.h)
//!
//! A [`Devres`] ties a resource to the binding of a device to its driver: the
//! resource is released when the driver drops the `Devres`, or when the device
//! is unbound, whichever comes first. After that, access fails with `ENXIO`.

use crate::{
    alloc::{flags::GFP_KERNEL, Flags, KBox},
    bindings,
    device::{Bound, Device},
    driver::BoundDevice,
    error::{to_result, Error, Result},
    init::{pin_init_from_closure, InPlaceInit, PinInit},
    revocable::{Revocable, RevocableGuard},
    sync::Arc,
};
use core::{ffi::c_void, marker::PhantomPinned, pin::Pin};

/// A resource that lives at most as long as its device's binding.
///
/// # Examples
///
/// It needs a bound device, so the doctest only builds it (nothing runs);
/// the driver tests (`drivers/dma_test`, `drivers/pci_test`) make these calls on QEMU's edu.
///
/// As in mainline, [`Devres::new`] returns an initialiser, for a pinned
/// place (a field of a driver's pinned data, or a box of its own).
///
/// ```
/// # use kernel::{device::{Bound, Device}, devres::Devres, prelude::*};
/// fn keep_counter(dev: &Device<Bound>) -> Result<Pin<KBox<Devres<u32>>>> {
///     let d = KBox::pin_init(Devres::new(dev, 7u32), GFP_KERNEL)?;
///     let _next = d.try_access_with(|v| *v + 1).ok_or(ENXIO)?;
///     Ok(d)
/// }
/// ```
///
/// # Invariants
///
/// `inner` was registered with `devm_add_action` on a bound device, with one
/// reference of the `Arc` owned by that action; the action revokes the resource.
/// The resource never moves: it was initialised in the `Arc`'s allocation.
pub struct Devres<T: Send + Sync + 'static> {
    inner: Arc<Revocable<T>>,
    /// `!Unpin` as in mainline, where the resource lives inside the `Devres`:
    /// a driver that moves a pinned `Devres` would not build there.
    _pin: PhantomPinned,
}

impl<T: Send + Sync + 'static> Devres<T> {
    /// Ties the resource `data` initialises to `dev`'s binding.
    pub fn new<'a, E>(
        dev: &'a Device<Bound>,
        data: impl PinInit<T, E> + 'a,
    ) -> impl PinInit<Self, Error> + 'a
    where
        Error: From<E>,
    {
        let init = move |slot: *mut Self| {
            crate::lifetime::need_bus_callback("devres")?;
            // An `Arc` is pinned: it never moves its contents.
            let inner = Arc::pin_init(Revocable::pin_init(data), GFP_KERNEL)?;
            let this = Self::register(dev, inner)?;
            // SAFETY: `slot` is valid for writes (the closure's contract).
            unsafe { slot.write(this) };
            Ok(())
        };
        // SAFETY: On `Ok`, `*slot` was written; on `Err` nothing was (the
        // `Arc`, if any, was dropped here).
        unsafe { pin_init_from_closure(init) }
    }

    /// Ties `data` to `dev`'s binding, by value: for bindings that return a
    /// `Devres` of their own (such as [`crate::pci::Device::bus_master`]).
    pub(crate) fn new_value(dev: &(impl BoundDevice + ?Sized), data: T) -> Result<Self> {
        crate::lifetime::need_bus_callback("devres")?;
        Self::register(dev, Arc::new(Revocable::new(data), GFP_KERNEL)?)
    }

    fn register(dev: &(impl BoundDevice + ?Sized), inner: Arc<Revocable<T>>) -> Result<Self> {
        let action = Arc::into_raw(inner.clone());
        // SAFETY: The callback takes back the `Arc` reference exactly once, at unbind.
        let ret = unsafe { add_action(dev, Self::devres_callback, action as *mut c_void) };
        if let Err(e) = ret {
            // SAFETY: The action was not registered, so the reference is ours.
            drop(unsafe { Arc::from_raw(action) });
            return Err(e);
        }
        // INVARIANT: The action was registered with one `Arc` reference.
        Ok(Self {
            inner,
            _pin: PhantomPinned,
        })
    }

    /// # Safety
    ///
    /// Called by devres, once, with the pointer `new` registered.
    unsafe extern "C" fn devres_callback(ptr: *mut c_void) {
        // SAFETY: `ptr` is the `Arc` reference `new` gave to the action, and devres calls each
        // action exactly once.
        let inner = unsafe { Arc::from_raw(ptr as *const Revocable<T>) };
        // Devres releases run under the device lock, like remove: the
        // resource's drop (driver code) must not register drivers there.
        crate::lifetime::as_callback(crate::lifetime::Callback::Device, || inner.revoke());
    }

    /// Accesses the resource, or `None` once the device was unbound.
    ///
    /// The guard may be held across sleeps: unbind waits for it before it
    /// releases the resource, up to 10 s (then the resource is leaked, with
    /// a log line, rather than released under the guard). Keep it short.
    pub fn try_access(&self) -> Option<RevocableGuard<'_, T>> {
        self.inner.try_access()
    }

    /// Runs `f` on the resource, or returns `None` once the device was
    /// unbound (drivers answer that with `ENXIO`: `.ok_or(ENXIO)?`). `f` may
    /// sleep (see [`Devres::try_access`]).
    pub fn try_access_with<R>(&self, f: impl FnOnce(&T) -> R) -> Option<R> {
        self.inner.try_access_with(f)
    }

    /// Releases the resource now (or waits for unbind's release of it);
    /// returns whether it is gone. Process context: in atomic context nothing
    /// is released and it returns false.
    pub(crate) fn release(&self) -> bool {
        self.inner.revoke();
        self.inner.is_revoked()
    }

    /// Whether the device is still bound (it may be unbound right after).
    pub fn is_available(&self) -> bool {
        self.inner.is_available()
    }
}

impl<T: Send + Sync + 'static> Drop for Devres<T> {
    fn drop(&mut self) {
        // Release the resource now (from a workqueue where sleeping is not
        // allowed); the devres action frees the rest at unbind.
        let inner = self.inner.clone();
        let release = move || {
            inner.revoke();
        };
        if crate::lifetime::in_callback(crate::lifetime::Callback::IrqThread) {
            // Unbind may be revoking this resource while it waits for this
            // thread (`free_irq`); the revocation here would wait for unbind.
            crate::lifetime::defer("devres", "in an interrupt thread", release);
        } else {
            crate::lifetime::release_sleepable("devres", release);
        }
    }
}

/// Keeps the data `data` initialises until `dev` is unbound, then drops it
/// (as mainline's `devres::register`): for what must live exactly as long as
/// the binding and is never accessed again, such as a registration.
///
/// `data` is dropped at unbind, under the device lock, like the driver's own
/// data: its `Drop` must not register or unregister drivers.
pub fn register<T: Send + 'static, E>(
    dev: &Device<Bound>,
    data: impl PinInit<T, E>,
    flags: Flags,
) -> Result
where
    Error: From<E>,
{
    crate::lifetime::need_bus_callback("devres")?;
    let data = KBox::pin_init(data, flags)?;
    // SAFETY: The box is never moved out of: the action drops it whole.
    let ptr = KBox::into_raw(unsafe { Pin::into_inner_unchecked(data) });
    // SAFETY: `drop_callback::<T>` takes the box back once; until then no one
    // else has the pointer.
    unsafe { add_action_or_reset(dev, drop_callback::<T>, ptr.cast()) }
}

/// # Safety
///
/// Called by devres (or `add_action_or_reset`) once, with the pointer of a
/// `KBox<T>` that `register` gave up.
unsafe extern "C" fn drop_callback<T: Send + 'static>(ptr: *mut c_void) {
    // SAFETY: The caller's guarantee.
    let data = unsafe { KBox::from_raw(ptr.cast::<T>()) };
    crate::lifetime::as_callback(crate::lifetime::Callback::Device, || drop(data));
}

/// An initialiser that writes the value `f` returns (or fails with its error):
/// for resources made by value, given where an initialiser is expected.
pub(crate) fn init_value<T>(f: impl FnOnce() -> Result<T>) -> impl PinInit<T, Error> {
    let init = move |slot: *mut T| {
        let value = f()?;
        // SAFETY: `slot` is valid for writes (the closure's contract).
        unsafe { slot.write(value) };
        Ok(())
    };
    // SAFETY: On `Ok`, `*slot` was written; on `Err` it was not touched. The
    // value was never pinned before it was written.
    unsafe { pin_init_from_closure(init) }
}

/// Runs `f(data)` when `dev` is unbound.
///
/// # Safety
///
/// `f` must be sound to call with `data` at any time until the device is
/// unbound, from the unbinding thread.
pub(crate) unsafe fn add_action(
    dev: &(impl BoundDevice + ?Sized),
    f: unsafe extern "C" fn(*mut c_void),
    data: *mut c_void,
) -> Result {
    // An action added while unbind releases the binding's resources would
    // outlive the binding (and the module).
    crate::lifetime::need_bus_callback("devres")?;
    // SAFETY: The device is bound; the caller guarantees `f(data)` is sound.
    to_result(unsafe { bindings::devm_add_action(dev.as_raw_bound(), Some(f), data) })
}

/// Runs `f(data)` when `dev` is unbound; if that cannot be arranged, runs it now
/// and returns the error (like C's `devm_add_action_or_reset`).
///
/// # Safety
///
/// `f` must be sound to call with `data` at any time until the device is
/// unbound, from the unbinding thread or from the caller.
pub(crate) unsafe fn add_action_or_reset(
    dev: &(impl BoundDevice + ?Sized),
    f: unsafe extern "C" fn(*mut c_void),
    data: *mut c_void,
) -> Result {
    // SAFETY: The caller guarantees `f(data)` is sound until unbind.
    let r = unsafe { add_action(dev, f, data) };
    if r.is_err() {
        // SAFETY: The action was not registered; the caller guarantees `f(data)` is sound now.
        unsafe { f(data) };
    }
    r
}
