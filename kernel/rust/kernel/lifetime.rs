// SPDX-License-Identifier: GPL-2.0

//! What may outlive what: registrations bound to their module, and releases
//! deferred to process context.
//!
//! C helpers: `rust/helpers/dmabridge_module.c`
//!
//! Leaking is safe Rust (`mem::forget`, `Box::leak`, an `Arc` cycle), so a
//! registration may outlive the module whose code and data it points to. The
//! bindings therefore track every registration by module: when a module goes
//! away (after its exit function, before its memory is freed) the
//! registrations it left behind are unregistered, with a log line.
//!
//! Some releases sleep (`free_irq`, `dma_free_coherent`, `dma_pool_destroy`,
//! waiting for users of a revocable object). When the last owner drops such an
//! object where sleeping is not allowed (an interrupt handler, interrupts off,
//! a spinlock on a kernel that counts preemption), the release runs from a
//! workqueue instead, which is flushed before a module's memory is freed.

use crate::{
    alloc::{flags::GFP_ATOMIC, KBox},
    bindings,
    error::{code::*, Result},
    prelude::*,
    str::CStr,
    sync::{Arc, Completion},
    types::Opaque,
};
use core::{
    ffi::c_void,
    sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering},
};

// Without the preempt count a held spinlock is invisible, and a release that
// sleeps would run under it.
#[cfg(not(CONFIG_PREEMPT_COUNT))]
compile_error!("the dmabridge bindings need CONFIG_PREEMPT_COUNT (e.g. CONFIG_PREEMPT)");

/// Whether the caller may sleep: not in an interrupt handler, with interrupts
/// enabled, not in a preempt-disabled section (a spinlock) and not in a
/// read-side critical section of preemptible RCU.
#[inline]
pub fn may_sleep() -> bool {
    // SAFETY: Only reads the preempt count, the interrupt flag and the task's RCU nesting.
    unsafe { bindings::dmabridge_may_sleep() }
}

/// `EINVAL` and a log line naming `what` unless the caller may sleep: for
/// operations that sleep (registrations, `GFP_KERNEL` allocations, mutexes),
/// refused in atomic context.
pub(crate) fn need_sleepable(what: &crate::str::CStr) -> Result {
    if may_sleep() {
        return Ok(());
    }
    if log_allowed() {
        pr_err!(
            "{}: called in atomic context, where it would sleep; refused\n",
            what
        );
    }
    Err(EINVAL)
}

/// `EINVAL` and a log line naming `what` unless called where a device's
/// binding may gain resources: not in an interrupt handler (the hard half runs
/// in atomic context; the threaded half can still run while unbind releases
/// the binding's resources, and what it added then would outlive the
/// binding), and not in atomic context.
pub(crate) fn need_bus_callback(what: &str) -> Result {
    if may_sleep() && !in_callback(Callback::IrqThread) {
        return Ok(());
    }
    if log_allowed() {
        pr_err!(
            "{}: called from an interrupt handler or in atomic context; refused\n",
            what
        );
    }
    Err(EINVAL)
}

/// Runs `f` now if the caller may sleep ([`may_sleep`]); otherwise from a
/// workqueue, with a log line naming `what`. If the work cannot be queued
/// (no memory in atomic context), `f` is leaked, never run: what it would
/// release stays allocated, which is safe.
pub(crate) fn release_sleepable<F: FnOnce() + Send + 'static>(what: &str, f: F) {
    if may_sleep() {
        f();
        return;
    }
    defer(what, "in atomic context", f);
}

/// Runs `f` from a workqueue (process context), with a log line saying
/// `what` was dropped `where_`; leaks `f` if that cannot be arranged.
///
/// A thin shim: only the box and [`run`] depend on `F`; the rest is
/// [`queue_deferred`].
pub(crate) fn defer<F: FnOnce() + Send + 'static>(what: &str, where_: &str, f: F) {
    let Ok(slot) = KBox::<F>::new_uninit(GFP_ATOMIC) else {
        core::mem::forget(f);
        deferral_failed(what, where_, "with no memory to defer its release", ENOMEM);
        return;
    };
    let raw = KBox::into_raw(KBox::write(slot, f));
    // SAFETY: `raw` is a `KBox<F>` turned into a raw pointer, and `run::<F>` takes it back.
    unsafe { queue_deferred(what, where_, run::<F>, raw.cast()) };
}

/// Queues `run(data)` on a workqueue, with the log lines of [`defer`].
///
/// # Safety
///
/// `run` may be called once with `data`, from process context on another
/// thread (what `data` holds is `Send` and `'static`), and then owns it. If
/// the work cannot be queued, `data` is leaked (never freed).
unsafe fn queue_deferred(
    what: &str,
    where_: &str,
    run: unsafe extern "C" fn(*mut c_void),
    data: *mut c_void,
) {
    // SAFETY: By the function's safety section, `run` may take `data` once.
    let r = unsafe { bindings::dmabridge_defer(Some(run), data) };
    if r != 0 {
        // Not queued: `data` stays allocated for ever, which is safe.
        deferral_failed(
            what,
            where_,
            "and its release could not be deferred",
            Error::from_errno(r),
        );
        return;
    }
    pr_info!("{} dropped {}: released from a workqueue\n", what, where_);
}

fn deferral_failed(what: &str, where_: &str, why: &str, err: Error) {
    pr_err!("{} dropped {} {} ({:?}): leaked\n", what, where_, why, err);
}

/// # Safety
///
/// `data` is a `KBox<F>` turned into a raw pointer by [`defer`], passed once.
unsafe extern "C" fn run<F: FnOnce()>(data: *mut c_void) {
    // SAFETY: See the function's safety section: `data` holds an `F`, moved out once here.
    let f = unsafe { core::ptr::read(data.cast::<F>()) };
    // SAFETY: The allocation of that box, freed without dropping the `F` moved out above.
    drop(unsafe { KBox::from_raw(data.cast::<core::mem::MaybeUninit<F>>()) });
    f();
}

/// How long one bounded wait lasts, in milliseconds.
const WAIT_MS: u32 = 10_000;

/// After a bounded wait of a task gave up, how long its further bounded waits
/// give up at once, in milliseconds: an unbind releases many objects one
/// after the other, and must not wait 10 s for each.
const GIVEN_UP_MS: u32 = 60_000;

/// The task whose bounded wait gave up last, and when (jiffies).
static GAVE_UP_TASK: AtomicPtr<bindings::task_struct> = AtomicPtr::new(core::ptr::null_mut());
static GAVE_UP_AT: AtomicU64 = AtomicU64::new(0);

fn jiffies() -> u64 {
    // SAFETY: Reads the jiffies counter.
    unsafe { bindings::dmabridge_jiffies() }
}

/// Waits (sleeping, polling every tick) until `done()` returns true; gives up
/// after 10 s, or at once if this task gave up on another wait in the last
/// minute. Returns whether `done()` did. Process context.
#[inline]
pub(crate) fn wait_bounded(mut done: impl FnMut() -> bool) -> bool {
    wait_bounded_dyn(&mut done)
}

/// [`wait_bounded`], compiled once.
fn wait_bounded_dyn(done: &mut dyn FnMut() -> bool) -> bool {
    // SAFETY: `get_current` only reads the current task pointer.
    let me = unsafe { bindings::get_current() };
    let recent = crate::time::msecs_to_jiffies(GIVEN_UP_MS) as u64;
    if GAVE_UP_TASK.load(Ordering::Relaxed) == me
        && jiffies().wrapping_sub(GAVE_UP_AT.load(Ordering::Relaxed)) < recent
    {
        return done();
    }
    let deadline = jiffies() + crate::time::msecs_to_jiffies(WAIT_MS) as u64;
    loop {
        if done() {
            return true;
        }
        if jiffies() >= deadline {
            GAVE_UP_AT.store(jiffies(), Ordering::Relaxed);
            GAVE_UP_TASK.store(me, Ordering::Relaxed);
            return false;
        }
        crate::delay::msleep(1);
    }
}

/// Leaks `value` on purpose (a bounded wait gave up on it): it stays
/// allocated and reachable, so that kmemleak does not report the leak itself
/// (the log line that accompanies it names the bug).
pub(crate) fn leak<T>(value: KBox<T>) {
    let ptr = KBox::into_raw(value);
    // SAFETY: Only records the address.
    unsafe { bindings::dmabridge_keep_leaked(ptr.cast_const().cast()) };
}

/// As [`leak`], for an object in an [`Arc`].
pub(crate) fn leak_arc<T>(value: Arc<T>) {
    let ptr = Arc::into_raw(value);
    // SAFETY: Only records the address (inside the `Arc`'s allocation, which kmemleak accepts as a
    // reference to it).
    unsafe { bindings::dmabridge_keep_leaked(ptr.cast()) };
}

/// A callback the bindings run with a lock held that registrations take.
#[derive(Clone, Copy)]
#[repr(u32)]
pub(crate) enum Callback {
    /// A bus callback (probe, remove): the device lock is held, which
    /// driver registration takes to attach devices.
    Device = 1,
    /// A misc open: the misc core's global lock is held, which misc
    /// registration takes.
    MiscOpen = 2,
    /// The threaded half of an interrupt handler: unbind's `free_irq` waits
    /// for it, possibly while holding the device lock and releasing the
    /// binding's resources.
    IrqThread = 4,
}

/// Runs `f` as a callback of kind `kind`: [`in_callback`] tells code that
/// `f` calls where it runs.
///
/// The helpers keep the mark in a node of their own (not on this stack): a
/// callback that never returns (its thread exits, e.g. a failed KUnit
/// assertion or an oops) leaves a stale mark, which only makes later checks of
/// a task with the same address answer "inside" (a refused registration),
/// never a dangling pointer. Without memory for the node, `f` runs unmarked.
pub(crate) fn as_callback<R>(kind: Callback, f: impl FnOnce() -> R) -> R {
    // SAFETY: Allocates and lists a node for the current task, or returns null.
    let node = unsafe { bindings::dmabridge_callback_enter(kind as u32) };
    let r = f();
    if !node.is_null() {
        // SAFETY: Listed by the enter above, unlisted and freed once here.
        unsafe { bindings::dmabridge_callback_exit(node) };
    }
    r
}

/// Whether a log line userspace can trigger at will may be printed now (the
/// bindings' own rate limit): such lines must not flood the log.
pub(crate) fn log_allowed() -> bool {
    // SAFETY: No preconditions.
    unsafe { bindings::dmabridge_log_allowed() }
}

/// Whether the current task is inside a callback that holds a lock a
/// registration or unregistration takes (the device lock, the misc lock),
/// or an interrupt thread that such a callback may be waiting for
/// (`free_irq`).
pub(crate) fn in_lock_holding_callback() -> bool {
    in_callback(Callback::Device)
        || in_callback(Callback::MiscOpen)
        || in_callback(Callback::IrqThread)
}

/// Whether the current task is inside a callback of `kind`.
pub(crate) fn in_callback(kind: Callback) -> bool {
    // SAFETY: Walks the helpers' list under its lock.
    unsafe { bindings::dmabridge_in_callback(kind as u32) }
}

/// The C side of a tracked object (`struct dmabridge_tracked`).
#[repr(C)]
struct Node {
    list: bindings::list_head,
    module: *mut bindings::module,
    sweep: Option<unsafe extern "C" fn(*mut c_void)>,
}

/// A registration with a C subsystem that must end before its module's
/// memory is freed.
pub(crate) trait Unregister: Send + Sync {
    /// What the log calls it.
    fn name(&self) -> &CStr;

    /// Ends the registration.
    ///
    /// # Safety
    ///
    /// The registration succeeded and is ended once.
    unsafe fn unregister(&self);
}

/// A registration that ends when its handle drops it or, if it was leaked,
/// when its module is unloaded, whichever comes first.
///
/// Shared (an [`Arc`]) between the handle and the module's list, so that the
/// memory stays valid while either side is unregistering it, even if the
/// other side's drop runs in the middle (a device unbound by the unregistration
/// drops the last handle).
///
/// # Invariants
///
/// - `node` is the first field: a pointer to it is a pointer to the object.
/// - While `node` is on the helpers' list, the list owns one `Arc` reference.
/// - `registered` is true from a successful registration until the one
///   caller that swaps it to false has unregistered; that caller then
///   completes `done`.
#[repr(C)]
#[pin_data]
pub(crate) struct Tracked<R: Unregister> {
    node: Opaque<Node>,
    registered: AtomicBool,
    #[pin]
    done: Completion,
    /// `pub(crate)` for its offset: a C callback that has a pointer to it
    /// finds the shared object.
    pub(crate) reg: R,
}

// SAFETY: `node` is only touched through the helpers, under their mutex; the
// rest is `Send + Sync` (`R: Unregister` is).
unsafe impl<R: Unregister> Send for Tracked<R> {}
// SAFETY: As above.
unsafe impl<R: Unregister> Sync for Tracked<R> {}

impl<R: Unregister + 'static> Tracked<R> {
    /// Holds `reg`, not yet registered.
    pub(crate) fn new(reg: R) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                node: Opaque::uninit(),
                registered: AtomicBool::new(false),
                done <- Completion::new(),
                reg,
            }),
            GFP_KERNEL,
        )
    }

    /// The registration.
    pub(crate) fn get(&self) -> &R {
        &self.reg
    }

    /// Records a successful registration owned by `module` (null for built-in
    /// code, which is never unloaded). `ENODEV` (after unregistering) if the
    /// module is already going away: nothing would sweep the registration.
    pub(crate) fn registered(this: &Arc<Self>, module: *mut bindings::module) -> Result {
        this.registered.store(true, Ordering::Release);
        let node = this.node.get();
        // SAFETY: `node` is ours and not on the list yet; the helper reads `module` and `sweep`.
        unsafe {
            (*node).module = module;
            (*node).sweep = Some(Self::sweep);
        }
        // The list's reference exists before the node is listed: a sweep may
        // take it the moment the helper's lock is released.
        let listed = Arc::into_raw(this.clone());
        // SAFETY: `node` is valid and pinned in the `Arc` (first field, `repr(C)`).
        let r = unsafe { bindings::dmabridge_track(node.cast()) };
        if r != 1 {
            // Not listed: the reference is ours again.
            // SAFETY: From `Arc::into_raw` above; the list never had it.
            drop(unsafe { Arc::from_raw(listed) });
        }
        match r {
            // INVARIANT: Listed (1), the list owns `listed`; or built-in code (0).
            0 | 1 => Ok(()),
            r if r == ENOMEM.to_errno() => {
                pr_err!("{}: no memory to track it; unregistered\n", this.reg.name());
                this.unregister_once();
                Err(ENOMEM)
            }
            _ => {
                pr_err!(
                    "{}: registered while its module is going away; unregistered\n",
                    this.reg.name()
                );
                this.unregister_once();
                Err(ENODEV)
            }
        }
    }

    /// Unregisters unless that already happened; returns whether this call
    /// did it.
    fn unregister_once(&self) -> bool {
        if !self.registered.swap(false, Ordering::AcqRel) {
            return false;
        }
        // SAFETY: `registered` was true and we swapped it: registered, ended once.
        unsafe { self.reg.unregister() };
        self.done.complete_all();
        true
    }

    /// The handle's drop: unregisters, unless the module's unload is doing
    /// it (then it does not wait: that unload may be what dropped the handle).
    pub(crate) fn release(this: &Arc<Self>) {
        if !this.registered.load(Ordering::Acquire) {
            return;
        }
        // SAFETY: `node` is valid; the helper takes it off the list under its mutex.
        if unsafe { bindings::dmabridge_untrack(this.node.get().cast()) } {
            // SAFETY: It was listed, so the list owned this reference (invariant); we still hold
            // ours.
            drop(unsafe { Arc::from_raw(&**this as *const Self) });
        }
        this.unregister_once();
    }

    /// Called by the helpers for a registration still listed when its module
    /// is unloaded, with the list's reference.
    ///
    /// # Safety
    ///
    /// `node` is the `node` of a `Tracked<R>` taken off the list, whose
    /// reference the caller hands over.
    unsafe extern "C" fn sweep(node: *mut c_void) {
        // SAFETY: See the function's safety section; `node` is the first field.
        let this = unsafe { Arc::from_raw(node.cast::<Self>()) };
        if this.unregister_once() {
            pr_warn!(
                "{}: still registered when its module was unloaded (leaked); unregistered\n",
                this.reg.name()
            );
        } else {
            // The handle's drop is unregistering it on another thread: the
            // module's memory must outlive that.
            while !this.done.wait_timeout(10_000) {
                pr_warn!("{}: waiting for its unregistration\n", this.reg.name());
            }
        }
    }
}
