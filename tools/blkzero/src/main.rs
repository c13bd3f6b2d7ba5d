//! `blkzero DEVICE OFFSET LENGTH`: zeroes LENGTH bytes of the block device
//! from OFFSET with the `BLKZEROOUT` ioctl, which the block layer turns into
//! write-zeroes requests when the driver takes them (and writes zero pages
//! itself otherwise). Exits 1 with the errno's message if the ioctl fails,
//! 2 on a usage error.

use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::process::ExitCode;

/// `_IO(0x12, 127)` of `include/uapi/linux/fs.h`.
const BLKZEROOUT: u64 = 0x127f;

extern "C" {
    fn ioctl(fd: i32, request: u64, ...) -> i32;
}

/// The device, offset and length of a command line, if it is one.
fn parse(args: &[String]) -> Option<(&str, u64, u64)> {
    match args {
        [dev, offset, len] => Some((dev, offset.parse().ok()?, len.parse().ok()?)),
        _ => None,
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((dev, offset, len)) = parse(&args) else {
        eprintln!("usage: blkzero DEVICE OFFSET LENGTH");
        return ExitCode::from(2);
    };
    let file = match OpenOptions::new().write(true).open(dev) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("blkzero: cannot open {dev}: {e}");
            return ExitCode::from(1);
        }
    };
    let range = [offset, len];
    // SAFETY: `BLKZEROOUT` reads two u64 (start, length) from its argument,
    // which points to `range`, alive for the call; `file` is open.
    let rc = unsafe { ioctl(file.as_raw_fd(), BLKZEROOUT, range.as_ptr()) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        eprintln!("blkzero: BLKZEROOUT {offset}+{len} on {dev}: {e}");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn command_lines() {
        assert_eq!(parse(&args("/dev/x 512 4096")), Some(("/dev/x", 512, 4096)));
        assert_eq!(parse(&args("/dev/x 512")), None);
        assert_eq!(parse(&args("/dev/x -1 4096")), None);
        assert_eq!(parse(&args("/dev/x 0 1 2")), None);
    }
}
