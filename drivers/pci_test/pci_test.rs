// SPDX-License-Identifier: GPL-2.0

//! Test driver for dmabridge's driver-core bindings on QEMU's edu device.
//!
//! Binds to edu (1234:11e8), maps BAR0, takes one interrupt vector (MSI, or
//! INTx when MSI is not allowed) and registers `/dev/pcitest`. A write of a
//! command to an open file runs it; a read returns its reply once:
//!
//! - `id`: the identification register; `live`: the liveness register's
//!   complement of 0x12345678; `kind`: `msi`, `msix` or `intx`;
//! - `irq`: raises an interrupt and waits for the handler: `irqs=N status=S`;
//! - `oob`: a run-time MMIO offset past the BAR: the errno name;
//! - anything else: `EINVAL`. After unbind every command fails with `ENXIO`.

use core::sync::atomic::{AtomicU32, Ordering};
use kernel::{
    alloc::flags::__GFP_ZERO,
    c_str,
    delay::msleep,
    device::{Bound, Core, Device},
    devres::{self, Devres},
    fs::{File, Kiocb},
    iov::{IovIterDest, IovIterSource},
    irq,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    mm::virt::VmaNew,
    new_condvar, new_mutex,
    page::{Page, PAGE_SIZE},
    pci,
    prelude::*,
    seq_file::SeqFile,
    seq_print,
    str::CString,
    sync::{Arc, CondVar, Mutex},
    time::msecs_to_jiffies,
};

const ID: usize = 0x00;
const LIVENESS: usize = 0x04;
const IRQ_STATUS: usize = 0x24;
const IRQ_RAISE: usize = 0x60;
const IRQ_ACK: usize = 0x64;
const RAISED: u32 = 0xabc;

/// The part of BAR0 this driver uses.
type EduBar = pci::Bar<4096>;

#[pin_data]
struct Shared {
    #[pin]
    bar: Devres<EduBar>,
    kind: pci::IrqKind,
    /// Interrupts the hard half handled.
    irqs: AtomicU32,
    /// Runs of the threaded half (which sleeps, to show it may).
    threaded: AtomicU32,
    status: AtomicU32,
    #[pin]
    lock: Mutex<()>,
    #[pin]
    irq_seen: CondVar,
    /// The page every `mmap` of `/dev/pcitest` maps.
    page: Page,
}

/// The interrupt handler, in two halves: the hard half acknowledges the
/// device (so its line drops before the thread runs), the threaded half
/// sleeps and then wakes the waiting command.
struct Handler(Arc<Shared>);

impl irq::ThreadedHandler for Handler {
    fn handle(&self, _dev: &Device<Bound>) -> irq::ThreadedIrqReturn {
        let Some(bar) = self.0.bar.try_access() else {
            return irq::ThreadedIrqReturn::None;
        };
        let status = bar.read32(IRQ_STATUS);
        if status == 0 {
            // Not ours: the INTx line may be shared.
            return irq::ThreadedIrqReturn::None;
        }
        bar.write32(status, IRQ_ACK);
        self.0.status.store(status, Ordering::Relaxed);
        self.0.irqs.fetch_add(1, Ordering::Release);
        irq::ThreadedIrqReturn::WakeThread
    }

    fn handle_threaded(&self, dev: &Device<Bound>) -> irq::IrqReturn {
        // Process context: sleeping here is allowed (the checkers would
        // report it otherwise).
        msleep(1);
        self.0.threaded.fetch_add(1, Ordering::Release);
        self.0.irq_seen.notify_all();
        dev_dbg!(dev, "threaded half ran\n");
        irq::IrqReturn::Handled
    }
}

/// Data tied to the binding with `devres::register`: dropped at unbind.
struct UnbindMarker;

impl Drop for UnbindMarker {
    fn drop(&mut self) {
        pr_info!("registered data dropped at unbind\n");
    }
}

#[pin_data]
struct PciTest {
    #[pin]
    _misc: MiscDeviceRegistration<TestFile>,
    #[pin]
    _irq: irq::ThreadedRegistration<Handler>,
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

impl pci::Driver for PciTest {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &PCI_TABLE;

    fn probe(pdev: &pci::Device<Core>, _info: &()) -> Result<Pin<KBox<Self>>> {
        pdev.enable_device_mem()?;
        pdev.set_master();
        pdev.alloc_irq_vectors(1, 1, pci::IrqTypes::MSI | pci::IrqTypes::INTX)?;
        let kind = pdev.irq_kind();
        let shared: Arc<Shared> = Arc::pin_init(
            try_pin_init!(Shared {
                bar <- pdev.iomap_region_sized::<4096>(0, c_str!("pci_test")),
                kind,
                irqs: AtomicU32::new(0),
                threaded: AtomicU32::new(0),
                status: AtomicU32::new(0),
                lock <- new_mutex!(()),
                irq_seen <- new_condvar!(),
                page: Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?,
            }? Error),
            GFP_KERNEL,
        )?;
        let id = shared.bar.try_access_with(|b| b.read32(ID)).ok_or(ENXIO)?;
        if id & 0xffff != 0xed {
            pr_err!("unexpected identification 0x{:08x}\n", id);
            return Err(ENODEV);
        }
        devres::register(pdev.as_ref(), UnbindMarker, GFP_KERNEL)?;
        let handler = Ok(Handler(shared.clone()));
        let options = MiscDeviceOptions {
            name: c_str!("pcitest"),
        };
        let this = KBox::pin_init(
            try_pin_init!(PciTest {
                _irq <- pdev.request_threaded_irq(0, irq::Flags::SHARED, c_str!("pci_test"), handler)?,
                _misc <- MiscDeviceRegistration::register_with_data(options, shared),
            }? Error),
            GFP_KERNEL,
        )?;
        pr_info!("bound: id 0x{:08x}, {} interrupt\n", id, kind);
        Ok(this)
    }

    fn unbind(_pdev: &pci::Device<Core>, _this: Pin<&Self>) {
        pr_info!("unbinding\n");
    }
}

#[pin_data]
struct Open {
    shared: Arc<Shared>,
    #[pin]
    reply: Mutex<KVec<u8>>,
}

struct TestFile;

fn bytes(s: &[u8]) -> Result<KVec<u8>> {
    let mut v = KVec::new();
    v.extend_from_slice(s, GFP_KERNEL)?;
    Ok(v)
}

fn text(args: core::fmt::Arguments<'_>) -> Result<KVec<u8>> {
    bytes(CString::try_from_fmt(args)?.as_bytes())
}

fn hex(v: u32) -> Result<KVec<u8>> {
    text(format_args!("0x{:08x}\n", v))
}

fn run(shared: &Shared, cmd: &[u8]) -> Result<KVec<u8>> {
    match cmd {
        b"id" => hex(shared.bar.try_access_with(|b| b.read32(ID)).ok_or(ENXIO)?),
        b"live" => hex(shared
            .bar
            .try_access_with(|b| {
                b.write32(0x1234_5678, LIVENESS);
                b.read32(LIVENESS)
            })
            .ok_or(ENXIO)?),
        b"kind" => Ok(match shared.kind {
            pci::IrqKind::Msi => bytes(b"msi\n")?,
            pci::IrqKind::Msix => bytes(b"msix\n")?,
            pci::IrqKind::Intx => bytes(b"intx\n")?,
        }),
        b"oob" => {
            let r = shared
                .bar
                .try_access_with(|b| b.try_read32(b.maxsize()))
                .ok_or(ENXIO)?;
            let name = match r {
                Ok(_) => "read succeeded",
                Err(e) if e == EINVAL => "EINVAL",
                Err(_) => "other error",
            };
            text(format_args!("{}\n", name))
        }
        b"irq" => {
            let before = shared.irqs.load(Ordering::Acquire);
            let threaded_before = shared.threaded.load(Ordering::Acquire);
            shared
                .bar
                .try_access_with(|b| b.write32(RAISED, IRQ_RAISE))
                .ok_or(ENXIO)?;
            let mut guard = shared.lock.lock();
            for _ in 0..20 {
                if shared.threaded.load(Ordering::Acquire) != threaded_before {
                    break;
                }
                let _ = shared
                    .irq_seen
                    .wait_interruptible_timeout(&mut guard, msecs_to_jiffies(50));
            }
            drop(guard);
            text(format_args!(
                "irqs={} threaded={} status=0x{:x}\n",
                shared.irqs.load(Ordering::Acquire) - before,
                shared.threaded.load(Ordering::Acquire) - threaded_before,
                shared.status.load(Ordering::Relaxed)
            ))
        }
        _ => Err(EINVAL),
    }
}

#[vtable]
impl MiscDevice for TestFile {
    type Ptr = Pin<KBox<Open>>;

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Open>>> {
        let shared = misc.data::<Arc<Shared>>()?.clone();
        KBox::pin_init(
            pin_init!(Open {
                shared,
                reply <- new_mutex!(KVec::new()),
            }),
            GFP_KERNEL,
        )
    }

    fn write_iter(kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterSource<'_>) -> Result<usize> {
        let mut buf = [0u8; 16];
        let n = iov.len();
        if n > buf.len() {
            return Err(EINVAL);
        }
        if iov.copy_from_iter(&mut buf[..n]) != n {
            return Err(EFAULT);
        }
        let cmd = buf[..n].strip_suffix(b"\n").unwrap_or(&buf[..n]);
        let this = kiocb.file();
        let reply = run(&this.shared, cmd)?;
        *this.reply.lock() = reply;
        Ok(n)
    }

    fn read_iter(kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterDest<'_>) -> Result<usize> {
        // Taken out first: a copy that faults (and waits for userspace)
        // must not hold the lock `show_fdinfo` takes.
        let reply = core::mem::take(&mut *kiocb.file().reply.lock());
        let n = reply.len().min(iov.len());
        if iov.copy_to_iter(&reply[..n]) != n {
            return Err(EFAULT);
        }
        Ok(n)
    }

    fn mmap(this: Pin<&Open>, _file: &File, vma: &VmaNew) -> Result {
        if vma.end() - vma.start() != PAGE_SIZE {
            return Err(EINVAL);
        }
        vma.set_dontexpand();
        vma.set_mixedmap()
            .vm_insert_page(vma.start(), &this.shared.page)
    }

    fn show_fdinfo(this: Pin<&Open>, m: &SeqFile, _file: &File) {
        seq_print!(m, "pcitest-reply-bytes:\t{}\n", this.reply.lock().len());
    }
}

kernel::module_pci_driver! {
    type: PciTest,
    name: "pci_test",
    authors: ["dmabridge"],
    description: "Tests of the PCI, MMIO, IRQ, devres and misc-device bindings on QEMU edu",
    license: "GPL v2",
}
