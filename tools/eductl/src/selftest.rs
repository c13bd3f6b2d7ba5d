//! `eductl selftest`: the whole `/dev/eduN` ABI from userspace, as KTAP.
//!
//! Round trips keep a model of the 4096-byte device buffer and compare the
//! whole buffer after every write, so a transfer that lands outside its span
//! fails as surely as one that loses data. Concurrent transfers at
//! overlapping offsets check that transfers are serialized and each is
//! atomic (`concurrent_transfers`, `History::check`).

use crate::sys::{self, BadAddress, EDU_BUF_SIZE};
use crate::{open, Failure};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Sizes every run covers: the edges of bytes, words, cache lines and pages.
const SIZES: &[usize] = &[
    1, 2, 3, 7, 8, 15, 16, 63, 64, 511, 512, 1023, 1024, 2047, 2048, 4095, 4096,
];
/// Threads computing factorials at once.
const THREADS: usize = 4;
/// The device takes 100 ms per DMA; a signal comes this long after the start.
const SIGNAL_AFTER: Duration = Duration::from_millis(20);
/// `_IOWR('E', 0x02, __u32)`: a request number edu does not know.
const UNKNOWN_REQUEST: std::os::raw::c_ulong = sys::iowr(b'E', 0x02, 4);

/// A xorshift64* generator: reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// KTAP output: one line per check.
struct Ktap {
    n: usize,
    failed: usize,
}

impl Ktap {
    fn check(&mut self, name: &str, r: Result<(), String>) {
        self.n += 1;
        match r {
            Ok(()) => println!("ok {} {name}", self.n),
            Err(why) => {
                self.failed += 1;
                for l in why.lines() {
                    println!("# {l}");
                }
                println!("not ok {} {name}", self.n);
            }
        }
    }
}

fn os(what: &str, e: io::Error) -> String {
    format!("{what}: {}", sys::describe(&e))
}

fn write_at(f: &mut File, off: u64, data: &[u8]) -> io::Result<usize> {
    f.seek(SeekFrom::Start(off))?;
    f.write(data)
}

fn read_at(f: &mut File, off: u64, len: usize) -> io::Result<Vec<u8>> {
    f.seek(SeekFrom::Start(off))?;
    let mut buf = vec![0u8; len];
    let n = f.read(&mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

/// Expects `r` to be the error `errno`.
fn expect_errno<T: std::fmt::Debug>(
    what: &str,
    r: io::Result<T>,
    errno: i32,
) -> Result<(), String> {
    let want = sys::errno_name(&io::Error::from_raw_os_error(errno));
    match r {
        Err(e) if e.raw_os_error() == Some(errno) => Ok(()),
        Err(e) => Err(format!("{what}: got {}, want {want}", sys::describe(&e))),
        Ok(v) => Err(format!("{what}: succeeded ({v:?}), want {want}")),
    }
}

/// Compares the whole device buffer with the model.
fn matches_model(f: &mut File, model: &[u8]) -> Result<(), String> {
    let got = read_at(f, 0, EDU_BUF_SIZE).map_err(|e| os("read of the whole buffer", e))?;
    if got.len() != EDU_BUF_SIZE {
        return Err(format!("whole-buffer read returned {} bytes", got.len()));
    }
    match got.iter().zip(model).position(|(a, b)| a != b) {
        None => Ok(()),
        Some(i) => Err(format!(
            "buffer differs from the model at byte {i}: 0x{:02x}, want 0x{:02x}",
            got[i], model[i]
        )),
    }
}

/// Writes `len` random bytes at an odd offset (when one fits), reads the
/// span back, then the whole buffer.
fn roundtrip(f: &mut File, rng: &mut Rng, model: &mut [u8], len: usize) -> Result<(), String> {
    let room = EDU_BUF_SIZE - len;
    let mut off = rng.below(room + 1);
    if off.is_multiple_of(2) && off < room {
        off += 1;
    }
    let data = rng.bytes(len);
    let ctx = |what: &str| format!("{what} of {len} bytes at offset {off}");
    let n = write_at(f, off as u64, &data).map_err(|e| os(&ctx("write"), e))?;
    if n != len {
        return Err(format!("{}: {n} bytes moved", ctx("write")));
    }
    model[off..off + len].copy_from_slice(&data);
    let back = read_at(f, off as u64, len).map_err(|e| os(&ctx("read"), e))?;
    if back != data {
        return Err(format!("{}: data differs", ctx("read")));
    }
    matches_model(f, model).map_err(|e| format!("after {}: {e}", ctx("write")))
}

fn factorials(f: &File, range: std::ops::RangeInclusive<u32>) -> Result<(), String> {
    let mut want: u32 = 1;
    for n in 0..=*range.end() {
        if n > 0 {
            want = want.wrapping_mul(n);
        }
        if !range.contains(&n) {
            continue;
        }
        let got = sys::factorial(f, n).map_err(|e| os(&format!("factorial {n}"), e))?;
        if got != want {
            return Err(format!("{n}! = {got}, want {want}"));
        }
    }
    Ok(())
}

fn edges(f: &mut File, model: &mut [u8]) -> Vec<(&'static str, Result<(), String>)> {
    let mut out = Vec::new();
    let data = [0x5a; 100];
    let r = match write_at(f, 4000, &data) {
        Ok(96) => {
            model[4000..].copy_from_slice(&data[..96]);
            Ok(())
        }
        Ok(n) => Err(format!("write of 100 bytes at 4000 moved {n}, want 96")),
        Err(e) => Err(os("write of 100 bytes at 4000", e)),
    };
    out.push(("write_crossing_end_is_short", r));
    let r = match read_at(f, 4000, 100) {
        Ok(v) if v[..] == data[..96] => Ok(()),
        Ok(v) => Err(format!(
            "read of 100 bytes at 4000: {} bytes or wrong data",
            v.len()
        )),
        Err(e) => Err(os("read of 100 bytes at 4000", e)),
    };
    out.push(("read_crossing_end_is_short", r));
    let r = match read_at(f, EDU_BUF_SIZE as u64, 1) {
        Ok(v) if v.is_empty() => Ok(()),
        Ok(v) => Err(format!("read at 4096 returned {} bytes", v.len())),
        Err(e) => Err(os("read at 4096", e)),
    };
    out.push(("read_at_end_returns_0", r));
    out.push((
        "write_at_end_is_ENOSPC",
        expect_errno("write at 4096", write_at(f, EDU_BUF_SIZE as u64, b"x"), 28),
    ));
    let r = match f.seek(SeekFrom::End(0)) {
        Ok(4096) => Ok(()),
        Ok(p) => Err(format!("SEEK_END 0 gave {p}")),
        Err(e) => Err(os("SEEK_END 0", e)),
    };
    out.push(("lseek_end_is_4096", r));
    let r = f
        .seek(SeekFrom::Start(10))
        .map_err(|e| os("SEEK_SET 10", e))
        .and_then(|_| expect_errno("SEEK_CUR -11", f.seek(SeekFrom::Current(-11)), 22))
        .and_then(|_| expect_errno("SEEK_END -4097", f.seek(SeekFrom::End(-4097)), 22))
        .and_then(|_| match f.stream_position() {
            Ok(10) => Ok(()),
            Ok(p) => Err(format!("a failed seek moved the offset to {p}")),
            Err(e) => Err(os("SEEK_CUR 0", e)),
        });
    out.push(("lseek_negative_is_EINVAL", r));
    out.push((
        "ioctl_unknown_request_is_ENOTTY",
        expect_errno(
            "ioctl 0xc0044502",
            sys::ioctl_bad_arg(f, UNKNOWN_REQUEST, BadAddress::Null),
            25,
        ),
    ));
    out.push((
        "ioctl_null_pointer_is_EFAULT",
        expect_errno(
            "EDU_IOC_FACTORIAL on NULL",
            sys::ioctl_bad_arg(f, sys::EDU_IOC_FACTORIAL, BadAddress::Null),
            14,
        ),
    ));
    out.push((
        "ioctl_kernel_pointer_is_EFAULT",
        expect_errno(
            "EDU_IOC_FACTORIAL on a kernel address",
            sys::ioctl_bad_arg(f, sys::EDU_IOC_FACTORIAL, BadAddress::Kernel),
            14,
        ),
    ));
    let mut bad_io = |write: bool| -> Result<(), String> {
        for bad in [BadAddress::Null, BadAddress::Kernel] {
            f.seek(SeekFrom::Start(0))
                .map_err(|e| os("SEEK_SET 0", e))?;
            if write {
                expect_errno(
                    &format!("write from {bad:?}"),
                    sys::write_from_bad(f, bad, 16),
                    14,
                )?;
            } else {
                expect_errno(
                    &format!("read to {bad:?}"),
                    sys::read_to_bad(f, bad, 16),
                    14,
                )?;
            }
        }
        Ok(())
    };
    out.push(("read_to_bad_pointer_is_EFAULT", bad_io(false)));
    out.push(("write_from_bad_pointer_is_EFAULT", bad_io(true)));
    out.push(("buffer_intact_after_bad_inputs", matches_model(f, model)));
    out
}

/// Transfers interrupted by a signal: `EINTR` without `SA_RESTART`, a
/// complete transfer with it; the device works afterwards either way.
fn signals(
    f: &mut File,
    rng: &mut Rng,
    model: &mut [u8],
) -> Vec<(&'static str, Result<(), String>)> {
    let data = rng.bytes(EDU_BUF_SIZE);
    // A signal that comes before the call starts (a very slow guest) lets
    // the write complete: try again, a few times.
    let mut r = Ok(0);
    for _ in 0..3 {
        r = sys::with_signal(SIGNAL_AFTER, false, || write_at(f, 0, &data));
        if r.is_err() {
            break;
        }
    }
    let write_eintr = expect_errno("write of 4096 bytes with a signal after 20 ms", r, 4)
        .and_then(|_| old_or_new(f, model, &data))
        .and_then(|_| roundtrip(f, rng, model, 64));
    let r = sys::with_signal(SIGNAL_AFTER, true, || write_at(f, 0, &data));
    let write_restart = match r {
        Ok(4096) => {
            model.copy_from_slice(&data);
            matches_model(f, model)
        }
        Ok(n) => Err(format!("restarted write moved {n} bytes")),
        Err(e) => Err(os("write with SA_RESTART and a signal after 20 ms", e)),
    };
    // The same for a read, which changes nothing: a read the signal came
    // too early for must still return the model's bytes.
    let mut read_eintr = Err("the signal interrupted none of 3 reads of 4096 bytes".to_string());
    for _ in 0..3 {
        match sys::with_signal(SIGNAL_AFTER, false, || read_at(f, 0, EDU_BUF_SIZE)) {
            Ok(got) if got[..] == model[..] => continue,
            Ok(got) => {
                read_eintr = Err(format!(
                    "a read the signal did not interrupt returned {} bytes that differ \
                     from the model",
                    got.len()
                ));
            }
            Err(e) => {
                read_eintr = expect_errno(
                    "read of 4096 bytes with a signal after 20 ms",
                    Err::<(), _>(e),
                    4,
                );
            }
        }
        break;
    }
    let read_eintr = read_eintr
        .and_then(|_| matches_model(f, model))
        .and_then(|_| roundtrip(f, rng, model, 64));
    let r = sys::with_signal(SIGNAL_AFTER, true, || read_at(f, 0, EDU_BUF_SIZE));
    let read_restart = match r {
        Ok(got) if got[..] == model[..] => Ok(()),
        Ok(got) => Err(format!(
            "restarted read returned {} bytes that differ from the model",
            got.len()
        )),
        Err(e) => Err(os("read with SA_RESTART and a signal after 20 ms", e)),
    };
    vec![
        ("signal_interrupts_write_with_EINTR", write_eintr),
        ("signal_with_SA_RESTART_completes_write", write_restart),
        ("signal_interrupts_read_with_EINTR", read_eintr),
        ("signal_with_SA_RESTART_completes_read", read_restart),
    ]
}

/// After an interrupted write of `new` over the whole buffer, the buffer
/// holds the old bytes (the model) or the new ones, whole: the model becomes
/// what it holds.
fn old_or_new(f: &mut File, model: &mut [u8], new: &[u8]) -> Result<(), String> {
    let got = read_at(f, 0, EDU_BUF_SIZE).map_err(|e| os("read after EINTR", e))?;
    if got[..] == new[..] {
        model.copy_from_slice(new);
        Ok(())
    } else if got[..] == model[..] {
        Ok(())
    } else {
        Err(format!(
            "after the interrupted write the buffer ({} bytes) holds neither the old \
             bytes nor the new ones whole",
            got.len()
        ))
    }
}

/// The concurrency check's layout. Writer `w` writes the span
/// `[BASE + w * HALF, BASE + (w + 2) * HALF)` again and again: the left half
/// of its span is the right half of writer `w - 1`'s, its right half the left
/// half of writer `w + 1`'s. The buffer falls into regions: the WRITERS + 1
/// halves, each written by one or two writers, and the bytes outside every
/// span, written by none.
const WRITERS: usize = 4;
/// Writes (each followed by a read of its span) per writer.
const ROUNDS: usize = 3;
/// Whole-buffer reads (each followed by a factorial) beside the writers.
const READS: usize = 3;
const BASE: usize = 1;
const HALF: usize = 813;
/// Every write of the check: 0 is the baseline written before the threads
/// start, `1 + w * ROUNDS + r` is round `r` of writer `w`.
const WRITES: usize = 1 + WRITERS * ROUNDS;

fn write_id(w: usize, r: usize) -> usize {
    1 + w * ROUNDS + r
}

/// The span of write `id`.
fn span(id: usize) -> std::ops::Range<usize> {
    if id == 0 {
        return 0..EDU_BUF_SIZE;
    }
    let w = (id - 1) / ROUNDS;
    BASE + w * HALF..BASE + (w + 2) * HALF
}

/// The regions of the buffer: no write covers part of one.
fn regions() -> Vec<std::ops::Range<usize>> {
    let end = BASE + (WRITERS + 1) * HALF;
    std::iter::once(0..BASE)
        .chain((0..=WRITERS).map(|g| BASE + g * HALF..BASE + (g + 1) * HALF))
        .chain(std::iter::once(end..EDU_BUF_SIZE))
        .collect()
}

/// The byte write `id` puts at buffer position `p`: it depends on the
/// position (a byte that lands elsewhere is wrong there), and for every
/// position the writes' bytes differ (0x25 is odd, and there are fewer than
/// 256 writes), so each byte names the one write it can come from.
fn pattern(seed: u64, id: usize, p: usize) -> u8 {
    let mut x = seed ^ (p as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 31;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 29;
    ((x >> 56) as u8).wrapping_add((id as u8).wrapping_mul(0x25))
}

fn write_name(id: usize) -> String {
    match id {
        0 => "the baseline".into(),
        _ => format!("writer {}'s write {}", (id - 1) / ROUNDS, (id - 1) % ROUNDS),
    }
}

/// When each write started and returned, on a logical clock: the clock is
/// read just before the system call and just after it returns. 0: not yet.
struct History {
    clock: AtomicU64,
    start: Vec<AtomicU64>,
    end: Vec<AtomicU64>,
}

impl History {
    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::SeqCst)
    }

    fn start(&self, id: usize) -> u64 {
        self.start[id].load(Ordering::SeqCst)
    }

    fn end(&self, id: usize) -> u64 {
        self.end[id].load(Ordering::SeqCst)
    }

    /// Writes `id`'s bytes with one `write(2)` on `f`, recording its times.
    fn write(&self, f: &mut File, seed: u64, id: usize) -> Result<(), String> {
        let s = span(id);
        let data: Vec<u8> = s.clone().map(|p| pattern(seed, id, p)).collect();
        self.start[id].store(self.tick(), Ordering::SeqCst);
        let r = write_at(f, s.start as u64, &data);
        self.end[id].store(self.tick(), Ordering::SeqCst);
        match r {
            Ok(n) if n == data.len() => Ok(()),
            Ok(n) => Err(format!(
                "{}: {n} of {} bytes moved",
                write_name(id),
                s.len()
            )),
            Err(e) => Err(os(&write_name(id), e)),
        }
    }

    /// One `read(2)` of `s` on `f`, checked with [`History::check`].
    fn read(&self, f: &mut File, seed: u64, s: std::ops::Range<usize>) -> Result<(), String> {
        let rs = self.tick();
        let got = read_at(f, s.start as u64, s.len());
        let re = self.tick();
        let got = got.map_err(|e| os(&format!("read of {s:?}"), e))?;
        if got.len() != s.len() {
            return Err(format!("read of {s:?} returned {} bytes", got.len()));
        }
        self.check(seed, s.start, &got, rs, re)
    }

    /// The accept rule for a read of `got` at `off`, whose system call ran
    /// between the clock readings `rs` and `re`. Transfers are serialized and
    /// each is atomic, so the read saw the buffer between two writes, and
    /// each region of it holds the bytes of the last write covering it:
    ///
    /// - each region of the read holds exactly the bytes of one write X that
    ///   covers it (one of at most two writers', or the baseline), whole;
    /// - X had started when the read returned (X.start < re);
    /// - no write Y covering the region both started after X had returned
    ///   (X.end < Y.start) and returned before the read started (Y.end < rs):
    ///   Y would have overwritten X.
    ///
    /// A region mixing two writes' bytes (a torn transfer), bytes that match
    /// no write there (a misplaced or lost transfer), and a write that should
    /// have been overwritten (a lost update) all fail.
    fn check(&self, seed: u64, off: usize, got: &[u8], rs: u64, re: u64) -> Result<(), String> {
        let read = off..off + got.len();
        for g in regions() {
            let part = g.start.max(read.start)..g.end.min(read.end);
            if part.is_empty() {
                continue;
            }
            let bytes = &got[part.start - off..part.end - off];
            let covering =
                || (0..WRITES).filter(|&id| span(id).start <= g.start && g.end <= span(id).end);
            let Some(x) = covering().find(|&id| {
                bytes
                    .iter()
                    .zip(part.clone())
                    .all(|(&b, p)| b == pattern(seed, id, p))
            }) else {
                return Err(format!(
                    "read of {read:?}: bytes {part:?} are not one write's: {}",
                    attribute(seed, part.start, bytes)
                ));
            };
            if !(1..re).contains(&self.start(x)) {
                return Err(format!(
                    "read of {read:?}: bytes {part:?} come from {}, which had not \
                     started when the read returned",
                    write_name(x)
                ));
            }
            let x_end = self.end(x);
            if let Some(y) = covering().find(|&y| {
                let (ys, ye) = (self.start(y), self.end(y));
                x_end != 0 && x_end < ys && ye != 0 && ye < rs
            }) {
                return Err(format!(
                    "read of {read:?}: bytes {part:?} still come from {}, though {}, \
                     which started after it had returned, returned before the read \
                     began: a lost update",
                    write_name(x),
                    write_name(y)
                ));
            }
        }
        Ok(())
    }
}

/// Which write each run of `bytes` (at buffer position `at`) comes from.
fn attribute(seed: u64, at: usize, bytes: &[u8]) -> String {
    let source = |i: usize| (0..WRITES).find(|&id| pattern(seed, id, at + i) == bytes[i]);
    let mut runs = Vec::new();
    let mut i = 0;
    while i < bytes.len() && runs.len() < 6 {
        let s = source(i);
        let n = (i..bytes.len()).take_while(|&j| source(j) == s).count();
        runs.push(format!(
            "[{}, {}) {}",
            at + i,
            at + i + n,
            s.map_or("from no write".into(), |id| format!(
                "from {}",
                write_name(id)
            ))
        ));
        i += n;
    }
    runs.join(", ")
}

/// Concurrent transfers at overlapping offsets. After a baseline, WRITERS
/// threads each write their span (see `span`) ROUNDS times, every write
/// followed by a read of the span checked by the accept rule of
/// `History::check`; beside them a reader reads the whole buffer READS times
/// (each read checked the same way) and computes a factorial after each.
/// At the end the whole buffer must equal the model: in each region the
/// last write of one of the writers covering it (the baseline where none
/// does). Each thread has its own file descriptor; they start together.
fn concurrent_transfers(dev: &str, seed: u64) -> Result<(), String> {
    let mut f = open(dev).map_err(|Failure(m, _)| m)?;
    let h = History {
        clock: AtomicU64::new(1),
        start: (0..WRITES).map(|_| AtomicU64::new(0)).collect(),
        end: (0..WRITES).map(|_| AtomicU64::new(0)).collect(),
    };
    h.write(&mut f, seed, 0)?;
    let go = Barrier::new(WRITERS + 1);
    thread::scope(|s| {
        let (h, go) = (&h, &go);
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                s.spawn(move || -> Result<(), String> {
                    let f = open(dev).map_err(|Failure(m, _)| m);
                    go.wait();
                    let mut f = f?;
                    for r in 0..ROUNDS {
                        let id = write_id(w, r);
                        h.write(&mut f, seed, id)?;
                        h.read(&mut f, seed, span(id))?;
                    }
                    Ok(())
                })
            })
            .collect();
        let reader = s.spawn(move || -> Result<(), String> {
            let f = open(dev).map_err(|Failure(m, _)| m);
            go.wait();
            let mut f = f?;
            for i in 0..READS as u32 {
                h.read(&mut f, seed, 0..EDU_BUF_SIZE)?;
                factorials(&f, 10 + i..=10 + i)?;
            }
            Ok(())
        });
        let mut errors = Vec::new();
        for (w, t) in writers.into_iter().enumerate() {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => errors.push(format!("writer {w}: {e}")),
                Err(_) => errors.push(format!("writer {w} panicked")),
            }
        }
        match reader.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => errors.push(format!("reader: {e}")),
            Err(_) => errors.push("the reader panicked".into()),
        }
        match errors.is_empty() {
            true => Ok(()),
            false => Err(errors.join("\n")),
        }
    })?;
    let got = read_at(&mut f, 0, EDU_BUF_SIZE).map_err(|e| os("final read", e))?;
    if got.len() != EDU_BUF_SIZE {
        return Err(format!("final read returned {} bytes", got.len()));
    }
    let mut model = Vec::with_capacity(EDU_BUF_SIZE);
    for g in regions() {
        let last: Vec<usize> = (0..WRITERS)
            .map(|w| write_id(w, ROUNDS - 1))
            .filter(|&id| span(id).start <= g.start && g.end <= span(id).end)
            .collect();
        let candidates = if last.is_empty() { vec![0] } else { last };
        let pick = candidates
            .iter()
            .copied()
            .find(|&id| g.clone().all(|p| got[p] == pattern(seed, id, p)))
            .unwrap_or(candidates[0]);
        model.extend(g.map(|p| pattern(seed, pick, p)));
    }
    match got.iter().zip(&model).position(|(a, b)| a != b) {
        None => Ok(()),
        Some(i) => {
            let g = regions()
                .into_iter()
                .find(|g| g.contains(&i))
                .unwrap_or(i..i + 1);
            Err(format!(
                "final buffer differs from the model at byte {i}: bytes {g:?} are {}",
                attribute(seed, g.start, &got[g.clone()])
            ))
        }
    }
}

fn concurrent_factorials(dev: &str) -> Result<(), String> {
    let workers: Vec<_> = (0..THREADS as u32)
        .map(|t| {
            let dev = dev.to_string();
            thread::spawn(move || -> Result<(), String> {
                let f = open(&dev).map_err(|Failure(m, _)| m)?;
                factorials(&f, 5 * t..=5 * t + 4)
            })
        })
        .collect();
    for w in workers {
        w.join()
            .map_err(|_| "a worker thread panicked".to_string())??;
    }
    Ok(())
}

/// Runs every check; `Ok(true)` when all passed.
pub fn run(dev: &str, seed: Option<u64>, rounds: usize) -> Result<bool, Failure> {
    let seed = seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    let mut rng = Rng(seed | 1);
    let mut f = open(dev)?;
    println!("KTAP version 1");
    println!("1..{}", SIZES.len() + rounds + 20);
    println!("# eductl selftest on {dev}, seed {seed} (rerun: --seed {seed} --rounds {rounds})");
    let mut k = Ktap { n: 0, failed: 0 };
    k.check("factorial_0_to_20", factorials(&f, 0..=20));
    let first = read_at(&mut f, 0, EDU_BUF_SIZE).map_err(|e| os("read", e));
    let mut model = first.clone().unwrap_or_default();
    model.resize(EDU_BUF_SIZE, 0);
    k.check(
        "read_whole_buffer",
        first.and_then(|v| match v.len() {
            EDU_BUF_SIZE => Ok(()),
            n => Err(format!("{n} bytes")),
        }),
    );
    for &len in SIZES {
        let r = roundtrip(&mut f, &mut rng, &mut model, len);
        k.check(&format!("roundtrip_{len}_bytes"), r);
    }
    for i in 0..rounds {
        let len = 1 + rng.below(EDU_BUF_SIZE);
        let r = roundtrip(&mut f, &mut rng, &mut model, len);
        k.check(&format!("roundtrip_random_{i}"), r);
    }
    for (name, r) in edges(&mut f, &mut model) {
        k.check(name, r);
    }
    for (name, r) in signals(&mut f, &mut rng, &mut model) {
        k.check(name, r);
    }
    k.check(
        "concurrent_overlapping_transfers_serialized",
        concurrent_transfers(dev, seed),
    );
    k.check("concurrent_factorials", concurrent_factorials(dev));
    println!("# {} passed, {} failed", k.n - k.failed, k.failed);
    Ok(k.failed == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_reproducible_and_bounded() {
        let (mut a, mut b) = (Rng(7), Rng(7));
        for _ in 0..100 {
            let x = a.below(4096);
            assert_eq!(x, b.below(4096));
            assert!(x < 4096);
        }
    }

    const SEED: u64 = 0x1234_5678;

    /// A history: (write, start, end) on the logical clock.
    fn history(times: &[(usize, u64, u64)]) -> History {
        let h = History {
            clock: AtomicU64::new(1),
            start: (0..WRITES).map(|_| AtomicU64::new(0)).collect(),
            end: (0..WRITES).map(|_| AtomicU64::new(0)).collect(),
        };
        for &(id, s, e) in times {
            h.start[id].store(s, Ordering::SeqCst);
            h.end[id].store(e, Ordering::SeqCst);
        }
        h
    }

    /// The buffer after `writes`, applied whole in this order.
    fn image(writes: &[usize]) -> Vec<u8> {
        let mut b = vec![0u8; EDU_BUF_SIZE];
        for &id in writes {
            for p in span(id) {
                b[p] = pattern(SEED, id, p);
            }
        }
        b
    }

    fn read(h: &History, b: &[u8], s: std::ops::Range<usize>, rs: u64) -> Result<(), String> {
        h.check(SEED, s.start, &b[s], rs, rs + 1)
    }

    #[test]
    fn layout_overlaps_and_fits() {
        let r = regions();
        assert_eq!(r.first().map(|g| g.start), Some(0));
        assert_eq!(r.last().map(|g| g.end), Some(EDU_BUF_SIZE));
        assert!(r.windows(2).all(|w| w[0].end == w[1].start));
        for w in 0..WRITERS {
            let s = span(write_id(w, 0));
            assert_eq!(s, span(write_id(w, ROUNDS - 1)));
            if w > 0 {
                let left = span(write_id(w - 1, 0));
                assert!(left.start < s.start && s.start < left.end);
            }
        }
    }

    #[test]
    fn every_write_has_its_own_byte_at_every_position() {
        for p in 0..EDU_BUF_SIZE {
            let mut seen = [false; 256];
            for id in 0..WRITES {
                let b = pattern(SEED, id, p) as usize;
                assert!(!seen[b], "two writes share byte 0x{b:02x} at {p}");
                seen[b] = true;
            }
        }
    }

    #[test]
    fn serial_histories_pass() {
        let (a, b) = (write_id(0, 0), write_id(1, 0));
        // a, then b; and a and b at the same time, in either order.
        let serial = history(&[(0, 1, 2), (a, 3, 4), (b, 5, 6)]);
        let overlapping = history(&[(0, 1, 2), (a, 3, 6), (b, 4, 5)]);
        let ab = image(&[0, a, b]);
        let ba = image(&[0, b, a]);
        for (h, img) in [(&serial, &ab), (&overlapping, &ab), (&overlapping, &ba)] {
            assert_eq!(read(h, img, span(a), 7), Ok(()));
            assert_eq!(read(h, img, span(b), 7), Ok(()));
            assert_eq!(read(h, img, 0..EDU_BUF_SIZE, 7), Ok(()));
        }
        // A read that ran before b started sees a alone.
        let early = history(&[(0, 1, 2), (a, 3, 4), (b, 7, 8)]);
        assert_eq!(read(&early, &image(&[0, a]), 0..EDU_BUF_SIZE, 5), Ok(()));
    }

    #[test]
    fn a_torn_transfer_fails() {
        let (a, b) = (write_id(0, 0), write_id(1, 0));
        let h = history(&[(0, 1, 2), (a, 3, 6), (b, 4, 5)]);
        // The half a and b share: its first bytes from b, the rest from a.
        let mut img = image(&[0, a]);
        let shared = span(b).start;
        for (p, byte) in img.iter_mut().enumerate().skip(shared).take(100) {
            *byte = pattern(SEED, b, p);
        }
        let e = read(&h, &img, span(a), 7).unwrap_err();
        assert!(e.contains("are not one write's"), "{e}");
        assert!(e.contains("from writer 1's write 0"), "{e}");
        assert!(read(&h, &img, 0..EDU_BUF_SIZE, 7).is_err());
    }

    #[test]
    fn misplaced_bytes_fail() {
        let (a, b) = (write_id(0, 0), write_id(1, 0));
        let h = history(&[(0, 1, 2), (a, 3, 6), (b, 4, 5)]);
        // b's bytes one position to the left: right writer, wrong place.
        let mut img = image(&[0, a]);
        let shared = span(b).start..span(a).end;
        for (p, byte) in img
            .iter_mut()
            .enumerate()
            .filter(|(p, _)| shared.contains(p))
        {
            *byte = pattern(SEED, b, p + 1);
        }
        assert!(read(&h, &img, span(a), 7).is_err());
    }

    #[test]
    fn a_lost_update_fails() {
        let (a, b) = (write_id(0, 0), write_id(1, 0));
        // b returned before a started, yet a's read shows b in their
        // shared half: a's write did not land there.
        let h = history(&[(0, 1, 2), (b, 3, 4), (a, 5, 6)]);
        let e = read(&h, &image(&[0, a, b]), span(a), 7).unwrap_err();
        assert!(e.contains("lost update"), "{e}");
        // The same for a writer's own earlier round.
        let a1 = write_id(0, 1);
        let h = history(&[(0, 1, 2), (a, 3, 4), (a1, 5, 6)]);
        let e = read(&h, &image(&[0, a]), span(a1), 7).unwrap_err();
        assert!(e.contains("lost update"), "{e}");
    }

    #[test]
    fn a_write_that_had_not_started_fails() {
        let (a, b) = (write_id(0, 0), write_id(1, 0));
        let h = history(&[(0, 1, 2), (a, 3, 4), (b, 9, 10)]);
        let e = read(&h, &image(&[0, a, b]), span(a), 5).unwrap_err();
        assert!(e.contains("had not started"), "{e}");
    }
}
