//! Small helpers shared by every subcommand: errors, progress output, running
//! commands, content hashes and idempotent file writes.

use sha2::{Digest, Sha256};
use std::fmt;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// An error that ends the subcommand with one clear line.
#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error(e.to_string())
    }
}

pub type Result<T = ()> = std::result::Result<T, Error>;

/// Builds an [`Error`] from a format string.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::util::Error(format!($($arg)*)))
    };
}

/// Prints a progress line for `stage`.
pub fn say(stage: &str, msg: &str) {
    println!("[{stage}] {msg}");
    let _ = std::io::stdout().flush();
}

/// Formats a duration as `1m23s` or `4.2s`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// Attaches the path to an I/O error.
pub fn io_ctx<T>(r: std::io::Result<T>, what: &str, path: &Path) -> Result<T> {
    r.map_err(|e| Error(format!("{what} {}: {e}", path.display())))
}

/// Runs `cmd`, inheriting the terminal, and fails unless it exits 0.
pub fn run(cmd: &mut Command) -> Result {
    let status = cmd
        .status()
        .map_err(|e| Error(format!("cannot start {}: {e}", prog(cmd))))?;
    if !status.success() {
        bail!("{} failed ({status})", describe(cmd));
    }
    Ok(())
}

/// Runs `cmd` and returns its standard output; fails unless it exits 0.
pub fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| Error(format!("cannot start {}: {e}", prog(cmd))))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!("{} failed ({}): {}", describe(cmd), out.status, err.trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn prog(cmd: &Command) -> String {
    cmd.get_program().to_string_lossy().into_owned()
}

fn describe(cmd: &Command) -> String {
    let mut s = prog(cmd);
    for a in cmd.get_args().take(4) {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// What a long-running command left behind.
pub struct Logged {
    pub success: bool,
    pub code: Option<i32>,
    pub lines: Vec<String>,
}

/// Runs `cmd` with standard output and error merged into `log`, printing a
/// heartbeat line for `stage` every `beat` with the elapsed time and the
/// latest line that `interesting` accepts.
pub fn run_logged(
    cmd: &mut Command,
    log: &Path,
    stage: &str,
    beat: Duration,
    interesting: fn(&str) -> bool,
) -> Result<Logged> {
    if let Some(dir) = log.parent() {
        fs::create_dir_all(dir)?;
    }
    let (reader, writer) = std::io::pipe()?;
    let writer2 = writer.try_clone()?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer2)
        .spawn()
        .map_err(|e| Error(format!("cannot start {}: {e}", prog(cmd))))?;
    // Drop our copies of the write end so the reader sees EOF at exit.
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let (tx, rx) = mpsc::channel::<String>();
    let reader_thread = thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            match line {
                Ok(l) => {
                    if tx.send(l).is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    });
    let mut file = io_ctx(fs::File::create(log), "cannot create", log)?;
    let start = Instant::now();
    let mut next = start + beat;
    let mut lines = Vec::new();
    let mut latest = String::new();
    loop {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(l) => {
                writeln!(file, "{l}")?;
                if interesting(&l) {
                    latest = l.trim().to_string();
                }
                lines.push(l);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if Instant::now() >= next {
            next += beat;
            say(
                stage,
                &format!(
                    "{} elapsed, {} steps, now: {}",
                    human(start.elapsed()),
                    lines.len(),
                    latest
                ),
            );
        }
    }
    let _ = reader_thread.join();
    let status = child.wait()?;
    Ok(Logged {
        success: status.success(),
        code: status.code(),
        lines,
    })
}

/// SHA-256 over length-prefixed fields, used for build stamps and for the
/// inputs of replayed results (see `cache`).
#[derive(Clone)]
pub struct Hasher(Sha256);

impl Hasher {
    pub fn new() -> Self {
        Hasher(Sha256::new())
    }

    pub fn bytes(&mut self, data: &[u8]) -> &mut Self {
        // The length first, so that ("ab", "c") and ("a", "bc") differ.
        self.0.update((data.len() as u64).to_le_bytes());
        self.0.update(data);
        self
    }

    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    /// Hashes a file's contents, with its name left out.
    pub fn file(&mut self, f: &Path) -> Result<&mut Self> {
        let data = io_ctx(fs::read(f), "cannot read", f)?;
        Ok(self.bytes(&data))
    }

    /// Hashes every file below `dir` (names and contents), in sorted order.
    pub fn tree(&mut self, dir: &Path) -> Result<&mut Self> {
        for f in files_below(dir)? {
            let rel = f.strip_prefix(dir).unwrap_or(&f);
            self.str(&rel.to_string_lossy());
            self.file(&f)?;
        }
        Ok(self)
    }

    pub fn hex(&self) -> String {
        self.0
            .clone()
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Every regular file below `dir`, sorted; empty if `dir` does not exist.
pub fn files_below(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in io_ctx(fs::read_dir(&d), "cannot list", &d)? {
            let entry = entry?;
            let path = entry.path();
            let ty = entry.file_type()?;
            if ty.is_dir() {
                stack.push(path);
            } else if ty.is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Writes `data` to `path` only if the content differs, so that `make` sees
/// unchanged files as unchanged. Returns whether it wrote.
pub fn write_if_changed(path: &Path, data: &[u8]) -> Result<bool> {
    if fs::read(path).ok().as_deref() == Some(data) {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        io_ctx(fs::create_dir_all(dir), "cannot create", dir)?;
    }
    io_ctx(fs::write(path, data), "cannot write", path)?;
    Ok(true)
}

/// Reads a stamp file; empty when missing.
pub fn read_stamp(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hasher_separates_fields() {
        let a = Hasher::new().str("ab").str("c").hex();
        let b = Hasher::new().str("a").str("bc").hex();
        assert_ne!(a, b);
        assert_eq!(a, Hasher::new().str("ab").str("c").hex());
        // SHA-256 of the empty input: the standard function, not a home-made one.
        let mut empty = Hasher(Sha256::new());
        assert_eq!(
            empty.hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(empty.bytes(b"").hex().len(), 64);
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_millis(4200)), "4.2s");
        assert_eq!(human(Duration::from_secs(83)), "1m23s");
    }

    #[test]
    fn write_if_changed_keeps_identical_files() {
        let dir = std::env::temp_dir().join(format!("xtask-wic-{}", std::process::id()));
        let f = dir.join("a/b.txt");
        assert!(write_if_changed(&f, b"one").unwrap());
        assert!(!write_if_changed(&f, b"one").unwrap());
        assert!(write_if_changed(&f, b"two").unwrap());
        assert_eq!(fs::read(&f).unwrap(), b"two");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn run_logged_reports_exit_code_and_lines() {
        let dir = std::env::temp_dir().join(format!("xtask-rl-{}", std::process::id()));
        let log = dir.join("x.log");
        let r = run_logged(
            Command::new("sh").args(["-c", "echo one; echo two >&2; exit 3"]),
            &log,
            "t",
            Duration::from_secs(60),
            |_| true,
        )
        .unwrap();
        assert!(!r.success);
        assert_eq!(r.code, Some(3));
        assert_eq!(r.lines.len(), 2);
        assert!(fs::read_to_string(&log).unwrap().contains("two"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
