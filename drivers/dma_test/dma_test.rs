// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `dma`: dmabridge's DMA bindings moving real data through QEMU's
//! edu device.
//!
//! The module binds to edu (1234:11e8) with the device's DMA mask and
//! hands the bound device to the suite, which KUnit runs when the module is
//! loaded. Each case copies data into the device's 4 KiB buffer by DMA and
//! back out into different memory, and checks every byte. The last case
//! unregisters the driver (unbinding edu) and checks that everything the
//! bindings handed out fails cleanly afterwards.

use kernel::{
    c_str,
    delay::msleep,
    device::Core,
    devres::Devres,
    dma::{
        Bidirectional, CoherentAllocation, DmaDevice, DmaMask, DmaPool, FromDevice, ToDevice,
        ZeroedPage,
    },
    dma_read, dma_write,
    driver::Registration,
    kunit::Fixture,
    page::PAGE_SIZE,
    pci,
    prelude::*,
    sync::Arc,
};

const DMA_SRC: usize = 0x80;
const DMA_DST: usize = 0x88;
const DMA_COUNT: usize = 0x90;
const DMA_CMD: usize = 0x98;
const CMD_START: u64 = 1;
const CMD_TO_RAM: u64 = 2;
/// Where edu's 4096-byte buffer is in the device's own address space.
const EDU_BUF: u64 = 0x40000;
const EDU_BUF_LEN: usize = 4096;

type EduBar = pci::Bar<4096>;

/// What probe hands the cases.
#[pin_data]
struct Bound {
    dma: DmaDevice,
    #[pin]
    bar: Devres<EduBar>,
}

static BOUND: Fixture<Bound> = Fixture::new();
static DRIVER: Fixture<Pin<KBox<Registration<pci::Adapter<DmaTest>>>>> = Fixture::new();

struct DmaTest;

kernel::pci_device_table!(
    PCI_TABLE,
    MODULE_PCI_TABLE,
    (),
    [(
        pci::DeviceId::from_id(pci::Vendor::from_raw(0x1234), 0x11e8),
        ()
    )]
);

/// How many bits edu addresses: QEMU's default 28 on x86-64. arm64's `virt`
/// machine has no RAM below 1 GiB, which 28 bits cannot reach, so the arm64
/// test machine gives edu a 40-bit mask (its `dma_mask` property).
#[cfg(not(target_arch = "aarch64"))]
const EDU_DMA_BITS: u32 = 28;
#[cfg(target_arch = "aarch64")]
const EDU_DMA_BITS: u32 = 40;

impl pci::Driver for DmaTest {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &PCI_TABLE;

    fn probe(pdev: &pci::Device<Core>, _info: &()) -> Result<Pin<KBox<Self>>> {
        pdev.enable_device_mem()?;
        pdev.set_master();
        let dma = pdev.dma_set_mask_and_coherent(DmaMask::new::<EDU_DMA_BITS>())?;
        BOUND.set(Arc::pin_init(
            try_pin_init!(Bound {
                dma,
                bar <- pdev.iomap_region_sized::<4096>(0, c_str!("dma_test")),
            }? Error),
            GFP_KERNEL,
        )?);
        pci::pin(DmaTest)
    }
}

fn bound() -> Result<Arc<Bound>> {
    BOUND.get().ok_or_else(|| {
        pr_err!("edu is not bound to dma_test\n");
        ENODEV
    })
}

/// Fails with `EIO` and a log line unless `ok`.
fn expect(ok: bool, what: &str) -> Result {
    if ok {
        Ok(())
    } else {
        pr_err!("expectation failed: {}\n", what);
        Err(EIO)
    }
}

/// Runs one edu DMA of `len` bytes and waits for it (edu clears the start bit
/// when done, on a 100 ms virtual-time timer).
fn edu_dma(b: &Bound, src: u64, dst: u64, len: usize, to_ram: bool) -> Result {
    b.bar
        .try_access_with(|bar| {
            bar.write64(src, DMA_SRC);
            bar.write64(dst, DMA_DST);
            bar.write64(len as u64, DMA_COUNT);
            bar.write64(CMD_START | if to_ram { CMD_TO_RAM } else { 0 }, DMA_CMD);
        })
        .ok_or(ENXIO)?;
    for _ in 0..400 {
        msleep(5);
        if b.bar
            .try_access_with(|bar| bar.read64(DMA_CMD))
            .ok_or(ENXIO)?
            & CMD_START
            == 0
        {
            return Ok(());
        }
    }
    pr_err!("edu DMA did not complete\n");
    Err(ETIMEDOUT)
}

/// RAM at `addr` -> edu buffer at `offset`.
fn to_edu(b: &Bound, addr: u64, offset: usize, len: usize) -> Result {
    edu_dma(b, addr, EDU_BUF + offset as u64, len, false)
}

/// Edu buffer at `offset` -> RAM at `addr`.
fn from_edu(b: &Bound, offset: usize, addr: u64, len: usize) -> Result {
    edu_dma(b, EDU_BUF + offset as u64, addr, len, true)
}

fn pattern(len: usize, seed: u8) -> Result<KVec<u8>> {
    let mut v = KVec::with_capacity(len, GFP_KERNEL)?;
    for i in 0..len {
        v.push((i as u8).wrapping_mul(31).wrapping_add(seed), GFP_KERNEL)?;
    }
    Ok(v)
}

fn zeroed(len: usize) -> Result<KVec<u8>> {
    let mut v = KVec::with_capacity(len, GFP_KERNEL)?;
    for _ in 0..len {
        v.push(0, GFP_KERNEL)?;
    }
    Ok(v)
}

fn dma_mask_bounds() -> Result {
    expect(DmaMask::new::<28>().value() == 0x0fff_ffff, "28-bit mask")?;
    expect(DmaMask::new::<64>().value() == u64::MAX, "64-bit mask")?;
    expect(DmaMask::try_new(0) == Err(EINVAL), "0 bits is EINVAL")?;
    expect(DmaMask::try_new(65) == Err(EINVAL), "65 bits is EINVAL")
}

fn dma_coherent_roundtrip() -> Result {
    let b = bound()?;
    let buf = CoherentAllocation::<u32>::alloc_coherent(&b.dma, EDU_BUF_LEN / 4, GFP_KERNEL)?;
    expect(
        buf.dma_handle() < 1 << EDU_DMA_BITS,
        "coherent memory is below edu's mask",
    )?;
    let n = buf.count();
    {
        let v = buf.access()?;
        for i in 0..n {
            v.write(i, 0xc0de_0000 | i as u32)?;
        }
    }
    to_edu(&b, buf.dma_handle(), 0, EDU_BUF_LEN)?;
    let v = buf.access()?;
    for i in 0..n {
        v.write(i, 0)?;
    }
    from_edu(&b, 0, buf.dma_handle(), EDU_BUF_LEN)?;
    for i in 0..n {
        expect(
            v.read(i)? == 0xc0de_0000 | i as u32,
            "coherent word came back",
        )?;
    }
    let mut tail = [0u32; 4];
    v.copy_to_slice(n - 4, &mut tail)?;
    expect(tail[3] == 0xc0de_0000 | (n as u32 - 1), "bulk copy out")?;
    expect(v.read(n) == Err(EINVAL), "read past the end is EINVAL")?;
    expect(
        v.copy_from_slice(n - 1, &tail) == Err(EINVAL),
        "copy past the end is EINVAL",
    )
}

kernel::dma_struct! {
    /// A descriptor as a device would read it: every field plain data, no
    /// padding.
    struct Desc {
        /// An address.
        addr: u64,
        /// A length.
        len: u32,
        /// Flags.
        flags: u16,
        /// A tag.
        tag: [u8; 2],
    }
}

/// `dma_read!`/`dma_write!` on a struct's fields, through the device: the
/// fields written one by one go to edu and come back into other memory.
fn dma_coherent_fields() -> Result {
    let b = bound()?;
    let n = EDU_BUF_LEN / core::mem::size_of::<Desc>();
    let out = CoherentAllocation::<Desc>::alloc_coherent(&b.dma, n, GFP_KERNEL)?;
    let back = CoherentAllocation::<Desc>::alloc_coherent(&b.dma, n, GFP_KERNEL)?;
    for i in 0..n {
        dma_write!(out[i].addr = 0x1000_0000_0000 | i as u64)?;
        dma_write!(out[i].len = 512 * i as u32)?;
        dma_write!(out[i].flags = 0xf000 | i as u16)?;
        dma_write!(out[i].tag = [i as u8, 0xed])?;
    }
    let whole = Desc {
        addr: 7,
        len: 8,
        flags: 9,
        tag: [1, 2],
    };
    dma_write!(out[n - 1] = whole)?;
    to_edu(&b, out.dma_handle(), 0, n * core::mem::size_of::<Desc>())?;
    from_edu(&b, 0, back.dma_handle(), n * core::mem::size_of::<Desc>())?;
    for i in 0..n - 1 {
        expect(
            dma_read!(back[i].addr)? == 0x1000_0000_0000 | i as u64,
            "address field came back",
        )?;
        expect(
            dma_read!(back[i].len)? == 512 * i as u32,
            "length field came back",
        )?;
        expect(
            dma_read!(back[i].flags)? == 0xf000 | i as u16,
            "flags came back",
        )?;
        expect(dma_read!(back[i].tag)? == [i as u8, 0xed], "tag came back")?;
    }
    let last = dma_read!(back[n - 1])?;
    expect(
        (last.addr, last.len, last.flags, last.tag) == (7, 8, 9, [1, 2]),
        "whole object came back",
    )?;
    expect(
        dma_read!(back[n].len) == Err(EINVAL),
        "field past the end is EINVAL",
    )?;
    expect(
        dma_write!(back[n].len = 1) == Err(EINVAL),
        "field write past the end is EINVAL",
    )
}

fn dma_streaming_scoped() -> Result {
    let b = bound()?;
    let acc = b.dma.access()?;
    let m = acc.map_single::<ToDevice, _>(pattern(EDU_BUF_LEN, 7)?)?;
    to_edu(&b, m.dma_handle(), 0, EDU_BUF_LEN)?;
    let out = m.unmap();
    let m = acc.map_single::<FromDevice, _>(zeroed(EDU_BUF_LEN)?)?;
    from_edu(&b, 0, m.dma_handle(), EDU_BUF_LEN)?;
    let cpu = m.sync_for_cpu()?;
    expect(cpu.as_slice() == &out[..], "bytes written by the device")?;
    let back = cpu.unmap();
    expect(back == out, "buffer after unmap")
}

fn dma_streaming_bidirectional() -> Result {
    let b = bound()?;
    let acc = b.dma.access()?;
    let m = acc.map_single::<Bidirectional, _>(pattern(1024, 1)?)?;
    // Device reads the buffer; the CPU then rewrites it and hands it back.
    to_edu(&b, m.dma_handle(), 1024, 1024)?;
    let mut cpu = m.sync_for_cpu()?;
    cpu.as_mut_slice().fill(0xee);
    let m = cpu.sync_for_device();
    // The device overwrites it with what it read first.
    from_edu(&b, 1024, m.dma_handle(), 1024)?;
    let cpu = m.sync_for_cpu()?;
    let want = pattern(1024, 1)?;
    expect(
        cpu.as_slice() == &want[..],
        "device data replaced the CPU's",
    )?;
    let buf = cpu.sync_for_device().unmap();
    expect(buf == want, "buffer after unmap")
}

fn dma_streaming_owned() -> Result {
    let b = bound()?;
    // Owned mappings hold the binding themselves: no access scope.
    let m = b.dma.map_owned::<ToDevice, _>(pattern(EDU_BUF_LEN, 9)?)?;
    to_edu(&b, m.dma_handle(), 0, EDU_BUF_LEN)?;
    let sent = m.unmap();
    let page = ZeroedPage::alloc(GFP_KERNEL)?;
    let m = b.dma.map_owned::<FromDevice, _>(page)?;
    from_edu(&b, 0, m.dma_handle(), EDU_BUF_LEN)?;
    let cpu = m.sync_for_cpu()?;
    expect(cpu.len() == PAGE_SIZE, "a page is mapped whole")?;
    expect(
        cpu.as_slice()[..EDU_BUF_LEN] == sent[..],
        "page written by the device",
    )
}

fn dma_sg_roundtrip() -> Result {
    let b = bound()?;
    let acc = b.dma.access()?;
    let sizes = [1000usize, 2000, 1096];
    let mut out = KVec::new();
    let mut back = KVec::new();
    for (i, &n) in sizes.iter().enumerate() {
        out.push(pattern(n, i as u8 + 40)?, GFP_KERNEL)?;
        back.push(zeroed(n)?, GFP_KERNEL)?;
    }
    let sg = acc.map_sg::<ToDevice, _>(out)?;
    expect(sg.buffers() == 3, "three buffers")?;
    let mut off = 0;
    for (addr, len) in sg.segments() {
        to_edu(&b, addr, off, len as usize)?;
        off += len as usize;
    }
    expect(off == EDU_BUF_LEN, "segments cover every byte")?;
    let out = sg.unmap();
    let mut sg = acc.map_sg::<FromDevice, _>(back)?;
    expect(
        sg.buffer(0) == Err(EBUSY),
        "device-owned list is EBUSY for the CPU",
    )?;
    let mut off = 0;
    let segs: KVec<(u64, u32)> = {
        let mut v = KVec::new();
        for s in sg.segments() {
            v.push(s, GFP_KERNEL)?;
        }
        v
    };
    for (addr, len) in segs.iter() {
        from_edu(&b, off, *addr, *len as usize)?;
        off += *len as usize;
    }
    sg.sync_for_cpu();
    for (i, want) in out.iter().enumerate() {
        expect(
            sg.buffer(i)? == &want[..],
            "sg buffer written by the device",
        )?;
    }
    expect(sg.buffer(3) == Err(EINVAL), "buffer past the end is EINVAL")
}

fn dma_pool_roundtrip() -> Result {
    let b = bound()?;
    let pool = DmaPool::<[u8; 256]>::new(&b.dma, c_str!("dma_test"), 64, 4096)?;
    let acc = b.dma.access()?;
    let a = pool.alloc(&acc, GFP_KERNEL)?;
    let mut data = [0u8; 256];
    for (i, x) in data.iter_mut().enumerate() {
        *x = (i as u8) ^ 0x5a;
    }
    a.write(data);
    expect(a.dma_handle() % 64 == 0, "block alignment")?;
    to_edu(&b, a.dma_handle(), 512, 256)?;
    let owned = pool.alloc_owned(GFP_KERNEL | __GFP_ZERO)?;
    expect(owned.read() == [0u8; 256], "zeroed block")?;
    from_edu(&b, 512, owned.dma_handle(), 256)?;
    expect(owned.read() == data, "pool block written by the device")
}

fn dma_bad_input() -> Result {
    let b = bound()?;
    let acc = b.dma.access()?;
    expect(
        acc.map_single::<ToDevice, _>(KVec::<u8>::new()).err() == Some(EINVAL),
        "mapping an empty buffer is EINVAL",
    )?;
    expect(
        acc.map_sg::<ToDevice, KVec<u8>>(KVec::new()).err() == Some(EINVAL),
        "mapping an empty list is EINVAL",
    )?;
    expect(
        CoherentAllocation::<u64>::alloc_coherent(&b.dma, 0, GFP_KERNEL).err() == Some(EINVAL),
        "zero-length coherent allocation is EINVAL",
    )?;
    expect(
        CoherentAllocation::<u64>::alloc_coherent(&b.dma, usize::MAX / 4, GFP_KERNEL).err()
            == Some(EINVAL),
        "overflowing coherent size is EINVAL",
    )?;
    expect(
        DmaPool::<[u8; 64]>::new(&b.dma, c_str!("bad"), 3, 0).err() == Some(EINVAL),
        "pool alignment that is not a power of two is EINVAL",
    )?;
    expect(
        DmaPool::<[u8; 64]>::new(&b.dma, c_str!("bad"), 0, 32).err() == Some(EINVAL),
        "pool boundary below the block size is EINVAL",
    )
}

/// Must stay last: unbinds edu.
fn dma_unbind_revokes() -> Result {
    let b = bound()?;
    let kept = CoherentAllocation::<u64>::alloc_coherent(&b.dma, 8, GFP_KERNEL)?;
    let pool = DmaPool::<u64>::new(&b.dma, c_str!("dma_test_kept"), 0, 0)?;
    expect(b.dma.is_bound(), "bound before")?;
    // Unregistering the driver unbinds edu: devres frees the coherent memory
    // and the pool (DMA-API debugging would report any leftover).
    drop(DRIVER.take());
    expect(!b.dma.is_bound(), "unbound after")?;
    expect(
        b.dma.access().err() == Some(ENXIO),
        "access after unbind is ENXIO",
    )?;
    expect(
        kept.access().err() == Some(ENXIO),
        "coherent view after unbind is ENXIO",
    )?;
    expect(
        b.dma.map_owned::<ToDevice, _>(pattern(64, 0)?).err() == Some(ENXIO),
        "owned mapping after unbind is ENXIO",
    )?;
    expect(
        pool.alloc_owned(GFP_KERNEL).err() == Some(ENXIO),
        "pool block after unbind is ENXIO",
    )?;
    // A kept `DmaDevice` allocates nothing for an unbound device.
    expect(
        CoherentAllocation::<u64>::alloc_coherent(&b.dma, 8, GFP_KERNEL).err() == Some(ENXIO),
        "coherent allocation after unbind is ENXIO",
    )?;
    expect(
        DmaPool::<u64>::new(&b.dma, c_str!("dma_test_late"), 0, 0).err() == Some(ENXIO),
        "pool after unbind is ENXIO",
    )?;
    // Dropping what was already released does not free it twice.
    drop(kept);
    drop(pool);
    drop(BOUND.take());
    Ok(())
}

kernel::kunit_suite!(
    dma,
    [
        dma_mask_bounds,
        dma_coherent_roundtrip,
        dma_coherent_fields,
        dma_streaming_scoped,
        dma_streaming_bidirectional,
        dma_streaming_owned,
        dma_sg_roundtrip,
        dma_pool_roundtrip,
        dma_bad_input,
        dma_unbind_revokes,
    ]
);

struct DmaTestModule;

impl kernel::Module for DmaTestModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let reg = Registration::<pci::Adapter<DmaTest>>::new(c_str!("dma_test"), module)?;
        DRIVER.set(Arc::new(reg, GFP_KERNEL)?);
        Ok(DmaTestModule)
    }
}

impl Drop for DmaTestModule {
    fn drop(&mut self) {
        drop(DRIVER.take());
        drop(BOUND.take());
    }
}

module! {
    type: DmaTestModule,
    name: "dma_test",
    authors: ["dmabridge"],
    description: "KUnit suite for the DMA bindings on QEMU's edu device",
    license: "GPL v2",
}
