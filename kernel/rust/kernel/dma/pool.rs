// SPDX-License-Identifier: GPL-2.0

//! Pools of small coherent DMA blocks (`dma_pool_create`).

use super::{dma_gfp, Access, Binding, DmaAddress, DmaDevice, LiveNode, Token};
use crate::{
    alloc::{flags::GFP_KERNEL, Flags},
    bindings,
    error::{code::*, Result},
    str::CStr,
    sync::Arc,
    types::{AsBytes, FromBytes},
};
use core::{
    marker::PhantomData,
    sync::atomic::{AtomicBool, Ordering},
};

/// The C pool, shared between its owners and the binding's list of live
/// memory (which destroys it at unbind if the owners have not).
///
/// # Invariants
///
/// Until `destroyed` is set, `pool` is a live `dma_pool` of `binding`'s
/// device. `node` is the first field.
#[repr(C)]
struct RawPool {
    node: LiveNode,
    binding: Arc<Binding>,
    pool: *mut bindings::dma_pool,
    destroyed: AtomicBool,
}

// SAFETY: `struct dma_pool` has its own lock; destruction is serialised by `destroyed`.
unsafe impl Send for RawPool {}
// SAFETY: As above.
unsafe impl Sync for RawPool {}

impl RawPool {
    fn destroy_once(&self) {
        if !self.destroyed.swap(true, Ordering::AcqRel) {
            // SAFETY: Live until now (invariant); every block was freed: borrowed blocks borrow the
            // pool, owned blocks keep it alive, and at unbind `quiesce` waited for all of them.
            unsafe { bindings::dma_pool_destroy(self.pool) };
        }
    }

    /// Destroys the pool for the binding's list at unbind.
    ///
    /// # Safety
    ///
    /// `node` is the `node` of a `RawPool` in an `Arc`, with a reference the
    /// caller hands over.
    unsafe fn release(node: *const LiveNode) {
        // SAFETY: See the function's safety section; `node` is the first field of the `repr(C)`
        // `RawPool`.
        let raw = unsafe { Arc::from_raw(node.cast::<RawPool>()) };
        raw.destroy_once();
    }
}

/// The owners' share of a pool: the pool is destroyed when the last owner
/// ([`DmaPool`] clones and [`OwnedPoolBlock`]s) is gone, or at unbind.
struct Shared(Arc<RawPool>);

impl Drop for Shared {
    fn drop(&mut self) {
        // `dma_pool_destroy` sleeps (a mutex): where the last owner may not
        // (an interrupt handler), it runs from a workqueue.
        let raw = self.0.clone();
        crate::lifetime::release_sleepable("dma: pool", move || {
            // SAFETY: Listed by `DmaPool::new` on this binding; `raw` is another reference.
            unsafe { raw.binding.del_live::<RawPool>(&raw.node) };
            raw.destroy_once();
        });
    }
}

/// A pool of coherent DMA blocks, each holding one `T` (`dma_pool_create`).
///
/// Blocks are allocated inside an [`Access`] ([`DmaPool::alloc`], which
/// borrows the pool, so a block cannot outlive it) or as [`OwnedPoolBlock`]s
/// that keep pool and binding alive. Destroyed when the last owner drops it, or
/// at unbind once every block is freed.
///
/// # Examples
///
/// It needs a bound device, so the doctest only builds it (nothing runs);
/// the driver tests (`drivers/dma_test`, `drivers/pci_test`) make these calls on QEMU's edu.
///
/// ```
/// use kernel::{c_str, dma::{DmaDevice, DmaPool}, prelude::*};
///
/// fn prp_lists(dma: &DmaDevice) -> Result {
///     let pool = DmaPool::<[u64; 32]>::new(dma, c_str!("prp"), 256, 0)?;
///     let acc = dma.access()?;
///     let block = pool.alloc(&acc, GFP_KERNEL)?;
///     block.write([7; 32]);
///     let _bus_address = block.dma_handle(); // Aligned to 256 bytes.
///     Ok(())
/// }
/// ```
pub struct DmaPool<T: FromBytes + AsBytes> {
    shared: Arc<Shared>,
    // Copies of the `RawPool` fields, read without going through the `Arc`s.
    binding: *const Binding,
    pool: *mut bindings::dma_pool,
    _t: PhantomData<T>,
}

// SAFETY: `struct dma_pool` has its own lock; the pointers are kept alive by `shared`.
unsafe impl<T: FromBytes + AsBytes + Send> Send for DmaPool<T> {}
// SAFETY: As above.
unsafe impl<T: FromBytes + AsBytes + Sync> Sync for DmaPool<T> {}

impl<T: FromBytes + AsBytes> Clone for DmaPool<T> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            binding: self.binding,
            pool: self.pool,
            _t: PhantomData,
        }
    }
}

impl<T: FromBytes + AsBytes> DmaPool<T> {
    /// Creates a pool of blocks of `size_of::<T>()` bytes aligned to `align`
    /// (a power of two, or 0 for the natural alignment) that do not cross a
    /// `boundary` (a power of two, or 0 for none).
    ///
    /// `EINVAL` for a zero-sized `T` or a bad `align`/`boundary`, `ENOMEM` if
    /// the pool cannot be created.
    pub fn new(dma: &DmaDevice, name: &CStr, align: usize, boundary: usize) -> Result<Self> {
        // `dma_pool_create` allocates with `GFP_KERNEL` and takes a mutex.
        crate::lifetime::need_sleepable(name)?;
        let size = core::mem::size_of::<T>();
        let align = if align == 0 {
            core::mem::align_of::<T>()
        } else {
            align
        };
        if size == 0 || !align.is_power_of_two() || (boundary != 0 && !boundary.is_power_of_two()) {
            return Err(EINVAL);
        }
        // dmapool keeps sizes in `unsigned int`: a larger alignment or
        // boundary would be truncated (to 0: a WARN at the first allocation).
        if align > crate::page::PAGE_SIZE || boundary > u32::MAX as usize / 2 {
            crate::pr_warn!(
                "dma: pool {} refused: alignment {} or boundary {} too large\n",
                name,
                align,
                boundary
            );
            return Err(EINVAL);
        }
        if boundary != 0 && boundary < size {
            return Err(EINVAL);
        }
        // Creating holds a user count: the device stays bound meanwhile, and
        // unbind destroys the pool if the owners have not.
        let token = Token::new(&dma.binding)?;
        // SAFETY: The device is bound (we hold a user count) with its mask set; `name` is a valid C
        // string the pool copies.
        let pool = unsafe {
            bindings::dma_pool_create(name.as_char_ptr(), dma.as_raw(), size, align, boundary)
        };
        if pool.is_null() {
            return Err(ENOMEM);
        }
        // INVARIANT: Live until `destroyed` is set.
        let raw = RawPool {
            node: LiveNode::new(RawPool::release),
            binding: dma.binding.clone(),
            pool,
            destroyed: AtomicBool::new(false),
        };
        let raw = match Arc::new(raw, GFP_KERNEL) {
            Ok(raw) => raw,
            Err(e) => {
                // SAFETY: Just created, no blocks, not shared.
                unsafe { bindings::dma_pool_destroy(pool) };
                return Err(e.into());
            }
        };
        let node = Arc::into_raw(raw.clone()).cast::<LiveNode>();
        // SAFETY: `node` is the first field of the `RawPool` whose reference we hand to the list;
        // `token` holds a user count.
        unsafe { token.binding().add_live(node) };
        drop(token);
        let binding: *const Binding = &*raw.binding;
        // From here on dropping `shared` destroys the pool (and unlists it).
        let shared = Arc::new(Shared(raw), GFP_KERNEL)?;
        Ok(Self {
            shared,
            binding,
            pool,
            _t: PhantomData,
        })
    }

    #[inline]
    fn binding(&self) -> &Binding {
        // SAFETY: `shared` holds the `RawPool`, which holds the binding, for as long as `self`
        // lives.
        unsafe { &*self.binding }
    }

    /// Allocates a block (`dma_pool_alloc`) that lives at most as long as the
    /// pool and the scope `acc`. `EINVAL` if `acc` is another device's scope,
    /// `ENOMEM` if no memory is free.
    #[inline]
    pub fn alloc<'a>(&'a self, acc: &'a Access<'_>, flags: Flags) -> Result<PoolBlock<'a, T>> {
        if !core::ptr::eq(acc.binding(), self.binding()) {
            return Err(EINVAL);
        }
        let (cpu, handle) = self.alloc_raw(flags)?;
        // INVARIANT: Allocated from this pool.
        Ok(PoolBlock {
            pool: self,
            cpu,
            handle,
        })
    }

    /// Allocates a block that keeps the pool and the device's binding alive,
    /// for blocks that live across an interrupt. `ENXIO` after unbind.
    pub fn alloc_owned(&self, flags: Flags) -> Result<OwnedPoolBlock<T>> {
        let token = Token::new(self.binding())?;
        let (cpu, handle) = self.alloc_raw(flags)?;
        // INVARIANT: Allocated from this pool, which `pool` keeps alive.
        Ok(OwnedPoolBlock {
            pool: self.clone(),
            cpu,
            handle,
            _token: token,
        })
    }

    /// The caller holds a user count of the binding, so the pool is not destroyed.
    #[inline]
    fn alloc_raw(&self, flags: Flags) -> Result<(*mut T, DmaAddress)> {
        let mut handle = core::mem::MaybeUninit::<DmaAddress>::uninit();
        // Blocks are always zeroed: a fresh block holds dmapool's free-list
        // link (a kernel address), a reused one its previous user's data, and
        // `read()` hands the bytes out.
        let gfp = dma_gfp(flags) | bindings::__GFP_ZERO;
        // SAFETY: The pool is live: an owner exists (`&self`) and the binding has a user, so the
        // unbind action has not destroyed it.
        let cpu = unsafe { bindings::dma_pool_alloc(self.pool, gfp, handle.as_mut_ptr()) };
        if cpu.is_null() {
            return Err(ENOMEM);
        }
        // `dma_pool_alloc` stores the block's DMA address through `handle` whenever it returns a
        // block (mm/dmapool.c).
        // SAFETY: It returned one, so `handle` is initialised.
        let handle = unsafe { handle.assume_init() };
        Ok((cpu.cast(), handle))
    }

    /// # Safety
    ///
    /// `cpu`/`handle` came from `alloc_raw` on this pool and are freed once.
    #[inline]
    unsafe fn free_raw(&self, cpu: *mut T, handle: DmaAddress) {
        // SAFETY: The block belongs to the live pool (the caller's guarantee and the caller's user
        // count).
        unsafe { bindings::dma_pool_free(self.pool, cpu.cast(), handle) };
    }
}

/// Volatile access to one block, shared by both block kinds.
macro_rules! block_access {
    () => {
        /// The DMA address of the block.
        #[inline]
        pub fn dma_handle(&self) -> DmaAddress {
            self.handle
        }

        /// Reads the block (volatile: the device may write it).
        #[inline]
        pub fn read(&self) -> T {
            // SAFETY: The block is live and aligned for `T` (type invariant); `T: FromBytes`
            // accepts any bytes.
            unsafe { self.cpu.read_volatile() }
        }

        /// Writes the block (volatile: the device may read it at any time).
        #[inline]
        pub fn write(&self, value: T) {
            // SAFETY: As in `read`.
            unsafe { self.cpu.write_volatile(value) }
        }
    };
}

/// A block of a [`DmaPool`], freed when dropped; lives at most as long as the
/// pool and the [`Access`] it was allocated in.
///
/// # Invariants
///
/// `cpu`/`handle` are a live block of `pool`.
pub struct PoolBlock<'a, T: FromBytes + AsBytes> {
    pool: &'a DmaPool<T>,
    cpu: *mut T,
    handle: DmaAddress,
}

impl<T: FromBytes + AsBytes> PoolBlock<'_, T> {
    block_access!();
}

impl<T: FromBytes + AsBytes> Drop for PoolBlock<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: A live block of `pool` (invariant), freed once here; the access scope it borrows
        // still holds the binding.
        unsafe { self.pool.free_raw(self.cpu, self.handle) };
    }
}

/// A block of a [`DmaPool`] that keeps the pool and the device's binding alive
/// until it is dropped (unbind waits for it).
///
/// # Invariants
///
/// `cpu`/`handle` are a live block of `pool`.
pub struct OwnedPoolBlock<T: FromBytes + AsBytes> {
    pool: DmaPool<T>,
    cpu: *mut T,
    handle: DmaAddress,
    _token: Token,
}

// SAFETY: The block is DMA memory owned by this object; the pool may be used from any thread.
unsafe impl<T: FromBytes + AsBytes + Send> Send for OwnedPoolBlock<T> {}
// SAFETY: `&self` allows only volatile reads and writes of plain bytes.
unsafe impl<T: FromBytes + AsBytes + Sync> Sync for OwnedPoolBlock<T> {}

impl<T: FromBytes + AsBytes> OwnedPoolBlock<T> {
    block_access!();
}

impl<T: FromBytes + AsBytes> Drop for OwnedPoolBlock<T> {
    fn drop(&mut self) {
        // SAFETY: A live block of `pool` (invariant), freed once here, before `_token` lets unbind
        // go on.
        unsafe { self.pool.free_raw(self.cpu, self.handle) };
    }
}
