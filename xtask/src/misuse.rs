//! The misuse corpus: `tests/misuse/<case>/`, each a driver without `unsafe`
//! that tries to break one rule of the bindings, with its asserted outcome.
//!
//! - `outcome: compile-fail`: the case is a compile-fail module (`Kbuild`,
//!   the `.rs` file, `expected.txt`, optionally a `twin/` that must build),
//!   judged like `tests/compile-fail/`.
//! - `outcome: boot`: the case has a `module/` and a guest `test.sh`; every
//!   boot case runs in one boot of the real test runner, and must pass its
//!   KTAP tests, print every `expect-line:` of its `misuse.txt` (the clean
//!   errno's log line), and leave no checker report in the boot.

use crate::canaries::{boot_runner, build_module, RunnerBoot};
use crate::demo::Ready;
use crate::evidence::{described_folders, Fields};
use crate::ktap::Outcome;
use crate::qemu::Boot;
use crate::test::{compile_fail_case, judge_guest, twin_builds, Manifest, Tally};
use crate::util::{say, Result};
use crate::{bail, Project};
use std::path::PathBuf;
use std::time::Duration;

/// One case folder.
pub struct Case {
    pub name: String,
    pub dir: PathBuf,
    fields: Fields,
}

impl Case {
    fn get(&self, key: &str) -> &str {
        self.fields.get(key)
    }

    fn all(&self, key: &str) -> Vec<&str> {
        self.fields.all(key)
    }
}

/// Every case, by name.
pub fn cases(p: &Project) -> Result<Vec<Case>> {
    let mut out = Vec::new();
    for (name, dir, fields) in described_folders(&p.root.join("tests/misuse"), "misuse.txt")? {
        let c = Case { name, dir, fields };
        if c.get("rule").is_empty() {
            bail!("tests/misuse/{}/misuse.txt has no `rule:`", c.name);
        }
        match c.get("outcome") {
            "compile-fail" => {}
            "boot" if c.dir.join("test.sh").exists() => {}
            other => bail!(
                "tests/misuse/{}: `outcome: {other}` needs `compile-fail`, or `boot` with a test.sh",
                c.name
            ),
        }
        out.push(c);
    }
    Ok(out)
}

/// Runs every case as tests of group `misuse`.
pub fn misuse_tests(p: &Project, ready: &Ready, t: &mut Tally) -> Result {
    let all = cases(p)?;
    let mut boot_cases = Vec::new();
    for c in &all {
        if c.get("outcome") != "compile-fail" {
            boot_cases.push(c);
            continue;
        }
        say("test", &format!("misuse: {} (must not build)", c.name));
        let o = compile_fail_case(p, &ready.kernel, &c.dir, &format!("misuse_{}", c.name))?;
        let why = o.verdict.clone().err().unwrap_or_default();
        t.add(format!("misuse.{}", c.name), o.verdict.is_ok(), || why);
        if c.dir.join("twin/Kbuild").exists() {
            let v = twin_builds(p, &ready.kernel, &c.dir, &format!("misuse_{}", c.name))?;
            let why = v.clone().err().unwrap_or_default();
            t.add(format!("misuse.{}.twin_builds", c.name), v.is_ok(), || why);
        }
    }
    if boot_cases.is_empty() {
        return Ok(());
    }
    let mut modules = Vec::new();
    for c in &boot_cases {
        let m = c.dir.join("module");
        if m.join("Kbuild").exists() {
            say("test", &format!("misuse: building {}", c.name));
            modules.push(build_module(p, ready, &m, "misuse", &c.name)?);
        }
    }
    say(
        "test",
        &format!("misuse: {} case(s) in one boot", boot_cases.len()),
    );
    let timeout = Duration::from_secs(600);
    let (boot, log) = boot_runner(
        p,
        ready,
        RunnerBoot {
            name: "misuse".into(),
            modules,
            tests: boot_cases
                .iter()
                .map(|c| (c.name.clone(), c.dir.join("test.sh")))
                .collect(),
            script: None,
            append: Vec::new(),
            timeout,
            hotplug: false,
        },
    )?;
    // Reports the C core prints on a path a case provokes on purpose (e.g.
    // sysfs's stack dump for a duplicate name), each from its line to the
    // end of its stack dump, are not the case's; everything else counts.
    let allowed: Vec<&str> = boot_cases
        .iter()
        .flat_map(|c| c.all("allow-report"))
        .collect();
    let judged = Boot {
        log: crate::ktap::strip_reports(&boot.log, &allowed),
        exit: boot.exit,
        timed_out: boot.timed_out,
    };
    let (report, checks) = judge_guest(&judged, timeout, &Manifest::default(), &log);
    for c in &boot_cases {
        let prefix = format!("{}.", c.name);
        let mine: Vec<_> = report
            .results
            .iter()
            .filter(|r| r.name.starts_with(&prefix))
            .collect();
        let failed: Vec<&str> = mine
            .iter()
            .filter(|r| r.outcome == Outcome::Fail)
            .map(|r| r.name.as_str())
            .collect();
        let missing: Vec<&str> = c
            .all("expect-line")
            .into_iter()
            .filter(|l| !boot.log.contains(l))
            .collect();
        let verdict = if mine.is_empty() {
            Err("its test printed no results".to_string())
        } else if !failed.is_empty() {
            Err(format!("not ok: {}", failed.join(", ")))
        } else if report.failed_suites.iter().any(|s| s == &c.name) {
            Err("its test script failed".to_string())
        } else if !missing.is_empty() {
            Err(format!("the log lacks `{}`", missing.join("`, `")))
        } else {
            Ok(())
        };
        let why = verdict.clone().err().unwrap_or_default();
        t.add(format!("misuse.{}", c.name), verdict.is_ok(), || {
            format!("{why} (log: {})", log.display())
        });
    }
    // The whole boot: it ended, nothing was reported by any checker.
    for c in checks.into_iter().filter(|c| c.name.starts_with("guest.")) {
        let why = c.why;
        t.add(c.name.replacen("guest.", "misuse.boot.", 1), c.pass, || why);
    }
    Ok(())
}
