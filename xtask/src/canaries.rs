//! Checks of the checks: every folder of `tests/canaries/` is a deliberately
//! broken run (a leak, a warning during a KUnit suite, a DMA-API error, a
//! KASAN report, a lock-order or atomic-sleep bug, a script without KTAP, a
//! failed suite over passing tests, a missing group, a compile-fail case
//! failing for the wrong reason, a hung guest). Each is judged exactly like
//! the real runs; its test passes only when the harness failed it for the
//! reason its `canary.txt` names.

use crate::demo::Ready;
use crate::evidence::{described_folders, Fields};
use crate::initramfs::{self, Contents};
use crate::modules::make_external;
use crate::qemu::{self, Boot, BootOpts};
use crate::test::{compile_fail_case, judge_guest, Manifest, Tally};
use crate::util::{say, Result};
use crate::{bail, Project};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One canary folder.
pub struct Canary {
    pub name: String,
    pub dir: PathBuf,
    fields: Fields,
}

impl Canary {
    fn get(&self, key: &str) -> &str {
        self.fields.get(key)
    }
}

/// Every canary, by name.
pub fn canaries(p: &Project) -> Result<Vec<Canary>> {
    let mut out = Vec::new();
    for (name, dir, fields) in described_folders(&p.root.join("tests/canaries"), "canary.txt")? {
        if fields.get("expect").is_empty() {
            bail!("tests/canaries/{name}/canary.txt has no `expect:`");
        }
        out.push(Canary { name, dir, fields });
    }
    Ok(out)
}

/// Builds the module in `dir` (a `Kbuild` and its source) as `build/<kind>/<name>`.
pub fn build_module(
    p: &Project,
    ready: &Ready,
    dir: &Path,
    kind: &str,
    name: &str,
) -> Result<PathBuf> {
    let dest = p.build.join(kind).join(name);
    let r = make_external(p, &ready.kernel, dir, &dest, &format!("{kind}-{name}"))?;
    let ko = fs::read_dir(&dest)?
        .flatten()
        .map(|e| e.path())
        .find(|f| f.extension().is_some_and(|e| e == "ko"));
    match ko {
        Some(ko) if r.success => Ok(ko),
        _ => {
            for l in r.lines.iter().rev().take(20).rev() {
                eprintln!("  {l}");
            }
            bail!("building the module of {kind} {name} failed")
        }
    }
}

/// A boot of the real test runner (`guest/run-tests.sh`) over other tests.
pub struct RunnerBoot {
    /// The boot's name (initramfs and log).
    pub name: String,
    pub modules: Vec<PathBuf>,
    /// (test name, host script): each runs as `/<dir>/tests/<name>.sh`.
    pub tests: Vec<(String, PathBuf)>,
    /// Run this script instead of the runner.
    pub script: Option<PathBuf>,
    pub append: Vec<String>,
    pub timeout: Duration,
    /// Devices in hot-pluggable slots (`BootOpts::hotplug`).
    pub hotplug: bool,
}

/// Boots `rb`; returns the boot and where its log is.
pub fn boot_runner(p: &Project, ready: &Ready, rb: RunnerBoot) -> Result<(Boot, PathBuf)> {
    let mut extra = ready.tools.clone();
    for (name, host) in &rb.tests {
        extra.push((format!("/{}/tests/{name}.sh", rb.name), host.clone()));
    }
    let contents = Contents {
        modules: rb.modules,
        load: Vec::new(),
        script: rb
            .script
            .unwrap_or_else(|| p.root.join("guest/run-tests.sh")),
        extra,
        env: vec![("DMABRIDGE_TESTS".into(), format!("/{}/tests", rb.name))],
    };
    let initrd = initramfs::pack(p, &ready.kernel, &contents, &rb.name)?;
    let log = p.build.join(format!("logs/{}.log", rb.name));
    let opts = BootOpts {
        append: rb.append,
        hotplug: rb.hotplug,
        ..BootOpts::quiet(log.clone(), rb.timeout)
    };
    Ok((qemu::boot(p, &ready.kernel, &initrd, &opts)?, log))
}

/// The failures the harness reported for a boot canary.
fn boot_failures(p: &Project, ready: &Ready, c: &Canary) -> Result<Vec<String>> {
    let mut modules = Vec::new();
    // `module-of: <canary>` loads another canary's module.
    let (owner, owner_dir) = match c.get("module-of") {
        "" => (c.name.as_str(), c.dir.clone()),
        other => (other, p.root.join("tests/canaries").join(other)),
    };
    let module_dir = owner_dir.join("module");
    if module_dir.join("Kbuild").exists() {
        modules.push(build_module(p, ready, &module_dir, "canaries", owner)?);
    }
    let secs = match c.get("timeout") {
        "" => 180,
        v => v
            .parse()
            .map_err(|_| crate::util::Error(format!("canary {}: bad timeout `{v}`", c.name)))?,
    };
    let timeout = Duration::from_secs(secs);
    let script = c.dir.join("script.sh");
    let (boot, log) = boot_runner(
        p,
        ready,
        RunnerBoot {
            name: format!("canary-{}", c.name),
            modules,
            tests: [c.dir.join("test.sh")]
                .into_iter()
                .filter(|t| t.exists())
                .map(|t| (c.name.clone(), t))
                .collect(),
            script: script.exists().then_some(script),
            append: c
                .get("append")
                .split_whitespace()
                .map(String::from)
                .collect(),
            timeout,
            hotplug: false,
        },
    )?;
    let manifest = match c.get("require") {
        "" => Manifest::default(),
        "manifest" => Manifest::load(p)?,
        other => bail!("canary {}: unknown `require: {other}`", c.name),
    };
    let (_, checks) = judge_guest(&boot, timeout, &manifest, &log);
    Ok(checks
        .into_iter()
        .filter(|c| !c.pass)
        .map(|c| format!("{}: {}", c.name, c.why))
        .collect())
}

/// Whether the harness's failures include the one the canary expects.
pub fn caught(failures: &[String], expect: &str) -> std::result::Result<(), String> {
    if failures.iter().any(|f| f.contains(expect)) {
        Ok(())
    } else if failures.is_empty() {
        Err(format!(
            "the harness passed it: no check reported `{expect}`"
        ))
    } else {
        Err(format!(
            "the harness failed it, but not with `{expect}`: {}",
            failures.join(" / ")
        ))
    }
}

fn judge_one(p: &Project, ready: &Ready, c: &Canary) -> Result<Vec<String>> {
    match c.get("kind") {
        "" | "boot" => boot_failures(p, ready, c),
        "compile-fail" => {
            let o = compile_fail_case(p, &ready.kernel, &c.dir, &format!("canary_{}", c.name))?;
            Ok(o.verdict.err().into_iter().collect())
        }
        other => bail!("canary {}: unknown `kind: {other}`", c.name),
    }
}

/// Runs every canary (or those named in `only`) as a test of group
/// `harness_canaries`.
pub fn canary_tests(p: &Project, ready: &Ready, only: &[String], t: &mut Tally) -> Result {
    for c in canaries(p)? {
        if !only.is_empty() && !only.contains(&c.name) {
            continue;
        }
        say("test", &format!("canary: {}", c.name));
        let verdict = match judge_one(p, ready, &c) {
            Ok(failures) => caught(&failures, c.get("expect")),
            Err(e) => Err(format!("the canary could not run: {e}")),
        };
        let why = verdict.clone().err().unwrap_or_default();
        t.add(
            format!("harness_canaries.{}", c.name),
            verdict.is_ok(),
            || why,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caught_needs_the_named_failure() {
        let f = vec!["guest.no_checker_reports: BUG: KASAN: x".to_string()];
        assert!(caught(&f, "KASAN").is_ok());
        assert!(caught(&f, "kmemleak").unwrap_err().contains("not with"));
        assert!(caught(&[], "KASAN").unwrap_err().contains("passed it"));
    }
}
