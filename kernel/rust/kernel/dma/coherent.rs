// SPDX-License-Identifier: GPL-2.0

//! Coherent DMA memory (`dma_alloc_coherent`).

use super::{dma_gfp, Binding, DmaAddress, DmaDevice, Token};
use crate::{
    alloc::{flags::GFP_KERNEL, Flags},
    bindings,
    error::{code::*, Result},
    sync::Arc,
    types::{AsBytes, FromBytes},
};
use core::{
    ffi::c_void,
    marker::PhantomData,
    sync::atomic::{AtomicBool, Ordering},
};

/// The C allocation, shared between the owner and the unbind action.
///
/// # Invariants
///
/// Until `freed` is set, `cpu`/`handle` are a live `dma_alloc_coherent` of
/// `size` bytes on `binding`'s device.
struct Raw {
    binding: Arc<Binding>,
    cpu: *mut c_void,
    handle: DmaAddress,
    size: usize,
    freed: AtomicBool,
}

// SAFETY: The raw allocation is plain memory plus a handle; freeing is serialised by `freed`.
unsafe impl Send for Raw {}
// SAFETY: As above: `&Raw` only allows `free_once`, which is atomic.
unsafe impl Sync for Raw {}

impl Raw {
    fn free_once(&self) {
        if !self.freed.swap(true, Ordering::AcqRel) {
            // SAFETY: Live until now (invariant); the swap makes this the only free. Same device, size, address and handle as the allocation.
            unsafe {
                bindings::dma_free_attrs(
                    self.binding.raw_dev(),
                    self.size,
                    self.cpu,
                    self.handle,
                    0,
                )
            };
        }
    }

    /// # Safety
    ///
    /// Called once by devres at unbind, with the `Arc` reference `alloc` gave.
    unsafe extern "C" fn unbind_action(ptr: *mut c_void) {
        // SAFETY: `ptr` is the `Arc` reference handed to the action.
        let raw = unsafe { Arc::from_raw(ptr as *const Raw) };
        // The device must be done with the memory before it is freed.
        raw.binding.quiesce();
        raw.free_once();
    }
}

/// The largest coherent allocation: one block of the page allocator's
/// largest order.
const MAX_COHERENT: usize = crate::page::PAGE_SIZE << bindings::MAX_PAGE_ORDER;

/// `count` objects of type `T` in coherent DMA memory: the CPU and the device
/// see each other's writes without syncs.
///
/// Freed when dropped, or at unbind at the latest (after every [`CoherentView`]
/// ended); after unbind, [`CoherentAllocation::access`] fails with `ENXIO`.
/// The CPU reaches the memory only through a [`CoherentView`], with volatile
/// accesses, since the device may write it at any time.
///
/// # Invariants
///
/// `raw` holds `count * size_of::<T>()` bytes (`count > 0`), aligned for `T`
/// (coherent allocations are page aligned); `binding`, `cpu` and `handle` are
/// copies of `raw`'s fields.
///
/// # Examples
///
/// It needs a bound device, so the doctest only builds it (nothing runs);
/// the driver tests (`drivers/dma_test`, `drivers/pci_test`) make these calls on QEMU's edu.
///
/// ```
/// use kernel::{dma::{CoherentAllocation, DmaDevice}, prelude::*};
///
/// fn ring(dma: &DmaDevice) -> Result<CoherentAllocation<u64>> {
///     let ring = CoherentAllocation::<u64>::alloc_coherent(dma, 64, GFP_KERNEL)?;
///     let view = ring.access()?;
///     view.write(0, 0x1234)?;
///     let _head = view.read(0)?;
///     drop(view);
///     Ok(ring)
/// }
/// ```
pub struct CoherentAllocation<T: FromBytes + AsBytes> {
    raw: Arc<Raw>,
    // Copies of `raw`'s fields, read without going through the `Arc`.
    binding: *const Binding,
    cpu: *mut T,
    handle: DmaAddress,
    count: usize,
    _t: PhantomData<T>,
}

// SAFETY: The allocation is plain memory owned by this object; `Raw` and `Binding` are `Send + Sync`.
unsafe impl<T: FromBytes + AsBytes + Send> Send for CoherentAllocation<T> {}
// SAFETY: `&self` only gives volatile access through views and copies of plain values.
unsafe impl<T: FromBytes + AsBytes + Sync> Sync for CoherentAllocation<T> {}

impl<T: FromBytes + AsBytes> CoherentAllocation<T> {
    /// Allocates `count` objects of `T` (`dma_alloc_coherent`); with
    /// `__GFP_ZERO` or not, the memory starts zeroed as the C API guarantees.
    ///
    /// `EINVAL` for `count == 0`, a zero-sized `T` or an overflowing size;
    /// `ENOMEM` if no memory reachable by the device's coherent mask is free.
    pub fn alloc_coherent(dma: &DmaDevice, count: usize, flags: Flags) -> Result<Self> {
        let size = count
            .checked_mul(core::mem::size_of::<T>())
            .filter(|&s| s != 0)
            .ok_or(EINVAL)?;
        if size > MAX_COHERENT {
            // The page allocator WARNs on orders it cannot serve (and an
            // overflowing page rounding wraps to size 0 in C).
            crate::pr_warn!(
                "dma: coherent allocation of {} bytes refused (at most {})\n",
                size,
                MAX_COHERENT
            );
            return Err(EINVAL);
        }
        let mut handle: DmaAddress = 0;
        // SAFETY: The device is bound (the `DmaDevice` quiesces at unbind, and the devres action below frees the memory then) with its coherent mask set; `handle` is a valid out-pointer.
        let cpu = unsafe {
            bindings::dma_alloc_attrs(dma.as_raw(), size, &mut handle, dma_gfp(flags), 0)
        };
        if cpu.is_null() {
            return Err(ENOMEM);
        }
        // INVARIANT: Live from now until `freed` is set.
        let raw = Raw {
            binding: dma.binding.clone(),
            cpu,
            handle,
            size,
            freed: AtomicBool::new(false),
        };
        let raw = match Arc::new(raw, GFP_KERNEL) {
            Ok(raw) => raw,
            Err(e) => {
                // SAFETY: Just allocated with these values and not shared.
                unsafe { bindings::dma_free_attrs(dma.as_raw(), size, cpu, handle, 0) };
                return Err(e.into());
            }
        };
        let action = Arc::into_raw(raw.clone());
        // SAFETY: The action takes back this reference once, at unbind.
        if let Err(e) = unsafe { dma.on_unbind(Raw::unbind_action, action as *mut c_void) } {
            // SAFETY: Not registered: the reference is still ours.
            drop(unsafe { Arc::from_raw(action) });
            raw.free_once();
            return Err(e);
        }
        Ok(Self {
            binding: &*raw.binding,
            cpu: cpu.cast(),
            handle,
            raw,
            count,
            _t: PhantomData,
        })
    }

    /// The number of objects.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The size in bytes.
    pub fn size(&self) -> usize {
        self.raw.size
    }

    /// The DMA address of the first object, to program the device with.
    pub fn dma_handle(&self) -> DmaAddress {
        self.handle
    }

    /// The DMA address of object `i`; `EINVAL` past the end.
    pub fn dma_handle_of(&self, i: usize) -> Result<DmaAddress> {
        if i >= self.count {
            return Err(EINVAL);
        }
        Ok(self.handle + (i * core::mem::size_of::<T>()) as DmaAddress)
    }

    /// Opens a view for CPU access; `ENXIO` once the device is unbound. Unbind
    /// waits for the view to end before it frees the memory.
    #[inline]
    pub fn access(&self) -> Result<CoherentView<'_, T>> {
        // SAFETY: `raw` holds a reference to the binding for as long as `self` lives.
        let token = Token::new(unsafe { &*self.binding })?;
        if self.raw.freed.load(Ordering::Acquire) {
            return Err(ENXIO);
        }
        Ok(CoherentView {
            ptr: self.cpu,
            count: self.count,
            _alloc: PhantomData,
            _token: token,
        })
    }
}

impl<T: FromBytes + AsBytes> Drop for CoherentAllocation<T> {
    fn drop(&mut self) {
        // `dma_free_coherent` must not run with interrupts off. A handler that
        // owns an allocation (behind a lock) can still drop it there: the
        // C core then WARNs, which fails every test run; a type that keeps
        // the drop out of interrupt context is still missing (hole 13 of
        // docs/soundness.md).
        self.raw.free_once();
    }
}

/// CPU access to a [`CoherentAllocation`], while the device is known to be
/// bound. Every access is volatile (C `READ_ONCE`/`WRITE_ONCE`, `memcpy`).
///
/// # Invariants
///
/// `ptr`/`count` are the allocation's, which lives at least for `'a` and is not
/// freed while `_token` keeps the device bound.
pub struct CoherentView<'a, T: FromBytes + AsBytes> {
    ptr: *mut T,
    count: usize,
    _alloc: PhantomData<&'a CoherentAllocation<T>>,
    _token: Token,
}

impl<T: FromBytes + AsBytes> CoherentView<'_, T> {
    #[inline]
    fn ptr(&self) -> *mut T {
        self.ptr
    }

    /// Reads object `i`; `EINVAL` past the end.
    #[inline]
    pub fn read(&self, i: usize) -> Result<T> {
        if i >= self.count {
            return Err(EINVAL);
        }
        // SAFETY: `i < count`, so the object is inside the live allocation (the view keeps the device bound, so unbind cannot free it, and borrows the allocation, so it cannot be dropped); `T: FromBytes` accepts any bytes the device wrote.
        Ok(unsafe { self.ptr().add(i).read_volatile() })
    }

    /// Writes object `i`; `EINVAL` past the end.
    #[inline]
    pub fn write(&self, i: usize, value: T) -> Result {
        if i >= self.count {
            return Err(EINVAL);
        }
        // SAFETY: As in `read`; the memory is shared with the device, so the write is volatile and needs no exclusive reference.
        unsafe { self.ptr().add(i).write_volatile(value) };
        Ok(())
    }

    /// Copies `src` into objects `[start, start + src.len())`; `EINVAL` if that
    /// is past the end (nothing is copied then).
    pub fn copy_from_slice(&self, start: usize, src: &[T]) -> Result {
        let end = start.checked_add(src.len()).ok_or(EINVAL)?;
        if end > self.count {
            return Err(EINVAL);
        }
        // SAFETY: The range is inside the live allocation; `src` is ordinary memory that cannot overlap DMA memory the allocation owns.
        unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), self.ptr().add(start), src.len()) };
        Ok(())
    }

    /// Copies objects `[start, start + dst.len())` into `dst`; `EINVAL` if that
    /// is past the end (nothing is copied then).
    pub fn copy_to_slice(&self, start: usize, dst: &mut [T]) -> Result {
        let end = start.checked_add(dst.len()).ok_or(EINVAL)?;
        if end > self.count {
            return Err(EINVAL);
        }
        // SAFETY: As in `copy_from_slice`; `T: FromBytes` accepts any bytes.
        unsafe {
            core::ptr::copy_nonoverlapping(self.ptr().add(start), dst.as_mut_ptr(), dst.len())
        };
        Ok(())
    }
}
