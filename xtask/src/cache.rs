//! Replaying what already ran on byte-identical inputs.
//!
//! Inside `cargo xtask test`, a step whose every input hashes (SHA-256) to the
//! key of the same step in an earlier, fully passing run is not run again:
//! its recorded output is replayed and judged anew by the current xtask, so a
//! changed check still applies to it. The steps are guest boots (key: QEMU's
//! binary and whole command line, the kernel image and the initramfs by
//! content, the timeout) and compile-fail builds (key: the kernel's build
//! stamp, the case's sources, the make variables).
//!
//! Entries are written as pending and kept only when the run that wrote them
//! ends with no failure; a failing run discards its own entries, so a failure
//! is never replayed: what failed runs again next time. `--fresh` runs
//! everything and replays nothing; a fresh clone has nothing to replay.
//! Outside `test` (`run`, `boots`, `evidence`, `bench`) nothing is replayed.

use crate::util::{io_ctx, say, Result};
use crate::Project;
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

static ENABLED: AtomicBool = AtomicBool::new(false);
/// Entries written by this run, not yet kept.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// What this run replayed, for the summary.
static REPLAYED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Turns replay on for this process (`cargo xtask test` without `--fresh`).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

fn dir(p: &Project) -> PathBuf {
    p.build.join("replay")
}

/// The recorded output of step `what` under `key`, if a passing run kept it.
pub fn lookup(p: &Project, what: &str, key: &str) -> Option<String> {
    if !ENABLED.load(Ordering::Relaxed) {
        return None;
    }
    let out = fs::read_to_string(dir(p).join(key)).ok()?;
    say(
        "test",
        &format!("{what}: inputs unchanged since a passing run, replayed (--fresh reruns it)"),
    );
    REPLAYED.lock().unwrap().push(what.to_string());
    Some(out)
}

/// Records `output` of a step that really ran, pending the run's outcome.
pub fn record(p: &Project, key: &str, output: &str) -> Result {
    if !ENABLED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let d = dir(p);
    io_ctx(fs::create_dir_all(&d), "cannot create", &d)?;
    let f = d.join(format!("{key}.pending"));
    io_ctx(fs::write(&f, output), "cannot write", &f)?;
    PENDING.lock().unwrap().push(f);
    Ok(())
}

/// Ends the run: keeps this run's entries if every test passed, else drops
/// them. Returns what was replayed.
pub fn settle(passed: bool) -> Vec<String> {
    for f in PENDING.lock().unwrap().drain(..) {
        if passed {
            let _ = fs::rename(&f, f.with_extension(""));
        } else {
            let _ = fs::remove_file(&f);
        }
    }
    std::mem::take(&mut *REPLAYED.lock().unwrap())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_passing_runs_are_replayed() {
        let root = std::env::temp_dir().join(format!("xtask-cache-{}", std::process::id()));
        let p = Project {
            root: root.clone(),
            build: root.join("build"),
        };
        enable();
        record(&p, "aaaa", "log one").unwrap();
        assert_eq!(lookup(&p, "x", "aaaa"), None, "pending is not replayed");
        settle(false);
        assert_eq!(lookup(&p, "x", "aaaa"), None, "a failing run keeps nothing");
        record(&p, "aaaa", "log two").unwrap();
        settle(true);
        assert_eq!(lookup(&p, "x", "aaaa").as_deref(), Some("log two"));
        assert_eq!(settle(true), vec!["x".to_string()]);
        fs::remove_dir_all(&root).unwrap();
    }
}
