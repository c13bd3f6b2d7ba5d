// SPDX-License-Identifier: GPL-2.0

//! Interrupt handlers.
//!
//! C header: [`include/linux/interrupt.h`](srctree/include/linux/interrupt.h)
//!
//! An [`irq::Registration`](Registration) owns its handler: the C side gets a
//! pointer to it, and `free_irq` (which waits for running handlers) always runs
//! before the handler is dropped. The registration is tied to the device's
//! binding, so it is also released at unbind, before the IRQ vectors are freed.

use crate::{
    alloc::{flags::GFP_KERNEL, KBox},
    bindings,
    devres::Devres,
    driver::BoundDevice,
    error::{to_result, Result},
    str::CStr,
};
use core::{
    ffi::{c_int, c_void},
    mem::ManuallyDrop,
};

/// What a handler did with an interrupt.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IrqReturn {
    /// The interrupt was not from this device (shared lines).
    None,
    /// The interrupt was handled.
    Handled,
}

impl IrqReturn {
    fn into_raw(self) -> bindings::irqreturn_t {
        match self {
            IrqReturn::None => bindings::irqreturn_IRQ_NONE,
            IrqReturn::Handled => bindings::irqreturn_IRQ_HANDLED,
        }
    }
}

/// An interrupt handler. Runs in hard-IRQ context: it must not sleep.
pub trait Handler: Send + Sync + 'static {
    /// Handles one interrupt.
    fn handle(&self) -> IrqReturn;
}

/// Flags for [`Registration::new`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Flags(u64);

impl Flags {
    /// No flags: an exclusive line (MSI, MSI-X).
    pub const NONE: Flags = Flags(0);
    /// The line may be shared with other devices (INTx): the handler must
    /// return [`IrqReturn::None`] for interrupts that are not its own.
    pub const SHARED: Flags = Flags(bindings::IRQF_SHARED as u64);
}

impl core::ops::BitOr for Flags {
    type Output = Flags;

    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

/// The C registration: `free_irq` on drop.
///
/// # Invariants
///
/// `request_threaded_irq(irq, .., dev_id)` succeeded and was not freed yet.
struct Cookie {
    irq: u32,
    dev_id: *mut c_void,
}

// SAFETY: `free_irq` may be called from any process context.
unsafe impl Send for Cookie {}
// SAFETY: `&Cookie` exposes nothing.
unsafe impl Sync for Cookie {}

impl Drop for Cookie {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the IRQ is requested with `dev_id`.
        unsafe { bindings::free_irq(self.irq, self.dev_id) };
    }
}

/// A registered interrupt handler.
///
/// # Examples
///
/// It needs a bound device, so the doctest only builds it (nothing runs);
/// the driver tests (`drivers/dma_test`, `drivers/pci_test`) make these calls on QEMU's edu.
///
/// ```
/// use core::sync::atomic::{AtomicU32, Ordering};
/// use kernel::{c_str, device::Core, irq, pci, prelude::*};
///
/// struct Counter(AtomicU32);
///
/// impl irq::Handler for Counter {
///     fn handle(&self) -> irq::IrqReturn {
///         self.0.fetch_add(1, Ordering::Relaxed);
///         irq::IrqReturn::Handled
///     }
/// }
///
/// fn setup(pdev: &pci::Device<Core>) -> Result<irq::Registration<Counter>> {
///     pdev.alloc_irq_vectors(1, 1, pci::IrqTypes::ALL)?;
///     let request = pdev.irq_vector(0)?;
///     let counter = Counter(AtomicU32::new(0));
///     irq::Registration::new(request, irq::Flags::SHARED, c_str!("counter"), counter)
/// }
/// ```
///
/// # Invariants
///
/// `cookie` registered `handler`'s address (unique: a non-empty allocation)
/// as `dev_id`. `handler` is dropped only after the cookie is gone (its
/// revocation ran `free_irq`, which waits for running handler calls); when
/// `drop` cannot know that (dropped in interrupt context, or while another
/// revocation is still freeing the IRQ), the handler is leaked.
pub struct Registration<H: Handler> {
    cookie: ManuallyDrop<Devres<Cookie>>,
    handler: ManuallyDrop<KBox<Unique<H>>>,
}

impl<H: Handler> Drop for Registration<H> {
    fn drop(&mut self) {
        // SAFETY: The fields are taken once, here, and not used afterwards.
        let (cookie, handler) = unsafe {
            (
                ManuallyDrop::take(&mut self.cookie),
                ManuallyDrop::take(&mut self.handler),
            )
        };
        // `free_irq` sleeps, and waits for running handlers: dropped in a
        // handler (its own, even), the release runs from a workqueue.
        crate::lifetime::release_sleepable("irq: registration", move || {
            if cookie.release() {
                // The IRQ is freed (the cookie is gone), so no handler call
                // is running or can start.
                drop(handler);
            } else {
                // The IRQ may still be requested (unbind is freeing it and
                // did not finish in time): leaking the handler is safe.
                crate::pr_err!(
                    "irq: registration dropped while its IRQ is being freed; leaking the handler\n"
                );
                crate::lifetime::leak(handler);
            }
        });
    }
}

/// A handler in an allocation of its own: its address is the `dev_id` the
/// IRQ core compares in `free_irq`, so it must be unique even when `H` is a
/// zero-sized type (a `KBox` of which is a dangling, shared address).
struct Unique<H> {
    handler: H,
    _nonzero: u8,
}

/// An interrupt a bound device may request: one of its own vectors.
///
/// Made by the bus (e.g. [`crate::pci::Device::irq_vector`]), never from a
/// bare number, so a driver cannot request another device's interrupt.
///
/// # Invariants
///
/// `irq` is an interrupt of the device `dev`, which is bound for `'a`.
pub struct IrqRequest<'a> {
    dev: &'a dyn BoundDevice,
    irq: u32,
}

impl<'a> IrqRequest<'a> {
    /// # Safety
    ///
    /// `irq` must be an interrupt of `dev` (one of its allocated vectors, or
    /// its INTx line).
    pub unsafe fn new(dev: &'a dyn BoundDevice, irq: u32) -> Self {
        // INVARIANT: The caller guarantees it.
        Self { dev, irq }
    }

    /// The Linux IRQ number.
    pub fn irq(&self) -> u32 {
        self.irq
    }
}

impl<H: Handler> Registration<H> {
    /// Requests the interrupt of `request` for `handler` until the
    /// registration is dropped or the device is unbound.
    pub fn new(
        request: IrqRequest<'_>,
        flags: Flags,
        name: &'static CStr,
        handler: H,
    ) -> Result<Self> {
        let (dev, irq) = (request.dev, request.irq);
        let handler = KBox::new(
            Unique {
                handler,
                _nonzero: 0,
            },
            GFP_KERNEL,
        )?;
        let dev_id = &*handler as *const Unique<H> as *mut c_void;
        // SAFETY: `dev_id` points to the boxed handler, which outlives the request (type
        // invariant); `name` is static.
        to_result(unsafe {
            bindings::request_threaded_irq(
                irq,
                Some(Self::handle_callback),
                None,
                flags.0 as _,
                name.as_char_ptr(),
                dev_id,
            )
        })?;
        // INVARIANT: Requested above; a failure below frees it on drop.
        let cookie = Devres::new(dev, Cookie { irq, dev_id })?;
        Ok(Self {
            cookie: ManuallyDrop::new(cookie),
            handler: ManuallyDrop::new(handler),
        })
    }

    /// # Safety
    ///
    /// Called by the IRQ core with the `dev_id` that `new` registered.
    unsafe extern "C" fn handle_callback(
        _irq: c_int,
        dev_id: *mut c_void,
    ) -> bindings::irqreturn_t {
        // SAFETY: `dev_id` is the handler registered by `new`; it lives until `free_irq` returned,
        // which waits for this call to finish.
        let handler = unsafe { &(*(dev_id as *const Unique<H>)).handler };
        handler.handle().into_raw()
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler.handler
    }

    /// Whether the IRQ is still requested (false once the device was unbound).
    pub fn is_registered(&self) -> bool {
        self.cookie.is_available()
    }
}
