// SPDX-License-Identifier: GPL-2.0

//! Coherent DMA memory (`dma_alloc_coherent`).

use super::{dma_gfp, meta_flags, Binding, DmaAddress, DmaDevice, LiveNode, Token};
use crate::{
    alloc::Flags,
    bindings,
    error::{code::*, Result},
    sync::Arc,
    types::{AsBytes, FromBytes},
};
use core::{
    ffi::c_void,
    marker::PhantomData,
    mem::{align_of, size_of},
    sync::atomic::{AtomicBool, Ordering},
};

/// The C allocation, shared between the owner and the binding's list of live
/// memory (which frees it at unbind if the owner has not).
///
/// # Invariants
///
/// Until `freed` is set, `cpu`/`handle` are a live `dma_alloc_coherent` of
/// `size` bytes on `binding`'s device. `node` is the first field.
#[repr(C)]
struct Raw {
    node: LiveNode,
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
            // SAFETY: Live until now (invariant); the swap makes this the only free. Same device,
            // size, address and handle as the allocation.
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

    /// Frees the memory for the binding's list at unbind.
    ///
    /// # Safety
    ///
    /// `node` is the `node` of a `Raw` in an `Arc`, with a reference the
    /// caller hands over.
    unsafe fn release(node: *const LiveNode) {
        // SAFETY: See the function's safety section; `node` is the first field of the `repr(C)`
        // `Raw`.
        let raw = unsafe { Arc::from_raw(node.cast::<Raw>()) };
        raw.free_once();
    }
}

/// The largest coherent allocation: one block of the page allocator's
/// largest order.
const MAX_COHERENT: usize = crate::page::PAGE_SIZE << bindings::MAX_PAGE_ORDER;

/// `count` objects of type `T` in coherent DMA memory: the CPU and the device
/// see each other's writes without syncs.
///
/// Freed when dropped (from a workqueue if that happens where sleeping is not
/// allowed), or at unbind at the latest (after every [`CoherentView`] ended); after unbind,
/// [`CoherentAllocation::access`] fails with `ENXIO`.
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

// SAFETY: The allocation is plain memory owned by this object; `Raw` and `Binding` are `Send +
// Sync`.
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
        // Allocating holds a user count: the device stays bound meanwhile,
        // and unbind frees the allocation if the owner has not.
        let token = Token::new(&dma.binding)?;
        let mut handle: DmaAddress = 0;
        // SAFETY: The device is bound (we hold a user count) with its coherent mask set; `handle`
        // is a valid out-pointer.
        let cpu = unsafe {
            bindings::dma_alloc_attrs(dma.as_raw(), size, &mut handle, dma_gfp(flags), 0)
        };
        if cpu.is_null() {
            return Err(ENOMEM);
        }
        // INVARIANT: Live from now until `freed` is set.
        let raw = Raw {
            node: LiveNode::new(Raw::release),
            binding: dma.binding.clone(),
            cpu,
            handle,
            size,
            freed: AtomicBool::new(false),
        };
        let raw = match Arc::new(raw, meta_flags(flags)) {
            Ok(raw) => raw,
            Err(e) => {
                // `dma_free_attrs` WARNs with interrupts off: where the caller
                // may not sleep (a `GFP_ATOMIC` allocation), free from a
                // workqueue, keeping the device bound until then.
                let (dev, cpu) = (dma.as_raw() as usize, cpu as usize);
                crate::lifetime::release_sleepable("DMA: coherent allocation", move || {
                    // SAFETY: Just allocated with these values and never shared; `token` keeps
                    // the device bound until this free.
                    unsafe { bindings::dma_free_attrs(dev as _, size, cpu as _, handle, 0) };
                    drop(token);
                });
                return Err(e.into());
            }
        };
        let node = Arc::into_raw(raw.clone()).cast::<LiveNode>();
        // SAFETY: `node` is the first field of the `Raw` whose reference we hand to the list;
        // `token` holds a user count.
        unsafe { token.binding().add_live(node) };
        drop(token);
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

    /// The DMA address of object `offset` (in objects, not bytes); `EINVAL`
    /// past the end.
    pub fn dma_handle_with_offset(&self, offset: usize) -> Result<DmaAddress> {
        let i = offset;
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
        // `dma_free_coherent` must not run with interrupts off (a handler
        // may drop the last owner): then it runs from a workqueue.
        let raw = self.raw.clone();
        crate::lifetime::release_sleepable("dma: coherent allocation", move || {
            // SAFETY: Listed by `alloc_coherent` on this binding; `raw` is another reference.
            unsafe { raw.binding.del_live::<Raw>(&raw.node) };
            raw.free_once();
        });
    }
}

/// CPU access to a [`CoherentAllocation`], while the device is known to be
/// bound. Every access is volatile (C `READ_ONCE`/`WRITE_ONCE`), bulk copies
/// too (element by element).
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

    /// The number of objects. A loop that checks it once against its own
    /// bound lets the compiler drop the per-access checks of [`Self::read`]
    /// and [`Self::write`].
    #[inline]
    pub fn len(&self) -> usize {
        self.count
    }

    /// Always `false`: empty allocations are refused.
    #[inline]
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Reads object `i`; `EINVAL` past the end.
    #[inline]
    pub fn read(&self, i: usize) -> Result<T> {
        if i >= self.count {
            return Err(EINVAL);
        }
        // SAFETY: `i < count`, so the object is inside the live allocation (the view keeps the
        // device bound, so unbind cannot free it, and borrows the allocation, so it cannot be
        // dropped); `T: FromBytes` accepts any bytes the device wrote.
        Ok(unsafe { self.ptr().add(i).read_volatile() })
    }

    /// Writes object `i`; `EINVAL` past the end.
    #[inline]
    pub fn write(&self, i: usize, value: T) -> Result {
        if i >= self.count {
            return Err(EINVAL);
        }
        // SAFETY: As in `read`; the memory is shared with the device, so the write is volatile and
        // needs no exclusive reference.
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
        for (i, v) in src.iter().enumerate() {
            // SAFETY: `start + i < end <= count`: inside the live allocation (as in `write`).
            // Volatile, element by element: the device may access the memory meanwhile, so a plain
            // copy would be a data race the compiler may exploit. `ptr::read` copies plain bytes
            // (`AsBytes` types have no pointers to own), and the copy in DMA memory is never
            // dropped.
            unsafe { self.ptr().add(start + i).write_volatile(core::ptr::read(v)) };
        }
        Ok(())
    }

    /// Copies objects `[start, start + dst.len())` into `dst`; `EINVAL` if that
    /// is past the end (nothing is copied then).
    pub fn copy_to_slice(&self, start: usize, dst: &mut [T]) -> Result {
        let end = start.checked_add(dst.len()).ok_or(EINVAL)?;
        if end > self.count {
            return Err(EINVAL);
        }
        for (i, v) in dst.iter_mut().enumerate() {
            // SAFETY: As in `copy_from_slice`; `T: FromBytes` accepts any bytes the device wrote.
            *v = unsafe { self.ptr().add(start + i).read_volatile() };
        }
        Ok(())
    }
}

impl<T: FromBytes + AsBytes> CoherentAllocation<T> {
    /// Reads the field `field` picks of object `i`: what [`dma_read!`]
    /// expands to. `ENXIO` once the device is unbound, `EINVAL` past the end.
    #[doc(hidden)]
    #[inline]
    pub fn __field_read<F: FromBytes + AsBytes>(
        &self,
        i: usize,
        field: impl FnOnce(*const T) -> *const F,
    ) -> Result<F> {
        let view = self.access()?;
        let item = view.item(i)?;
        let offset = field_in_object::<T, F>(item as usize, field(item) as usize)?;
        // SAFETY: `offset` is inside object `i` (checked), so the pointer,
        // derived from `item`, is too.
        let p = unsafe { item.cast::<u8>().add(offset) }.cast::<F>();
        // SAFETY: `p` is an aligned `F` inside object `i` of the live
        // allocation (checked above; the view keeps the device bound);
        // `F: FromBytes` accepts any bytes the device wrote.
        Ok(unsafe { p.read_volatile() })
    }

    /// Writes `value` to the field `field` picks of object `i`: what
    /// [`dma_write!`] expands to. Errors as [`Self::__field_read`].
    #[doc(hidden)]
    #[inline]
    pub fn __field_write<F: FromBytes + AsBytes>(
        &self,
        i: usize,
        field: impl FnOnce(*mut T) -> *mut F,
        value: F,
    ) -> Result {
        let view = self.access()?;
        let item = view.item(i)?;
        let offset = field_in_object::<T, F>(item as usize, field(item) as usize)?;
        // SAFETY: As in `__field_read`.
        let p = unsafe { item.cast::<u8>().add(offset) }.cast::<F>();
        // SAFETY: As in `__field_read`; the memory is shared with the device,
        // so the write is volatile and needs no exclusive reference, and `F`
        // is a field of the `FromBytes` type `T`, so the object stays valid.
        unsafe { p.write_volatile(value) };
        Ok(())
    }
}

impl<T: FromBytes + AsBytes> CoherentView<'_, T> {
    /// The address of object `i`; `EINVAL` past the end.
    #[inline]
    fn item(&self, i: usize) -> Result<*mut T> {
        if i >= self.count {
            return Err(EINVAL);
        }
        // SAFETY: `i < count`: inside the allocation.
        Ok(unsafe { self.ptr().add(i) })
    }
}

/// Checks that an `F` at `field` lies inside the `T` at `item`, at an
/// address aligned for `F` (not only at an offset aligned for it: the object
/// itself is aligned only for `T`); returns its offset. The access then goes
/// through `item` plus that offset, never through the caller's pointer.
///
/// Inline: the macros compute `field` from `item` with a constant offset, so
/// the compiler folds the bounds away (the alignment is a test of the
/// address); only the refusal is out of line.
#[inline(always)]
fn field_in_object<T, F>(item: usize, field: usize) -> Result<usize> {
    let (size, fsize, falign) = (size_of::<T>(), size_of::<F>(), align_of::<F>());
    let offset = field.wrapping_sub(item);
    if field >= item && offset <= size && size - offset >= fsize && field % falign == 0 {
        return Ok(offset);
    }
    field_refused()
}

/// The refusal of [`field_in_object`] (non-generic, out of line). The macros
/// compute field addresses that cannot fail the check; it is there so that a
/// mistake in that argument is a clean `EINVAL` rather than a wild access.
#[cold]
#[inline(never)]
fn field_refused() -> Result<usize> {
    crate::pr_err!("dma: a field access outside its object was refused\n");
    Err(EINVAL)
}

/// Reads object `i` (or a field of it) of a [`CoherentAllocation`], as in
/// mainline: `dma_read!(alloc[i])`, `dma_read!(alloc[i].field.inner)`.
/// Returns `Result`: `ENXIO` once the device is unbound, `EINVAL` past the
/// end. The read is volatile.
///
/// Fields are named (no indexes, no calls): the macro computes their
/// address, and every type a coherent allocation may hold (integers,
/// arrays, [`dma_struct!`]s) has its fields inline (none dereferences), so
/// the address is always inside the object.
///
/// # Examples
///
/// ```
/// use kernel::{dma::{CoherentAllocation, DmaDevice}, dma_read, dma_struct, dma_write, prelude::*};
///
/// dma_struct! {
///     /// A descriptor the device reads.
///     pub struct Desc {
///         /// Where the data is.
///         pub addr: u64,
///         /// How long it is.
///         pub len: u32,
///         /// Flags.
///         pub flags: u32,
///     }
/// }
///
/// fn fill(dma: &DmaDevice) -> Result<CoherentAllocation<Desc>> {
///     let ring = CoherentAllocation::<Desc>::alloc_coherent(dma, 16, GFP_KERNEL)?;
///     dma_write!(ring[0].addr = 0x1000)?;
///     dma_write!(ring[0].len = 512)?;
///     let _len: u32 = dma_read!(ring[0].len)?;
///     Ok(ring)
/// }
/// ```
#[macro_export]
macro_rules! dma_read {
    ($dma:expr, $idx:expr $(, $field:ident)*) => {
        $crate::dma::CoherentAllocation::__field_read(&$dma, $idx, |item| {
            // SAFETY: Only the address of a field of `*item` is computed, and
            // `__field_read` passes a pointer to a live object. Field names
            // are identifiers, so no code of the caller runs here, and no
            // field dereferences (see the macro's documentation).
            unsafe { ::core::ptr::addr_of!((*item) $(.$field)*) }
        })
    };
    ($dma:ident [ $idx:expr ] $(.$field:ident)*) => {
        $crate::dma_read!($dma, $idx $(, $field)*)
    };
    ($($dma:ident).* [ $idx:expr ] $(.$field:ident)*) => {
        $crate::dma_read!($($dma).*, $idx $(, $field)*)
    };
}

/// Writes object `i` (or a field of it) of a [`CoherentAllocation`], as in
/// mainline: `dma_write!(alloc[i] = value)`, `dma_write!(alloc[i].field =
/// value)`. Returns `Result`, with the errors and rules of [`dma_read!`].
#[macro_export]
macro_rules! dma_write {
    (@ $dma:expr, $idx:expr, $val:expr $(, $field:ident)*) => {
        $crate::dma::CoherentAllocation::__field_write(
            &$dma,
            $idx,
            |item| {
                // SAFETY: As in `dma_read!`.
                unsafe { ::core::ptr::addr_of_mut!((*item) $(.$field)*) }
            },
            $val,
        )
    };
    ($dma:ident [ $idx:expr ] $(.$field:ident)* = $val:expr) => {
        $crate::dma_write!(@ $dma, $idx, $val $(, $field)*)
    };
    ($($dma:ident).* [ $idx:expr ] $(.$field:ident)* = $val:expr) => {
        $crate::dma_write!(@ $($dma).*, $idx, $val $(, $field)*)
    };
}

/// Declares a struct that a device and the CPU share through DMA memory
/// (`#[repr(C)]`), and implements [`FromBytes`] and [`AsBytes`] for it, so
/// that a driver without `unsafe` can put it in a [`CoherentAllocation`].
///
/// The build fails unless every field is itself plain data (`FromBytes +
/// AsBytes`: integers, arrays of them, other `dma_struct!`s), the struct
/// has no padding (every byte belongs to a field, so every byte is
/// initialised and any bytes are a value), every field is aligned within it,
/// and the struct does not implement `Deref` (field access in [`dma_read!`]
/// relies on that).
///
/// # Examples
///
/// ```
/// kernel::dma_struct! {
///     /// A completion entry.
///     pub struct Completion {
///         /// What the command returned.
///         pub result: u32,
///         /// Reserved.
///         pub reserved: u32,
///         /// Where the device's queue head is, and which queue.
///         pub sq: [u16; 2],
///         /// Command identifier and status.
///         pub cid_status: [u16; 2],
///     }
/// }
/// assert_eq!(core::mem::size_of::<Completion>(), 16);
/// ```
#[macro_export]
macro_rules! dma_struct {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($(#[doc = $doc:expr])* $fvis:vis $field:ident : $ty:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[repr(C)]
        $vis struct $name {
            $($(#[doc = $doc])* $fvis $field: $ty),*
        }

        const _: () = {
            use $crate::dma::__NotDeref as _;
            #[allow(dead_code)]
            fn fields_are_plain_data() {
                fn plain<T: $crate::types::FromBytes + $crate::types::AsBytes>() {}
                $(plain::<$ty>();)*
            }
            ::core::assert!(
                ::core::mem::size_of::<$name>() == 0 $(+ ::core::mem::size_of::<$ty>())*,
                "dma_struct!: the struct has padding"
            );
            $(::core::assert!(
                ::core::mem::offset_of!($name, $field) % ::core::mem::align_of::<$ty>() == 0
                    && ::core::mem::align_of::<$name>() >= ::core::mem::align_of::<$ty>(),
                "dma_struct!: a field is not aligned"
            );)*
            ::core::assert!(
                !<$crate::dma::__NoDeref<$name>>::IS_DEREF,
                "dma_struct!: the struct implements Deref"
            );
        };

        // SAFETY: `#[repr(C)]`, every field is `FromBytes` (checked above)
        // and there is no padding (checked above): any bytes are a value.
        unsafe impl $crate::types::FromBytes for $name {}
        // SAFETY: Every field is `AsBytes` and there is no padding (checked
        // above): every byte is initialised.
        unsafe impl $crate::types::AsBytes for $name {}
    };
}

/// Tells whether `T` implements `Deref`, for [`dma_struct!`]: the inherent
/// constant applies when it does, the trait's default otherwise.
#[doc(hidden)]
pub struct __NoDeref<T: ?Sized>(PhantomData<T>);

#[doc(hidden)]
pub trait __NotDeref {
    /// `T` does not implement `Deref`.
    const IS_DEREF: bool = false;
}

impl<T: ?Sized> __NotDeref for __NoDeref<T> {}

impl<T: ?Sized + core::ops::Deref> __NoDeref<T> {
    /// `T` implements `Deref`.
    #[doc(hidden)]
    pub const IS_DEREF: bool = true;
}
