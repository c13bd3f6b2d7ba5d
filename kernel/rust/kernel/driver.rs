// SPDX-License-Identifier: GPL-2.0

//! Generic driver support: device contexts and driver registration.
//!
//! C header: [`include/linux/device/driver.h`](srctree/include/linux/device/driver.h)
//!
//! A bus device type (such as [`crate::pci::Device`]) is parameterised by a
//! context that tells what is known about the device when a reference is held:
//!
//! - [`Normal`]: nothing; any reference to the device.
//! - [`Bound`]: the device is bound to this driver for as long as the reference
//!   lives, so resources tied to the binding ([`crate::devres::Devres`]) may be
//!   created from it.
//! - [`Core`]: the reference was given to a bus callback (probe, unbind) with
//!   the device lock held; everything [`Bound`] allows, plus operations that
//!   need the lock.

use crate::{bindings, error::Result, str::CStr, types::Opaque, ThisModule};
use core::{
    pin::Pin,
    sync::atomic::{AtomicBool, Ordering},
};

mod private {
    pub trait Sealed {}
}

/// A device context marker. Sealed: only [`Normal`], [`Core`] and [`Bound`].
pub trait DeviceContext: private::Sealed {}

/// Any reference to a device.
pub struct Normal;
/// A reference given to a bus callback with the device lock held.
pub struct Core;
/// A reference that proves the device is bound to the driver.
pub struct Bound;

impl private::Sealed for Normal {}
impl private::Sealed for Core {}
impl private::Sealed for Bound {}
impl DeviceContext for Normal {}
impl DeviceContext for Core {}
impl DeviceContext for Bound {}

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

/// A registered driver: registered while this object lives.
///
/// # Invariants
///
/// `reg` is pinned in memory, and registered with the bus when `registered`
/// is true (it is false only while `new` has not registered it yet, or after
/// registration failed).
pub struct Registration<T: RegistrationOps> {
    reg: Opaque<T::RegType>,
    registered: AtomicBool,
}

// SAFETY: The registration is only used through `&self` by the C driver core,
// which serialises its own accesses; dropping it (unregistering) from any
// thread is allowed.
unsafe impl<T: RegistrationOps> Send for Registration<T> {}
// SAFETY: `&Registration` exposes nothing but the pinned C structure.
unsafe impl<T: RegistrationOps> Sync for Registration<T> {}

impl<T: RegistrationOps> Registration<T> {
    /// Registers a driver named `name` owned by `module`.
    pub fn new(
        name: &'static CStr,
        module: &'static ThisModule,
    ) -> Result<Pin<crate::alloc::KBox<Self>>> {
        let this = crate::alloc::KBox::pin(
            Self {
                reg: Opaque::new(T::RegType::default()),
                registered: AtomicBool::new(false),
            },
            crate::alloc::flags::GFP_KERNEL,
        )?;
        // SAFETY: `this.reg` is pinned in the box and not yet registered; it stays pinned until `drop` unregisters it.
        if let Err(e) = unsafe { T::register(&this.reg, name, module) } {
            // A failed registration (e.g. `EBUSY` for a name in use) must
            // not be unregistered: `drop` sees `registered == false`.
            crate::pr_err!("driver {}: registration failed: {:?}\n", name, e);
            return Err(e);
        }
        // INVARIANT: Registered and pinned.
        this.registered.store(true, Ordering::Release);
        Ok(this)
    }
}

impl<T: RegistrationOps> Drop for Registration<T> {
    fn drop(&mut self) {
        if !*self.registered.get_mut() {
            return;
        }
        // SAFETY: By the type invariant `reg` is registered, since `registered` is true.
        unsafe { T::unregister(&self.reg) };
    }
}
