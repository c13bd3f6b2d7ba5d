// SPDX-License-Identifier: GPL-2.0

//! Scatter-gather streaming mappings (`dma_map_sgtable`).

use super::{
    cpu_addr, Binding, DeviceReads, DeviceWrites, Direction, DmaAddress, DmaBuffer, DmaTarget,
};
use crate::{
    alloc::{flags::GFP_KERNEL, KVec},
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
    pub fn segments(&self) -> Segments<'_> {
        Segments {
            sg: self.table.sgl,
            left: self.table.nents,
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

/// The DMA segments of an [`SgMapping`].
pub struct Segments<'a> {
    sg: *mut bindings::scatterlist,
    left: u32,
    _p: PhantomData<&'a ()>,
}

impl Iterator for Segments<'_> {
    type Item = (DmaAddress, u32);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 || self.sg.is_null() {
            return None;
        }
        // SAFETY: `sg` is one of the first `nents` mapped entries of the table, which lives while
        // the mapping is borrowed.
        let item = unsafe {
            (
                bindings::sg_dma_address(self.sg),
                bindings::sg_dma_len(self.sg),
            )
        };
        self.left -= 1;
        // SAFETY: As above.
        self.sg = unsafe { bindings::sg_next(self.sg) };
        Some(item)
    }
}
