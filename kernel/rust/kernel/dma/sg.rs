// SPDX-License-Identifier: GPL-2.0

//! Scatter-gather streaming mappings (`dma_map_sgtable`).

use super::{
    cpu_addr, Binding, DataDirection, DeviceReads, DeviceWrites, Direction, DmaAddress, DmaBuffer,
    DmaDevice, DmaTarget, Token,
};
use crate::{
    alloc::{flags::GFP_KERNEL, Flags, KVec},
    bindings, c_str,
    error::{code::*, to_result, Result},
};
use core::{marker::PhantomData, mem::ManuallyDrop};

/// A list of buffers mapped as one scatter-gather list in direction `D`.
///
/// The IOMMU (or nothing, as on most x86 machines) may merge entries: iterate
/// the DMA segments the device must be given with [`SgMapping::segments`].
/// Unmapped when dropped, with the original number of entries, as the C API
/// requires. The mapping owns the buffers, so the CPU cannot reach them until
/// they are synced for the CPU ([`SgMapping::sync_for_cpu`]) or the mapping is
/// unmapped ([`SgMapping::unmap`]); a forgotten mapping leaks them.
///
/// # Invariants
///
/// `table` was allocated with `sg_alloc_table` for `bufs.len()` entries, each
/// describing the corresponding buffer, and mapped with `dma_map_sgtable` on
/// `dev` in direction `D`; it is unmapped and freed only in `drop` or `unmap`. `cpu_owned`
/// tells whether the last sync was for the CPU.
pub struct SgMapping<'a, D: Direction, B: DmaBuffer> {
    table: bindings::sg_table,
    dev: *mut bindings::device,
    bufs: KVec<B>,
    cpu: KVec<*mut u8>,
    cpu_owned: bool,
    _p: PhantomData<(&'a (), D)>,
}

// SAFETY: The table and the buffers are owned or exclusively borrowed; the DMA API may be called
// from any thread.
unsafe impl<D: Direction, B: DmaBuffer> Send for SgMapping<'_, D, B> {}

impl<'a, D: Direction, B: DmaBuffer> SgMapping<'a, D, B> {
    pub(super) fn new(binding: &Binding, mut bufs: KVec<B>) -> Result<Self> {
        // The list and the table are allocated with `GFP_KERNEL`.
        crate::lifetime::need_sleepable(c_str!("DMA: scatter-gather mapping"))?;
        let nents = u32::try_from(bufs.len()).map_err(|_| EINVAL)?;
        if nents == 0 {
            return Err(EINVAL);
        }
        // SAFETY: The device is bound; the call only reads its DMA parameters.
        let max_seg = unsafe { bindings::dma_get_max_seg_size(binding.raw_dev()) } as usize;
        let mut cpu = KVec::with_capacity(bufs.len(), GFP_KERNEL)?;
        for b in bufs.iter_mut() {
            let len = b.dma_len();
            if len == 0 || u32::try_from(len).is_err() {
                return Err(EINVAL);
            }
            if len > max_seg {
                // The device cannot take a segment this long (DMA-API
                // debugging would report the mapping).
                crate::pr_err!(
                    "dma: sg entry of {} bytes refused (device maximum {})\n",
                    len,
                    max_seg
                );
                return Err(EINVAL);
            }
            cpu.push(cpu_addr(b)?, GFP_KERNEL)?;
        }
        let mut table = bindings::sg_table::default();
        // SAFETY: `table` is a valid, empty table; on failure `sg_alloc_table` frees what it
        // allocated.
        to_result(unsafe { bindings::sg_alloc_table(&mut table, nents, GFP_KERNEL.as_raw()) })?;
        let mut sg = table.sgl;
        for b in bufs.iter_mut() {
            let len = b.dma_len() as u32;
            match b.target() {
                // SAFETY: `sg` is one of the `nents` entries just allocated; `p` is `len` bytes of
                // linear-map memory the buffer owns.
                DmaTarget::Virt(p) => unsafe { bindings::sg_set_buf(sg, p.cast(), len) },
                // SAFETY: As above, for the first `len` bytes of the page.
                DmaTarget::Page(page) => unsafe { bindings::sg_set_page(sg, page, len, 0) },
            }
            // SAFETY: `sg` is an entry of the table; past the last one `sg_next` returns NULL,
            // which is never used.
            sg = unsafe { bindings::sg_next(sg) };
        }
        let dev = binding.raw_dev();
        // SAFETY: Every entry describes mappable memory; the device is bound with its mask set.
        let r = unsafe { bindings::dma_map_sgtable(dev, &mut table, D::DIRECTION as _, 0) };
        if let Err(e) = to_result(r) {
            // SAFETY: Allocated above and not mapped.
            unsafe { bindings::sg_free_table(&mut table) };
            return Err(e);
        }
        // INVARIANT: Allocated, filled and mapped above.
        Ok(Self {
            table,
            dev,
            bufs,
            cpu,
            cpu_owned: false,
            _p: PhantomData,
        })
    }

    /// The number of buffers (C `orig_nents`).
    pub fn buffers(&self) -> usize {
        self.bufs.len()
    }

    /// The DMA segments to give the device, as `(address, length)`; there may
    /// be fewer than buffers (C `nents` after mapping).
    #[inline]
    pub fn segments(&self) -> Segments<'_> {
        Segments {
            sg: self.table.sgl,
            left: self.table.nents,
            single: None,
            _p: PhantomData,
        }
    }

    /// Unmaps the list and gives the buffers back.
    pub fn unmap(self) -> KVec<B> {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: Mapped (invariant); unmapped and freed once, here, as `drop` would.
        unsafe { this.unmap_table() };
        // SAFETY: `this` is not used or dropped again: `cpu` and `bufs` are moved out once.
        let (cpu, bufs) = unsafe { (core::ptr::read(&this.cpu), core::ptr::read(&this.bufs)) };
        drop(cpu);
        bufs
    }

    /// # Safety
    ///
    /// The table is mapped; it is not used afterwards.
    unsafe fn unmap_table(&mut self) {
        let attrs = if self.cpu_owned {
            bindings::DMA_ATTR_SKIP_CPU_SYNC as usize
        } else {
            0
        };
        // SAFETY: Mapped (caller); unmapped once, with the original entry count and the direction
        // of the map, then freed.
        unsafe {
            bindings::dma_unmap_sg_attrs(
                self.dev,
                self.table.sgl,
                self.table.orig_nents as i32,
                D::DIRECTION as _,
                attrs,
            );
            bindings::sg_free_table(&mut self.table);
        }
    }

    /// Hands every buffer to the CPU (`dma_sync_sgtable_for_cpu`).
    pub fn sync_for_cpu(&mut self) {
        self.sync(true);
    }

    /// Gives every buffer back to the device (`dma_sync_sgtable_for_device`).
    pub fn sync_for_device(&mut self) {
        self.sync(false);
    }

    fn sync(&mut self, for_cpu: bool) {
        let sync = if for_cpu {
            bindings::dma_sync_sg_for_cpu
        } else {
            bindings::dma_sync_sg_for_device
        };
        // SAFETY: Mapped (invariant); synced with `orig_nents` entries and the direction of the
        // map, as the C API requires.
        unsafe {
            sync(
                self.dev,
                self.table.sgl,
                self.table.orig_nents as i32,
                D::DIRECTION as _,
            )
        };
        self.cpu_owned = for_cpu;
    }

    fn cpu_slice(&self, i: usize) -> Result<(*mut u8, usize)> {
        if !self.cpu_owned {
            return Err(EBUSY);
        }
        let p = *self.cpu.get(i).ok_or(EINVAL)?;
        Ok((p, self.bufs[i].dma_len()))
    }
}

impl<D: DeviceWrites, B: DmaBuffer> SgMapping<'_, D, B> {
    /// What the device wrote into buffer `i`: `EBUSY` unless synced for the
    /// CPU, `EINVAL` past the end.
    pub fn buffer(&self, i: usize) -> Result<&[u8]> {
        let (p, len) = self.cpu_slice(i)?;
        // SAFETY: The CPU owns the buffer (synced for the CPU; the device must not use it until
        // `sync_for_device`, which needs `&mut self`); `len` initialised bytes.
        Ok(unsafe { core::slice::from_raw_parts(p, len) })
    }
}

impl<D: DeviceReads, B: DmaBuffer> SgMapping<'_, D, B> {
    /// Buffer `i`, to fill before [`SgMapping::sync_for_device`]: `EBUSY`
    /// unless synced for the CPU, `EINVAL` past the end.
    pub fn buffer_mut(&mut self, i: usize) -> Result<&mut [u8]> {
        let (p, len) = self.cpu_slice(i)?;
        // SAFETY: As in `buffer`; `&mut self` makes this the only reference.
        Ok(unsafe { core::slice::from_raw_parts_mut(p, len) })
    }
}

impl<D: Direction, B: DmaBuffer> Drop for SgMapping<'_, D, B> {
    fn drop(&mut self) {
        // SAFETY: Mapped (invariant) and unmapped once: `unmap` does not drop `self`.
        unsafe { self.unmap_table() };
    }
}

/// A scatter-gather list over memory that someone else owns (a block
/// request's pages), mapped for the device; or one physically contiguous
/// range of such memory, mapped without a list.
///
/// Made by [`DmaDevice::map_foreign_sg`] or [`DmaDevice::map_foreign_page`];
/// unmapped (with the entry count or length of the map, as the C API
/// requires) and its list freed when dropped. It holds the device's binding,
/// like an owned mapping: unbind stops the device's bus mastering and waits
/// for it to be dropped.
///
/// # Invariants
///
/// `map` was mapped on `dev` in `dir` as it says; it is unmapped only in
/// `drop`. `_token` keeps `dev` bound until then, unless unbind gave up
/// waiting (the memory is then leaked with the binding).
pub struct ForeignSgMapping {
    map: Foreign,
    dir: DataDirection,
    dev: *mut bindings::device,
    _token: Token,
}

/// How a [`ForeignSgMapping`] was mapped.
enum Foreign {
    /// `sgl` holds `sgl.len()` initialised entries, of which the first `orig`
    /// were filled by the maker and mapped with `dma_map_sg_attrs`, giving
    /// `nents` DMA segments.
    List {
        sgl: KVec<bindings::scatterlist>,
        orig: u32,
        nents: u32,
    },
    /// `len` bytes mapped at `handle` with `dma_map_page_attrs`.
    Page { handle: DmaAddress, len: u32 },
}

// SAFETY: The list is owned; the DMA API may be called from any thread.
unsafe impl Send for ForeignSgMapping {}
// SAFETY: `&ForeignSgMapping` gives only DMA addresses and lengths.
unsafe impl Sync for ForeignSgMapping {}

impl ForeignSgMapping {
    /// The DMA segments to give the device, as `(address, length)`.
    #[inline]
    pub fn segments(&self) -> Segments<'_> {
        match &self.map {
            Foreign::List { sgl, nents, .. } => Segments {
                sg: sgl.as_ptr().cast_mut(),
                left: *nents,
                single: None,
                _p: PhantomData,
            },
            Foreign::Page { handle, len } => Segments {
                sg: core::ptr::null_mut(),
                left: 0,
                single: Some((*handle, *len)),
                _p: PhantomData,
            },
        }
    }

    /// The number of DMA segments.
    pub fn len(&self) -> u32 {
        match &self.map {
            Foreign::List { nents, .. } => *nents,
            Foreign::Page { .. } => 1,
        }
    }

    /// Whether there are no segments (never true of a mapping that exists).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The direction of the mapping.
    pub fn direction(&self) -> DataDirection {
        self.dir
    }
}

impl Drop for ForeignSgMapping {
    fn drop(&mut self) {
        let dir = self.dir as bindings::dma_data_direction;
        match &mut self.map {
            Foreign::List { sgl, orig, .. } => {
                let sgl = sgl.as_mut_ptr();
                // SAFETY: Mapped with `dma_map_sg_attrs` (invariant) and unmapped once, here, with
                // the entry count and direction of the map; the memory is still valid (the
                // maker's safety contract).
                unsafe { bindings::dma_unmap_sg_attrs(self.dev, sgl, *orig as i32, dir, 0) }
            }
            Foreign::Page { handle, len } => {
                let (handle, len) = (*handle, *len as usize);
                // SAFETY: Mapped with `dma_map_page_attrs` (invariant) and unmapped once, here,
                // with the length and direction of the map; the memory is still valid (as above).
                unsafe { bindings::dma_unmap_page_attrs(self.dev, handle, len, dir, 0) }
            }
        }
    }
}

impl DmaDevice {
    /// Maps a scatter-gather list of at most `cap` entries that `fill` writes
    /// (and returns how many it wrote) for the device, in direction `dir`.
    /// The list is allocated with `flags` (`GFP_ATOMIC` where sleeping is not
    /// allowed, as in a block driver's `queue_rq`).
    ///
    /// `EINVAL` if `cap` is 0, `dir` is [`DataDirection::None`], or `fill`
    /// reports no entries or more than `cap`; `ENOMEM` if the list cannot be
    /// allocated or the mapping fails; `ENXIO` once the device is unbound.
    ///
    /// # Safety
    ///
    /// - `fill` writes at most `cap` entries, from the start of the
    ///   initialised list it is given, each describing memory the device may
    ///   access in `dir`;
    /// - that memory stays valid, and is neither freed nor reused, until the
    ///   returned mapping is dropped; if it is leaked, for ever;
    /// - until then the CPU does not write it, nor read it where the device
    ///   writes it ([`DataDirection::FromDevice`]): the DMA API gives it to
    ///   the device.
    pub unsafe fn map_foreign_sg(
        &self,
        cap: u32,
        dir: DataDirection,
        flags: Flags,
        fill: impl FnOnce(*mut bindings::scatterlist) -> u32,
    ) -> Result<ForeignSgMapping> {
        if cap == 0 || dir == DataDirection::None {
            return Err(EINVAL);
        }
        let token = Token::new(&self.binding)?;
        let mut sgl = KVec::with_capacity(cap as usize, flags)?;
        for _ in 0..cap {
            sgl.push(bindings::scatterlist::default(), flags)?;
        }
        // SAFETY: `sgl` holds `cap` entries.
        unsafe { bindings::sg_init_table(sgl.as_mut_ptr(), cap) };
        let orig = fill(sgl.as_mut_ptr());
        if orig == 0 || orig > cap {
            crate::pr_err!(
                "dma: a scatter-gather list of {} entries in {} refused\n",
                orig,
                cap
            );
            return Err(EINVAL);
        }
        let dev = self.binding.raw_dev();
        // SAFETY: The first `orig` entries describe memory the device may access (the caller's
        // contract); the device is bound (we hold a token) with its mask set.
        let nents =
            unsafe { bindings::dma_map_sg_attrs(dev, sgl.as_mut_ptr(), orig as i32, dir as _, 0) };
        if nents == 0 {
            return Err(ENOMEM);
        }
        // INVARIANT: Filled and mapped above; the token keeps the device bound.
        Ok(ForeignSgMapping {
            map: Foreign::List { sgl, orig, nents },
            dir,
            dev,
            _token: token,
        })
    }

    /// Maps `len` bytes from `offset` in `page` (and the pages after it) for
    /// the device, in direction `dir`, without a list (`dma_map_page`, as C's
    /// `dma_map_bvec` does for a request of one segment): one DMA segment.
    ///
    /// `EINVAL` if `len` is 0 or `dir` is [`DataDirection::None`]; `ENOMEM` if
    /// the mapping fails; `ENXIO` once the device is unbound.
    ///
    /// # Safety
    ///
    /// - `page` is a valid `struct page`, and the `len` bytes from `offset` in
    ///   it (and the pages that follow it in the memory map) are physically
    ///   contiguous memory the device may access in `dir`;
    /// - that memory stays valid, and is neither freed nor reused, until the
    ///   returned mapping is dropped; if it is leaked, for ever;
    /// - until then the CPU does not write it, nor read it where the device
    ///   writes it ([`DataDirection::FromDevice`]): the DMA API gives it to
    ///   the device.
    pub unsafe fn map_foreign_page(
        &self,
        page: *mut bindings::page,
        offset: u32,
        len: u32,
        dir: DataDirection,
    ) -> Result<ForeignSgMapping> {
        if len == 0 || dir == DataDirection::None {
            return Err(EINVAL);
        }
        let token = Token::new(&self.binding)?;
        let dev = self.binding.raw_dev();
        // SAFETY: The range is memory the device may access (the caller's contract); the device
        // is bound (we hold a token) with its mask set.
        let handle = unsafe {
            bindings::dma_map_page_attrs(dev, page, offset as usize, len as usize, dir as _, 0)
        };
        let handle = super::check_mapping(dev, handle)?;
        // INVARIANT: Mapped above, without a list; the token keeps the device bound.
        Ok(ForeignSgMapping {
            map: Foreign::Page { handle, len },
            dir,
            dev,
            _token: token,
        })
    }
}

/// The DMA segments of an [`SgMapping`] or a [`ForeignSgMapping`].
pub struct Segments<'a> {
    sg: *mut bindings::scatterlist,
    left: u32,
    /// The one segment of a mapping without a list.
    single: Option<(DmaAddress, u32)>,
    _p: PhantomData<&'a ()>,
}

impl Iterator for Segments<'_> {
    type Item = (DmaAddress, u32);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if let Some(s) = self.single.take() {
            return Some(s);
        }
        if self.left == 0 || self.sg.is_null() {
            return None;
        }
        // C's `sg_dma_address` and `sg_dma_len` (macros, which would be calls here).
        // SAFETY: `sg` is one of the first `nents` mapped entries of the table, which lives while
        // the mapping is borrowed.
        let sg = unsafe { &*self.sg };
        #[cfg(CONFIG_NEED_SG_DMA_LENGTH)]
        let item = (sg.dma_address, sg.dma_length);
        #[cfg(not(CONFIG_NEED_SG_DMA_LENGTH))]
        let item = (sg.dma_address, sg.length);
        self.left -= 1;
        // SAFETY: As above.
        self.sg = unsafe { bindings::sg_next(self.sg) };
        Some(item)
    }
}
