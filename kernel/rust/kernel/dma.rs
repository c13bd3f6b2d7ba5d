// SPDX-License-Identifier: GPL-2.0

//! Direct memory access (DMA) through the unchanged C DMA API.
//!
//! C headers: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h),
//! [`include/linux/dmapool.h`](srctree/include/linux/dmapool.h),
//! [`include/linux/scatterlist.h`](srctree/include/linux/scatterlist.h)
//!
//! The rules of `Documentation/core-api/dma-api.rst` are carried by types:
//!
//! - A driver gets a [`DmaDevice`] only by setting the device's DMA masks
//!   ([`DmaDevice::set_mask_and_coherent`]); every allocator and mapper needs
//!   one, so nothing is allocated or mapped before the mask is set.
//! - Long-lived memory ([`CoherentAllocation`], [`DmaPool`]) is released when
//!   the driver drops it or at unbind, whichever comes first.
//! - Everything else happens inside an [`Access`]: a scope in which the device
//!   is known to be bound. Unbind waits for every `Access` (and every owned
//!   mapping or block) to end before it releases memory, so the device is never
//!   left with a DMA address of freed memory, and [`DmaDevice::access`] fails
//!   with `ENXIO` once the device is gone.
//! - Streaming mappings ([`Mapping`], [`SgMapping`]) own their buffer (a
//!   borrow would end at `mem::forget` of the mapping), so the CPU cannot touch
//!   it while the device owns it; [`Mapping::sync_for_cpu`]
//!   hands it to the CPU and [`Mapping::sync_for_device`] gives it back. The
//!   direction is a type parameter: syncs and unmaps always use the direction
//!   and size of the map.

use crate::{
    alloc::{flags::GFP_KERNEL, Flags, KBox, KVec},
    bindings, device,
    driver::BoundDevice,
    error::{code::*, to_result, Result},
    page::{Page, PAGE_SIZE},
    prelude::*,
    sync::{Arc, Completion},
    types::{ARef, Opaque},
};
use core::{
    ffi::c_void,
    marker::PhantomData,
    pin::Pin,
    ptr::NonNull,
    sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering},
};

mod coherent;
mod map;
mod pool;
mod sg;

pub use coherent::{__NoDeref, __NotDeref, CoherentAllocation, CoherentView};
pub use map::{CpuOwned, DeviceOwned, Mapping, Owner};
pub use pool::{DmaPool, OwnedPoolBlock, PoolBlock};
pub use sg::{ForeignSgMapping, Segments, SgMapping};

/// A bus address the device uses to reach memory (C `dma_addr_t`).
pub type DmaAddress = bindings::dma_addr_t;

/// The set of bus addresses a device can generate.
///
/// # Invariants
///
/// The value is `DMA_BIT_MASK(n)` for some `1 <= n <= 64`.
///
/// # Examples
///
/// ```
/// use kernel::dma::DmaMask;
///
/// assert_eq!(DmaMask::new::<28>().value(), 0x0fff_ffff);
/// assert_eq!(DmaMask::new::<64>().value(), u64::MAX);
/// assert_eq!(DmaMask::try_new(32)?.value(), 0xffff_ffff);
/// assert_eq!(DmaMask::try_new(65), Err(EINVAL));
/// assert_eq!(DmaMask::try_new(0), Err(EINVAL));
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DmaMask(u64);

impl DmaMask {
    /// The mask of `BITS` address bits; `BITS` outside `1..=64` does not compile.
    pub const fn new<const BITS: u32>() -> Self {
        const {
            assert!(
                BITS >= 1 && BITS <= 64,
                "a DMA mask has between 1 and 64 bits"
            )
        };
        Self::bits(BITS)
    }

    /// The mask of `bits` address bits, checked at run time: `EINVAL` outside `1..=64`.
    pub const fn try_new(bits: u32) -> Result<Self> {
        if bits >= 1 && bits <= 64 {
            Ok(Self::bits(bits))
        } else {
            Err(EINVAL)
        }
    }

    const fn bits(bits: u32) -> Self {
        // INVARIANT: The callers checked `1 <= bits <= 64`.
        if bits == 64 {
            Self(u64::MAX)
        } else {
            Self((1u64 << bits) - 1)
        }
    }

    /// The mask as the C API takes it.
    pub const fn value(&self) -> u64 {
        self.0
    }
}

/// Logs that `mask` was refused for `dev` and returns `e`: the platform has
/// no memory the mask reaches (arm64's `virt`, whose RAM starts at 1 GiB,
/// refuses 28 bits), or the device does no DMA at all.
fn mask_refused(dev: &(impl BoundDevice + ?Sized), mask: DmaMask, e: Error) -> Error {
    // SAFETY: `dev` is bound while borrowed, so its `struct device` is valid for this call.
    let d = unsafe { crate::device::Device::as_ref(dev.as_raw_bound()) };
    let bits = 64 - mask.value().leading_zeros();
    crate::dev_err!(d, "DMA: the platform refused a {bits}-bit mask ({e:?})\n");
    e
}

/// The direction of a streaming mapping (C `enum dma_data_direction`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u32)]
pub enum DataDirection {
    /// Both ways.
    Bidirectional = bindings::dma_data_direction_DMA_BIDIRECTIONAL,
    /// The device reads the memory.
    ToDevice = bindings::dma_data_direction_DMA_TO_DEVICE,
    /// The device writes the memory.
    FromDevice = bindings::dma_data_direction_DMA_FROM_DEVICE,
    /// No transfer (C `DMA_NONE`, for debugging): no mapping takes it, since
    /// a mapping's direction is one of the [`Direction`] types.
    None = bindings::dma_data_direction_DMA_NONE,
}

/// Orders the CPU's reads of coherent DMA memory (C `dma_rmb`): reads after
/// it see what the device wrote no earlier than the reads before it saw.
///
/// A driver that polls a device-written flag (an NVMe completion's phase bit,
/// a descriptor's "done" bit) reads the flag, calls this, then reads the rest
/// of the entry; without it a weakly ordered CPU (arm64) may return entry
/// fields older than the flag.
#[inline]
pub fn dma_rmb() {
    // SAFETY: A memory barrier; no memory is accessed.
    unsafe { bindings::dma_rmb() }
}

mod private {
    pub trait Sealed {}
}

/// A direction as a type, so that a mapping carries it and every sync and unmap
/// of the mapping uses it. Sealed: [`ToDevice`], [`FromDevice`] and
/// [`Bidirectional`].
pub trait Direction: private::Sealed + Send + Sync + 'static {
    /// The C value.
    const DIRECTION: DataDirection;
}

/// Directions in which the device writes the memory, so the CPU may read what
/// it wrote after [`Mapping::sync_for_cpu`].
pub trait DeviceWrites: Direction {}

/// Directions in which the device reads the memory, so the CPU may fill it
/// after [`Mapping::sync_for_cpu`] and before [`Mapping::sync_for_device`].
pub trait DeviceReads: Direction {}

/// The device reads the memory (`DMA_TO_DEVICE`).
pub struct ToDevice;
/// The device writes the memory (`DMA_FROM_DEVICE`).
pub struct FromDevice;
/// The device reads and writes the memory (`DMA_BIDIRECTIONAL`).
pub struct Bidirectional;

impl private::Sealed for ToDevice {}
impl private::Sealed for FromDevice {}
impl private::Sealed for Bidirectional {}
impl Direction for ToDevice {
    const DIRECTION: DataDirection = DataDirection::ToDevice;
}
impl Direction for FromDevice {
    const DIRECTION: DataDirection = DataDirection::FromDevice;
}
impl Direction for Bidirectional {
    const DIRECTION: DataDirection = DataDirection::Bidirectional;
}
impl DeviceReads for ToDevice {}
impl DeviceReads for Bidirectional {}
impl DeviceWrites for FromDevice {}
impl DeviceWrites for Bidirectional {}

/// The binding of a device as seen by its DMA users.
///
/// `users` counts one for the binding itself plus one per [`Access`], owned
/// mapping and owned pool block; it drops to zero only after unbind started and
/// every user ended, and never rises again. `idle` completes then.
///
/// `live` lists the long-lived DMA memory still allocated (coherent
/// allocations, pools): each is listed by its allocator while it holds a user
/// count, and unlisted when its owner frees it, so the list holds only what is
/// allocated now. Unbind frees what is left once the users ended.
///
/// # Invariants
///
/// - `dev` has its DMA masks set; it is bound to its driver while `users > 0`.
/// - `raw` is `dev`'s `struct device`.
/// - `live` is a list made by `dmabridge_live_new`, freed when the binding is;
///   every node on it is the [`LiveNode`] of an allocation whose `Arc`
///   reference the list owns.
#[pin_data(PinnedDrop)]
struct Binding {
    dev: ARef<device::Device>,
    raw: *mut bindings::device,
    live: *mut c_void,
    users: AtomicUsize,
    unbinding: AtomicBool,
    #[pin]
    idle: Completion,
}

// SAFETY: The fields are atomics, a reference-counted device (usable from any
// thread), a completion and a list, which the C side protects with its own
// locks.
unsafe impl Send for Binding {}
// SAFETY: As above; all methods take `&self` and synchronise through atomics,
// the completion or the list's lock.
unsafe impl Sync for Binding {}

#[pinned_drop]
impl PinnedDrop for Binding {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: Made by `dmabridge_live_new` and not used after this (invariant); nodes still
        // listed (a leaked binding is never dropped) hold references to it, so it is empty.
        unsafe { bindings::dmabridge_live_free(self.live) };
    }
}

/// The head of DMA memory a [`Binding`] frees at unbind if its owner has not.
///
/// # Invariants
///
/// The first field of a `repr(C)` allocation kept in an `Arc`; `release`
/// takes back one `Arc` reference of that allocation from the node's address
/// and frees its DMA memory (once, however often it is called).
#[repr(C)]
struct LiveNode {
    link: Opaque<bindings::list_head>,
    release: unsafe fn(*const LiveNode),
}

impl LiveNode {
    fn new(release: unsafe fn(*const LiveNode)) -> Self {
        Self {
            link: Opaque::uninit(),
            release,
        }
    }
}

impl Binding {
    #[inline]
    fn raw_dev(&self) -> *mut bindings::device {
        self.raw
    }

    /// Lists an allocation for release at unbind, handing over one `Arc`
    /// reference of it.
    ///
    /// # Safety
    ///
    /// `node` is the [`LiveNode`] of an allocation whose `Arc` reference
    /// (from `Arc::into_raw`) the caller gives to the list; the caller holds a
    /// user count (so unbind has not released the list yet).
    unsafe fn add_live(&self, node: *const LiveNode) {
        // SAFETY: `live` is valid (invariant); `link` is pinned in the `Arc` and not listed.
        unsafe { bindings::dmabridge_live_add(self.live, (*node).link.get()) };
    }

    /// Unlists an allocation its owner frees; drops the list's reference.
    ///
    /// # Safety
    ///
    /// `node` was listed with [`Binding::add_live`] on this binding, and the
    /// caller holds another reference of its allocation.
    unsafe fn del_live<A>(&self, node: *const LiveNode) {
        // SAFETY: `live` is valid; `link` was initialised by `add_live`.
        if unsafe { bindings::dmabridge_live_del(self.live, (*node).link.get()) } {
            // SAFETY: Listed, so the list owned this reference (invariant); the caller still holds
            // one.
            drop(unsafe { Arc::from_raw(node.cast::<A>()) });
        }
    }

    /// Frees every allocation still listed. Called at unbind, once the users
    /// ended.
    fn release_live(&self) {
        loop {
            // SAFETY: `live` is valid (invariant).
            let link = unsafe { bindings::dmabridge_live_pop(self.live) };
            if link.is_null() {
                return;
            }
            let node = link.cast::<LiveNode>().cast_const();
            // SAFETY: `link` is the first field of a listed `LiveNode` (`repr(C)`), whose reference
            // the list owned and now hands to `release` (invariant).
            unsafe { ((*node).release)(node) };
        }
    }

    /// Adds a user; `ENXIO` once unbind started.
    #[inline]
    fn enter(&self) -> Result {
        let mut n = self.users.load(Ordering::Relaxed);
        loop {
            if n == 0 || self.unbinding.load(Ordering::Relaxed) {
                return Err(ENXIO);
            }
            match self
                .users
                .compare_exchange_weak(n, n + 1, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(now) => n = now,
            }
        }
    }

    /// Removes a user; the last one (after unbind started) completes `idle`.
    ///
    /// # Safety
    ///
    /// The caller owns one count taken by `enter` (or the binding's own count)
    /// and does not use `self` after this call: once the count reaches zero the
    /// unbinding thread may free it.
    #[inline]
    unsafe fn exit(&self) {
        if self.users.fetch_sub(1, Ordering::Release) == 1 {
            fence(Ordering::Acquire);
            // `complete_all` is done with the completion before the waiter in
            // `quiesce` can return, so the binding may be freed right after.
            self.idle.complete_all();
        }
    }

    /// Stops the device's DMA and new users, and waits until every user has
    /// ended; then frees the DMA memory still allocated. Called once, by the
    /// devres action at unbind.
    ///
    /// A PCI device stops mastering the bus first, for DMA memory that
    /// outlives the driver's object (held by open files, work items): a
    /// device still polling it would write freed pages, because devres
    /// disables the device (`pci_disable_device`) only after freeing them.
    /// (The PCI remove path clears bus mastering before the driver's object
    /// is dropped.)
    ///
    /// Users that do not end within 10 s (a leaked or long-held access scope,
    /// mapping or pool block) make it give up: the memory is leaked, not
    /// freed under them, and the binding stays allocated for their counts.
    /// Returns whether the users ended.
    fn quiesce(&self) -> bool {
        if !self.unbinding.swap(true, Ordering::Relaxed) {
            // SAFETY: `raw` is the bound device (unbind is in progress on this thread); clearing
            // bus mastering only stops its DMA.
            unsafe { bindings::dmabridge_stop_bus_master(self.raw) };
            // SAFETY: Only the first caller gives up the binding's own count.
            unsafe { self.exit() };
        }
        // Devres actions run in process context, from the unbinding thread.
        if crate::lifetime::wait_bounded(|| self.idle.wait_timeout(1)) {
            self.release_live();
            return true;
        }
        pr_err!(
            "dma: unbind gave up waiting for {} DMA users (a leaked or long-held access \
             scope, mapping or pool block); leaking the device's DMA memory\n",
            self.users.load(Ordering::Relaxed)
        );
        false
    }
}

/// A device whose DMA masks are set: the capability every DMA allocator and
/// mapper requires.
///
/// Cloning is cheap; clones may be kept anywhere (in open files, interrupt
/// handlers). Operations fail with `ENXIO` once the device was unbound.
///
/// # Invariants
///
/// A devres action registered on the bound device holds one reference to
/// `binding` and calls [`Binding::quiesce`] at unbind.
#[derive(Clone)]
pub struct DmaDevice {
    binding: Arc<Binding>,
}

impl DmaDevice {
    /// Sets the streaming and coherent masks to `mask`
    /// (`dma_set_mask_and_coherent`). `EIO` if the platform cannot address
    /// that mask.
    ///
    /// # Examples
    ///
    /// It needs a bound device, so the doctest only builds it (nothing runs);
    /// the driver tests (`drivers/dma_test`, `drivers/pci_test`) make these calls on QEMU's edu.
    ///
    /// ```
    /// use kernel::{dma::{DmaDevice, DmaMask}, driver::BoundDevice, prelude::*};
    ///
    /// fn setup(dev: &impl BoundDevice) -> Result<DmaDevice> {
    ///     DmaDevice::set_mask_and_coherent(dev, DmaMask::new::<28>())
    /// }
    /// ```
    pub fn set_mask_and_coherent(dev: &impl BoundDevice, mask: DmaMask) -> Result<Self> {
        crate::lifetime::need_bus_callback("DMA: setting the mask")?;
        // SAFETY: The device is valid and bound. Only bus callbacks (probe,
        // unbind) get here, which the driver core serialises: the other
        // holders of a bound device, IRQ handlers, are refused above.
        let r = to_result(unsafe {
            bindings::dma_set_mask_and_coherent(dev.as_raw_bound(), mask.value())
        });
        r.map_err(|e| mask_refused(dev, mask, e))?;
        Self::new(dev)
    }

    /// Sets the streaming mask (`dma_set_mask`) and the coherent mask
    /// (`dma_set_coherent_mask`) separately.
    pub fn set_masks(
        dev: &impl BoundDevice,
        streaming: DmaMask,
        coherent: DmaMask,
    ) -> Result<Self> {
        crate::lifetime::need_bus_callback("DMA: setting the masks")?;
        // SAFETY: As in `set_mask_and_coherent`.
        let r = to_result(unsafe { bindings::dma_set_mask(dev.as_raw_bound(), streaming.value()) });
        r.map_err(|e| mask_refused(dev, streaming, e))?;
        // SAFETY: As in `set_mask_and_coherent`.
        let r = to_result(unsafe {
            bindings::dma_set_coherent_mask(dev.as_raw_bound(), coherent.value())
        });
        r.map_err(|e| mask_refused(dev, coherent, e))?;
        Self::new(dev)
    }

    fn new(dev: &impl BoundDevice) -> Result<Self> {
        // SAFETY: The device is valid; `get_device` takes a reference.
        let dev_ref = unsafe { device::Device::get_device(dev.as_raw_bound()) };
        let raw = dev.as_raw_bound();
        // SAFETY: Allocates an empty list, or returns null.
        let live = unsafe { bindings::dmabridge_live_new() };
        if live.is_null() {
            return Err(ENOMEM);
        }
        // From here on the binding frees `live` when dropped.
        let binding = Arc::pin_init(
            pin_init!(Binding {
                dev: dev_ref,
                raw,
                live,
                users: AtomicUsize::new(1),
                unbinding: AtomicBool::new(false),
                idle <- Completion::new(),
            }),
            GFP_KERNEL,
        )
        .inspect_err(|_| {
            // SAFETY: The binding was not made, so nothing else has `live`.
            unsafe { bindings::dmabridge_live_free(live) }
        })?;
        let action = Arc::into_raw(binding.clone());
        let data = action as *mut c_void;
        // SAFETY: `unbind_action` takes back this `Arc` reference exactly once, at unbind.
        let added = unsafe { crate::devres::add_action(dev, Self::unbind_action, data) };
        if let Err(e) = added {
            // Not registered: the reference is ours again. (Quiescing now
            // would stop the device's bus mastering in the middle of probe.)
            // SAFETY: From `Arc::into_raw` above, not handed to anyone.
            drop(unsafe { Arc::from_raw(action) });
            return Err(e);
        }
        // INVARIANT: The action holds one reference and quiesces at unbind.
        Ok(Self { binding })
    }

    /// # Safety
    ///
    /// Called once, with the pointer `new` registered.
    unsafe extern "C" fn unbind_action(ptr: *mut c_void) {
        // SAFETY: `ptr` is the `Arc` reference `new` handed to the action.
        let binding = unsafe { Arc::from_raw(ptr as *const Binding) };
        if !binding.quiesce() {
            // Users still hold counts on the binding without references:
            // keep it (and the memory it lists) allocated for them.
            crate::lifetime::leak_arc(binding);
        }
    }

    /// Enters a scope in which the device stays bound; `ENXIO` once unbind
    /// started. Unbind waits for the scope to end: keep it short (one transfer).
    #[inline]
    pub fn access(&self) -> Result<Access<'_>> {
        // INVARIANT: `dev` is the device of the binding the token counts on.
        Ok(Access {
            token: Token::new(&self.binding)?,
            dev: self.binding.raw_dev(),
            _dev: PhantomData,
        })
    }

    /// Sets the longest segment the device takes in one scatter-gather entry
    /// (C `dma_set_max_seg_size`; 64 KiB unless set). `EIO` if the device
    /// has no DMA parameters to hold it, `ENXIO` once unbound.
    pub fn set_max_seg_size(&self, size: u32) -> Result {
        let _token = Token::new(&self.binding)?;
        // SAFETY: The device is bound (we hold a token); the helper checks its DMA parameters
        // and stores the limit there.
        to_result(unsafe { bindings::dmabridge_set_max_seg_size(self.binding.raw_dev(), size) })
    }

    /// Keeps the address bits in `mask` when a mapping is bounced through
    /// swiotlb (C `dma_set_min_align_mask`): a device that addresses memory in
    /// pages (NVMe's PRPs) needs a bounce slot at the same offset in its page.
    /// `EIO` if the device has no DMA parameters, `ENXIO` once unbound.
    pub fn set_min_align_mask(&self, mask: u32) -> Result {
        let _token = Token::new(&self.binding)?;
        // SAFETY: As in `set_max_seg_size`.
        to_result(unsafe { bindings::dmabridge_set_min_align_mask(self.binding.raw_dev(), mask) })
    }

    /// Whether the device is still bound (it may be unbound right after).
    pub fn is_bound(&self) -> bool {
        !self.binding.unbinding.load(Ordering::Relaxed)
    }

    /// Maps `buf` for the device in direction `D` with a mapping that is not
    /// tied to a scope, so it can be kept across an interrupt (a request in
    /// flight). It holds the binding: unbind waits for it to be dropped.
    pub fn map_owned<D: Direction, B: DmaBuffer + 'static>(
        &self,
        buf: B,
    ) -> Result<Mapping<'static, D, B>> {
        let token = Token::new(&self.binding)?;
        // SAFETY: `token` keeps the binding's device bound and goes into the mapping.
        unsafe { Mapping::new(self.binding.raw_dev(), buf, Some(token)) }
    }

    /// The `struct device` of this DMA device.
    pub fn as_raw(&self) -> *mut bindings::device {
        self.binding.raw_dev()
    }
}

/// One user count of a [`Binding`]: while it lives the device stays bound and
/// the binding is not freed.
///
/// # Invariants
///
/// `0` points to a `Binding` on which this token holds one count from
/// [`Binding::enter`].
struct Token(NonNull<Binding>);

// SAFETY: The count may be released from any thread; `Binding` is `Sync`.
unsafe impl Send for Token {}
// SAFETY: `&Token` exposes nothing.
unsafe impl Sync for Token {}

impl Token {
    #[inline]
    fn new(binding: &Binding) -> Result<Self> {
        binding.enter()?;
        // INVARIANT: We hold one count.
        Ok(Self(NonNull::from(binding)))
    }

    #[inline]
    fn binding(&self) -> &Binding {
        // SAFETY: The binding is freed only after its count reached zero (the devres action holds a
        // reference until then), and we hold a count.
        unsafe { self.0.as_ref() }
    }
}

impl Drop for Token {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: We own one count (type invariant) and do not use the binding afterwards.
        unsafe { self.0.as_ref().exit() };
    }
}

/// A scope in which the device is bound: borrowed mappings, pool blocks and
/// coherent views are made from it and cannot outlive it.
///
/// # Invariants
///
/// `dev` is the device of the binding `token` holds a count on.
pub struct Access<'a> {
    token: Token,
    // A copy of the binding's device pointer: read through `&Access`, which
    // nothing changes while it is borrowed, it stays in a register across a
    // loop's calls (the binding behind `token`'s pointer is read again after
    // each one).
    dev: *mut bindings::device,
    _dev: PhantomData<&'a DmaDevice>,
}

// SAFETY: `token` is `Send`; `dev` is only passed to the C DMA API, which may be called from any
// thread, while `token` keeps the device bound.
unsafe impl Send for Access<'_> {}
// SAFETY: `&Access` only reads `dev` and makes mappings and blocks from it, which the C DMA API
// allows from any thread.
unsafe impl Sync for Access<'_> {}

impl Access<'_> {
    #[inline]
    fn binding(&self) -> &Binding {
        self.token.binding()
    }

    /// Maps `buf` for the device in direction `D` (`dma_map_single`, or
    /// `dma_map_page` for a [`ZeroedPage`]). The mapping owns the buffer and
    /// lives at most as long as this scope; dropping it unmaps with the same
    /// size and direction, [`Mapping::unmap`] also gives the buffer back.
    ///
    /// Buffers are taken by value, never borrowed: a borrow ends when the
    /// mapping is forgotten (`mem::forget` is safe), and the CPU could then
    /// read, or free, memory the device owns. A forgotten mapping of an owned
    /// buffer leaks the buffer instead: nothing else can reach it.
    ///
    /// `EINVAL` for an empty buffer, `ENOMEM` if the address cannot be mapped
    /// (`dma_mapping_error`).
    #[inline]
    pub fn map_single<D: Direction, B: DmaBuffer>(&self, buf: B) -> Result<Mapping<'_, D, B>> {
        // The mapping borrows `self`: no call on it can use `dev` once this scope has ended.
        // SAFETY: `dev` is the device our token keeps bound (invariant) while the mapping lives.
        unsafe { Mapping::new(self.dev, buf, None) }
    }

    /// Maps a list of buffers as one scatter-gather list (`dma_map_sgtable`).
    /// The mapping owns the list ([`SgMapping::unmap`] gives it back), for the
    /// reason [`Access::map_single`] gives.
    pub fn map_sg<D: Direction, B: DmaBuffer>(&self, bufs: KVec<B>) -> Result<SgMapping<'_, D, B>> {
        SgMapping::new(self.binding(), bufs)
    }
}

/// Where a [`DmaBuffer`]'s bytes are.
pub enum DmaTarget {
    /// A kernel virtual address in the linear map (kmalloc memory).
    Virt(*mut u8),
    /// A page (mapped with `dma_map_page`).
    Page(*mut bindings::page),
}

/// Memory a device may be given by a streaming mapping.
///
/// Stack and vmalloc memory are not mappable (`dma-api-howto.rst`, "What
/// memory is DMA'able?"): only types that own or borrow kmalloc or page
/// allocator memory implement this trait, so mapping anything else does not
/// compile.
///
/// # Safety
///
/// `target` and `dma_len` describe `dma_len()` bytes that are physically
/// contiguous, come from the page or slab allocator, stay allocated and in
/// place while `self` lives, and are reachable only through `self`. For
/// [`DmaTarget::Page`] the bytes are the first `dma_len()` of the page. A
/// [`DmaTarget::Virt`] address is in the kernel's linear map
/// (`virt_addr_valid()`: never vmalloc, vmap or kmap memory): it is mapped
/// through `virt_to_page()` without `dma_map_single()`'s run-time test.
pub unsafe trait DmaBuffer: Send {
    /// Where the bytes are.
    fn target(&mut self) -> DmaTarget;
    /// How many bytes are mapped.
    fn dma_len(&self) -> usize;
}

// SAFETY: A `KVec` owns a kmalloc buffer (physically contiguous, linear map) of at least `len()`
// initialised bytes that only moves when the vector grows, which needs `&mut` access the mapping
// does not give out.
unsafe impl DmaBuffer for KVec<u8> {
    #[inline]
    fn target(&mut self) -> DmaTarget {
        DmaTarget::Virt(self.as_mut_ptr())
    }
    #[inline]
    fn dma_len(&self) -> usize {
        self.len()
    }
}

// SAFETY: A `KBox` owns a kmalloc allocation of `N` bytes that never moves.
unsafe impl<const N: usize> DmaBuffer for KBox<[u8; N]> {
    #[inline]
    fn target(&mut self) -> DmaTarget {
        DmaTarget::Virt(self.as_mut_ptr())
    }
    #[inline]
    fn dma_len(&self) -> usize {
        N
    }
}

/// A page from the page allocator, zeroed when allocated: the page buffer
/// for streaming DMA.
///
/// A mapping hands its bytes to the CPU (`as_slice()`), so a buffer must never
/// hold stale kernel memory: a plain [`Page`] (not zeroed by
/// `Page::alloc_page`) is not a [`DmaBuffer`].
///
/// # Invariants
///
/// Every byte of the page was zeroed at allocation or written since.
pub struct ZeroedPage(Page);

impl ZeroedPage {
    /// Allocates a zeroed page (`alloc_page(flags | __GFP_ZERO)`).
    #[inline]
    pub fn alloc(flags: Flags) -> Result<Self> {
        // INVARIANT: `__GFP_ZERO` zeroes the page.
        Ok(Self(Page::alloc_page(
            flags | crate::alloc::flags::__GFP_ZERO,
        )?))
    }

    /// The page.
    #[inline]
    pub fn page(&self) -> &Page {
        &self.0
    }
}

// SAFETY: A `ZeroedPage` owns one page from the page allocator.
unsafe impl DmaBuffer for ZeroedPage {
    #[inline]
    fn target(&mut self) -> DmaTarget {
        DmaTarget::Page(self.0.as_ptr())
    }
    #[inline]
    fn dma_len(&self) -> usize {
        PAGE_SIZE
    }
}

/// The CPU address of a buffer's bytes; `EINVAL` for a page without a kernel
/// mapping (highmem).
#[inline]
fn cpu_addr<B: DmaBuffer>(buf: &mut B) -> Result<*mut u8> {
    let p = match buf.target() {
        DmaTarget::Virt(p) => p,
        // SAFETY: The page is valid (the buffer's guarantee); `page_address` only reads it.
        DmaTarget::Page(page) => unsafe { bindings::page_address(page) }.cast(),
    };
    if p.is_null() {
        return Err(EINVAL);
    }
    Ok(p)
}

// 6.12 cannot inline C helpers into Rust, and a call per operation is a
// measurable cost next to these small functions (see docs/performance.md).
// The three `static inline` functions of `<linux/dma-mapping.h>` below are
// therefore mirrored line for line: they only test a flag and call the same
// exported functions the C versions call.

/// `dma_mapping_error()`: tells DMA debugging the check was made, then
/// compares. `ENOMEM` on failure, as the C function returns.
#[inline]
fn check_mapping(dev: *mut bindings::device, handle: DmaAddress) -> Result<DmaAddress> {
    #[cfg(CONFIG_DMA_API_DEBUG)]
    // SAFETY: `dev` is a valid device; the call only records that the address was checked.
    unsafe {
        bindings::debug_dma_mapping_error(dev, handle)
    };
    #[cfg(not(CONFIG_DMA_API_DEBUG))]
    let _ = dev;
    if handle == !0 {
        return Err(ENOMEM);
    }
    Ok(handle)
}

/// `dma_dev_need_sync()`: whether syncs must call into the DMA core.
#[inline]
#[cfg(CONFIG_DMA_NEED_SYNC)]
fn need_sync(dev: *mut bindings::device) -> bool {
    // SAFETY: `dev` is a valid device; `dma_skip_sync` is a flag the DMA core sets at mapping time,
    // read here as the C inline reads it.
    cfg!(CONFIG_DMA_API_DEBUG) || !unsafe { (*dev).dma_skip_sync() }
}

/// `dma_sync_single_for_cpu()` / `dma_sync_single_for_device()`.
///
/// # Safety
///
/// `handle` maps `len` bytes on `dev` in direction `dir`.
#[inline]
unsafe fn sync_single(
    dev: *mut bindings::device,
    handle: DmaAddress,
    len: usize,
    dir: DataDirection,
    for_cpu: bool,
) {
    #[cfg(CONFIG_DMA_NEED_SYNC)]
    if need_sync(dev) {
        let dir = dir as bindings::dma_data_direction;
        if for_cpu {
            // SAFETY: The caller guarantees the mapping.
            unsafe { bindings::__dma_sync_single_for_cpu(dev, handle, len, dir) };
        } else {
            // SAFETY: The caller guarantees the mapping.
            unsafe { bindings::__dma_sync_single_for_device(dev, handle, len, dir) };
        }
    }
    #[cfg(not(CONFIG_DMA_NEED_SYNC))]
    let _ = (dev, handle, len, dir, for_cpu);
}

/// The flags for the bindings' own bookkeeping allocations next to an
/// allocation made with `flags`: `GFP_KERNEL` where `flags` may sleep (direct
/// reclaim), else `GFP_ATOMIC`, so that an atomic allocation stays atomic.
#[inline]
fn meta_flags(flags: Flags) -> Flags {
    if flags.as_raw() & (bindings::GFP_KERNEL & !bindings::GFP_NOWAIT) != 0 {
        GFP_KERNEL
    } else {
        crate::alloc::flags::GFP_ATOMIC
    }
}

/// GFP flags without `__GFP_HIGHMEM` (DMA memory needs a kernel mapping).
#[inline]
fn dma_gfp(flags: Flags) -> u32 {
    flags.as_raw() & !bindings::__GFP_HIGHMEM
}
