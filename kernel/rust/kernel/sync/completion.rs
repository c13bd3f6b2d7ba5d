// SPDX-License-Identifier: GPL-2.0

//! Completions: one side waits until another (a thread or an interrupt
//! handler) says an event happened.
//!
//! C header: [`include/linux/completion.h`](srctree/include/linux/completion.h)

use crate::{bindings, prelude::*, types::Opaque};

/// A `struct completion`.
///
/// # Invariants
///
/// `inner` is initialised (`init_completion`).
///
/// # Examples
///
/// ```
/// use kernel::{sync::Completion, prelude::*};
///
/// let done = KBox::pin_init(Completion::new(), GFP_KERNEL)?;
/// done.complete_all();
/// assert_eq!(done.wait_interruptible_timeout(10), Ok(true));
/// done.reinit();
/// assert_eq!(done.wait_timeout(1), false);
/// # Ok::<(), Error>(())
/// ```
#[pin_data]
pub struct Completion {
    #[pin]
    inner: Opaque<bindings::completion>,
}

// SAFETY: The C completion has its own lock; it may be signalled and waited on from any thread.
unsafe impl Send for Completion {}
// SAFETY: As above.
unsafe impl Sync for Completion {}

impl Completion {
    /// A new, not yet completed, completion.
    pub fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `init_completion` initialises the completion in place.
            inner <- Opaque::ffi_init(|slot| unsafe { bindings::init_completion(slot) }),
        })
    }

    /// Marks the event as happened and wakes every waiter. Any context,
    /// including interrupt handlers.
    pub fn complete_all(&self) {
        // SAFETY: Initialised (type invariant); `complete_all` may be called from any context.
        unsafe { bindings::complete_all(self.inner.get()) };
    }

    /// Makes the completion wait-able again. Call it before starting the next
    /// event, while nobody waits: a `complete_all` that raced with it (from a
    /// handler of the previous event) is lost, which is the caller's logic,
    /// but never a data race (the reset takes the completion's lock).
    pub fn reinit(&self) {
        // SAFETY: Initialised (type invariant); the helper resets the count under the completion's
        // lock, as `complete_all` updates it.
        unsafe { bindings::dmabridge_reinit_completion(self.inner.get()) };
    }

    /// Waits up to `ms` milliseconds; `Ok(true)` if completed, `Ok(false)` on
    /// timeout, `ERESTARTSYS` if a signal arrived. Process context only.
    pub fn wait_interruptible_timeout(&self, ms: u32) -> Result<bool> {
        let j = crate::time::msecs_to_jiffies(ms);
        // SAFETY: Initialised (type invariant); we are in process context (caller's duty, as for
        // every sleeping function).
        let r = unsafe { bindings::wait_for_completion_interruptible_timeout(self.inner.get(), j) };
        match r {
            0 => Ok(false),
            r if r > 0 => Ok(true),
            _ => Err(ERESTARTSYS),
        }
    }

    /// Waits up to `ms` milliseconds, ignoring signals; whether it completed.
    pub fn wait_timeout(&self, ms: u32) -> bool {
        let j = crate::time::msecs_to_jiffies(ms);
        // SAFETY: As above.
        unsafe { bindings::wait_for_completion_timeout(self.inner.get(), j) != 0 }
    }
}
