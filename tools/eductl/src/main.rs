//! `eductl`: drives `/dev/eduN`, the ABI of the edu drivers
//! (`docs/edu-abi.md`), from userspace.
//!
//! Exit status: 0 on success, 1 when the device or a self-test check failed,
//! 2 on a usage error.

mod selftest;
mod sys;

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
usage: eductl [--dev PATH] COMMAND

  write FILE [--offset N] [--signal-after MS]
                               DMA the bytes of FILE (- for stdin) into the
                               device buffer at offset N (default 0); with
                               --signal-after, a signal interrupts the write
                               after MS milliseconds (no SA_RESTART)
  read [--offset N] [--len N] [--bad-buffer] [--signal-after MS]
                               DMA bytes out of the buffer to stdout
                               (default: from N to the end of the buffer);
                               --bad-buffer passes NULL to read(2); with
                               --signal-after, a signal interrupts the read
                               after MS milliseconds (no SA_RESTART)
  factorial N                  compute N! (modulo 2^32) on the device
  mmap [--seed S]              map the file's first page twice, write a
                               pattern through one mapping and read it
                               back through the other; a two-page mapping
                               must fail with EINVAL
  selftest [--seed S] [--rounds R]
                               check the whole ABI; prints KTAP

  --dev PATH                   the device file (default /dev/edu0)
  --fail-nth N                 fail the N-th allocation or user copy of the
                               command's system call (kernel fault injection;
                               says whether the fault was injected)

The device buffer is 4096 bytes. Exit status: 0 success, 1 failure, 2 usage.";

/// A failure: the message and the exit status.
struct Failure(String, u8);

fn usage(msg: impl Into<String>) -> Failure {
    Failure(format!("{}\n\n{USAGE}", msg.into()), 2)
}

fn failed(what: impl std::fmt::Display, e: &io::Error) -> Failure {
    Failure(format!("{what}: {}", sys::describe(e)), 1)
}

/// The command line, split into options and positional words.
struct Args {
    dev: String,
    words: Vec<String>,
    offset: Option<u64>,
    len: Option<usize>,
    seed: Option<u64>,
    rounds: Option<usize>,
    signal_after: Option<u64>,
    bad_buffer: bool,
    fail_nth: Option<u32>,
}

fn number<T: TryFrom<u64>>(opt: &str, v: Option<String>) -> Result<T, Failure> {
    let v = v.ok_or_else(|| usage(format!("{opt} needs a value")))?;
    let parsed = match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    };
    parsed
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| usage(format!("{opt}: `{v}` is not a valid number")))
}

fn parse(argv: impl Iterator<Item = String>) -> Result<Args, Failure> {
    let mut a = Args {
        dev: "/dev/edu0".into(),
        words: Vec::new(),
        offset: None,
        len: None,
        seed: None,
        rounds: None,
        signal_after: None,
        bad_buffer: false,
        fail_nth: None,
    };
    let mut it = argv;
    while let Some(w) = it.next() {
        match w.as_str() {
            "--dev" => a.dev = it.next().ok_or_else(|| usage("--dev needs a value"))?,
            "--offset" => a.offset = Some(number("--offset", it.next())?),
            "--len" => a.len = Some(number("--len", it.next())?),
            "--seed" => a.seed = Some(number("--seed", it.next())?),
            "--rounds" => a.rounds = Some(number("--rounds", it.next())?),
            "--signal-after" => a.signal_after = Some(number("--signal-after", it.next())?),
            "--bad-buffer" => a.bad_buffer = true,
            "--fail-nth" => a.fail_nth = Some(number("--fail-nth", it.next())?),
            "-h" | "--help" => return Err(Failure(USAGE.into(), 0)),
            s if s.starts_with("--") => return Err(usage(format!("unknown option {s}"))),
            _ => a.words.push(w),
        }
    }
    Ok(a)
}

/// Opens the device file, explaining the usual reason it is missing.
fn open(dev: &str) -> Result<File, Failure> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(dev)
        .map_err(|e| {
            let hint = if e.kind() == io::ErrorKind::NotFound {
                " (is the edu or edu_c driver loaded?)"
            } else {
                ""
            };
            Failure(format!("cannot open {dev}: {}{hint}", sys::describe(&e)), 1)
        })
}

fn seek(f: &mut File, dev: &str, offset: u64) -> Result<(), Failure> {
    f.seek(SeekFrom::Start(offset))
        .map(|_| ())
        .map_err(|e| failed(format!("{dev}: seek to {offset}"), &e))
}

/// Runs the command's one system call, under `--fail-nth` if given.
fn syscall<T>(a: &Args, f: impl FnOnce() -> T) -> Result<T, Failure> {
    let Some(nth) = a.fail_nth else {
        return Ok(f());
    };
    if a.signal_after.is_some() {
        // Installing the handler and starting the signalling thread would
        // take the injected fault instead of the call.
        return Err(usage("--fail-nth and --signal-after do not combine"));
    }
    let (r, injected) = sys::with_fail_nth(nth, f).map_err(|e| {
        failed(
            "cannot arm fault injection (/proc/thread-self/fail-nth)",
            &e,
        )
    })?;
    eprintln!(
        "eductl: fail-nth {nth}: fault {}",
        if injected { "injected" } else { "not injected" }
    );
    Ok(r)
}

fn cmd_write(a: &Args) -> Result<(), Failure> {
    let [_, path] = &a.words[..] else {
        return Err(usage("write needs exactly one FILE"));
    };
    let mut data = Vec::new();
    let read = if path == "-" {
        io::stdin().read_to_end(&mut data)
    } else {
        File::open(path).and_then(|mut f| f.read_to_end(&mut data))
    };
    read.map_err(|e| failed(format!("cannot read {path}"), &e))?;
    let offset = a.offset.unwrap_or(0);
    let mut f = open(&a.dev)?;
    seek(&mut f, &a.dev, offset)?;
    let r = syscall(a, || match a.signal_after {
        Some(ms) => sys::with_signal(Duration::from_millis(ms), false, || f.write(&data)),
        None => f.write(&data),
    })?;
    let n = r.map_err(|e| failed(format!("{}: write at offset {offset}", a.dev), &e))?;
    if n < data.len() {
        return Err(Failure(
            format!(
                "{}: wrote only {n} of {} bytes at offset {offset}: the buffer ends at {}",
                a.dev,
                data.len(),
                sys::EDU_BUF_SIZE
            ),
            1,
        ));
    }
    eprintln!("eductl: wrote {n} bytes at offset {offset} of {}", a.dev);
    Ok(())
}

fn cmd_read(a: &Args) -> Result<(), Failure> {
    if a.words.len() != 1 {
        return Err(usage("read takes no FILE: it writes to stdout"));
    }
    let offset = a.offset.unwrap_or(0);
    let len = a
        .len
        .unwrap_or_else(|| (sys::EDU_BUF_SIZE as u64).saturating_sub(offset) as usize);
    let mut f = open(&a.dev)?;
    seek(&mut f, &a.dev, offset)?;
    let mut buf = vec![0u8; len];
    let mut read = || {
        if a.bad_buffer {
            sys::read_to_bad(&f, sys::BadAddress::Null, len)
        } else {
            f.read(&mut buf)
        }
    };
    let r = syscall(a, || match a.signal_after {
        Some(ms) => sys::with_signal(Duration::from_millis(ms), false, read),
        None => read(),
    })?;
    let n = r.map_err(|e| failed(format!("{}: read at offset {offset}", a.dev), &e))?;
    io::stdout()
        .write_all(&buf[..n])
        .and_then(|_| io::stdout().flush())
        .map_err(|e| failed("cannot write to stdout", &e))?;
    if n < len {
        eprintln!(
            "eductl: read {n} of {len} bytes: the buffer ends at {}",
            sys::EDU_BUF_SIZE
        );
    }
    Ok(())
}

fn cmd_factorial(a: &Args) -> Result<(), Failure> {
    let [_, n] = &a.words[..] else {
        return Err(usage("factorial needs exactly one N"));
    };
    let n: u32 = number("factorial", Some(n.clone()))?;
    let f = open(&a.dev)?;
    let r = syscall(a, || sys::factorial(&f, n))?
        .map_err(|e| failed(format!("{}: factorial", a.dev), &e))?;
    println!("{n}! = {r} (modulo 2^32, computed by the device)");
    Ok(())
}

fn cmd_mmap(a: &Args) -> Result<(), Failure> {
    const PAGE: usize = 4096;
    let f = open(&a.dev)?;
    let seed = a.seed.unwrap_or(1);
    let pattern: Vec<u8> = (0..PAGE as u64)
        .map(|i| (i.wrapping_mul(seed | 1).wrapping_add(seed >> 8)) as u8)
        .collect();
    let map = |len| sys::Mapping::new(&f, len).map_err(|e| failed(format!("{}: mmap", a.dev), &e));
    let first = map(PAGE)?;
    let second = map(PAGE)?;
    first.write(&pattern);
    drop(first);
    if second.read() != pattern {
        return Err(Failure(
            format!("{}: the second mapping does not show the pattern", a.dev),
            1,
        ));
    }
    drop(second);
    match sys::Mapping::new(&f, 2 * PAGE) {
        Ok(_) => {
            return Err(Failure(
                format!("{}: a two-page mapping succeeded", a.dev),
                1,
            ))
        }
        Err(e) if e.raw_os_error() == Some(22) => {}
        Err(e) => return Err(failed(format!("{}: two-page mmap", a.dev), &e)),
    }
    println!("mmap: {PAGE} bytes shared between mappings, two pages refused");
    Ok(())
}

fn run(a: &Args) -> Result<(), Failure> {
    match a.words.first().map(String::as_str) {
        Some("write") => cmd_write(a),
        Some("read") => cmd_read(a),
        Some("factorial") => cmd_factorial(a),
        Some("mmap") if a.words.len() == 1 => cmd_mmap(a),
        Some("mmap") => Err(usage("mmap takes no arguments besides options")),
        Some("selftest") if a.words.len() == 1 => {
            if selftest::run(&a.dev, a.seed, a.rounds.unwrap_or(8))? {
                Ok(())
            } else {
                Err(Failure("selftest: some checks failed".into(), 1))
            }
        }
        Some("selftest") => Err(usage("selftest takes no arguments besides options")),
        Some(other) => Err(usage(format!("unknown command `{other}`"))),
        None => Err(usage("no command given")),
    }
}

fn main() -> ExitCode {
    let result = parse(std::env::args().skip(1)).and_then(|a| run(&a));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg, 0)) => {
            println!("{msg}");
            ExitCode::SUCCESS
        }
        Err(Failure(msg, code)) => {
            eprintln!("eductl: {msg}");
            ExitCode::from(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Result<Args, Failure> {
        parse(s.split_whitespace().map(String::from))
    }

    #[test]
    fn options_and_words() {
        let a = args("--dev /dev/edu1 read --offset 0x10 --len 7")
            .ok()
            .unwrap();
        assert_eq!(a.dev, "/dev/edu1");
        assert_eq!(a.words, ["read"]);
        assert_eq!(a.offset, Some(16));
        assert_eq!(a.len, Some(7));
    }

    #[test]
    fn bad_numbers_are_usage_errors() {
        let Err(Failure(msg, code)) = args("read --offset -1") else {
            panic!("accepted a negative offset");
        };
        assert_eq!(code, 2);
        assert!(msg.starts_with("--offset: `-1` is not a valid number"));
        assert!(args("factorial").is_ok());
        let Err(Failure(_, code)) = run(&args("factorial").ok().unwrap()) else {
            panic!("factorial without N ran");
        };
        assert_eq!(code, 2);
        let Err(Failure(msg, 2)) = args("--bogus") else {
            panic!("accepted an unknown option");
        };
        assert!(msg.starts_with("unknown option --bogus"));
    }
}
