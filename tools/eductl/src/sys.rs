//! The few C library calls `std` does not offer: `ioctl`, `read`/`write` with
//! any pointer (to provoke `EFAULT`), and an interrupting signal timer.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::raw::{c_int, c_ulong, c_void};
use std::thread;
use std::time::Duration;

/// `EDU_IOC_FACTORIAL` of `drivers/include/uapi/edu.h`: `_IOWR('E', 0x01, __u32)`.
pub const EDU_IOC_FACTORIAL: c_ulong = ioc(3, b'E', 0x01, 4);
/// The size of the file: the device's DMA buffer (`EDU_BUF_SIZE`).
pub const EDU_BUF_SIZE: usize = 4096;

/// The kernel's `_IOC(dir, type, nr, size)` for x86.
const fn ioc(dir: c_ulong, ty: u8, nr: u8, size: c_ulong) -> c_ulong {
    (dir << 30) | (size << 16) | ((ty as c_ulong) << 8) | nr as c_ulong
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_number_matches_the_uapi_header() {
        // _IOWR('E', 0x01, __u32) as the C preprocessor computes it.
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
