//! `test`: every check the project has, each a named test, ending with the
//! closing line `N passed, N failed`.

use crate::demo::{self, Ready};
use crate::kernel::{self, Built};
use crate::ktap::{self, Outcome, TestResult};
use crate::modules::make_external;
use crate::qemu::BootOpts;
use crate::util::{files_below, say, write_if_changed, Result};
use crate::Project;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The results of every group of tests.
#[derive(Default)]
pub struct Tally {
    pub results: Vec<TestResult>,
    /// Why each failed test failed, shown at the end.
    pub reasons: Vec<String>,
}

impl Tally {
    pub fn add(&mut self, name: String, pass: bool, why: impl FnOnce() -> String) {
        if !pass {
            self.reasons.push(format!("{name}: {}", why()));
        }
        let outcome = if pass { Outcome::Pass } else { Outcome::Fail };
        self.results.push(TestResult { name, outcome });
    }

    fn count(&self, o: Outcome) -> usize {
        self.results.iter().filter(|r| r.outcome == o).count()
    }
}

/// Parses libtest's output (`test a::b ... ok` lines) of package `pkg`.
pub fn libtest_results(pkg: &str, out: &str) -> Vec<TestResult> {
    out.lines()
        .filter_map(|l| l.strip_prefix("test "))
        .filter_map(|l| l.rsplit_once(" ... "))
        .map(|(name, status)| TestResult {
            name: format!("{pkg}.{}", name.trim()),
            outcome: match status.trim() {
                "ok" => Outcome::Pass,
                "ignored" => Outcome::Skip,
                _ => Outcome::Fail,
            },
        })
        .collect()
}

/// The host-side packages: xtask itself and the guest's userspace tools.
const HOST_PACKAGES: &[&str] = &["xtask", "eductl", "blkzero"];

fn host_unit_tests(p: &Project, t: &mut Tally) {
    for pkg in HOST_PACKAGES {
        say("test", &format!("host: cargo test -p {pkg}"));
        let out = Command::new("cargo")
            .args([
                "test",
                "--quiet",
                "-p",
                pkg,
                "--",
                "--test-threads=2",
                "--format=pretty",
            ])
            .current_dir(&p.root)
            .output();
        let whole = format!("{pkg}.cargo_test");
        match out {
            Ok(o) => {
                let text = String::from_utf8_lossy(&o.stdout);
                let results = libtest_results(pkg, &text);
                if results.is_empty()
                    || !o.status.success() && results.iter().all(|r| r.outcome != Outcome::Fail)
                {
                    let err = String::from_utf8_lossy(&o.stderr).into_owned();
                    t.add(whole, false, || {
                        err.lines().take(10).collect::<Vec<_>>().join(" / ")
                    });
                }
                for r in results {
                    let pass = r.outcome != Outcome::Fail;
                    t.add(r.name, pass, || format!("failed (see cargo test -p {pkg})"));
                }
            }
            Err(e) => t.add(whole, false, || e.to_string()),
        }
    }
}

/// Rust files of the project that go into the kernel or its modules.
fn kernel_rust_files(p: &Project) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for dir in ["kernel/rust", "drivers", "tests"] {
        files.extend(
            files_below(&p.root.join(dir))?
                .into_iter()
                .filter(|f| f.extension().is_some_and(|e| e == "rs")),
        );
    }
    Ok(files)
}

/// Runs a rustfmt check; the test fails with the files it would change.
fn rustfmt_gate(t: &mut Tally, name: &str, cmd: &mut Command) -> Result {
    let out = cmd.output()?;
    let diff = String::from_utf8_lossy(&out.stdout).into_owned();
    t.add(name.into(), out.status.success(), || {
        diff.lines()
            .filter(|l| l.starts_with("Diff in"))
            .collect::<Vec<_>>()
            .join(" / ")
    });
    Ok(())
}

fn quality_gates(p: &Project, b: &Built, ready: &Ready, t: &mut Tally) -> Result {
    say("test", "host: rustfmt, clippy and checkpatch gates");
    // rustfmt with the kernel's own configuration for kernel-side code.
    let files = kernel_rust_files(p)?;
    if !files.is_empty() {
        let mut cmd = Command::new("rustfmt");
        cmd.args(["--check", "--edition", "2021", "--config-path"])
            .arg(b.src.join(".rustfmt.toml"))
            .args(&files);
        rustfmt_gate(t, "quality.rustfmt_kernel_code", &mut cmd)?;
    }
    let mut cmd = Command::new("cargo");
    cmd.args(["fmt", "--all", "--check"]).current_dir(&p.root);
    rustfmt_gate(t, "quality.rustfmt_host_code", &mut cmd)?;
    let out = Command::new("cargo")
        .args(["clippy", "--quiet", "--workspace", "--all-targets", "--"])
        .args(["-D", "warnings"])
        .current_dir(&p.root)
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    t.add(
        "quality.clippy_host_code".into(),
        out.status.success(),
        || {
            err.lines()
                .filter(|l| l.starts_with("error") || l.starts_with("warning"))
                .take(5)
                .collect::<Vec<_>>()
                .join(" / ")
        },
    );
    // The kernel and modules are always built with CLIPPY=1.
    let warnings = kernel::overlay_warnings(b);
    t.add(
        "quality.clippy_kernel_overlay".into(),
        warnings.is_empty(),
        || warnings.join(" / "),
    );
    let mod_warnings: Vec<String> = ready
        .modules
        .iter()
        .flat_map(|m| m.warnings.clone())
        .collect();
    t.add(
        "quality.clippy_modules".into(),
        mod_warnings.is_empty(),
        || mod_warnings.join(" / "),
    );
    // A PCI driver's module device table reaches modpost: the module has
    // `alias=pci:` lines, so udev loads it for its devices.
    let mut no_alias = Vec::new();
    for m in &ready.modules {
        let src = p
            .root
            .join("drivers")
            .join(&m.name)
            .join(format!("{}.rs", m.name));
        let text = fs::read_to_string(&src).unwrap_or_default();
        if text.contains("pci_device_table!") && !contains(&fs::read(&m.ko)?, b"alias=pci:v") {
            no_alias.push(m.name.clone());
        }
    }
    t.add(
        "quality.pci_drivers_have_modalias".into(),
        no_alias.is_empty(),
        || format!("no alias=pci: line in {}", no_alias.join(", ")),
    );
    // Drivers contain no `unsafe`: what they need belongs in the bindings.
    // Every file counts (an `include!`d file need not end in `.rs`), and
    // only whole-line comments are skipped (a `//` inside a string is not a
    // comment).
    let mut with_unsafe = Vec::new();
    let mut bad_kbuild = Vec::new();
    let mut driver_files = files_below(&p.root.join("drivers"))?;
    driver_files.extend(files_below(&p.root.join("tests/misuse"))?);
    for f in driver_files {
        let rel = f.strip_prefix(&p.root).unwrap_or(&f).display().to_string();
        let text = String::from_utf8_lossy(&fs::read(&f)?).into_owned();
        let name = f.file_name().unwrap_or_default().to_string_lossy();
        if name == "Kbuild" {
            if let Some(l) = text.lines().find(|l| !kbuild_line_allowed(l)) {
                bad_kbuild.push(format!("{rel}: `{l}`"));
            }
        } else if DESCRIPTIONS.contains(&name.as_ref())
            || name.ends_with(".md")
            || name.ends_with(".sh")
        {
            // Prose and guest scripts; `include!` of them is refused below.
        } else if unsafe_words(&text) > 0 || includes_other_than_wrapper(&text) {
            with_unsafe.push(rel);
        }
    }
    t.add(
        "quality.driver_kbuild_plain".into(),
        bad_kbuild.is_empty(),
        || {
            format!(
                "a driver's Kbuild may only name its objects and C include paths (build flags such as \
                 rustflags-remove-y would lift -Funsafe_code): {}",
                bad_kbuild.join(", ")
            )
        },
    );
    t.add(
        "quality.no_unsafe_in_drivers".into(),
        with_unsafe.is_empty(),
        || format!("`unsafe` in {}", with_unsafe.join(", ")),
    );
    // checkpatch on every C file of the project.
    let checkpatch = b.src.join("scripts/checkpatch.pl");
    for dir in ["kernel/rust/helpers", "drivers", "tests"] {
        for f in files_below(&p.root.join(dir))? {
            if !f.extension().is_some_and(|e| e == "c" || e == "h") {
                continue;
            }
            let rel = f.strip_prefix(&p.root).unwrap_or(&f).display().to_string();
            let out = Command::new("perl")
                .arg(&checkpatch)
                .args(["--no-tree", "--terse", "--show-types", "-f"])
                .arg(&f)
                .output()?;
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            t.add(
                format!("quality.checkpatch.{rel}"),
                out.status.success(),
                || text.lines().take(5).collect::<Vec<_>>().join(" / "),
            );
        }
    }
    Ok(())
}

/// Whether `needle` occurs in `hay`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The error headlines of a build log: the compiler's `error[…]`/`error:`
/// lines (without its closing "aborting due to" line) and modpost's
/// `ERROR:` lines.
pub fn error_headlines(log: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in log.iter().map(|l| l.trim()) {
        let is_error = l.starts_with("error[")
            || l.starts_with("error: ") && !l.starts_with("error: aborting due to")
            || l.starts_with("ERROR: modpost: ");
        if is_error && !out.iter().any(|o| o == l) {
            out.push(l.to_string());
        }
    }
    out
}

/// Occurrences of the word `unsafe` in a driver's file, outside whole-line
/// `//` comments.
pub fn unsafe_words(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .flat_map(|l| l.split(|c: char| !(c.is_alphanumeric() || c == '_')))
        .filter(|w| *w == "unsafe")
        .count()
}

/// Files of driver and case folders that describe them (not source).
const DESCRIPTIONS: &[&str] = &["misuse.txt", "expected.txt"];

/// Whether Rust source `include!`s anything but the compile-fail wrapper
/// (an included file escapes the word check of its own kind of file).
pub fn includes_other_than_wrapper(text: &str) -> bool {
    // Macro invocations may have blanks anywhere (`include ! ( "x" )`).
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    compact
        .match_indices("include!")
        .any(|(at, _)| !compact[at..].starts_with("include!(\"case_module.rs\")"))
}

/// Whether a line may appear in a driver's `Kbuild`: blank, a comment,
/// `obj-m := <name>.o`, or the shared C include path.
pub fn kbuild_line_allowed(line: &str) -> bool {
    let l = line.trim();
    if l.is_empty() || l.starts_with('#') {
        return true;
    }
    if l == "ccflags-y := -I$(DMABRIDGE_INCLUDE)" {
        return true;
    }
    let Some(objs) = l.strip_prefix("obj-m := ") else {
        return false;
    };
    objs.split_whitespace().all(|o| {
        o.strip_suffix(".o").is_some_and(|n| {
            !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    })
}

/// Checks that a compile-fail case's build failed exactly as `expected.txt`
/// says: every line of it appears in the compiler output, and every error
/// headline of the output is one of the expected lines (no other error).
/// A line of `expected.txt` that starts like a headline (`error`, `ERROR:`)
/// names an error; other lines are details that must appear too.
pub fn compile_fail_verdict(
    success: bool,
    log: &[String],
    expected: &str,
) -> std::result::Result<(), String> {
    if success {
        return Err("the misuse compiled: the binding no longer prevents it".into());
    }
    let all = log.join("\n");
    let wants: Vec<&str> = expected
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for want in &wants {
        if !all.contains(want) {
            return Err(format!(
                "build failed, but without the expected error `{want}` (errors: {})",
                error_headlines(log).join(" / ")
            ));
        }
    }
    let named: Vec<&str> = wants
        .iter()
        .copied()
        .filter(|w| w.starts_with("error") || w.starts_with("ERROR:"))
        .collect();
    if named.is_empty() {
        return Err("expected.txt names no error line (`error[…]`, `ERROR: modpost: …`)".into());
    }
    for h in error_headlines(log) {
        // A compiler error must be named whole; modpost's lines carry a
        // build path, so its expected line is the start.
        let matches = |w: &&str| {
            if h.starts_with("ERROR: modpost: ") {
                h.starts_with(*w)
            } else {
                h == *w
            }
        };
        if !named.iter().any(matches) {
            return Err(format!("build failed with an unexpected error too: `{h}`"));
        }
    }
    Ok(())
}

/// The outcome of one compile-fail case.
pub struct CaseOutcome {
    /// Ok when the build failed with every expected error.
    pub verdict: std::result::Result<(), String>,
    /// The compiler's first `error` line.
    pub first_error: Option<String>,
}

/// Builds the compile-fail case in `case` (a module folder with `Kbuild` and
/// `expected.txt`) as `name`.
pub fn compile_fail_case(p: &Project, b: &Built, case: &Path, name: &str) -> Result<CaseOutcome> {
    let expected = fs::read_to_string(case.join("expected.txt")).unwrap_or_default();
    let dest = p.build.join("compile-fail").join(name);
    // The shared module wrapper some cases `include!`.
    let wrapper = p.root.join("tests/compile-fail/case_module.rs");
    write_if_changed(&dest.join("case_module.rs"), &fs::read(&wrapper)?)?;
    let r = make_external(p, b, case, &dest, &format!("compile-fail-{name}"))?;
    let verdict = if expected.trim().is_empty() {
        Err("expected.txt is missing or empty".to_string())
    } else {
        compile_fail_verdict(r.success, &r.lines, &expected)
    };
    Ok(CaseOutcome {
        verdict,
        first_error: first_error(&r.lines),
    })
}

/// The compiler's first `error` line, with its `expected …, found …` label
/// when it has one (type mismatches say little without it).
pub fn first_error(lines: &[String]) -> Option<String> {
    let is_error = |l: &str| l.starts_with("error[") || l.starts_with("error: ");
    let i = lines.iter().position(|l| is_error(l.trim()))?;
    let mut first = lines[i].trim().to_string();
    let label = lines[i + 1..]
        .iter()
        .take_while(|l| !is_error(l.trim()))
        .find_map(|l| l.find("expected `").map(|at| &l[at..]))
        .filter(|l| l.contains(", found `"));
    if let Some(label) = label {
        first.push_str(": ");
        first.push_str(label.trim());
    }
    Some(first)
}

/// Every compile-fail case: `tests/compile-fail/<name>/` and the Rust half of
/// each evidence class, `tests/evidence/rust/<class>/`.
pub fn compile_fail_cases(p: &Project) -> Vec<(String, PathBuf)> {
    let mut cases = Vec::new();
    if let Ok(entries) = fs::read_dir(p.root.join("tests/compile-fail")) {
        for e in entries.flatten() {
            if e.path().join("Kbuild").exists() {
                cases.push((e.file_name().to_string_lossy().into_owned(), e.path()));
            }
        }
    }
    if let Ok(entries) = fs::read_dir(p.root.join("tests/evidence/rust")) {
        for e in entries.flatten() {
            if e.path().join("Kbuild").exists() {
                let name = evidence_case_name(&e.file_name().to_string_lossy());
                cases.push((name, e.path()));
            }
        }
    }
    cases.sort();
    cases
}

/// The compile-fail name of evidence class `slug`'s Rust case.
pub fn evidence_case_name(slug: &str) -> String {
    format!("evidence_{}", slug.replace('-', "_"))
}

/// Builds a compile-fail case's `twin/`: the same code without the misuse,
/// which must build, so that the case fails only because of its misuse.
pub fn twin_builds(
    p: &Project,
    b: &Built,
    case: &Path,
    name: &str,
) -> Result<std::result::Result<(), String>> {
    let dest = p.build.join("compile-fail").join(format!("{name}-twin"));
    let wrapper = p.root.join("tests/compile-fail/case_module.rs");
    write_if_changed(&dest.join("case_module.rs"), &fs::read(&wrapper)?)?;
    let r = make_external(
        p,
        b,
        &case.join("twin"),
        &dest,
        &format!("compile-fail-{name}-twin"),
    )?;
    Ok(if r.success {
        Ok(())
    } else {
        Err(format!(
            "the twin without the misuse does not build: {}",
            error_headlines(&r.lines).join(" / ")
        ))
    })
}

fn compile_fail(p: &Project, b: &Built, t: &mut Tally) -> Result {
    for (name, case) in compile_fail_cases(p) {
        say("test", &format!("compile-fail: {name}"));
        let outcome = compile_fail_case(p, b, &case, &name)?;
        let why = outcome.verdict.clone().err().unwrap_or_default();
        t.add(
            format!("compile_fail.{name}"),
            outcome.verdict.is_ok(),
            || why,
        );
        if let Some(slug) = name.strip_prefix("evidence_") {
            let first = outcome.first_error.clone().unwrap_or_default();
            t.add(
                format!("compile_fail.{name}.doc_matches_run"),
                crate::evidence::doc_shows_rust_error(p, &first),
                || format!("docs/evidence.md ({slug}) does not show `{first}`: rerun `cargo xtask evidence`"),
            );
        }
        if case.join("twin/Kbuild").exists() {
            let verdict = twin_builds(p, b, &case, &name)?;
            let why = verdict.clone().err().unwrap_or_default();
            t.add(
                format!("compile_fail.{name}.twin_builds"),
                verdict.is_ok(),
                || why,
            );
        }
    }
    Ok(())
}

/// What a guest run must contain: for each group (a test-name prefix), the
/// least number of tests that must pass in it. Parsed from
/// `tests/manifest.txt` (`group count` lines).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Manifest(pub Vec<(String, usize)>);

impl Manifest {
    pub fn parse(text: &str) -> std::result::Result<Manifest, String> {
        let mut m = Vec::new();
        for l in text.lines().map(str::trim) {
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let mut w = l.split_whitespace();
            let (Some(group), Some(n), None) = (w.next(), w.next(), w.next()) else {
                return Err(format!("manifest line `{l}` is not `group count`"));
            };
            let n = n
                .parse()
                .map_err(|_| format!("manifest line `{l}`: `{n}` is not a count"))?;
            m.push((group.to_string(), n));
        }
        Ok(Manifest(m))
    }

    pub fn load(p: &Project) -> Result<Manifest> {
        Manifest::load_file(p, "tests/manifest.txt")
    }

    /// The manifest in `rel` (relative to the project).
    pub fn load_file(p: &Project, rel: &str) -> Result<Manifest> {
        let path = p.root.join(rel);
        let text = crate::util::io_ctx(fs::read_to_string(&path), "cannot read", &path)?;
        Manifest::parse(&text).map_err(crate::util::Error)
    }

    /// The groups with fewer passing tests than required, described.
    pub fn shortfalls(&self, results: &[TestResult]) -> Vec<String> {
        self.0
            .iter()
            .filter_map(|(group, want)| {
                let passed = results
                    .iter()
                    .filter(|r| r.outcome == Outcome::Pass)
                    .filter(|r| {
                        r.name == *group
                            || r.name
                                .strip_prefix(group.as_str())
                                .is_some_and(|rest| rest.starts_with('.'))
                    })
                    .count();
                (passed < *want).then(|| format!("group {group}: {passed} passed, {want} required"))
            })
            .collect()
    }
}

/// One verdict on a guest run.
pub struct Check {
    pub name: String,
    pub pass: bool,
    pub why: String,
}

/// Judges one guest boot the same way for the real suites and the canaries:
/// every KTAP leaf, then the run as a whole (it finished, its script exited
/// 0, every plan was met, no suite line says `not ok`, every required group
/// is there, and no checker reported anything in the console or the kernel
/// log).
pub fn judge_guest(
    boot: &crate::qemu::Boot,
    timeout: Duration,
    manifest: &Manifest,
    log: &Path,
) -> (ktap::Report, Vec<Check>) {
    let report = ktap::parse(&boot.log);
    // Failed leaves keep their own names.
    let mut checks: Vec<Check> = report
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Fail)
        .map(|r| Check {
            name: r.name.clone(),
            pass: false,
            why: format!("not ok in the guest (console log: {})", log.display()),
        })
        .collect();
    let mut check = |name: &str, pass: bool, why: String| {
        checks.push(Check {
            name: format!("guest.{name}"),
            pass,
            why,
        })
    };
    let ended = !boot.timed_out && boot.exit.is_some();
    check(
        "boot_ran_to_the_end",
        ended,
        if boot.timed_out {
            format!("QEMU timed out after {}s", timeout.as_secs())
        } else {
            let last = |f: &dyn Fn(&str) -> bool| {
                boot.log
                    .lines()
                    .rfind(|l| f(l))
                    .unwrap_or("none")
                    .to_string()
            };
            format!(
                "the guest stopped before the test script finished (last console line: {:?}; {})",
                last(&|l| !l.starts_with("qemu: ")),
                last(&|l| l.starts_with(crate::qemu::QEMU_ENDED))
            )
        },
    );
    check(
        "script_exit_status_zero",
        boot.exit == Some(0),
        match boot.exit {
            Some(code) => format!("the guest script exited with status {code}"),
            None => "the guest script printed no exit status".into(),
        },
    );
    // The boot's own KUnit suites print results too: count only what came
    // after the guest script started.
    let script_results = boot
        .log
        .split_once(crate::qemu::SCRIPT_MARKER)
        .map_or(0, |(_, after)| ktap::parse(after).results.len());
    check(
        "ktap_output_present",
        script_results > 0,
        "the guest script printed no KTAP results".into(),
    );
    check(
        "ktap_plans_complete",
        report.plan_errors.is_empty(),
        report.plan_errors.join(" / "),
    );
    check(
        "suite_lines_ok",
        report.failed_suites.is_empty(),
        format!(
            "suite line says not ok: {}",
            report.failed_suites.join(", ")
        ),
    );
    let short = manifest.shortfalls(&report.results);
    check(
        "required_groups_present",
        short.is_empty(),
        format!("missing tests (tests/manifest.txt): {}", short.join(" / ")),
    );
    check(
        "no_checker_reports",
        report.findings.is_empty(),
        report
            .findings
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join(" | "),
    );
    (report, checks)
}

/// The guest step: every script of `guest/tests` in one boot, or only
/// `only` (then the checks of the whole step, the manifest's other groups and
/// the comparison with docs/comparison.md, do not apply).
fn guest(p: &Project, ready: &Ready, only: Option<&[String]>, t: &mut Tally) -> Result {
    let mut manifest = Manifest::load(p)?;
    let timeout = Duration::from_secs(900);
    let start = Instant::now();
    let (boot, log) = match only {
        None => {
            every_script_in_manifest(p, &manifest, t)?;
            every_suite(p, ready, "test", timeout)?
        }
        Some(only) => {
            let scripts = guest_scripts(p)?;
            manifest.0.retain(|(g, _)| {
                BOOT_GROUPS.contains(&g.as_str())
                    || script_of(&scripts, g).is_some_and(|s| only.iter().any(|o| o == s))
            });
            say(
                "test",
                &format!(
                    "guest: only {}",
                    if only.is_empty() {
                        "the boot's own groups".to_string()
                    } else {
                        only.join(", ")
                    }
                ),
            );
            crate::canaries::boot_runner(
                p,
                ready,
                crate::canaries::RunnerBoot {
                    name: "test-selected".into(),
                    modules: ready.modules.iter().map(|m| m.ko.clone()).collect(),
                    tests: only
                        .iter()
                        .map(|s| (s.clone(), p.root.join(format!("guest/tests/{s}.sh"))))
                        .collect(),
                    script: None,
                    append: Vec::new(),
                    timeout,
                    hotplug: false,
                },
            )?
        }
    };
    say(
        "test",
        &format!("guest run took {}", crate::util::human(start.elapsed())),
    );
    let (report, checks) = judge_guest(&boot, timeout, &manifest, &log);
    if only.is_none() {
        // The published comparison states this run's numbers.
        let wrong = crate::compare::doc_disagreements(p, &report.results)?;
        t.add(
            "docs.comparison_matches_run".into(),
            wrong.is_empty(),
            || format!("{} (rerun `cargo xtask compare`)", wrong.join("; ")),
        );
    }
    t.results.extend(
        report
            .results
            .iter()
            .filter(|r| r.outcome != Outcome::Fail)
            .cloned(),
    );
    for c in checks {
        let why = c.why;
        t.add(c.name, c.pass, || why);
    }
    Ok(())
}

/// The hot-unplug suite (guest/hotplug/hotplug.sh) in its own boot, whose
/// machine has devices in hot-pluggable slots: removed under I/O from edu,
/// rnvme and the kernel's nvme. Judged as the main boot, results named
/// `hotplug.…`.
fn hotplug(p: &Project, ready: &Ready, t: &mut Tally) -> Result {
    let manifest = Manifest::parse("hotplug 5\ncheckers 2\n").map_err(crate::util::Error)?;
    let timeout = Duration::from_secs(600);
    let start = Instant::now();
    say("hotplug", "booting with devices in hot-pluggable slots");
    let (boot, log) = crate::canaries::boot_runner(
        p,
        ready,
        crate::canaries::RunnerBoot {
            name: "hotplug".into(),
            modules: ready.modules.iter().map(|m| m.ko.clone()).collect(),
            tests: vec![("hotplug".into(), p.root.join("guest/hotplug/hotplug.sh"))],
            script: None,
            append: Vec::new(),
            timeout,
            hotplug: true,
        },
    )?;
    say(
        "hotplug",
        &format!("guest run took {}", crate::util::human(start.elapsed())),
    );
    judge_named("hotplug", &boot, timeout, &manifest, &log, t);
    Ok(())
}

/// Boots `ready` running every guest script; the boot and its log.
fn every_suite(
    p: &Project,
    ready: &Ready,
    name: &str,
    timeout: Duration,
) -> Result<(crate::qemu::Boot, PathBuf)> {
    let log = p.build.join(format!("logs/{name}.log"));
    let opts = BootOpts::quiet(log.clone(), timeout);
    let script = p.root.join("guest/run-tests.sh");
    Ok((demo::boot_script(p, ready, name, script, &[], opts)?, log))
}

/// Judges a boot as `judge_guest` does, naming every result `{name}.…`.
pub fn judge_named(
    name: &str,
    boot: &crate::qemu::Boot,
    timeout: Duration,
    manifest: &Manifest,
    log: &Path,
    t: &mut Tally,
) {
    let (report, checks) = judge_guest(boot, timeout, manifest, log);
    t.results.extend(
        report
            .results
            .into_iter()
            .filter(|r| r.outcome != Outcome::Fail)
            .map(|r| TestResult {
                name: format!("{name}.{}", r.name),
                ..r
            }),
    );
    for c in checks {
        let why = c.why;
        t.add(format!("{name}.{}", c.name), c.pass, || why);
    }
}

/// A test script missing from the manifest could print nothing and pass.
fn every_script_in_manifest(p: &Project, manifest: &Manifest, t: &mut Tally) -> Result {
    let unlisted: Vec<String> = guest_scripts(p)?
        .into_iter()
        .filter(|name| !manifest.0.iter().any(|(g, _)| g == name))
        .collect();
    t.add(
        "guest.every_script_in_manifest".into(),
        unlisted.is_empty(),
        || {
            format!(
                "guest/tests/ scripts without a tests/manifest.txt group: {}",
                unlisted.join(", ")
            )
        },
    );
    Ok(())
}

/// The steps of `cargo xtask test`, in the order they run.
pub const STEPS: &[&str] = &[
    "host",
    "quality",
    "ide",
    "harness_canaries",
    "compile_fail",
    "misuse",
    "guest",
    "hotplug",
    "debugger",
    "evidence",
    "export",
    "arm64",
];

/// The guest test scripts (`guest/tests/NAME.sh`), by name.
fn guest_scripts(p: &Project) -> Result<Vec<String>> {
    let mut names: Vec<String> = files_below(&p.root.join("guest/tests"))?
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "sh"))
        .filter_map(|f| f.file_stem().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    Ok(names)
}

/// The guest script that prints group `group`: the script of that name, or
/// the longest one whose name and `_` start it (`edu_c_eductl_selftest` is
/// printed by `edu_c.sh`).
fn script_of<'a>(scripts: &'a [String], group: &str) -> Option<&'a str> {
    scripts
        .iter()
        .filter(|s| group == s.as_str() || group.starts_with(&format!("{s}_")))
        .max_by_key(|s| s.len())
        .map(String::as_str)
}

/// Groups every guest boot prints, whichever scripts run.
const BOOT_GROUPS: &[&str] = &["rust_doctests_kernel", "checkers"];

/// What `cargo xtask test` arguments select.
#[derive(Debug, Default, PartialEq)]
struct Selection {
    /// Steps to run whole (all of them when nothing is selected).
    steps: Vec<String>,
    /// Canaries named as `harness_canaries.NAME`.
    canaries: Vec<String>,
    /// Guest scripts to run in one guest boot (without the whole guest step).
    scripts: Vec<String>,
    /// A guest boot runs for its own groups (doctests, checkers) alone.
    boot: bool,
}

impl Selection {
    /// Sorts the arguments: a step, `harness_canaries.NAME`, or a guest
    /// group or test (`dma`, `edu_c`, `edu.edu_loads`: the script printing
    /// its group runs), `xtask`/`eductl` (host tests).
    fn parse(args: &[String], scripts: &[String]) -> Result<Selection> {
        let mut sel = Selection::default();
        for a in args {
            let group = a.split('.').next().unwrap_or("");
            let step = match group {
                "xtask" | "eductl" => Some("host"),
                g if STEPS.contains(&g) => Some(g),
                _ => None,
            };
            if let Some(step) = step {
                if let Some(c) = a.strip_prefix("harness_canaries.") {
                    sel.canaries.push(c.to_string());
                }
                if !sel.steps.iter().any(|s| s == step) {
                    sel.steps.push(step.to_string());
                }
            } else if let Some(s) = script_of(scripts, group) {
                if !sel.scripts.iter().any(|x| x == s) {
                    sel.scripts.push(s.to_string());
                }
            } else if BOOT_GROUPS.contains(&group) {
                // Printed by any guest boot, with or without scripts.
                sel.boot = true;
            } else {
                crate::bail!(
                    "no test or group `{a}` (steps: {}; guest groups: {}; `cargo xtask test --list` lists every test)",
                    STEPS.join(", "),
                    scripts.join(", ")
                );
            }
        }
        Ok(sel)
    }

    fn everything(&self) -> bool {
        self.steps.is_empty() && self.scripts.is_empty() && !self.boot
    }

    fn on(&self, step: &str) -> bool {
        self.everything() || self.steps.iter().any(|s| s == step)
    }

    /// Whether a guest boot of only the selected scripts runs.
    fn guest_subset(&self) -> bool {
        !self.on("guest") && (!self.scripts.is_empty() || self.boot)
    }
}

/// `cargo xtask test --list`: what can be selected, and every test name of
/// the last run (`build/results/results.ktap`).
/// `cargo xtask test --list`.
pub fn list(p: &Project) -> Result<i32> {
    let scripts = guest_scripts(p)?;
    println!("steps: {}", STEPS.join(" "));
    println!("guest groups (each runs its script): {}", scripts.join(" "));
    for (step, dir) in [
        ("harness_canaries", "tests/canaries"),
        ("compile_fail", "tests/compile-fail"),
        ("misuse", "tests/misuse"),
    ] {
        let mut cases: Vec<String> = fs::read_dir(p.root.join(dir))?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        cases.sort();
        println!("{step}: {}", cases.join(" "));
    }
    let last = p.build.join("results/results.ktap");
    match fs::read_to_string(&last) {
        Ok(k) => {
            let names = ktap::parse(&k).results;
            println!(
                "\nevery test of the last run ({}, {}):",
                names.len(),
                last.display()
            );
            for r in names {
                println!("{}", r.name);
            }
        }
        Err(_) => {
            println!("\n(no run yet: a run of `cargo xtask test` lists every test name here)")
        }
    }
    Ok(0)
}

/// `cargo xtask test [SELECTION]...`: every step, or only what the arguments
/// select (see [`Selection::parse`]); with `fresh`, nothing is replayed (see
/// `cache`). Returns 0 only if every test that ran passed.
pub fn test(p: &Project, args: &[String], fresh: bool) -> Result<i32> {
    let scripts = guest_scripts(p)?;
    crate::cache::enable(fresh);
    let sel = Selection::parse(args, &scripts)?;
    let on = |step: &str| sel.on(step);
    let canaries = sel.canaries.clone();
    let start = Instant::now();
    let mut t = Tally::default();
    if on("host") {
        host_unit_tests(p, &mut t);
    }
    let ready = demo::prepare(p)?;
    if on("quality") {
        quality_gates(p, &ready.kernel, &ready, &mut t)?;
    }
    if on("ide") {
        crate::ide::ide_tests(p, &ready, &mut t)?;
    }
    // The checks of the checks first: the results below count only while
    // the harness turns every canary into a failure.
    if on("harness_canaries") {
        crate::canaries::canary_tests(p, &ready, &canaries, &mut t)?;
    }
    if on("compile_fail") {
        compile_fail(p, &ready.kernel, &mut t)?;
    }
    if on("misuse") {
        crate::misuse::misuse_tests(p, &ready, &mut t)?;
    }
    if on("guest") {
        guest(p, &ready, None, &mut t)?;
    } else if sel.guest_subset() {
        guest(p, &ready, Some(&sel.scripts), &mut t)?;
    }
    if on("hotplug") {
        hotplug(p, &ready, &mut t)?;
    }
    if on("debugger") {
        crate::debugger::gdb_tests(p, &ready, &mut t)?;
    }
    if on("evidence") {
        crate::evidence::c_tests(p, &ready, &mut t)?;
    }
    if on("export") {
        crate::export::export_tests(p, &ready, &mut t)?;
    }
    if on("arm64") {
        crate::arm64::arm64_tests(p, &mut t)?;
    }
    crate::results::write(p, &t.results, &t.reasons)?;
    say(
        "test",
        &format!(
            "results for machines: {} and {}",
            p.build.join("results/results.ktap").display(),
            p.build.join("results/junit.xml").display()
        ),
    );
    let passed = t.count(Outcome::Fail) == 0;
    let replayed = crate::cache::settle(passed);
    if !replayed.is_empty() {
        say(
            "test",
            &format!(
                "{} step(s) replayed from byte-identical inputs of a passing run (--fresh reruns them)",
                replayed.len()
            ),
        );
    }
    summary(&t, start.elapsed());
    Ok(if passed { 0 } else { 1 })
}

fn summary(t: &Tally, took: Duration) {
    let mut groups: Vec<(String, [usize; 3])> = Vec::new();
    for r in &t.results {
        let group = r.name.split('.').next().unwrap_or("").to_string();
        let idx = match r.outcome {
            Outcome::Pass => 0,
            Outcome::Fail => 1,
            Outcome::Skip => 2,
        };
        match groups.iter_mut().find(|(g, _)| *g == group) {
            Some((_, c)) => c[idx] += 1,
            None => {
                let mut c = [0; 3];
                c[idx] = 1;
                groups.push((group, c));
            }
        }
    }
    println!();
    println!(
        "{:<40} {:>6} {:>6} {:>6}",
        "group", "passed", "failed", "skipped"
    );
    for (g, c) in &groups {
        println!("{g:<40} {:>6} {:>6} {:>6}", c[0], c[1], c[2]);
    }
    if !t.reasons.is_empty() {
        println!("\nfailures:");
        for r in &t.reasons {
            println!("  {r}");
        }
    }
    println!("\ntook {}", crate::util::human(took));
    let skipped = t.count(Outcome::Skip);
    if skipped > 0 {
        println!(
            "{} passed, {} failed, {skipped} skipped",
            t.count(Outcome::Pass),
            t.count(Outcome::Fail)
        );
    } else {
        println!(
            "{} passed, {} failed",
            t.count(Outcome::Pass),
            t.count(Outcome::Fail)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn selection_by_step_group_and_test() {
        let scripts = names(&["dma", "edu", "edu_c", "edu_timeout", "harness"]);
        let sel = Selection::parse(&names(&["dma"]), &scripts).unwrap();
        assert_eq!(sel.scripts, names(&["dma"]));
        assert!(!sel.on("guest") && !sel.on("host") && sel.guest_subset());
        let sel = Selection::parse(
            &names(&["edu_c_eductl_selftest.factorial_5", "edu.edu_loads"]),
            &scripts,
        )
        .unwrap();
        assert_eq!(sel.scripts, names(&["edu_c", "edu"]));
        let sel = Selection::parse(
            &names(&["misuse", "harness_canaries.leak", "xtask"]),
            &scripts,
        )
        .unwrap();
        assert_eq!(sel.steps, names(&["misuse", "harness_canaries", "host"]));
        assert_eq!(sel.canaries, names(&["leak"]));
        assert!(!sel.guest_subset());
        let sel = Selection::parse(&names(&["rust_doctests_kernel"]), &scripts).unwrap();
        assert!(sel.scripts.is_empty() && sel.guest_subset());
        assert!(Selection::parse(&names(&["nosuch"]), &scripts).is_err());
        let all = Selection::parse(&[], &scripts).unwrap();
        assert!(all.on("guest") && all.on("evidence") && !all.guest_subset());
    }

    #[test]
    fn libtest_lines() {
        let out = "running 3 tests\ntest a::x ... ok\ntest b::y ... FAILED\ntest c ... ignored\n\ntest result: FAILED.";
        let r = libtest_results("xtask", out);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].name, "xtask.a::x");
        assert_eq!(r[1].outcome, Outcome::Fail);
        assert_eq!(r[2].outcome, Outcome::Skip);
    }

    #[test]
    fn first_errors() {
        let log: Vec<String> = [
            "warning: x",
            "error[E0308]: mismatched types",
            "  --> a.rs:3:5",
            "   |     ^^^^ expected `&DmaDevice`, found `&Device<Core>`",
            "error: aborting due to 1 previous error",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            first_error(&log).unwrap(),
            "error[E0308]: mismatched types: expected `&DmaDevice`, found `&Device<Core>`"
        );
        assert_eq!(
            first_error(&log[4..]).unwrap(),
            "error: aborting due to 1 previous error"
        );
        assert!(first_error(&log[..1]).is_none());
    }

    #[test]
    fn compile_fail_verdicts() {
        let log = vec!["error[E0080]: evaluation of constant value failed".to_string()];
        let whole = "error[E0080]: evaluation of constant value failed\n";
        assert!(compile_fail_verdict(false, &log, whole).is_ok());
        assert!(compile_fail_verdict(true, &log, whole).is_err());
        assert!(compile_fail_verdict(false, &log, "error[E0599]\n").is_err());
        assert!(compile_fail_verdict(false, &log, &format!("# comment\n{whole}\n")).is_ok());
        // A truncated headline does not name an error.
        assert!(compile_fail_verdict(false, &log, "error[E0080]\n").is_err());
        // Only details and no named error: not a verdict.
        assert!(compile_fail_verdict(false, &log, "evaluation\n").is_err());
        // An extra error fails the case.
        let two: Vec<String> = [
            "error[E0080]: evaluation of constant value failed",
            "error[E0308]: mismatched types",
            "error: aborting due to 2 previous errors",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let e = compile_fail_verdict(false, &two, whole).unwrap_err();
        assert!(e.contains("unexpected error too: `error[E0308]"), "{e}");
        let both = format!("{whole}error[E0308]: mismatched types\n");
        assert!(compile_fail_verdict(false, &two, &both).is_ok());
        let modpost = vec![
            "ERROR: modpost: \"rust_build_error\" [x.ko] undefined!".to_string(),
            "make[2]: *** [Makefile:1] Error 1".to_string(),
        ];
        assert!(
            compile_fail_verdict(false, &modpost, "ERROR: modpost: \"rust_build_error\"\n").is_ok()
        );
    }

    #[test]
    fn unsafe_words_and_kbuild_lines() {
        assert_eq!(unsafe_words("// unsafe\nlet x = 1;"), 0);
        assert_eq!(unsafe_words("quiet!(\"//\" unsafe x);"), 1);
        assert_eq!(unsafe_words("let s = \"http://x\"; unsafe { f() }"), 1);
        assert_eq!(unsafe_words("unsafe_op();"), 0);
        assert!(!includes_other_than_wrapper(
            "include!(\"case_module.rs\");"
        ));
        assert!(includes_other_than_wrapper("include!(\"suite.inc\");"));
        assert!(includes_other_than_wrapper("core::include ! ( \"x\" )"));
        assert!(kbuild_line_allowed("obj-m := edu.o"));
        assert!(kbuild_line_allowed("ccflags-y := -I$(DMABRIDGE_INCLUDE)"));
        assert!(kbuild_line_allowed("# comment"));
        assert!(!kbuild_line_allowed("rustflags-remove-y := -Funsafe_code"));
        assert!(!kbuild_line_allowed("RUSTFLAGS_edu.o := -Aunsafe_code"));
        assert!(!kbuild_line_allowed("obj-m := edu.o $(shell x)"));
    }

    #[test]
    fn manifests() {
        let m = Manifest::parse("# c\nharness 2\n\ndma 1\n").unwrap();
        assert_eq!(
            m.0,
            vec![("harness".to_string(), 2), ("dma".to_string(), 1)]
        );
        assert!(Manifest::parse("harness\n").is_err());
        assert!(Manifest::parse("harness two\n").is_err());
        let r = |name: &str, outcome| TestResult {
            name: name.into(),
            outcome,
        };
        let results = vec![
            r("harness.a", Outcome::Pass),
            r("harness.b", Outcome::Skip),
            r("harnessx.c", Outcome::Pass),
            r("dma", Outcome::Pass),
        ];
        assert_eq!(
            m.shortfalls(&results),
            vec!["group harness: 1 passed, 2 required".to_string()]
        );
    }
}
