//! `eductl selftest`: the whole `/dev/eduN` ABI from userspace, as KTAP.
//!
//! Round trips keep a model of the 4096-byte device buffer and compare the
//! whole buffer after every write, so a transfer that lands outside its span
//! fails as surely as one that loses data.

use crate::sys::{self, BadAddress, EDU_BUF_SIZE};
use crate::{open, Failure};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Sizes every run covers: the edges of bytes, words, cache lines and pages.
const SIZES: &[usize] = &[
    1, 2, 3, 7, 8, 15, 16, 63, 64, 511, 512, 1023, 1024, 2047, 2048, 4095, 4096,
];
/// Threads in the concurrency checks, and transfers per thread.
const THREADS: usize = 4;
const PER_THREAD: usize = 3;
/// The device takes 100 ms per DMA; a signal comes this long after the start.
const SIGNAL_AFTER: Duration = Duration::from_millis(20);
/// `_IOWR('E', 0x02, __u32)`: a request number edu does not know.
const UNKNOWN_REQUEST: std::os::raw::c_ulong = 0xc004_4502;

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

/// A transfer interrupted by a signal: `EINTR` without `SA_RESTART`, a
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
    let eintr = expect_errno("write of 4096 bytes with a signal after 20 ms", r, 4)
        .and_then(|_| reload_model(f, model))
        .and_then(|_| roundtrip(f, rng, model, 64));
    let r = sys::with_signal(SIGNAL_AFTER, true, || write_at(f, 0, &data));
    let restart = match r {
        Ok(4096) => {
            model.copy_from_slice(&data);
            matches_model(f, model)
        }
        Ok(n) => Err(format!("restarted write moved {n} bytes")),
        Err(e) => Err(os("write with SA_RESTART and a signal after 20 ms", e)),
    };
    vec![
        ("signal_interrupts_transfer_with_EINTR", eintr),
        ("signal_with_SA_RESTART_completes_transfer", restart),
    ]
}

/// After an interrupted write the buffer holds the old or the new bytes:
/// reads it whole into the model.
fn reload_model(f: &mut File, model: &mut [u8]) -> Result<(), String> {
    let got = read_at(f, 0, EDU_BUF_SIZE).map_err(|e| os("read after EINTR", e))?;
    if got.len() != EDU_BUF_SIZE {
        return Err(format!("read after EINTR returned {} bytes", got.len()));
    }
    model.copy_from_slice(&got);
    Ok(())
}

/// Writers and readers on their own file descriptors: every whole-buffer read
/// sees exactly one writer's bytes.
fn concurrent_transfers(dev: &str) -> Result<(), String> {
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let dev = dev.to_string();
            thread::spawn(move || -> Result<(), String> {
                let mut f = open(&dev).map_err(|Failure(m, _)| m)?;
                let mine = vec![0xa0 + t as u8; EDU_BUF_SIZE];
                for _ in 0..PER_THREAD {
                    write_at(&mut f, 0, &mine).map_err(|e| os("concurrent write", e))?;
                    let got =
                        read_at(&mut f, 0, EDU_BUF_SIZE).map_err(|e| os("concurrent read", e))?;
                    let first = got.first().copied().unwrap_or(0);
                    if got.len() != EDU_BUF_SIZE
                        || !(0xa0..0xa0 + THREADS as u8).contains(&first)
                        || got.iter().any(|&b| b != first)
                    {
                        return Err("a read saw a mix of writers' bytes".into());
                    }
                }
                Ok(())
            })
        })
        .collect();
    for w in workers {
        w.join()
            .map_err(|_| "a worker thread panicked".to_string())??;
    }
    Ok(())
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
    println!("1..{}", SIZES.len() + rounds + 18);
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
    k.check("concurrent_transfers_atomic", concurrent_transfers(dev));
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
}
