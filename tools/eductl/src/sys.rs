//! The few C library calls `std` does not offer: `ioctl`, `read`/`write` with
//! any pointer (to provoke `EFAULT`), `mmap`, and an interrupting signal timer.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::raw::{c_int, c_ulong, c_void};
use std::thread;
use std::time::Duration;

/// The type (`'E'`) and number of `EDU_IOC_FACTORIAL` in
/// `drivers/include/uapi/edu.h`, whose argument is a `__u32`.
const EDU_IOC_TYPE: u8 = b'E';
const EDU_IOC_FACTORIAL_NR: u8 = 0x01;
/// `EDU_IOC_FACTORIAL` of `drivers/include/uapi/edu.h`:
/// `_IOWR('E', 0x01, __u32)` (a unit test checks it against the header).
pub const EDU_IOC_FACTORIAL: c_ulong = iowr(EDU_IOC_TYPE, EDU_IOC_FACTORIAL_NR, size_of::<u32>());
/// The size of the file: the device's DMA buffer (`EDU_BUF_SIZE`).
pub const EDU_BUF_SIZE: usize = 4096;

/// The kernel's `_IOC` encoding (`include/uapi/asm-generic/ioctl.h`, which
/// x86 uses): direction in bits 30-31, size in 16-29, type in 8-15, number
/// in 0-7.
const IOC_WRITE: c_ulong = 1;
const IOC_READ: c_ulong = 2;
const fn ioc(dir: c_ulong, ty: u8, nr: u8, size: usize) -> c_ulong {
    assert!(size < 1 << 14, "_IOC size has 14 bits");
    (dir << 30) | ((size as c_ulong) << 16) | ((ty as c_ulong) << 8) | nr as c_ulong
}

/// `_IOWR(type, nr, T)` where `size` is `sizeof(T)`.
pub const fn iowr(ty: u8, nr: u8, size: usize) -> c_ulong {
    ioc(IOC_READ | IOC_WRITE, ty, nr, size)
}

const SIGALRM: c_int = 14;

extern "C" {
    fn ioctl(fd: c_int, request: c_ulong, ...) -> c_int;
    fn read(fd: c_int, buf: *mut c_void, count: usize) -> isize;
    fn write(fd: c_int, buf: *const c_void, count: usize) -> isize;
    fn signal(sig: c_int, handler: extern "C" fn(c_int)) -> usize;
    fn siginterrupt(sig: c_int, flag: c_int) -> c_int;
    fn pthread_self() -> c_ulong;
    fn pthread_kill(thread: c_ulong, sig: c_int) -> c_int;
    fn mmap(
        addr: *mut c_void,
        len: usize,
        prot: c_int,
        flags: c_int,
        fd: c_int,
        off: i64,
    ) -> *mut c_void;
    fn munmap(addr: *mut c_void, len: usize) -> c_int;
}

fn check(ret: isize) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// `EDU_IOC_FACTORIAL` on `f`: `n!` modulo 2^32, computed by the device.
pub fn factorial(f: &File, n: u32) -> io::Result<u32> {
    let mut v = n;
    // SAFETY: the request's argument is a pointer to a `u32`, and `v` is a
    // live `u32` for the duration of the call.
    check(unsafe { ioctl(f.as_raw_fd(), EDU_IOC_FACTORIAL, &mut v as *mut u32) } as isize)?;
    Ok(v)
}

/// An address no object of this process lives at, to hand the kernel where
/// it expects a user buffer: it must fail the access with `EFAULT`.
#[derive(Clone, Copy, Debug)]
pub enum BadAddress {
    /// NULL: the page at 0 is never mapped (`vm.mmap_min_addr`).
    Null,
    /// An address in the kernel's half, which `access_ok` rejects.
    Kernel,
}

impl BadAddress {
    fn addr(self) -> usize {
        match self {
            BadAddress::Null => 0,
            BadAddress::Kernel => 0xffff_8880_0000_0000,
        }
    }
}

/// `ioctl(f, request, bad)`.
pub fn ioctl_bad_arg(f: &File, request: c_ulong, bad: BadAddress) -> io::Result<()> {
    // SAFETY: whatever `request` makes the kernel (driver or VFS) do with its
    // argument, the argument is a `BadAddress`: no memory of this process is
    // there, so nothing this process owns can be read or changed.
    check(unsafe { ioctl(f.as_raw_fd(), request, bad.addr()) } as isize).map(|_| ())
}

/// `read(2)` of `len` bytes into a bad address.
pub fn read_to_bad(f: &File, bad: BadAddress, len: usize) -> io::Result<usize> {
    // SAFETY: the kernel writes to the buffer only through copy_to_user, and
    // no memory of this process is at a `BadAddress`.
    check(unsafe { read(f.as_raw_fd(), bad.addr() as *mut c_void, len) })
}

/// `write(2)` of `len` bytes from a bad address.
pub fn write_from_bad(f: &File, bad: BadAddress, len: usize) -> io::Result<usize> {
    // SAFETY: the kernel only reads the buffer (copy_from_user), and no
    // memory of this process is at a `BadAddress`.
    check(unsafe { write(f.as_raw_fd(), bad.addr() as *const c_void, len) })
}

extern "C" fn on_signal(_sig: c_int) {}

/// Runs `f` with a `SIGALRM` sent to the calling thread `after` its start.
/// With `restart` false the signal interrupts a sleeping system call
/// (`EINTR`); with `restart` true the kernel restarts it (`SA_RESTART`).
/// A helper thread sends the signal, so no interval timer is needed (small
/// kernels are often built without `CONFIG_POSIX_TIMERS`).
pub fn with_signal<T>(after: Duration, restart: bool, f: impl FnOnce() -> T) -> T {
    // SAFETY: `on_signal` is an async-signal-safe handler (it does nothing);
    // `siginterrupt` only changes this process's signal flags.
    let me = unsafe {
        signal(SIGALRM, on_signal);
        siginterrupt(SIGALRM, if restart { 0 } else { 1 });
        pthread_self()
    };
    thread::scope(|s| {
        s.spawn(move || {
            thread::sleep(after);
            // SAFETY: `me` is the calling thread, alive until the scope
            // ends, which waits for this thread; the handler is installed.
            unsafe { pthread_kill(me, SIGALRM) };
        });
        f()
    })
}

/// Runs `f` (one system call) with the kernel's fault injection armed so
/// that the `nth` fault-injection point this thread reaches fails (an
/// allocation, a user copy). Returns `f`'s result and whether the fault was
/// injected: if `f` reached fewer than `nth` points, nothing failed.
pub fn with_fail_nth<T>(nth: u32, f: impl FnOnce() -> T) -> io::Result<(T, bool)> {
    use std::os::unix::fs::FileExt;
    let ctl = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/proc/thread-self/fail-nth")?;
    ctl.write_at(nth.to_string().as_bytes(), 0)?;
    let r = f();
    // The counter reads 0 once the fault fired. If it did not fire in `f`,
    // reading the counter is itself an injection point (a user copy) and may
    // take the fault: then the read fails, and `f` was not injected either.
    let mut left = [0u8; 16];
    let injected = ctl
        .read_at(&mut left, 0)
        .is_ok_and(|n| String::from_utf8_lossy(&left[..n]).trim() == "0");
    // Disarm; this write may take a still pending fault the same way.
    let _ = ctl.write_at(b"0", 0);
    Ok((r, injected))
}

/// The symbolic name of an errno value, for messages.
pub fn errno_name(e: &io::Error) -> &'static str {
    match e.raw_os_error().unwrap_or(0) {
        1 => "EPERM",
        2 => "ENOENT",
        4 => "EINTR",
        5 => "EIO",
        6 => "ENXIO",
        9 => "EBADF",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        16 => "EBUSY",
        19 => "ENODEV",
        22 => "EINVAL",
        25 => "ENOTTY",
        28 => "ENOSPC",
        29 => "ESPIPE",
        110 => "ETIMEDOUT",
        _ => "?",
    }
}

/// `message (ENAME)` for an OS error.
pub fn describe(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(_) => format!("{e} ({})", errno_name(e)),
        None => e.to_string(),
    }
}

const PROT_READ: c_int = 1;
const PROT_WRITE: c_int = 2;
const MAP_SHARED: c_int = 1;
const MAP_FAILED: usize = usize::MAX;

/// A shared read-write mapping of `len` bytes of `f` at offset 0, unmapped
/// on drop.
pub struct Mapping {
    addr: *mut u8,
    len: usize,
}

impl Mapping {
    pub fn new(f: &File, len: usize) -> io::Result<Mapping> {
        // SAFETY: A new mapping chosen by the kernel; nothing else refers to it.
        let addr = unsafe {
            mmap(
                std::ptr::null_mut(),
                len,
                PROT_READ | PROT_WRITE,
                MAP_SHARED,
                f.as_raw_fd(),
                0,
            )
        };
        if addr as usize == MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping {
            addr: addr.cast(),
            len,
        })
    }

    /// Writes `data` at the start of the mapping (volatile: the device's
    /// file may see it through another mapping).
    pub fn write(&self, data: &[u8]) {
        for (i, b) in data.iter().take(self.len).enumerate() {
            // SAFETY: `i < len`, inside the mapping.
            unsafe { self.addr.add(i).write_volatile(*b) };
        }
    }

    /// The mapping's bytes.
    pub fn read(&self) -> Vec<u8> {
        // SAFETY: `i < len`, inside the mapping.
        (0..self.len)
            .map(|i| unsafe { self.addr.add(i).read_volatile() })
            .collect()
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: The mapping `new` made, unmapped once.
        unsafe { munmap(self.addr.cast(), self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of `#define NAME VALUE` in `header`.
    fn define<'a>(header: &'a str, name: &str) -> &'a str {
        header
            .lines()
            .filter_map(|l| l.trim().strip_prefix("#define"))
            .filter_map(|l| l.trim_start().strip_prefix(name))
            .find(|rest| rest.starts_with(char::is_whitespace))
            .unwrap_or_else(|| panic!("no #define {name} in the header"))
            .trim()
    }

    fn c_number(s: &str) -> u64 {
        let s = s.trim();
        match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => s.parse(),
        }
        .unwrap_or_else(|_| panic!("`{s}` is not a C integer constant"))
    }

    /// `sizeof` of the uapi types a request argument may have.
    fn c_size(ty: &str) -> usize {
        match ty.trim() {
            "__u8" | "__s8" => 1,
            "__u16" | "__s16" => 2,
            "__u32" | "__s32" | "int" | "unsigned int" => 4,
            "__u64" | "__s64" => 8,
            other => panic!("unknown argument type `{other}`: extend c_size"),
        }
    }

    #[test]
    fn ioctl_number_matches_the_uapi_header() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../drivers/include/uapi/edu.h");
        let header =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // #define EDU_IOC_FACTORIAL _IOWR('E', 0x01, __u32)
        let value = define(&header, "EDU_IOC_FACTORIAL");
        let args = value
            .strip_prefix("_IOWR(")
            .and_then(|v| v.strip_suffix(')'))
            .unwrap_or_else(|| panic!("EDU_IOC_FACTORIAL is `{value}`, not _IOWR(...)"));
        let [ty, nr, arg] = args.split(',').collect::<Vec<_>>()[..] else {
            panic!("_IOWR takes 3 arguments: `{value}`");
        };
        let ty = ty.trim().as_bytes();
        let [b'\'', ty, b'\''] = ty[..] else {
            panic!("the type is not a character constant: `{value}`");
        };
        let nr = u8::try_from(c_number(nr)).expect("nr has 8 bits");
        let size = c_size(arg);
        assert_eq!(
            (ty, nr, size),
            (EDU_IOC_TYPE, EDU_IOC_FACTORIAL_NR, size_of::<u32>())
        );
        assert_eq!(EDU_IOC_FACTORIAL, iowr(ty, nr, size));
        assert_eq!(
            c_number(define(&header, "EDU_BUF_SIZE")),
            EDU_BUF_SIZE as u64
        );
    }

    #[test]
    fn ioc_encoding_matches_the_kernel() {
        // Numbers the kernel's own headers define, as the C preprocessor
        // computes them on x86-64: VIDIOC_G_FMT = _IOWR('V', 4, struct
        // v4l2_format) (208 bytes) and EDU_IOC_FACTORIAL itself.
        assert_eq!(iowr(b'V', 4, 208), 0xc0d0_5604);
        assert_eq!(EDU_IOC_FACTORIAL, 0xc004_4501);
    }

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(&io::Error::from_raw_os_error(25)), "ENOTTY");
        assert_eq!(
            describe(&io::Error::from_raw_os_error(28)),
            "No space left on device (os error 28) (ENOSPC)"
        );
    }
}
