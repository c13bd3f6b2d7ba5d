// SPDX-License-Identifier: GPL-2.0

//! Generic driver support: driver registration, and the proof that a device
//! is bound ([`BoundDevice`]). The device contexts are in [`crate::device`].
//!
//! C header: [`include/linux/device/driver.h`](srctree/include/linux/device/driver.h)

use crate::{
    bindings,
    device::{self, Bound, Core},
    error::{
        code::{EDEADLK, EINVAL},
        Result,
    },
    lifetime::{in_lock_holding_callback, Tracked, Unregister},
    str::CStr,
    sync::Arc,
    types::Opaque,
    ThisModule,
};
use core::pin::Pin;

/// Refuses a name that cannot name a node in sysfs or procfs (empty, `.`,
/// `..`, or with a `/`): `EINVAL` and a log line naming `what`.
pub(crate) fn check_name(name: &CStr, what: &str) -> Result {
    let b = name.as_bytes();
    if b.is_empty() || b == b"." || b == b".." || b.contains(&b'/') {
        crate::pr_err!(
            "{}: the name {:?} cannot name a node; refused\n",
            what,
            name
        );
        return Err(EINVAL);
    }
    Ok(())
}

/// A device reference that proves the device is bound to its driver.
///
/// # Safety
///
/// Implementers guarantee that [`BoundDevice::as_raw_bound`] returns a valid
/// `struct device` that is bound to a driver for the lifetime of `&self`.
pub unsafe trait BoundDevice {
    /// The bound `struct device`.
    fn as_raw_bound(&self) -> *mut bindings::device;
}

// SAFETY: A `device::Device<Bound>` is bound to its driver for the reference's
// lifetime (type invariant).
unsafe impl BoundDevice for device::Device<Bound> {
    fn as_raw_bound(&self) -> *mut bindings::device {
        self.as_raw()
    }
}

// SAFETY: A `device::Device<Core>` is bound to its driver for the reference's
// lifetime (type invariant).
unsafe impl BoundDevice for device::Device<Core> {
    fn as_raw_bound(&self) -> *mut bindings::device {
        self.as_raw()
    }
}

/// The operations a bus provides to register a driver of that bus.
///
/// # Safety
///
/// `register` must leave `reg` registered until `unregister` is called on it,
/// and a successful `register` must be matched by exactly one `unregister`.
pub unsafe trait RegistrationOps {
    /// The C driver structure of the bus (e.g. `struct pci_driver`).
    type RegType: Default;

    /// Registers the driver.
    ///
    /// # Safety
    ///
    /// `reg` must be pinned and not registered, and stay pinned until
    /// `unregister`.
    unsafe fn register(
        reg: &Opaque<Self::RegType>,
        name: &'static CStr,
        module: &'static ThisModule,
    ) -> Result;

    /// Unregisters the driver.
    ///
    /// # Safety
    ///
    /// `reg` must have been registered by [`RegistrationOps::register`].
    unsafe fn unregister(reg: &Opaque<Self::RegType>);
}

/// A registered driver: registered while this object lives, and at most until
/// its module is unloaded.
///
/// Registering from a bus callback (probe, remove) or a misc open fails with
/// `EDEADLK`: those hold a lock that registration takes. Dropped there, it is
/// unregistered from a workqueue.
///
/// A leaked registration (`mem::forget`, an `Arc` cycle) would keep the bus
/// pointing at the module's probe and remove functions after `rmmod`: the
/// registration is also ended when the module goes away (see
/// [`crate::lifetime`]), with a log line.
///
/// # Invariants
///
/// `inner` holds a `RegType` that was registered with the bus by `new`.
pub struct Registration<T: RegistrationOps + 'static> {
    inner: Arc<Tracked<DriverReg<T>>>,
}

/// The C driver structure, pinned in the shared allocation.
struct DriverReg<T: RegistrationOps> {
    reg: Opaque<T::RegType>,
    name: &'static CStr,
}

// SAFETY: The C driver core serialises its own accesses to the registered
// structure; unregistering from any thread is allowed.
unsafe impl<T: RegistrationOps> Send for DriverReg<T> {}
// SAFETY: `&DriverReg` exposes nothing but the pinned C structure.
unsafe impl<T: RegistrationOps> Sync for DriverReg<T> {}

impl<T: RegistrationOps> Unregister for DriverReg<T> {
    fn name(&self) -> &CStr {
        self.name
    }

    unsafe fn unregister(&self) {
        // SAFETY: Registered by `Registration::new` and ended once (caller's guarantee).
        unsafe { T::unregister(&self.reg) };
    }
}

impl<T: RegistrationOps + 'static> Registration<T> {
    /// Registers a driver named `name` owned by `module`.
    pub fn new(
        name: &'static CStr,
        module: &'static ThisModule,
    ) -> Result<Pin<crate::alloc::KBox<Self>>> {
        crate::lifetime::need_sleepable(name)?;
        // The name is a directory of the bus's drivers in sysfs.
        check_name(name, "driver")?;
        if in_lock_holding_callback() {
            // Registering attaches matching devices under their device lock
            // (held here if the device is the one being probed, or by an
            // unbind waiting for this IRQ thread) and may probe one that
            // registers a misc device (the misc lock is held here).
            crate::pr_err!(
                "driver {}: registered from a probe, remove, misc open or IRQ thread \
                 callback, which holds (or is waited for under) a lock registration \
                 takes; refused\n",
                name
            );
            return Err(EDEADLK);
        }
        let inner = Tracked::new(DriverReg::<T> {
            reg: Opaque::new(T::RegType::default()),
            name,
        })?;
        // SAFETY: `reg` is pinned in the `Arc` and not yet registered; it stays there until
        // unregistered (the `Arc` lives until then).
        if let Err(e) = unsafe { T::register(&inner.get().reg, name, module) } {
            // A failed registration (e.g. `EBUSY` for a name in use) is not
            // unregistered: `Tracked` only unregisters what it recorded.
            crate::pr_err!("driver {}: registration failed: {:?}\n", name, e);
            return Err(e);
        }
        Tracked::registered(&inner, module.as_ptr())?;
        // INVARIANT: Registered above.
        // A failed allocation drops the handle, which unregisters.
        Ok(crate::alloc::KBox::pin(
            Self { inner },
            crate::alloc::flags::GFP_KERNEL,
        )?)
    }
}

impl<T: RegistrationOps + 'static> Drop for Registration<T> {
    fn drop(&mut self) {
        let inner = self.inner.clone();
        let release = move || Tracked::release(&inner);
        if in_lock_holding_callback() {
            // Unregistering detaches devices under their device lock.
            crate::lifetime::defer(
                "driver registration",
                "in a driver or misc open callback",
                release,
            );
        } else {
            crate::lifetime::release_sleepable("driver registration", release);
        }
    }
}
