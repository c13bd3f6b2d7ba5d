//! Replaying what already ran on byte-identical inputs.
//!
//! Inside `cargo xtask test`, a step whose every input hashes (SHA-256) to the
//! key of the same step in an earlier, fully passing run is not run again:
//! its recorded output is replayed and judged anew by the current xtask, so a
//! changed check still applies to it. The steps are guest boots
//! (`qemu::boot_key`), module builds, compile-fail cases included
//! (`modules::build_key`), the gdb session (`debugger::gdb_tests`) and the
//! rust-analyzer runs (`ide::analyzer_runs`); each key is described there.
//! One step records verdicts instead of raw output: the export's checkpatch,
//! `git am`, tree and bisect checks (`export::export_tests`), whose key
//! therefore holds the source of the code that judges them as well.
//!
//! Entries are written as pending and kept only when the run that wrote them
//! ends with no failure; a failing run discards its own entries and those it
//! replayed, so everything that took part in a failing run runs again next
//! time. `--fresh` runs everything and replays nothing (and records, so the
//! next run can replay); a fresh clone has nothing to replay. Outside `test`
//! (`run`, `boots`, `evidence`, `bench`) nothing is replayed.
//!
//! A replay repeats one observed run: a failure that shows once in many boots
//! is not looked for again while nothing changes. `cargo xtask boots N` and
//! `--fresh` are for that, and CI runs on a fresh clone. The key also holds
//! the source of the code that runs the step (the QEMU and make runners), so
//! a change to how steps run reruns them.

use crate::util::{io_ctx, say, Result};
use crate::Project;
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

/// 0: replay off (outside `test`), 1: record only (`--fresh`), 2: replay.
static MODE: AtomicU8 = AtomicU8::new(0);
/// Entries written by this run, not yet kept.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// What this run replayed: (step, entry).
static REPLAYED: Mutex<Vec<(String, PathBuf)>> = Mutex::new(Vec::new());

/// Turns recording on for this process, and replay unless `fresh`
/// (`cargo xtask test`, `cargo xtask test --fresh`).
pub fn enable(fresh: bool) {
    MODE.store(if fresh { 1 } else { 2 }, Ordering::Relaxed);
}

fn dir(p: &Project) -> PathBuf {
    p.build.join("replay")
}

/// The recorded output of step `what` under `key`, as `decode` reads it, if a
/// passing run kept it and it still decodes (e.g. the modules it built are
/// still there as built).
pub fn lookup<T>(
    p: &Project,
    what: &str,
    key: &str,
    decode: impl FnOnce(&str) -> Option<T>,
) -> Option<T> {
    if MODE.load(Ordering::Relaxed) != 2 {
        return None;
    }
    let entry = dir(p).join(key);
    let out = decode(&fs::read_to_string(&entry).ok()?)?;
    say(
        "test",
        &format!("{what}: inputs unchanged since a passing run, replayed (--fresh reruns it)"),
    );
    REPLAYED.lock().unwrap().push((what.to_string(), entry));
    Some(out)
}

/// Records `output` of a step that really ran, pending the run's outcome.
pub fn record(p: &Project, key: &str, output: &str) -> Result {
    if MODE.load(Ordering::Relaxed) == 0 {
        return Ok(());
    }
    let d = dir(p);
    io_ctx(fs::create_dir_all(&d), "cannot create", &d)?;
    let f = d.join(format!("{key}.pending"));
    io_ctx(fs::write(&f, output), "cannot write", &f)?;
    PENDING.lock().unwrap().push(f);
    Ok(())
}

/// Ends the run. If every test passed, this run's entries are kept;
/// otherwise they are dropped, and so are the entries it replayed (one of
/// them may be what failed when judged again), so everything that took part
/// in a failing run runs again. Returns the steps replayed.
pub fn settle(passed: bool) -> Vec<String> {
    for f in PENDING.lock().unwrap().drain(..) {
        if passed {
            let _ = fs::rename(&f, f.with_extension(""));
        } else {
            let _ = fs::remove_file(&f);
        }
    }
    let replayed = std::mem::take(&mut *REPLAYED.lock().unwrap());
    if !passed {
        for (_, entry) in &replayed {
            let _ = fs::remove_file(entry);
        }
    }
    replayed.into_iter().map(|(what, _)| what).collect()
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
        let get = |key: &str| lookup(&p, "x", key, |s| Some(s.to_string()));
        enable(false);
        record(&p, "aaaa", "log one").unwrap();
        assert_eq!(get("aaaa"), None, "pending is not replayed");
        settle(false);
        assert_eq!(get("aaaa"), None, "a failing run keeps nothing");
        record(&p, "aaaa", "log two").unwrap();
        settle(true);
        assert_eq!(get("aaaa").as_deref(), Some("log two"));
        assert_eq!(settle(true), vec!["x".to_string()]);
        // An entry that does not decode is not replayed (nor counted).
        assert_eq!(lookup(&p, "x", "aaaa", |_| None::<()>), None);
        assert!(settle(true).is_empty());
        // A failing run drops what it replayed.
        assert!(get("aaaa").is_some());
        settle(false);
        assert_eq!(get("aaaa"), None);
        fs::remove_dir_all(&root).unwrap();
    }
}
