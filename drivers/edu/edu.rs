// SPDX-License-Identifier: GPL-2.0

//! Driver for QEMU's edu device (1234:11e8), on dmabridge's bindings.
//!
//! Each device gets `/dev/eduN`: the file is the device's 4096-byte buffer.
//! `write(2)` moves the caller's bytes into it by DMA (RAM to device),
//! `read(2)` moves them out by DMA (device to RAM); `EDU_IOC_FACTORIAL`
//! computes a factorial on the device. Completion of either is signalled by
//! the device's interrupt. The ABI is in `drivers/include/uapi/edu.h` and
//! `docs/edu-abi.md`; `drivers/edu_c` is the same driver in C.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use kernel::{
    c_str,
    device::{Bound, Core, Device},
    devres::Devres,
    dma::{DmaDevice, DmaMask, FromDevice, ToDevice},
    fmt,
    fs::{File, Kiocb},
    ioctl::_IOWR,
    iov::{IovIterDest, IovIterSource},
    irq,
    miscdevice::{seek_position, MiscDevice, MiscDeviceRegistration, Whence},
    new_mutex, pci,
    prelude::*,
    str::CString,
    sync::{Arc, ArcBorrow, Completion, Mutex},
    uaccess::UserSlice,
};

const ID: usize = 0x00;
const FACTORIAL: usize = 0x08;
const STATUS: usize = 0x20;
const IRQ_STATUS: usize = 0x24;
const IRQ_ACK: usize = 0x64;
const DMA_SRC: usize = 0x80;
const DMA_DST: usize = 0x88;
const DMA_COUNT: usize = 0x90;
const DMA_CMD: usize = 0x98;

/// Status: raise an interrupt when a factorial is done.
const STATUS_IRQ_FACTORIAL: u32 = 0x80;
/// DMA command bits: start, direction device to RAM, interrupt when done.
const CMD_START: u64 = 1;
const CMD_TO_RAM: u64 = 2;
const CMD_IRQ: u64 = 4;
/// The device's buffer in its own address space, and its size.
const EDU_BUF: u64 = 0x40000;
/// The size of the file: the device's DMA buffer.
pub const EDU_BUF_SIZE: usize = 4096;
/// How long the device may take before it is declared dead.
const TIMEOUT_MS: u32 = 5000;

/// `EDU_IOC_FACTORIAL` of `drivers/include/uapi/edu.h`.
const EDU_IOC_FACTORIAL: u32 = _IOWR::<u32>(b'E' as u32, 0x01);

/// The part of BAR0 the driver uses.
type EduBar = pci::Bar<4096>;

/// Device numbers in use (`N` of `/dev/eduN`).
static NUMBERS: AtomicU64 = AtomicU64::new(0);

/// A device number, given back when dropped.
struct Number(u32);

impl Number {
    fn take() -> Result<Self> {
        let mut used = NUMBERS.load(Ordering::Relaxed);
        loop {
            let n = (!used).trailing_zeros();
            if n >= 64 {
                return Err(ENOSPC);
            }
            match NUMBERS.compare_exchange(
                used,
                used | (1 << n),
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(Number(n)),
                Err(now) => used = now,
            }
        }
    }
}

impl Drop for Number {
    fn drop(&mut self) {
        NUMBERS.fetch_and(!(1u64 << self.0), Ordering::AcqRel);
    }
}

/// One device, shared by the driver, the interrupt handler and open files.
#[pin_data]
struct Edu {
    /// Stops the device's DMA while it is bound to this driver.
    master: Devres<pci::BusMaster>,
    dma: DmaDevice,
    #[pin]
    bar: Devres<EduBar>,
    /// One operation at a time on the device.
    #[pin]
    busy: Mutex<()>,
    /// Completed by the interrupt handler.
    #[pin]
    done: Completion,
    /// Set when the device stopped answering: later operations fail with `EIO`.
    dead: AtomicBool,
}

impl Edu {
    /// Starts an operation with `start` and waits for its interrupt. Called
    /// with `busy` held.
    ///
    /// A signal does not abandon the operation (the device may be writing a
    /// buffer): it waits for the device, then restarts the system call. If the
    /// device does not answer in time, bus mastering is turned off, so the
    /// buffer can be released, and the device is marked dead.
    fn run(&self, start: impl FnOnce(&EduBar)) -> Result {
        if self.dead.load(Ordering::Relaxed) {
            return Err(EIO);
        }
        self.done.reinit();
        self.bar.try_access_with(start).ok_or(ENXIO)?;
        let answered_after_signal = match self.done.wait_interruptible_timeout(TIMEOUT_MS) {
            Ok(true) => return Ok(()),
            // No interrupt in time: the device is not answering.
            Ok(false) => false,
            // A signal: wait for the device (it may be writing the buffer),
            // then restart the system call.
            Err(_) => self.done.wait_timeout(TIMEOUT_MS),
        };
        if answered_after_signal {
            return Err(ERESTARTSYS);
        }
        pr_err!(
            "device did not answer within {} ms; disabling it\n",
            TIMEOUT_MS
        );
        // After unbind the binding has stopped bus mastering itself.
        let _ = self.master.try_access_with(|m| m.clear());
        self.dead.store(true, Ordering::Relaxed);
        Err(ETIMEDOUT)
    }

    /// Moves `len` bytes at `offset` of the device buffer to RAM and hands them to `f`.
    fn read_dma(&self, offset: usize, len: usize, f: impl FnOnce(&[u8]) -> Result) -> Result {
        let _busy = self.busy.lock();
        let buf = zeroed(len)?;
        let m = self.dma.map_owned::<FromDevice, _>(buf)?;
        let handle = m.dma_handle();
        self.run(|bar| {
            bar.write64(EDU_BUF + offset as u64, DMA_SRC);
            bar.write64(handle, DMA_DST);
            bar.write64(len as u64, DMA_COUNT);
            bar.write64(CMD_START | CMD_TO_RAM | CMD_IRQ, DMA_CMD);
        })?;
        f(m.sync_for_cpu()?.as_slice())
    }

    /// Moves `data` into the device buffer at `offset`.
    fn write_dma(&self, offset: usize, data: KVec<u8>) -> Result {
        let _busy = self.busy.lock();
        let len = data.len();
        let m = self.dma.map_owned::<ToDevice, _>(data)?;
        let handle = m.dma_handle();
        self.run(|bar| {
            bar.write64(handle, DMA_SRC);
            bar.write64(EDU_BUF + offset as u64, DMA_DST);
            bar.write64(len as u64, DMA_COUNT);
            bar.write64(CMD_START | CMD_IRQ, DMA_CMD);
        })
    }

    fn factorial(&self, n: u32) -> Result<u32> {
        let _busy = self.busy.lock();
        self.run(|bar| {
            bar.write32(STATUS_IRQ_FACTORIAL, STATUS);
            bar.write32(n, FACTORIAL);
        })?;
        self.bar
            .try_access_with(|bar| bar.read32(FACTORIAL))
            .ok_or(ENXIO)
    }
}

struct Handler(Arc<Edu>);

impl irq::Handler for Handler {
    fn handle(&self, _dev: &Device<Bound>) -> irq::IrqReturn {
        let Some(bar) = self.0.bar.try_access() else {
            return irq::IrqReturn::None;
        };
        let status = bar.read32(IRQ_STATUS);
        if status == 0 {
            // Not ours: an INTx line may be shared.
            return irq::IrqReturn::None;
        }
        bar.write32(status, IRQ_ACK);
        self.0.done.complete_all();
        irq::IrqReturn::Handled
    }
}

/// The driver's per-device object. Fields drop in order: the file first,
/// then the interrupt, then the number.
#[pin_data]
struct EduDriver {
    #[pin]
    _misc: MiscDeviceRegistration<EduFile>,
    #[pin]
    _irq: irq::Registration<Handler>,
    number: Number,
}

kernel::pci_device_table!(
    PCI_TABLE,
    MODULE_PCI_TABLE,
    (),
    [(
        pci::DeviceId::from_id(pci::Vendor::from_raw(0x1234), 0x11e8),
        ()
    )]
);

impl pci::Driver for EduDriver {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &PCI_TABLE;

    fn probe(pdev: &pci::Device<Core>, _info: &()) -> Result<Pin<KBox<Self>>> {
        pdev.enable_device_mem()?;
        pdev.set_master();
        let dma = pdev.dma_set_mask_and_coherent(DmaMask::new::<28>())?;
        let master = pdev.bus_master()?;
        let edu: Arc<Edu> = Arc::pin_init(
            try_pin_init!(Edu {
                master,
                dma,
                bar <- pdev.iomap_region_sized::<4096>(0, c_str!("edu")),
                busy <- new_mutex!(()),
                done <- Completion::new(),
                dead: AtomicBool::new(false),
            }? Error),
            GFP_KERNEL,
        )?;
        let id = edu.bar.try_access_with(|b| b.read32(ID)).ok_or(ENXIO)?;
        if id & 0xff != 0xed {
            dev_err!(
                pdev.as_ref(),
                "not an edu device: identification 0x{:08x}\n",
                id
            );
            return Err(ENODEV);
        }
        pdev.alloc_irq_vectors(1, 1, pci::IrqTypes::MSI | pci::IrqTypes::INTX)?;
        let kind = pdev.irq_kind();
        let number = Number::take()?;
        let name = CString::try_from_fmt(fmt!("edu{}", number.0))?;
        let handler = Ok(Handler(edu.clone()));
        let driver: Pin<KBox<Self>> = KBox::pin_init(
            try_pin_init!(EduDriver {
                _irq <- pdev.request_irq(0, irq::Flags::SHARED, c_str!("edu"), handler)?,
                _misc <- MiscDeviceRegistration::register_named(name, edu),
                number,
            }? Error),
            GFP_KERNEL,
        )?;
        dev_info!(
            pdev.as_ref(),
            "edu{}: id 0x{:08x}, {} interrupt\n",
            driver.number.0,
            id,
            kind
        );
        Ok(driver)
    }

    fn unbind(pdev: &pci::Device<Core>, this: Pin<&Self>) {
        dev_info!(pdev.as_ref(), "edu{}: unbinding\n", this.number.0);
    }
}

struct EduFile;

/// A buffer of `len <= EDU_BUF_SIZE` zero bytes.
fn zeroed(len: usize) -> Result<KVec<u8>> {
    if len > EDU_BUF_SIZE {
        return Err(EINVAL);
    }
    Ok(KVec::from_elem(0u8, len, GFP_KERNEL)?)
}

/// How many of `want` bytes a transfer at `pos` may move.
fn span(pos: i64, want: usize) -> usize {
    let pos = pos.clamp(0, EDU_BUF_SIZE as i64) as usize;
    want.min(EDU_BUF_SIZE - pos)
}

#[vtable]
impl MiscDevice for EduFile {
    type Ptr = Arc<Edu>;

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Arc<Edu>> {
        Ok(misc.data::<Arc<Edu>>()?.clone())
    }

    fn read_iter(mut kiocb: Kiocb<'_, Arc<Edu>>, iov: &mut IovIterDest<'_>) -> Result<usize> {
        let pos = kiocb.ki_pos();
        let len = span(pos, iov.len());
        if len == 0 {
            return Ok(0);
        }
        kiocb.file().read_dma(pos as usize, len, |bytes| {
            // Like `copy_to_user` in C: a bad address fails the whole read.
            match iov.copy_to_iter(bytes) {
                n if n == len => Ok(()),
                _ => Err(EFAULT),
            }
        })?;
        *kiocb.ki_pos_mut() += len as i64;
        Ok(len)
    }

    fn write_iter(mut kiocb: Kiocb<'_, Arc<Edu>>, iov: &mut IovIterSource<'_>) -> Result<usize> {
        let pos = kiocb.ki_pos();
        if pos >= EDU_BUF_SIZE as i64 {
            return Err(ENOSPC);
        }
        let len = span(pos, iov.len());
        if len == 0 {
            return Ok(0);
        }
        let mut data = zeroed(len)?;
        if iov.copy_from_iter(&mut data) != len {
            return Err(EFAULT);
        }
        kiocb.file().write_dma(pos as usize, data)?;
        *kiocb.ki_pos_mut() += len as i64;
        Ok(len)
    }

    fn llseek(
        _edu: ArcBorrow<'_, Edu>,
        _file: &File,
        pos: i64,
        offset: i64,
        whence: Whence,
    ) -> Result<i64> {
        seek_position(pos, offset, whence, EDU_BUF_SIZE as i64)
    }

    fn ioctl(edu: ArcBorrow<'_, Edu>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        if cmd != EDU_IOC_FACTORIAL {
            return Err(ENOTTY);
        }
        let (mut reader, mut writer) = UserSlice::new(arg as _, 4).reader_writer();
        let n: u32 = reader.read()?;
        let result = edu.factorial(n)?;
        writer.write(&result)?;
        Ok(0)
    }
}

kernel::module_pci_driver! {
    type: EduDriver,
    name: "edu",
    authors: ["dmabridge"],
    description: "QEMU edu device: DMA to and from its buffer, factorials (Rust)",
    license: "GPL v2",
}
