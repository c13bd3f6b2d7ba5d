// SPDX-License-Identifier: GPL-2.0

//! Driver for NVMe controllers (PCI class 0x010802), on dmabridge's bindings.
//!
//! It brings a controller up and down as the kernel's `nvme` driver does:
//! - a controller reset whose waits are bounded by CAP.TO;
//! - the admin queue, completed by interrupt (MSI-X, else MSI, else INTx),
//!   with phase-bit completion processing;
//! - Identify Controller, the active namespace list and Identify Namespace;
//! - Set Features (Number of Queues), asking for one I/O queue pair per
//!   possible CPU, each with its own MSI-X vector where there are enough;
//! - one block device per namespace (`rnvmeNnM`): reads, writes and flushes,
//!   with PRP1/PRP2 or a PRP list, completed by interrupt (phase bit, command
//!   identifiers with a generation, tag to request through the tag set);
//! - a timed-out request disables the controller and fails every request in
//!   flight with `EIO`;
//! - at unbind, an orderly shutdown (CC.SHN), the requests still in flight
//!   failed with `EIO`, then the disks deleted.

// Commands, PRP lists and discard ranges are written in CPU byte order; NVMe's
// are little-endian.
#[cfg(target_endian = "big")]
compile_error!("rnvme supports little-endian CPUs only");

use core::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use kernel::{
    block::mq::{
        gen_disk::{GenDisk, GenDiskBuilder},
        Command, IoCompBatch, Operations, Request, RequestMapping, TagSet, TimeoutReturn,
    },
    c_str, cpu,
    device::{Bound, Core, Device},
    devres::Devres,
    dma::{self, CoherentAllocation, DmaDevice, DmaMask},
    dma_struct, dma_write, irq, new_mutex, new_spinlock_irq, pci,
    prelude::*,
    sync::{Arc, ArcBorrow, Completion, Mutex, SpinLockIrq},
    time::{ktime_ms_delta, Ktime},
    types::ARef,
};

/// The controller registers (NVMe base specification, "Controller Registers").
const REG_CAP: usize = 0x00;
const REG_VS: usize = 0x08;
const REG_CC: usize = 0x14;
const REG_CSTS: usize = 0x1c;
const REG_AQA: usize = 0x24;
const REG_ASQ: usize = 0x28;
const REG_ACQ: usize = 0x30;
/// The first doorbell; queue `q`'s are at `2q` and `2q + 1` strides from it.
const REG_DOORBELLS: usize = 0x1000;

const CC_ENABLE: u32 = 1 << 0;
const CC_SHN_NORMAL: u32 = 1 << 14;
const CC_SHN_MASK: u32 = 3 << 14;
/// I/O submission and completion queue entries of 2^6 and 2^4 bytes.
const CC_IOSQES: u32 = 6 << 16;
const CC_IOCQES: u32 = 4 << 20;
const CSTS_RDY: u32 = 1 << 0;
const CSTS_CFS: u32 = 1 << 1;
const CSTS_SHST_MASK: u32 = 3 << 2;
const CSTS_SHST_COMPLETE: u32 = 2 << 2;

const ADMIN_IDENTIFY: u8 = 0x06;
const ADMIN_SET_FEATURES: u8 = 0x09;
const CNS_NAMESPACE: u32 = 0x00;
const CNS_CONTROLLER: u32 = 0x01;
const CNS_ACTIVE_NSIDS: u32 = 0x02;
/// Identify Controller for the NVM command set (CSI 0).
const CNS_CONTROLLER_NVM: u32 = 0x06;
const FEATURE_NUM_QUEUES: u32 = 0x07;

/// The admin queue's depth (the C driver's `NVME_AQ_DEPTH`).
const ADMIN_DEPTH: u16 = 32;
/// How long an admin command may take (the C driver's `admin_timeout`).
const ADMIN_TIMEOUT_MS: u32 = 60_000;
/// How long a shutdown may take (the C driver's `shutdown_timeout`).
const SHUTDOWN_TIMEOUT_MS: i64 = 5_000;
/// The controller's memory page: the C driver's `NVME_CTRL_PAGE_SIZE`.
const CTRL_PAGE_SIZE: usize = 4096;
/// The namespaces looked at, at most (one page of the active list).
const MAX_NAMESPACES: usize = 1024;

/// The registers below the doorbells; doorbells are reached with run-time
/// checked accesses, since their stride comes from the controller.
type NvmeBar = pci::Bar<REG_DOORBELLS>;

dma_struct! {
    /// A submission queue entry (64 bytes).
    struct NvmeCommand {
        /// Opcode, fused and PRP/SGL bits, command identifier.
        cdw0: u32,
        nsid: u32,
        cdw2: u32,
        cdw3: u32,
        mptr: u64,
        prp1: u64,
        prp2: u64,
        cdw10: u32,
        cdw11: u32,
        cdw12: u32,
        cdw13: u32,
        cdw14: u32,
        cdw15: u32,
    }
}

dma_struct! {
    /// A completion queue entry (16 bytes).
    struct Cqe {
        result: u32,
        result_hi: u32,
        sq_head: u16,
        sq_id: u16,
        cid: u16,
        /// Bit 0 is the phase; the status field is above it.
        status: u16,
    }
}

impl NvmeCommand {
    fn new(opcode: u8, nsid: u32) -> Self {
        NvmeCommand {
            cdw0: opcode as u32,
            nsid,
            cdw2: 0,
            cdw3: 0,
            mptr: 0,
            prp1: 0,
            prp2: 0,
            cdw10: 0,
            cdw11: 0,
            cdw12: 0,
            cdw13: 0,
            cdw14: 0,
            cdw15: 0,
        }
    }
}

/// Controller numbers in use (`N` of `rnvmeN`).
static NUMBERS: AtomicU64 = AtomicU64::new(0);

/// A controller number, given back when dropped.
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

/// Waits until `done` holds for CSTS, checking every millisecond for at most
/// `timeout_ms`; `ENODEV` if the device is gone (all-ones) or reports a fatal
/// status while enabled, `ETIMEDOUT` when the time is up.
fn wait_csts(bar: &NvmeBar, timeout_ms: i64, done: impl Fn(u32) -> bool) -> Result<u32> {
    let start = Ktime::ktime_get();
    loop {
        let csts = bar.read32(REG_CSTS);
        if csts == u32::MAX {
            return Err(ENODEV);
        }
        if done(csts) {
            return Ok(csts);
        }
        if csts & CSTS_CFS != 0 && bar.read32(REG_CC) & CC_ENABLE != 0 {
            return Err(ENODEV);
        }
        if ktime_ms_delta(Ktime::ktime_get(), start) > timeout_ms {
            return Err(ETIMEDOUT);
        }
        kernel::delay::msleep(1);
    }
}

/// A completion queue and where the driver reads it next.
struct CompletionQueue {
    ring: CoherentAllocation<Cqe>,
    depth: u16,
    /// The head (low 16 bits) and the phase expected there (bit 16); only the
    /// queue's interrupt handler changes it.
    head: AtomicU32,
}

impl CompletionQueue {
    fn new(dma: &DmaDevice, depth: u16) -> Result<Self> {
        Ok(CompletionQueue {
            ring: CoherentAllocation::alloc_coherent(dma, depth.into(), GFP_KERNEL)?,
            depth,
            head: AtomicU32::new(1 << 16),
        })
    }

    /// Hands each entry the controller posted since the last call to `f`, in
    /// order; returns the new head for the doorbell, or `None` if there was
    /// no new entry (the interrupt is not this queue's).
    fn drain(&self, mut f: impl FnMut(&Cqe)) -> Option<u16> {
        let state = self.head.load(Ordering::Relaxed);
        let (mut head, mut phase) = (state as u16, (state >> 16) as u16 & 1);
        // One view of the ring for the whole pass (`None` once the device is unbound).
        let ring = self.ring.access().ok()?;
        let mut seen = false;
        while let Ok(posted) = ring.read(usize::from(head)) {
            if posted.status & 1 != phase {
                break;
            }
            // The entry's other fields were written before its phase bit: read it again.
            dma::dma_rmb();
            let Ok(entry) = ring.read(usize::from(head)) else {
                break;
            };
            f(&entry);
            seen = true;
            head += 1;
            if head == self.depth {
                head = 0;
                phase ^= 1;
            }
        }
        if !seen {
            return None;
        }
        self.head.store(
            u32::from(head) | (u32::from(phase) << 16),
            Ordering::Relaxed,
        );
        Some(head)
    }
}

/// The admin queue pair (queue 0).
#[pin_data]
struct AdminQueue {
    sq: CoherentAllocation<NvmeCommand>,
    cq: CompletionQueue,
    /// The submission tail and the next command identifier; held from
    /// submission to completion, so one command is in flight at a time.
    #[pin]
    submit: Mutex<(u16, u16)>,
    /// The last completion: identifier (bits 48..64), status (32..48) and
    /// result (0..32).
    last: AtomicU64,
    #[pin]
    done: Completion,
}

/// One controller, shared by the driver and its interrupt handler.
#[pin_data]
struct Nvme {
    #[pin]
    bar: Devres<NvmeBar>,
    /// Stops the controller's DMA while it is bound to this driver.
    master: Devres<pci::BusMaster>,
    dma: DmaDevice,
    /// Bytes between two doorbells (CAP.DSTRD); set from CAP before any
    /// doorbell rings.
    stride: AtomicUsize,
    #[pin]
    admin: AdminQueue,
    /// Set when the controller stopped answering: later commands fail.
    dead: AtomicBool,
}

/// What Identify Controller reported that the driver uses.
struct ControllerInfo {
    namespaces: u32,
    /// Optional Admin Command Support: bit 8 is the Doorbell Buffer Config.
    oacs: u16,
    /// Optional NVM Command Support: bit 2 Dataset Management, bit 3 Write Zeroes.
    oncs: u16,
    /// Volatile write cache present.
    vwc: bool,
    /// Maximum data transfer size: 2^MDTS pages, 0 for no limit.
    mdts: u8,
    /// Write Zeroes Size Limit: 2^WZSL pages, 0 for no limit (CNS 06h).
    wzsl: u8,
    /// Dataset Management Range Size Limit in blocks, 0 for none (CNS 06h).
    dmrsl: u32,
}

impl Nvme {
    /// The offset of doorbell `index` (`2q` for queue `q`'s submission tail,
    /// `2q + 1` for its completion head).
    fn doorbell(&self, index: usize) -> usize {
        REG_DOORBELLS + index * self.stride.load(Ordering::Relaxed)
    }

    /// Submits `cmd` on the admin queue and waits for its completion;
    /// returns the completion's result dword. `EIO` with a log line if the
    /// controller reports an error or completes another command.
    fn admin_command(&self, mut cmd: NvmeCommand) -> Result<u32> {
        if self.dead.load(Ordering::Relaxed) {
            return Err(EIO);
        }
        let q = &self.admin;
        let mut state = q.submit.lock();
        let (tail, cid) = *state;
        let opcode = cmd.cdw0 & 0xff;
        cmd.cdw0 |= u32::from(cid) << 16;
        q.done.reinit();
        dma_write!(q.sq[usize::from(tail)] = cmd)?;
        let next = (tail + 1) % ADMIN_DEPTH;
        let db = self.doorbell(0);
        // `writel` orders the entry's write before the doorbell.
        self.bar
            .try_access_with(|bar| bar.try_write32(u32::from(next), db))
            .ok_or(ENXIO)??;
        *state = (next, cid.wrapping_add(1));
        if !q.done.wait_timeout(ADMIN_TIMEOUT_MS) {
            pr_err!(
                "admin command 0x{:02x} timed out after {} ms; disabling the controller\n",
                opcode,
                ADMIN_TIMEOUT_MS
            );
            self.disable_dead();
            return Err(ETIMEDOUT);
        }
        let last = q.last.load(Ordering::Acquire);
        let (got, status, result) = (
            (last >> 48) as u16,
            (last >> 33) as u16 & 0x7fff,
            last as u32,
        );
        if got != cid {
            pr_err!(
                "admin completion for command {} while {} was outstanding\n",
                got,
                cid
            );
            self.disable_dead();
            return Err(EIO);
        }
        if status != 0 {
            pr_err!(
                "admin command 0x{:02x} failed: status 0x{:x}\n",
                opcode,
                status
            );
            return Err(EIO);
        }
        Ok(result)
    }

    /// Stops a controller that misbehaved: no more DMA, no more commands.
    fn disable_dead(&self) {
        self.dead.store(true, Ordering::Relaxed);
        let _ = self.master.try_access_with(|m| m.clear());
        let _ = self.bar.try_access_with(|bar| {
            let cc = bar.read32(REG_CC);
            bar.write32(cc & !CC_ENABLE, REG_CC);
        });
    }

    /// Runs an Identify with `cns` for `nsid` into a fresh page and hands its
    /// bytes to `f`.
    fn identify<R>(&self, cns: u32, nsid: u32, f: impl FnOnce(&[u8]) -> R) -> Result<R> {
        let page = CoherentAllocation::<u8>::alloc_coherent(&self.dma, CTRL_PAGE_SIZE, GFP_KERNEL)?;
        let mut cmd = NvmeCommand::new(ADMIN_IDENTIFY, nsid);
        cmd.prp1 = page.dma_handle();
        cmd.cdw10 = cns;
        self.admin_command(cmd)?;
        let mut bytes = KVec::from_elem(0u8, CTRL_PAGE_SIZE, GFP_KERNEL)?;
        page.access()?.copy_to_slice(0, &mut bytes)?;
        Ok(f(&bytes))
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// `len` bytes at `at` of an Identify page, as text without its padding.
fn text(page: &[u8], at: usize, len: usize) -> &str {
    let field = page.get(at..at + len).unwrap_or(&[]);
    match core::str::from_utf8(field) {
        Ok(s) if s.bytes().all(|b| b.is_ascii_graphic() || b == b' ') => s.trim_end(),
        _ => "?",
    }
}

fn le16(page: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([page[at], page[at + 1]])
}

fn le32(page: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([page[at], page[at + 1], page[at + 2], page[at + 3]])
}

fn le64(page: &[u8], at: usize) -> u64 {
    u64::from(le32(page, at)) | (u64::from(le32(page, at + 4)) << 32)
}

/// The deepest I/O queue pair (entries; CAP.MQES may allow fewer); a queue
/// holds one command fewer than its entries, so tags are one fewer.
const IO_DEPTH: u16 = 256;
/// PRP list entries per command: a request of `MAX_HW_SECTORS` spans at most
/// 129 pages, the first in PRP1. A tag's list (1 KiB) stays inside one
/// controller page, as a PRP list must unless it chains.
const PRP_ENTRIES: usize = 128;
/// Tags whose PRP lists share one page (4 KiB, one allocation): pages, as
/// C's lists are, rather than one large contiguous block per queue.
const PRP_TAGS_PER_PAGE: usize = CTRL_PAGE_SIZE / (PRP_ENTRIES * 8);
const _: () = assert!(PRP_TAGS_PER_PAGE >= 1);
/// The largest request: 512 KiB, as the C driver's with QEMU's default MDTS
/// (the controller's MDTS may lower it); with less, large I/O is split into
/// more commands than C sends.
const MAX_HW_SECTORS: u32 = 1024;
const IO_FLUSH: u8 = 0x00;
const IO_WRITE: u8 = 0x01;
const IO_READ: u8 = 0x02;
const IO_WRITE_ZEROES: u8 = 0x08;
const IO_DSM: u8 = 0x09;
/// Dataset Management's attribute "deallocate" (CDW11 bit 2): a discard.
const DSM_DEALLOCATE: u32 = 1 << 2;
/// Identify Controller ONCS bits: Dataset Management, Write Zeroes.
const ONCS_DSM: u16 = 1 << 2;
const ONCS_WRITE_ZEROES: u16 = 1 << 3;
/// The most logical blocks of one Read, Write or Write Zeroes (NLB is a
/// 0's based 16-bit field), and of the one range of a discard here.
const MAX_BLOCKS: u32 = 0x1_0000;
const ADMIN_CREATE_SQ: u8 = 0x01;
const ADMIN_CREATE_CQ: u8 = 0x05;
/// Command identifiers: the tag in the low 12 bits, a generation above it,
/// so that a completion for an earlier use of the tag is recognised.
const CID_TAG_BITS: u16 = 12;

/// The request of a command in flight: with its data mapped for the
/// controller, or (a flush, write zeroes, discard) without data.
enum Held {
    Mapped(RequestMapping<NvmeOps>),
    Bare(ARef<Request<NvmeOps>>),
}

/// A command the controller has not completed yet.
struct InFlight {
    held: Held,
    generation: u16,
}

impl InFlight {
    /// Unmaps the request's data, if it has any, and gives the request back.
    #[must_use = "the request must be ended"]
    fn into_request(self) -> ARef<Request<NvmeOps>> {
        match self.held {
            Held::Mapped(m) => m.unmap(),
            Held::Bare(rq) => rq,
        }
    }
}

/// What submission and completion share, under the queue's lock.
struct QueueState {
    tail: u16,
    /// The tail the doorbell was last written with: submissions that are not
    /// the last of a batch leave the doorbell to the last one (or to
    /// `commit_rqs`), as the C driver does.
    rung: u16,
    /// Set at unbind or when the controller is disabled: no more submissions.
    stopped: bool,
    /// The command in flight for each tag.
    slots: KVec<Option<InFlight>>,
}

/// An I/O queue pair.
#[pin_data]
struct IoQueue {
    qid: u16,
    /// Entries of each ring.
    depth: u16,
    sq: CoherentAllocation<NvmeCommand>,
    cq: CompletionQueue,
    /// The PRP lists: tag `t`'s is `PRP_ENTRIES` entries of page
    /// `t / PRP_TAGS_PER_PAGE`, from `(t % PRP_TAGS_PER_PAGE) * PRP_ENTRIES`.
    prps: KVec<CoherentAllocation<u64>>,
    /// The generation of each tag's last command: only the tag's `queue_rq`
    /// changes it, outside the lock. The block layer gives a tag to one
    /// request at a time; if it did not, the tag's PRP list would be rewritten
    /// before the busy slot is refused under the lock: the driver relies on
    /// the block layer for that, as C's does.
    generations: KVec<AtomicU16>,
    #[pin]
    state: SpinLockIrq<QueueState>,
}

impl IoQueue {
    fn new(dma: &DmaDevice, qid: u16, depth: u16) -> Result<impl PinInit<Self, Error>> {
        let tags = usize::from(depth - 1);
        let mut slots = KVec::with_capacity(tags, GFP_KERNEL)?;
        for _ in 0..tags {
            slots.push(None, GFP_KERNEL)?;
        }
        let mut generations = KVec::with_capacity(tags, GFP_KERNEL)?;
        for _ in 0..tags {
            generations.push(AtomicU16::new(0), GFP_KERNEL)?;
        }
        let state = QueueState {
            tail: 0,
            rung: 0,
            stopped: false,
            slots,
        };
        let sq = CoherentAllocation::alloc_coherent(dma, depth.into(), GFP_KERNEL)?;
        let cq = CompletionQueue::new(dma, depth)?;
        let pages = tags.div_ceil(PRP_TAGS_PER_PAGE);
        let mut prps = KVec::with_capacity(pages, GFP_KERNEL)?;
        for _ in 0..pages {
            let page = CoherentAllocation::alloc_coherent(dma, CTRL_PAGE_SIZE / 8, GFP_KERNEL)?;
            prps.push(page, GFP_KERNEL)?;
        }
        Ok(try_pin_init!(IoQueue {
            qid,
            depth,
            sq,
            cq,
            prps,
            generations,
            state <- new_spinlock_irq!(state),
        }? Error))
    }

    /// Tag `tag`'s PRP list: its page and its first entry there.
    fn prp_list(&self, tag: usize) -> Result<(&CoherentAllocation<u64>, usize)> {
        let page = self.prps.get(tag / PRP_TAGS_PER_PAGE).ok_or(EINVAL)?;
        Ok((page, (tag % PRP_TAGS_PER_PAGE) * PRP_ENTRIES))
    }

    /// Fills in the data pointers of `cmd` for tag `tag` from `mapping`:
    /// PRP1, then PRP2 as the second page or as this tag's PRP list.
    fn set_prps(
        &self,
        cmd: &mut NvmeCommand,
        tag: usize,
        mapping: &RequestMapping<NvmeOps>,
    ) -> Result {
        let page = CTRL_PAGE_SIZE as u64;
        // One segment within two controller pages (up to 4 KiB, or more if aligned): PRP1 and
        // PRP2 only, no list, as the C driver's `nvme_setup_prp_simple`.
        if mapping.len() == 1 {
            if let Some((addr, len)) = mapping.segments().next() {
                let first = page - (addr & (page - 1));
                if u64::from(len) <= first + page {
                    cmd.prp1 = addr;
                    cmd.prp2 = if u64::from(len) > first {
                        (addr & !(page - 1)) + page
                    } else {
                        0
                    };
                    return Ok(());
                }
            }
        }
        let mut pages = 0usize;
        let (prps, at0) = self.prp_list(tag)?;
        let list = prps.access()?;
        let count = mapping.len() as usize;
        for (i, (addr, len)) in mapping.segments().enumerate() {
            let end = addr + u64::from(len);
            // PRP entries after the first address whole pages: only the first segment may start,
            // and only the last end, inside one (the disk's virtual boundary asks for that).
            if (i > 0 && addr & (page - 1) != 0) || (i + 1 < count && end & (page - 1) != 0) {
                pr_err!(
                    "request segment 0x{:x}+{} is not on page boundaries\n",
                    addr,
                    len
                );
                return Err(EIO);
            }
            let mut at = addr;
            while at < end {
                match pages {
                    0 => cmd.prp1 = at,
                    n if n <= PRP_ENTRIES => list.write(at0 + n - 1, at)?,
                    _ => {
                        pr_err!("request needs more than {} PRP entries\n", PRP_ENTRIES);
                        return Err(EIO);
                    }
                }
                pages += 1;
                at = (at & !(page - 1)) + page;
            }
        }
        cmd.prp2 = match pages {
            0 | 1 => 0,
            2 => list.read(at0)?,
            _ => prps.dma_handle_with_offset(at0)?,
        };
        Ok(())
    }

    /// Writes the one range of a discard (Dataset Management: context
    /// attributes, length in blocks, starting LBA; 16 bytes, little-endian)
    /// into tag `tag`'s PRP list; returns its address.
    fn set_range(&self, tag: usize, lba: u64, blocks: u32) -> Result<u64> {
        let (prps, at0) = self.prp_list(tag)?;
        let list = prps.access()?;
        list.write(at0, u64::from(blocks) << 32)?;
        list.write(at0 + 1, lba)?;
        prps.dma_handle_with_offset(at0)
    }

    /// Takes the command in flight for the completion identifier `cid`, if it
    /// is one this queue sent; its tag with it.
    fn take(&self, cid: u16) -> Option<(u32, InFlight)> {
        let tag = usize::from(cid & ((1 << CID_TAG_BITS) - 1));
        let generation = cid >> CID_TAG_BITS;
        self.state.lock_with(|st| {
            let slot = st.slots.get_mut(tag)?;
            match slot {
                Some(f) if f.generation == generation => slot.take().map(|f| (tag as u32, f)),
                _ => None,
            }
        })
    }

    /// Stops submissions and takes every command in flight, one at a time,
    /// for `f`.
    fn cancel(&self, mut f: impl FnMut(InFlight)) {
        self.state.lock_with(|st| st.stopped = true);
        while let Some(flight) = self
            .state
            .lock_with(|st| st.slots.iter_mut().find_map(Option::take))
        {
            f(flight);
        }
    }
}

/// The controller's I/O side: its queues and their tag set.
struct Controller {
    nvme: Arc<Nvme>,
    queues: KVec<Arc<IoQueue>>,
    tagset: Arc<TagSet<NvmeOps>>,
    /// Where this controller's block devices are numbered (`rnvmeN`).
    number: Number,
}

impl Controller {
    /// Stops every queue and fails every command in flight with `EIO`.
    fn cancel_all(&self) {
        for q in self.queues.iter() {
            q.cancel(|flight| end(flight, Err(EIO)));
        }
    }
}

/// Ends the request of a command out of flight with `status`, its data
/// unmapped first.
fn end(flight: InFlight, status: Result) {
    // `Request::end` never refuses: a reference held elsewhere defers the end to its drop.
    let _ = Request::end(flight.into_request(), status);
}

/// A namespace: the queue data of its disk.
struct Namespace {
    ctrl: Arc<Controller>,
    nsid: u32,
    /// log2 of the block size.
    shift: u32,
}

/// The block-layer operations of rnvme's disks.
struct NvmeOps;

#[vtable]
impl Operations for NvmeOps {
    type QueueData = Arc<Namespace>;

    fn queue_rq(ns: ArcBorrow<'_, Namespace>, rq: ARef<Request<Self>>, is_last: bool) -> Result {
        let ctrl = &ns.ctrl;
        let q = ctrl.queues.get(rq.hw_queue() as usize).ok_or(EIO)?;
        let tag = rq.tag() as usize;
        let opcode = match rq.command() {
            Command::Read => IO_READ,
            Command::Write => IO_WRITE,
            Command::Flush => IO_FLUSH,
            Command::WriteZeroes => IO_WRITE_ZEROES,
            Command::Discard => IO_DSM,
            _ => return Err(EIO),
        };
        // Only reads and writes carry data.
        let held = match opcode {
            IO_READ | IO_WRITE => Held::Mapped(Request::dma_map(&rq, &ctrl.nvme.dma)?),
            _ => Held::Bare(rq.clone()),
        };
        let mut cmd = NvmeCommand::new(opcode, ns.nsid);
        if opcode != IO_FLUSH {
            let lba = rq.sector() >> (ns.shift - 9);
            let blocks = rq.bytes() >> ns.shift;
            if blocks == 0 || blocks > MAX_BLOCKS {
                return Err(EIO);
            }
            match &held {
                Held::Mapped(m) => {
                    cmd.cdw10 = lba as u32;
                    cmd.cdw11 = (lba >> 32) as u32;
                    cmd.cdw12 = (blocks - 1) | if rq.is_fua() { 1 << 30 } else { 0 };
                    q.set_prps(&mut cmd, tag, m)?;
                }
                Held::Bare(_) if opcode == IO_WRITE_ZEROES => {
                    cmd.cdw10 = lba as u32;
                    cmd.cdw11 = (lba >> 32) as u32;
                    cmd.cdw12 = blocks - 1;
                }
                Held::Bare(_) => {
                    // One range (CDW10 NR = 0), in this tag's PRP list, which a discard
                    // carries no data for.
                    cmd.cdw11 = DSM_DEALLOCATE;
                    cmd.prp1 = q.set_range(tag, lba, blocks)?;
                }
            }
        }
        // The command in flight holds the request until its completion ends it.
        drop(rq);
        let db = ctrl.nvme.doorbell(2 * usize::from(q.qid));
        let bar = ctrl.nvme.bar.try_access().ok_or(EIO)?;
        let generation = q.generations.get(tag).ok_or(EIO)?;
        let generation = generation.fetch_add(1, Ordering::Relaxed).wrapping_add(1) & 0xf;
        cmd.cdw0 |= u32::from(tag as u16 | (generation << CID_TAG_BITS)) << 16;
        // Moved into the slot when the command is queued; otherwise handed back, to be dropped
        // (unmapped) after the lock, not with interrupts off.
        let flight = InFlight { held, generation };
        let queued = q.state.lock_with(|st| {
            if st.stopped {
                return Err((EIO, flight));
            }
            let Some(slot) = st.slots.get_mut(tag) else {
                return Err((EIO, flight));
            };
            if slot.is_some() {
                pr_err!("queue {} tag {} submitted twice\n", q.qid, tag);
                return Err((EIO, flight));
            }
            if let Err(e) = dma_write!(q.sq[usize::from(st.tail)] = cmd) {
                return Err((e, flight));
            }
            let tail = (st.tail + 1) % q.depth;
            // Ring at the end of a batch, and before the ring could wrap past the tail the
            // controller knows.
            if is_last || (tail + 1) % q.depth == st.rung {
                if let Err(e) = bar.try_write32(u32::from(tail), db) {
                    return Err((e, flight));
                }
                st.rung = tail;
            }
            st.tail = tail;
            *slot = Some(flight);
            Ok(())
        });
        queued.map_err(|(e, _unmapped)| e)
    }

    fn commit_rqs(ns: ArcBorrow<'_, Namespace>) {
        // A batch ended before its last request: ring every queue whose tail the controller
        // has not been told (the callback does not say which queue).
        let n = &ns.ctrl.nvme;
        let Some(bar) = n.bar.try_access() else {
            return;
        };
        for q in ns.ctrl.queues.iter() {
            let db = n.doorbell(2 * usize::from(q.qid));
            q.state.lock_with(|st| {
                if !st.stopped
                    && st.tail != st.rung
                    && bar.try_write32(u32::from(st.tail), db).is_ok()
                {
                    st.rung = st.tail;
                }
            });
        }
    }

    fn complete(rq: ARef<Request<Self>>) {
        // Requests are ended in the interrupt handler; none is completed through here.
        let _ = Request::end_ok(rq);
    }

    fn timeout(ns: ArcBorrow<'_, Namespace>, rq: ARef<Request<Self>>) -> TimeoutReturn {
        pr_err!(
            "nsid {}: request tag {} on queue {} timed out; disabling the controller\n",
            ns.nsid,
            rq.tag(),
            rq.hw_queue() + 1
        );
        // Cancelling ends this request too; a reference kept here would defer that end until
        // this callback returns.
        drop(rq);
        ns.ctrl.nvme.disable_dead();
        ns.ctrl.cancel_all();
        TimeoutReturn::Done
    }
}

/// The interrupt handler of one I/O queue.
struct IoHandler {
    ctrl: Arc<Controller>,
    queue: Arc<IoQueue>,
}

impl irq::Handler for IoHandler {
    fn handle(&self, _dev: &Device<Bound>) -> irq::IrqReturn {
        let (n, q) = (&self.ctrl.nvme, &self.queue);
        let Some(bar) = n.bar.try_access() else {
            return irq::IrqReturn::None;
        };
        // The requests of one interrupt end together, after the doorbell, as the C driver's do.
        // The queue is locked for each completion only while its command is taken: the unmapping,
        // a request's end outside the batch (errors, flushes) and the messages run unlocked.
        IoCompBatch::with(|batch| {
            let head = q.cq.drain(|entry| match q.take(entry.cid) {
                Some((tag, flight)) => {
                    let status = entry.status >> 1;
                    let result = if status == 0 { Ok(()) } else { Err(EIO) };
                    if status != 0 {
                        pr_err!("queue {} tag {}: status 0x{:x}\n", q.qid, tag, status);
                    }
                    batch.end(flight.into_request(), result);
                }
                None => pr_err!(
                    "queue {}: completion for command 0x{:x}, which is not in flight\n",
                    q.qid,
                    entry.cid
                ),
            });
            let Some(head) = head else {
                return irq::IrqReturn::None;
            };
            let _ = bar.try_write32(u32::from(head), n.doorbell(2 * usize::from(q.qid) + 1));
            irq::IrqReturn::Handled
        })
    }
}

struct Handler(Arc<Nvme>);

impl irq::Handler for Handler {
    fn handle(&self, _dev: &Device<Bound>) -> irq::IrqReturn {
        let n = &self.0;
        let q = &n.admin;
        let Some(bar) = n.bar.try_access() else {
            return irq::IrqReturn::None;
        };
        let head = q.cq.drain(|entry| {
            q.last.store(
                (u64::from(entry.cid) << 48)
                    | (u64::from(entry.status) << 32)
                    | u64::from(entry.result),
                Ordering::Release,
            );
        });
        let Some(head) = head else {
            // Not ours: the vector or INTx line may be shared.
            return irq::IrqReturn::None;
        };
        let _ = bar.try_write32(u32::from(head), n.doorbell(1));
        q.done.complete_all();
        irq::IrqReturn::Handled
    }
}

/// The driver's per-controller object. Fields drop in order: the disks
/// (already gone after unbind), the interrupts, then the queues.
#[pin_data]
struct RnvmeDriver {
    #[pin]
    disks: Mutex<KVec<GenDisk<NvmeOps>>>,
    io_irqs: KVec<Pin<KBox<irq::Registration<IoHandler>>>>,
    admin_irq: Pin<KBox<irq::Registration<Handler>>>,
    ctrl: Arc<Controller>,
    nvme: Arc<Nvme>,
}

kernel::pci_device_table!(
    PCI_TABLE,
    MODULE_PCI_TABLE,
    (),
    [(pci::DeviceId::from_class(0x010802, 0xffffff), ())]
);

/// Disables the controller, sets up the admin queue and enables it again
/// (the C driver's `nvme_pci_configure_admin_queue`).
fn configure_admin_queue(n: &Nvme, bar: &NvmeBar, timeout_ms: i64) -> Result {
    let cc = bar.read32(REG_CC);
    if cc & CC_ENABLE != 0 {
        bar.write32(cc & !CC_ENABLE, REG_CC);
    }
    wait_csts(bar, timeout_ms, |csts| csts & CSTS_RDY == 0)?;
    let depth = u32::from(ADMIN_DEPTH - 1);
    bar.write32(depth | (depth << 16), REG_AQA);
    bar.write64(n.admin.sq.dma_handle(), REG_ASQ);
    bar.write64(n.admin.cq.ring.dma_handle(), REG_ACQ);
    bar.write32(CC_ENABLE | CC_IOSQES | CC_IOCQES, REG_CC);
    wait_csts(bar, timeout_ms, |csts| csts & CSTS_RDY != 0)?;
    Ok(())
}

impl RnvmeDriver {
    /// Identify Controller, logged as the C driver's sysfs shows it.
    fn identify_controller(pdev: &pci::Device<Core>, n: &Nvme) -> Result<ControllerInfo> {
        n.identify(CNS_CONTROLLER, 0, |id| {
            dev_info!(
                pdev.as_ref(),
                "{}, serial {}, firmware {}, {} namespace(s)\n",
                text(id, 24, 40),
                text(id, 4, 20),
                text(id, 64, 8),
                le32(id, 516)
            );
            ControllerInfo {
                namespaces: le32(id, 516),
                oacs: le16(id, 256),
                oncs: le16(id, 520),
                vwc: id[525] & 1 != 0,
                mdts: id[77],
                wzsl: 0,
                dmrsl: 0,
            }
        })
    }

    /// The NVM command set's limits (Identify CNS 06h), asked of NVMe 1.2
    /// and later controllers as the C driver does: (WZSL, DMRSL). A
    /// controller that fails the command has none (its status is logged).
    fn identify_nvm_limits(n: &Nvme, vs: u32) -> Result<(u8, u32)> {
        if vs < 0x0001_0200 {
            return Ok((0, 0));
        }
        match n.identify(CNS_CONTROLLER_NVM, 0, |id| (id[1], le32(id, 4))) {
            Err(e) if e == EIO && !n.dead.load(Ordering::Relaxed) => Ok((0, 0)),
            limits => limits,
        }
    }

    /// The active namespaces (the list CNS 02h gives), each identified.
    /// The usable active namespaces: (nsid, blocks, log2 of the block size).
    fn scan_namespaces(
        pdev: &pci::Device<Core>,
        n: &Nvme,
        info: &ControllerInfo,
    ) -> Result<KVec<(u32, u64, u32)>> {
        let mut nsids = KVec::new();
        n.identify(CNS_ACTIVE_NSIDS, 0, |list| -> Result {
            for i in 0..MAX_NAMESPACES {
                match le32(list, 4 * i) {
                    0 => break,
                    nsid if nsid <= info.namespaces => nsids.push(nsid, GFP_KERNEL)?,
                    nsid => dev_warn!(pdev.as_ref(), "namespace {} beyond NN ignored\n", nsid),
                }
            }
            Ok(())
        })??;
        let mut usable = KVec::new();
        for &nsid in nsids.iter() {
            let (blocks, shift, metadata) = n.identify(CNS_NAMESPACE, nsid, |id| {
                let at = 128 + 4 * usize::from(id[26] & 0xf);
                (le64(id, 0), id[at + 2], le16(id, at))
            })?;
            // With metadata the controller would move more than the data
            // (interleaved) or use MPTR (separate): as the C driver does
            // without metadata support, such namespaces are left alone.
            if metadata != 0 {
                dev_warn!(
                    pdev.as_ref(),
                    "nsid {}: {} bytes of metadata per block unsupported; ignored\n",
                    nsid,
                    metadata
                );
                continue;
            }
            if !(9..=12).contains(&shift) || blocks == 0 {
                dev_warn!(
                    pdev.as_ref(),
                    "nsid {}: block size 2^{} or {} blocks unsupported; ignored\n",
                    nsid,
                    shift,
                    blocks
                );
                continue;
            }
            dev_info!(
                pdev.as_ref(),
                "nsid {}: {} blocks of {} bytes\n",
                nsid,
                blocks,
                1u32 << shift
            );
            usable.push((nsid, blocks, u32::from(shift)), GFP_KERNEL)?;
        }
        Ok(usable)
    }

    /// Set Features (Number of Queues): asks for one I/O queue pair per
    /// possible CPU, returns how many the controller grants.
    fn set_queue_count(n: &Nvme) -> Result<u32> {
        let want = cpu::nr_cpu_ids().clamp(1, 0xffff);
        let mut cmd = NvmeCommand::new(ADMIN_SET_FEATURES, 0);
        cmd.cdw10 = FEATURE_NUM_QUEUES;
        cmd.cdw11 = (want - 1) | ((want - 1) << 16);
        let result = n.admin_command(cmd)?;
        let granted = (result & 0xffff).min(result >> 16) + 1;
        Ok(granted.min(want))
    }

    /// Creates I/O queue pair `q` on the controller: its completion queue,
    /// interrupting on `vector`, then its submission queue.
    fn create_io_queue(n: &Nvme, q: &IoQueue, vector: u16) -> Result {
        let size = u32::from(q.depth - 1) << 16;
        let mut cmd = NvmeCommand::new(ADMIN_CREATE_CQ, 0);
        cmd.prp1 = q.cq.ring.dma_handle();
        cmd.cdw10 = size | u32::from(q.qid);
        // Physically contiguous, interrupts enabled.
        cmd.cdw11 = (u32::from(vector) << 16) | 0b11;
        n.admin_command(cmd)?;
        let mut cmd = NvmeCommand::new(ADMIN_CREATE_SQ, 0);
        cmd.prp1 = q.sq.dma_handle();
        cmd.cdw10 = size | u32::from(q.qid);
        cmd.cdw11 = (u32::from(q.qid) << 16) | 1;
        n.admin_command(cmd)?;
        Ok(())
    }

    /// Asks the controller to shut down (CC.SHN) and waits, bounded, for it.
    fn shutdown(pdev: &pci::Device<Core>, n: &Nvme) {
        let r = n.bar.try_access_with(|bar| {
            let cc = bar.read32(REG_CC);
            bar.write32((cc & !CC_SHN_MASK) | CC_SHN_NORMAL, REG_CC);
            wait_csts(bar, SHUTDOWN_TIMEOUT_MS, |csts| {
                csts & CSTS_SHST_MASK == CSTS_SHST_COMPLETE
            })
        });
        match r {
            Some(Ok(_)) => dev_info!(pdev.as_ref(), "controller shut down\n"),
            Some(Err(e)) => dev_warn!(pdev.as_ref(), "controller did not shut down: {:?}\n", e),
            None => {}
        }
    }
}

impl pci::Driver for RnvmeDriver {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &PCI_TABLE;

    fn probe(pdev: &pci::Device<Core>, _info: &()) -> Result<Pin<KBox<Self>>> {
        pdev.enable_device_mem()?;
        pdev.set_master();
        let dma = pdev.dma_set_mask_and_coherent(DmaMask::new::<64>())?;
        // As the C driver: segments as long as the block layer makes them
        // (the virtual boundary lifts its limit), and bounce buffers at the
        // same offset in their page as the data, which PRPs rely on.
        dma.set_max_seg_size(u32::MAX)?;
        dma.set_min_align_mask(CTRL_PAGE_SIZE as u32 - 1)?;
        let master = pdev.bus_master()?;
        let sq = CoherentAllocation::alloc_coherent(&dma, ADMIN_DEPTH.into(), GFP_KERNEL)?;
        let cq = CompletionQueue::new(&dma, ADMIN_DEPTH)?;
        let bar = pdev.iomap_region_sized::<REG_DOORBELLS>(0, c_str!("rnvme"));
        let nvme: Arc<Nvme> = Arc::pin_init(
            try_pin_init!(Nvme {
                bar <- bar,
                master,
                dma,
                stride: AtomicUsize::new(4),
                admin <- try_pin_init!(AdminQueue {
                    sq,
                    cq,
                    submit <- new_mutex!((0, 0)),
                    last: AtomicU64::new(0),
                    done <- Completion::new(),
                }? Error),
                dead: AtomicBool::new(false),
            }? Error),
            GFP_KERNEL,
        )?;
        let (cap, vs) = nvme
            .bar
            .try_access_with(|bar| (bar.read64(REG_CAP), bar.read32(REG_VS)))
            .ok_or(ENXIO)?;
        if cap == u64::MAX {
            return Err(ENODEV);
        }
        // CAP.TO is in units of 500 ms; the C driver waits (TO + 1) of them.
        let timeout_ms = ((cap >> 24) as i64 & 0xff) + 1;
        let timeout_ms = timeout_ms * 500;
        let stride = 4usize << ((cap >> 32) & 0xf);
        let mpsmin = (cap >> 48) & 0xf;
        let mqes = (cap & 0xffff) + 1;
        if cap & (1 << 37) == 0 || mpsmin != 0 || mqes < u64::from(ADMIN_DEPTH) {
            dev_err!(
                pdev.as_ref(),
                "unsupported controller: CAP 0x{:016x} (needs the NVM command set, 4 KiB pages, {} entries)\n",
                cap,
                ADMIN_DEPTH
            );
            return Err(ENODEV);
        }
        let bar_len = nvme.bar.try_access_with(|bar| bar.maxsize()).ok_or(ENXIO)?;
        if REG_DOORBELLS + 2 * stride > bar_len {
            dev_err!(
                pdev.as_ref(),
                "BAR 0 of {} bytes holds no admin doorbells at stride {}\n",
                bar_len,
                stride
            );
            return Err(ENODEV);
        }
        nvme.stride.store(stride, Ordering::Relaxed);
        dev_info!(
            pdev.as_ref(),
            "NVMe {}.{}, CAP 0x{:016x}\n",
            vs >> 16,
            (vs >> 8) & 0xff,
            cap
        );
        // Before the controller is enabled: a controller may bind its admin
        // completion queue to the interrupt kind in use when it starts (QEMU's
        // does), as the C driver's `nvme_pci_enable` order assumes.
        // Vector 0 for the admin queue; the I/O queues' vectors spread over the
        // CPUs (managed affinity), so that, when the controller grants a queue
        // per vector, queue `i`'s completions arrive on the CPUs blk-mq maps to
        // hardware queue `i`. The C driver allocates again after Set Features
        // to match a smaller grant; rnvme does not yet (docs/soundness.md).
        let vectors = pdev.alloc_irq_vectors_affinity(
            1,
            1 + cpu::nr_cpu_ids().min(0xfffe),
            pci::IrqTypes::MSIX | pci::IrqTypes::MSI | pci::IrqTypes::INTX,
            1,
        )?;
        nvme.bar
            .try_access_with(|bar| configure_admin_queue(&nvme, bar, timeout_ms))
            .ok_or(ENXIO)??;

        let kind = pdev.irq_kind();
        let handler = Ok(Handler(nvme.clone()));
        let admin_irq = KBox::pin_init(
            pdev.request_irq(0, irq::Flags::SHARED, c_str!("rnvme"), handler)?,
            GFP_KERNEL,
        )?;

        let mut info = Self::identify_controller(pdev, &nvme)?;
        (info.wzsl, info.dmrsl) = Self::identify_nvm_limits(&nvme, vs)?;
        let namespaces = Self::scan_namespaces(pdev, &nvme, &info)?;
        let granted = Self::set_queue_count(&nvme)?;
        // One vector per I/O queue where there are enough, else they share.
        let io_vectors = vectors.saturating_sub(1).max(1);
        // Queue `q`'s doorbells end `2q + 2` strides past the first: no more
        // queues than BAR 0 has doorbells for (the admin pair fits, above).
        let pairs = (bar_len - REG_DOORBELLS) / (2 * stride) - 1;
        let fit = u32::try_from(pairs).unwrap_or(u32::MAX);
        if fit < granted.min(io_vectors) {
            dev_warn!(
                pdev.as_ref(),
                "BAR 0 of {} bytes has doorbells for {} I/O queue pair(s) only\n",
                bar_len,
                fit
            );
        }
        if fit == 0 {
            return Err(ENODEV);
        }
        let nr_io = granted.min(io_vectors).min(fit).min(u32::from(u16::MAX));
        let vector_of = |qid: u16| {
            if vectors > 1 {
                1 + (u32::from(qid) - 1) % (vectors - 1)
            } else {
                0
            }
        };
        // CAP.MQES + 1 entries at most (at least 32: checked above).
        let depth = mqes.min(u64::from(IO_DEPTH)) as u16;
        let mut queues = KVec::with_capacity(nr_io as usize, GFP_KERNEL)?;
        for qid in 1..=nr_io as u16 {
            let q = Arc::pin_init(IoQueue::new(&nvme.dma, qid, depth)?, GFP_KERNEL)?;
            Self::create_io_queue(&nvme, &q, vector_of(qid) as u16)?;
            queues.push(q, GFP_KERNEL)?;
        }
        let tagset = Arc::pin_init(TagSet::new(nr_io, u32::from(depth - 1), 1), GFP_KERNEL)?;
        let ctrl = Arc::new(
            Controller {
                nvme: nvme.clone(),
                queues,
                tagset,
                number: Number::take()?,
            },
            GFP_KERNEL,
        )?;
        let mut io_irqs = KVec::with_capacity(nr_io as usize, GFP_KERNEL)?;
        for q in ctrl.queues.iter() {
            let handler = Ok(IoHandler {
                ctrl: ctrl.clone(),
                queue: q.clone(),
            });
            let reg = pdev.request_irq(
                vector_of(q.qid),
                irq::Flags::SHARED,
                c_str!("rnvme"),
                handler,
            )?;
            io_irqs.push(KBox::pin_init(reg, GFP_KERNEL)?, GFP_KERNEL)?;
        }
        dev_info!(
            pdev.as_ref(),
            "{} namespace(s) usable; {} I/O queue pair(s) granted; {} interrupt; shadow doorbells offered {}; write zeroes {} (WZSL {}), discard {} (DMRSL {}), volatile write cache {}\n",
            namespaces.len(),
            granted,
            kind,
            yes_no(info.oacs & (1 << 8) != 0),
            yes_no(info.oncs & ONCS_WRITE_ZEROES != 0),
            info.wzsl,
            yes_no(info.oncs & ONCS_DSM != 0),
            info.dmrsl,
            yes_no(info.vwc)
        );

        let mut disks = KVec::with_capacity(namespaces.len(), GFP_KERNEL)?;
        let max_sectors = match info.mdts {
            0 => MAX_HW_SECTORS,
            m => MAX_HW_SECTORS.min((CTRL_PAGE_SIZE as u32 >> 9) << m.min(16)),
        };
        for &(nsid, blocks, shift) in namespaces.iter() {
            let mut builder = GenDiskBuilder::new()
                .logical_block_size(1 << shift)?
                .physical_block_size(1 << shift)?
                .capacity_sectors(blocks << (shift - 9))
                .max_hw_sectors(max_sectors)?
                .max_segments(PRP_ENTRIES as u16)?
                .virt_boundary_mask(CTRL_PAGE_SIZE as u64 - 1)?;
            if info.vwc {
                builder = builder.write_cache(true);
            }
            // Write zeroes within the transfer limit (as the C driver) and WZSL (in 4 KiB
            // pages; C lets WZSL replace the transfer limit); a discard is one range of at
            // most 65536 blocks and DMRSL.
            let most = MAX_BLOCKS << (shift - 9);
            if info.oncs & ONCS_WRITE_ZEROES != 0 {
                let wzsl = match info.wzsl {
                    0 => u32::MAX,
                    w => 1u32.checked_shl(u32::from(w) + 3).unwrap_or(u32::MAX),
                };
                builder = builder.max_write_zeroes_sectors(most.min(max_sectors).min(wzsl));
            }
            if info.oncs & ONCS_DSM != 0 {
                let dmrsl = match info.dmrsl {
                    0 => u32::MAX,
                    b => b.saturating_mul(1 << (shift - 9)),
                };
                builder = builder.max_discard_sectors(most.min(dmrsl));
            }
            let ns = Arc::new(
                Namespace {
                    ctrl: ctrl.clone(),
                    nsid,
                    shift,
                },
                GFP_KERNEL,
            )?;
            let disk = builder.build(
                format_args!("rnvme{}n{}", ctrl.number.0, nsid),
                ctrl.tagset.clone(),
                ns,
            )?;
            disks.push(disk, GFP_KERNEL)?;
            dev_info!(
                pdev.as_ref(),
                "rnvme{}n{}: {} I/O queue(s)\n",
                ctrl.number.0,
                nsid,
                nr_io
            );
        }
        let driver = KBox::pin_init(
            try_pin_init!(RnvmeDriver {
                disks <- new_mutex!(disks),
                io_irqs,
                admin_irq,
                ctrl,
                nvme,
            }? Error),
            GFP_KERNEL,
        )?;
        Ok(driver)
    }

    fn unbind(pdev: &pci::Device<Core>, this: Pin<&Self>) {
        let alive = !this.nvme.dead.load(Ordering::Relaxed)
            && this
                .nvme
                .bar
                .try_access_with(|bar| bar.read32(REG_CSTS) != u32::MAX)
                .unwrap_or(false);
        if alive {
            // As the C driver: the disks go first, while the controller still
            // completes what they flush and what is in flight.
            drop(core::mem::take(&mut *this.disks.lock()));
            Self::shutdown(pdev, &this.nvme);
        }
        // No more DMA (the controller may not have shut down), then whatever
        // is still in flight fails: its pages are no longer the device's.
        this.nvme.disable_dead();
        this.ctrl.cancel_all();
        drop(core::mem::take(&mut *this.disks.lock()));
    }
}

kernel::module_pci_driver! {
    type: RnvmeDriver,
    name: "rnvme",
    authors: ["dmabridge"],
    description: "NVMe controllers (Rust)",
    license: "GPL v2",
}
