// SPDX-License-Identifier: GPL-2.0

//! Streaming mappings of one buffer (`dma_map_single`, `dma_map_page`).

use super::{
    check_mapping, cpu_addr, sync_single, DeviceReads, DeviceWrites, Direction, DmaAddress,
    DmaBuffer, DmaTarget, Token,
};
use crate::{bindings, error::code::*, error::Result};
use core::{marker::PhantomData, mem::ManuallyDrop};

/// Who may touch a mapped buffer: [`DeviceOwned`] or [`CpuOwned`].
pub trait Owner: super::private::Sealed {
    /// The attributes an unmap in this state needs.
    const UNMAP_ATTRS: usize;
}

/// The device owns the buffer: the CPU cannot reach it.
pub struct DeviceOwned;
/// The CPU owns the buffer after [`Mapping::sync_for_cpu`]; the device must not
/// use the DMA address until [`Mapping::sync_for_device`].
pub struct CpuOwned;

impl super::private::Sealed for DeviceOwned {}
impl super::private::Sealed for CpuOwned {}
impl Owner for DeviceOwned {
    const UNMAP_ATTRS: usize = 0;
}
impl Owner for CpuOwned {
    // The CPU already has the data (`sync_for_cpu`): syncing again at unmap
    // would copy a bounce buffer over what the CPU wrote since.
    const UNMAP_ATTRS: usize = bindings::DMA_ATTR_SKIP_CPU_SYNC as usize;
}

/// The state of a mapping, moved between ownership states.
///
/// # Invariants
///
/// `handle` is the DMA address of a successful map of `len` bytes of `buf` on
/// `dev` in the mapping's direction, not yet unmapped. In a [`CpuOwned`]
/// mapping, `cpu` is the CPU address of those bytes.
struct Inner<B: DmaBuffer> {
    buf: B,
    dev: *mut bindings::device,
    handle: DmaAddress,
    cpu: *mut u8,
    len: usize,
    _token: Option<Token>,
}

/// A streaming mapping of `B` in direction `D`, owned by `O`.
///
/// Made by [`super::Access::map_single`] (lives in that scope) or [`super::DmaDevice::map_owned`]
/// (holds the device's binding
/// itself, so it may live across an interrupt).
///
/// While [`DeviceOwned`] the buffer is out of the CPU's reach: the mapping
/// owns it (never a borrow, which `mem::forget` of the mapping would end).
/// [`Mapping::sync_for_cpu`] turns it into a
/// [`CpuOwned`] mapping through which the CPU reads (directions the device
/// writes) or writes (directions the device reads);
/// [`Mapping::sync_for_device`] gives it back. Dropping unmaps with the size
/// and direction of the map; [`Mapping::unmap`] also returns the buffer.
///
/// # Examples
///
/// It needs a bound device, so the doctest only builds it (nothing runs);
/// the driver tests (`drivers/dma_test`, `drivers/pci_test`) make these calls on QEMU's edu.
///
/// ```
/// use kernel::{dma::{Access, FromDevice}, prelude::*};
///
/// fn receive(acc: &Access<'_>, buf: KVec<u8>) -> Result<KVec<u8>> {
///     let m = acc.map_single::<FromDevice, _>(buf)?;
///     let _bus_address = m.dma_handle(); // Program the device with it.
///     // The device writes the buffer; then:
///     let cpu = m.sync_for_cpu()?;
///     let _first = cpu.as_slice()[0];
///     Ok(cpu.unmap())
/// }
/// ```
pub struct Mapping<'a, D: Direction, B: DmaBuffer, O: Owner = DeviceOwned> {
    inner: ManuallyDrop<Inner<B>>,
    _p: PhantomData<(&'a (), D, O)>,
}

// SAFETY: The mapping owns `B` (which is `Send`) and a DMA address; the C DMA API may be called
// from any thread.
unsafe impl<D: Direction, B: DmaBuffer, O: Owner> Send for Mapping<'_, D, B, O> {}
// SAFETY: `&Mapping` gives only the DMA address and, when CPU-owned, `&[u8]` of the buffer.
unsafe impl<D: Direction, B: DmaBuffer + Sync, O: Owner> Sync for Mapping<'_, D, B, O> {}

impl<'a, D: Direction, B: DmaBuffer> Mapping<'a, D, B> {
    /// Maps `buf` on `dev`.
    ///
    /// # Safety
    ///
    /// `dev` is a bound device with its DMA mask set, and stays bound while the mapping lives:
    /// `token` holds its binding, or the caller's [`super::Access`] outlives the mapping.
    #[inline]
    pub(super) unsafe fn new(
        dev: *mut bindings::device,
        mut buf: B,
        token: Option<Token>,
    ) -> Result<Self> {
        let len = buf.dma_len();
        if len == 0 {
            return Err(EINVAL);
        }
        let dir = D::DIRECTION as bindings::dma_data_direction;
        let handle = match buf.target() {
            // SAFETY: `p` is `len` bytes of slab memory, in the linear map, owned by `buf`
            // (`DmaBuffer` guarantee: the helper relies on it instead of `dma_map_single`'s
            // vmalloc test); `dev` is bound with its mask set (the caller's guarantee).
            DmaTarget::Virt(p) => unsafe {
                bindings::dmabridge_map_linear(dev, p.cast(), len, dir, 0)
            },
            // SAFETY: As above, for the first `len` bytes of the page.
            DmaTarget::Page(page) => unsafe {
                bindings::dma_map_page_attrs(dev, page, 0, len, dir, 0)
            },
        };
        let handle = check_mapping(dev, handle)?;
        // INVARIANT: Mapped above.
        Ok(Self {
            inner: ManuallyDrop::new(Inner {
                buf,
                dev,
                handle,
                cpu: core::ptr::null_mut(),
                len,
                _token: token,
            }),
            _p: PhantomData,
        })
    }

    /// The address the device uses to reach the buffer.
    #[inline]
    pub fn dma_handle(&self) -> DmaAddress {
        self.inner.handle
    }

    /// Hands the buffer to the CPU (`dma_sync_single_for_cpu`).
    ///
    /// A [`Page`](crate::page::Page) without a kernel mapping (highmem) cannot
    /// be reached by the CPU: this fails with `EINVAL` then, and the mapping is
    /// unmapped.
    #[inline]
    pub fn sync_for_cpu(self) -> Result<Mapping<'a, D, B, CpuOwned>> {
        let mut inner = self.into_inner();
        inner.cpu = match cpu_addr(&mut inner.buf) {
            Ok(p) => p,
            Err(e) => {
                // SAFETY: Mapped (invariant), unmapped once here; `inner` is dropped after.
                unsafe { Self::unmap_inner(&inner) };
                return Err(e);
            }
        };
        // SAFETY: By the invariant `handle` maps `len` bytes in direction `D` on `dev`.
        unsafe { sync_single(inner.dev, inner.handle, inner.len, D::DIRECTION, true) };
        Ok(Mapping::from_inner(inner))
    }
}

impl<'a, D: Direction, B: DmaBuffer> Mapping<'a, D, B, CpuOwned> {
    /// Gives the buffer back to the device (`dma_sync_single_for_device`).
    #[inline]
    pub fn sync_for_device(self) -> Mapping<'a, D, B, DeviceOwned> {
        let inner = self.into_inner();
        // SAFETY: By the invariant `handle` maps `len` bytes in direction `D` on `dev`.
        unsafe { sync_single(inner.dev, inner.handle, inner.len, D::DIRECTION, false) };
        Mapping::from_inner(inner)
    }
}

impl<D: DeviceWrites, B: DmaBuffer> Mapping<'_, D, B, CpuOwned> {
    /// What the device wrote.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: The CPU owns the `len` initialised bytes at `cpu` (synced for the CPU); they stay
        // valid while `self` is borrowed.
        unsafe { core::slice::from_raw_parts(self.inner.cpu, self.inner.len) }
    }
}

impl<D: DeviceReads, B: DmaBuffer> Mapping<'_, D, B, CpuOwned> {
    /// The buffer, to fill before [`Mapping::sync_for_device`].
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: The CPU owns the `len` initialised bytes at `cpu`; `&mut self` makes this the
        // only reference.
        unsafe { core::slice::from_raw_parts_mut(self.inner.cpu, self.inner.len) }
    }
}

impl<'a, D: Direction, B: DmaBuffer, O: Owner> Mapping<'a, D, B, O> {
    /// The number of bytes mapped.
    #[inline]
    pub fn len(&self) -> usize {
        self.inner.len
    }

    /// Always `false`: empty buffers are not mapped.
    #[inline]
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Unmaps and returns the buffer.
    #[inline]
    pub fn unmap(self) -> B {
        let inner = self.into_inner();
        // SAFETY: `inner` is mapped (invariant) and unmapped once, here.
        unsafe { Self::unmap_inner(&inner) };
        inner.buf
    }

    /// # Safety
    ///
    /// `inner` is mapped and is not used for DMA afterwards.
    #[inline]
    unsafe fn unmap_inner(inner: &Inner<B>) {
        // SAFETY: Same device, address, size and direction as the map (invariant); the caller
        // unmaps once.
        unsafe {
            bindings::dma_unmap_page_attrs(
                inner.dev,
                inner.handle,
                inner.len,
                D::DIRECTION as bindings::dma_data_direction,
                O::UNMAP_ATTRS,
            )
        };
    }

    #[inline]
    fn into_inner(self) -> Inner<B> {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so `inner` is moved out exactly once.
        unsafe { ManuallyDrop::take(&mut this.inner) }
    }

    #[inline]
    fn from_inner(inner: Inner<B>) -> Self {
        Self {
            inner: ManuallyDrop::new(inner),
            _p: PhantomData,
        }
    }
}

impl<D: Direction, B: DmaBuffer, O: Owner> Drop for Mapping<'_, D, B, O> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: The mapping is live (invariant) and unmapped once, here.
        unsafe { Self::unmap_inner(&self.inner) };
        // SAFETY: `inner` is not used after this.
        unsafe { ManuallyDrop::drop(&mut self.inner) };
    }
}
