// SPDX-License-Identifier: GPL-2.0

//! Interrupt handlers.
//!
//! C header: [`include/linux/interrupt.h`](srctree/include/linux/interrupt.h)
//!
//! An [`irq::Registration`](Registration) owns its handler: the C side gets a
//! pointer to it, and `free_irq` (which waits for running handlers) always runs
//! before the handler is dropped. The registration is tied to the device's
//! binding, so it is also released at unbind, before the IRQ vectors are freed.

use crate::prelude::pin_data;
use crate::{
    alloc::{flags::GFP_KERNEL, Allocator, Box, KBox},
    bindings,
    device::{Bound, Device},
    devres::Devres,
    error::{code::*, to_result, Error, Result},
    init::{InPlaceInit, PinInit},
    lifetime::{in_callback, Callback},
    str::CStr,
    sync::Arc,
    try_pin_init,
};
use core::{
    ffi::{c_int, c_void},
    marker::PhantomPinned,
    mem::ManuallyDrop,
    pin::Pin,
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
///
/// `device` is the device the interrupt belongs to, bound to its driver for
/// the call (the IRQ is freed at unbind, before the device's binding ends).
pub trait Handler: Sync {
    /// Handles one interrupt.
    fn handle(&self, device: &Device<Bound>) -> IrqReturn;
}

impl<T: ?Sized + Handler + Send> Handler for Arc<T> {
    fn handle(&self, device: &Device<Bound>) -> IrqReturn {
        T::handle(self, device)
    }
}

impl<T: ?Sized + Handler, A: Allocator> Handler for Box<T, A> {
    fn handle(&self, device: &Device<Bound>) -> IrqReturn {
        T::handle(self, device)
    }
}

/// What the hard-IRQ half of a [`ThreadedHandler`] did with an interrupt.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ThreadedIrqReturn {
    /// The interrupt was not from this device (shared lines).
    None,
    /// The interrupt was handled; the thread is not woken.
    Handled,
    /// Wake the handler thread: [`ThreadedHandler::handle_threaded`] runs.
    WakeThread,
}

/// An interrupt handler in two halves: [`ThreadedHandler::handle`] in
/// hard-IRQ context (must not sleep), and, when it returns
/// [`ThreadedIrqReturn::WakeThread`], [`ThreadedHandler::handle_threaded`]
/// in the IRQ's kernel thread, which may sleep.
///
/// The hard half must quiet the device's interrupt before it wakes the
/// thread (or the registration must use [`Flags::ONESHOT`], which keeps the
/// line masked until the thread is done); on a level-triggered line that
/// stays asserted, the kernel disables the IRQ as spurious after 100,000
/// unhandled interrupts. That is the driver's duty, as in C.
pub trait ThreadedHandler: Sync {
    /// The hard-IRQ half; by default it only wakes the thread.
    fn handle(&self, _device: &Device<Bound>) -> ThreadedIrqReturn {
        ThreadedIrqReturn::WakeThread
    }

    /// The threaded half: runs in process context and may sleep.
    fn handle_threaded(&self, device: &Device<Bound>) -> IrqReturn;
}

impl<T: ?Sized + ThreadedHandler + Send> ThreadedHandler for Arc<T> {
    fn handle(&self, device: &Device<Bound>) -> ThreadedIrqReturn {
        T::handle(self, device)
    }

    fn handle_threaded(&self, device: &Device<Bound>) -> IrqReturn {
        T::handle_threaded(self, device)
    }
}

impl<T: ?Sized + ThreadedHandler, A: Allocator> ThreadedHandler for Box<T, A> {
    fn handle(&self, device: &Device<Bound>) -> ThreadedIrqReturn {
        T::handle(self, device)
    }

    fn handle_threaded(&self, device: &Device<Bound>) -> IrqReturn {
        T::handle_threaded(self, device)
    }
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
    /// Keep the line masked until the threaded half of a
    /// [`ThreadedRegistration`] has run.
    pub const ONESHOT: Flags = Flags(bindings::IRQF_ONESHOT as u64);
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

/// A handler in an allocation of its own, with its device: its address is the
/// `dev_id` the IRQ core compares in `free_irq`, unique because the
/// allocation is never empty (it holds `dev`, even when `H` is zero-sized).
///
/// # Invariants
///
/// `dev` is the device the IRQ was requested for; it is bound whenever the
/// IRQ core calls a handler with this `dev_id` (the IRQ is freed at unbind,
/// before the binding ends, and `free_irq` waits for running handlers).
#[pin_data]
struct Unique<H> {
    #[pin]
    handler: H,
    dev: *mut bindings::device,
    /// For a threaded handler, the mark its thread carries while it runs the
    /// threaded half ([`Callback::IrqThread`]).
    mark: Mark,
}

/// A callback mark made ahead (`dmabridge_callback_new`), so that the IRQ
/// thread need not allocate one; freed (and unlisted) on drop.
///
/// # Invariants
///
/// Null, or a mark from `dmabridge_callback_new` owned by this object.
struct Mark(*mut c_void);

impl Mark {
    fn new(threaded: bool) -> Result<Self> {
        if !threaded {
            return Ok(Self(core::ptr::null_mut()));
        }
        // SAFETY: Allocates an unlisted mark, or returns null.
        let m = unsafe { bindings::dmabridge_callback_new(Callback::IrqThread as u32) };
        if m.is_null() {
            return Err(ENOMEM);
        }
        // INVARIANT: Made above.
        Ok(Self(m))
    }

    /// Runs `f` with the current task marked as in an IRQ thread.
    fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        if self.0.is_null() {
            return f();
        }
        // SAFETY: The mark is this object's (type invariant); only the IRQ's
        // one thread lists it, and unlists it before it lists it again.
        unsafe { bindings::dmabridge_callback_list(self.0) };
        let r = f();
        // SAFETY: As above.
        unsafe { bindings::dmabridge_callback_unlist(self.0) };
        r
    }
}

impl Drop for Mark {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: Ours (type invariant), freed once; unlisted if a thread
            // died inside its handler.
            unsafe { bindings::dmabridge_callback_free(self.0) };
        }
    }
}

// SAFETY: `dev` is only turned into a `&Device<Bound>` in handler calls, and a
// `struct device` may be used from any thread; `mark` is listed and unlisted
// only by the IRQ's thread and freed once, by the owner; the rest is `H`.
unsafe impl<H: Send> Send for Unique<H> {}
// SAFETY: As above; shared references give out `&H` and `&Device<Bound>`.
unsafe impl<H: Sync> Sync for Unique<H> {}

impl<H> Unique<H> {
    /// # Safety
    ///
    /// `dev_id` is the `dev_id` of a requested IRQ (see [`Requested::new`]),
    /// and the call comes from the IRQ core for that IRQ.
    unsafe fn from_dev_id<'a>(dev_id: *mut c_void) -> (&'a H, &'a Device<Bound>) {
        // SAFETY: `dev_id` points to the boxed `Unique<H>`, which lives until
        // `free_irq` returned, which waits for this call to finish.
        let this = unsafe { &*(dev_id as *const Unique<H>) };
        // SAFETY: By the type invariant, the device is bound during the call.
        let dev = unsafe { Device::from_raw(this.dev) };
        (&this.handler, dev)
    }
}

/// A requested IRQ and its handler: what [`Registration`] and
/// [`ThreadedRegistration`] hold.
///
/// # Invariants
///
/// `cookie` registered `handler`'s address as `dev_id`. `handler` is dropped
/// only after the cookie is gone (its revocation ran `free_irq`, which waits
/// for running handler calls); when `drop` cannot know that (dropped in
/// interrupt context, or while another revocation is still freeing the IRQ),
/// the handler is leaked. The boxed handler never moves.
struct Requested<H: Send + 'static> {
    cookie: ManuallyDrop<Devres<Cookie>>,
    handler: ManuallyDrop<KBox<Unique<H>>>,
}

/// The C callbacks of one request: the hard-IRQ one and, for threaded
/// handlers, the thread's.
type IrqCallback = unsafe extern "C" fn(c_int, *mut c_void) -> bindings::irqreturn_t;

impl<H: Send + 'static> Requested<H> {
    /// # Safety
    ///
    /// `primary` and `thread` must be sound to call with a `dev_id` made by
    /// this function, for a `Unique<H>`, until the IRQ is freed.
    unsafe fn new<E>(
        request: IrqRequest<'_>,
        flags: Flags,
        name: &'static CStr,
        handler: impl PinInit<H, E>,
        primary: IrqCallback,
        thread: Option<IrqCallback>,
    ) -> Result<Self>
    where
        Error: From<E>,
    {
        crate::lifetime::need_bus_callback("irq: request")?;
        check_name(name)?;
        let (dev, irq) = (request.dev, request.irq);
        let raw_dev = dev.as_raw();
        let mark = Mark::new(thread.is_some())?;
        let handler = KBox::pin_init(
            try_pin_init!(Unique {
                handler <- handler,
                dev: raw_dev,
                mark,
            }? E),
            GFP_KERNEL,
        )?;
        // SAFETY: The box is never moved out of: it is dropped or leaked whole.
        let handler = unsafe { Pin::into_inner_unchecked(handler) };
        let dev_id = &*handler as *const Unique<H> as *mut c_void;
        // SAFETY: `dev_id` points to the boxed handler, which outlives the
        // request (type invariant); `name` is static; the caller vouches for
        // the callbacks.
        to_result(unsafe {
            bindings::request_threaded_irq(
                irq,
                Some(primary),
                thread,
                flags.0 as _,
                name.as_char_ptr(),
                dev_id,
            )
        })?;
        // INVARIANT: Requested above; a failure below frees it on drop.
        let cookie = Devres::new_value(dev, Cookie { irq, dev_id })?;
        Ok(Self {
            cookie: ManuallyDrop::new(cookie),
            handler: ManuallyDrop::new(handler),
        })
    }
}

impl<H: Send + 'static> Drop for Requested<H> {
    fn drop(&mut self) {
        // SAFETY: The fields are taken once, here, and not used afterwards.
        let (cookie, handler) = unsafe {
            (
                ManuallyDrop::take(&mut self.cookie),
                ManuallyDrop::take(&mut self.handler),
            )
        };
        // `free_irq` sleeps, and waits for running handlers and for the IRQ
        // line's threads: dropped in a handler, or in an IRQ thread (which may
        // be one `free_irq` waits for), the release runs from a workqueue.
        let in_irq_thread = in_callback(Callback::IrqThread);
        let release = move || {
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
        };
        if in_irq_thread {
            crate::lifetime::defer("irq: registration", "in an IRQ thread", release);
        } else {
            crate::lifetime::release_sleepable("irq: registration", release);
        }
    }
}

/// The entries `/proc/irq/N/` has besides the handlers' directories.
const PROC_IRQ_ENTRIES: &[&[u8]] = &[
    b"spurious",
    b"node",
    b"smp_affinity",
    b"smp_affinity_list",
    b"affinity_hint",
    b"effective_affinity",
    b"effective_affinity_list",
];

/// `EINVAL` and a log line for a name that cannot be a directory of its own
/// in `/proc/irq/N/` (procfs warns when it is asked for one).
fn check_name(name: &CStr) -> Result {
    crate::driver::check_name(name, "irq")?;
    // procfs cuts names at 127 bytes (`MAX_NAMELEN` in kernel/irq/proc.c)
    // after checking them whole: two long names that differ later would
    // make the same directory (a WARN).
    if name.len() >= 127 || PROC_IRQ_ENTRIES.contains(&name.as_bytes()) {
        crate::pr_err!(
            "irq: the name {:?} cannot name a handler in /proc/irq; refused\n",
            name
        );
        return Err(EINVAL);
    }
    Ok(())
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
    dev: &'a Device<Bound>,
    irq: u32,
}

impl<'a> IrqRequest<'a> {
    /// # Safety
    ///
    /// `irq` must be an interrupt of `dev` (one of its allocated vectors, or
    /// its INTx line).
    pub unsafe fn new(dev: &'a Device<Bound>, irq: u32) -> Self {
        // INVARIANT: The caller guarantees it.
        Self { dev, irq }
    }

    /// The Linux IRQ number.
    pub fn irq(&self) -> u32 {
        self.irq
    }
}

/// A registered interrupt handler.
///
/// The handler lives in an allocation of its own, so that a registration
/// dropped while the IRQ cannot be freed yet (from its own handler, or while
/// unbind is freeing it) leaks the handler instead of freeing it under a
/// running call.
///
/// # Examples
///
/// It needs a bound device, so the doctest only builds it (nothing runs);
/// the driver tests (`drivers/dma_test`, `drivers/pci_test`) make these calls on QEMU's edu.
///
/// ```
/// use core::sync::atomic::{AtomicU32, Ordering};
/// use kernel::{c_str, device::{Bound, Core, Device}, irq, pci, prelude::*};
///
/// struct Counter(AtomicU32);
///
/// impl irq::Handler for Counter {
///     fn handle(&self, _dev: &Device<Bound>) -> irq::IrqReturn {
///         self.0.fetch_add(1, Ordering::Relaxed);
///         irq::IrqReturn::Handled
///     }
/// }
///
/// fn setup(pdev: &pci::Device<Core>) -> Result<Pin<KBox<irq::Registration<Counter>>>> {
///     pdev.alloc_irq_vectors(1, 1, pci::IrqTypes::ALL)?;
///     let request = pdev.irq_vector(0)?;
///     // A value is an initialiser; `Ok` makes it one with the error type `Error`.
///     let counter = Ok(Counter(AtomicU32::new(0)));
///     KBox::pin_init(
///         irq::Registration::new(request, irq::Flags::SHARED, c_str!("counter"), counter),
///         GFP_KERNEL,
///     )
/// }
/// ```
pub struct Registration<T: Handler + Send + 'static> {
    inner: Requested<T>,
    _pin: PhantomPinned,
}

impl<T: Handler + Send + 'static> Registration<T> {
    /// Requests the interrupt of `request` for the handler `handler`
    /// initialises, until the registration is dropped or the device is
    /// unbound.
    pub fn new<'a>(
        request: IrqRequest<'a>,
        flags: Flags,
        name: &'static CStr,
        handler: impl PinInit<T, Error> + 'a,
    ) -> impl PinInit<Self, Error> + 'a {
        crate::devres::init_value(move || {
            // SAFETY: `handle_callback::<T>` reads a `Unique<T>` from its `dev_id`.
            let inner = unsafe {
                Requested::new(request, flags, name, handler, Self::handle_callback, None)
            }?;
            Ok(Self {
                inner,
                _pin: PhantomPinned,
            })
        })
    }

    /// # Safety
    ///
    /// Called by the IRQ core with the `dev_id` that `new` registered.
    unsafe extern "C" fn handle_callback(
        _irq: c_int,
        dev_id: *mut c_void,
    ) -> bindings::irqreturn_t {
        // SAFETY: `dev_id` is the one `new` registered, and the IRQ core calls.
        let (handler, dev) = unsafe { Unique::<T>::from_dev_id(dev_id) };
        handler.handle(dev).into_raw()
    }

    /// The handler.
    pub fn handler(&self) -> &T {
        &self.inner.handler.handler
    }

    /// Whether the IRQ is still requested (false once the device was unbound).
    pub fn is_registered(&self) -> bool {
        self.inner.cookie.is_available()
    }
}

/// A registered [`ThreadedHandler`]: its hard half runs in interrupt context,
/// its threaded half in the IRQ's kernel thread. Ownership and release are
/// those of [`Registration`]; `free_irq` also waits for the thread.
pub struct ThreadedRegistration<T: ThreadedHandler + Send + 'static> {
    inner: Requested<T>,
    _pin: PhantomPinned,
}

impl<T: ThreadedHandler + Send + 'static> ThreadedRegistration<T> {
    /// Requests the interrupt of `request` for the threaded handler `handler`
    /// initialises, until the registration is dropped or the device is
    /// unbound.
    pub fn new<'a>(
        request: IrqRequest<'a>,
        flags: Flags,
        name: &'static CStr,
        handler: impl PinInit<T, Error> + 'a,
    ) -> impl PinInit<Self, Error> + 'a {
        crate::devres::init_value(move || {
            // SAFETY: Both callbacks read a `Unique<T>` from their `dev_id`.
            let inner = unsafe {
                Requested::new(
                    request,
                    flags,
                    name,
                    handler,
                    Self::handle_callback,
                    Some(Self::thread_callback),
                )
            }?;
            Ok(Self {
                inner,
                _pin: PhantomPinned,
            })
        })
    }

    /// # Safety
    ///
    /// Called by the IRQ core with the `dev_id` that `new` registered.
    unsafe extern "C" fn handle_callback(
        _irq: c_int,
        dev_id: *mut c_void,
    ) -> bindings::irqreturn_t {
        // SAFETY: `dev_id` is the one `new` registered, and the IRQ core calls.
        let (handler, dev) = unsafe { Unique::<T>::from_dev_id(dev_id) };
        match handler.handle(dev) {
            ThreadedIrqReturn::None => bindings::irqreturn_IRQ_NONE,
            ThreadedIrqReturn::Handled => bindings::irqreturn_IRQ_HANDLED,
            ThreadedIrqReturn::WakeThread => bindings::irqreturn_IRQ_WAKE_THREAD,
        }
    }

    /// # Safety
    ///
    /// Called by the IRQ thread with the `dev_id` that `new` registered.
    unsafe extern "C" fn thread_callback(
        _irq: c_int,
        dev_id: *mut c_void,
    ) -> bindings::irqreturn_t {
        // SAFETY: `dev_id` is the one `new` registered, and the IRQ thread
        // calls (`free_irq` waits for it too).
        let this = unsafe { &*(dev_id as *const Unique<T>) };
        // SAFETY: As above.
        let (handler, dev) = unsafe { Unique::<T>::from_dev_id(dev_id) };
        this.mark.run(|| handler.handle_threaded(dev).into_raw())
    }

    /// The handler.
    pub fn handler(&self) -> &T {
        &self.inner.handler.handler
    }

    /// Whether the IRQ is still requested (false once the device was unbound).
    pub fn is_registered(&self) -> bool {
        self.inner.cookie.is_available()
    }
}
