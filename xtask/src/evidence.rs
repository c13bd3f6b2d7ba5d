//! `evidence`: each bug class of `tests/evidence/` once in C — the
//! edu C twin with that one bug patched in, run under the test kernel's
//! checkers — and once attempted in Rust against dmabridge's API, which must
//! not compile. Writes `docs/evidence.md` from what the builds and boots show.

use crate::demo::Ready;
use crate::initramfs::{self, Contents};
use crate::kernel::Built;
use crate::ktap;
use crate::modules::{make_external, Module};
use crate::qemu::{self, BootOpts, DEFAULT_MEMORY_MIB};
use crate::test::{compile_fail_case, evidence_case_name, Tally};
use crate::util::{files_below, io_ctx, run, say, write_if_changed, Result};
use crate::{bail, demo, Project};
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// One bug class: its C half `tests/evidence/c/<slug>/` (`bug.patch` with a
/// mail-style header, `exercise.sh`, `class.txt` with how to run it) and its
/// Rust half `tests/evidence/rust/<slug>/` (a compile-fail case).
pub struct Class {
    pub slug: String,
    pub c_dir: PathBuf,
    pub rust_dir: PathBuf,
    /// From the patch header: `Subject: [EVIDENCE] …`, the body, `Modeled-on:`.
    pub title: String,
    pub c_bug: String,
    pub upstream: String,
    /// The Rust case's `//!` documentation.
    pub rust_attempt: String,
    fields: Fields,
}

/// `key: value` fields of a description file (`class.txt`, `canary.txt`,
/// `misuse.txt`).
#[derive(Debug, Default)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The first value of `key`, or "".
    pub fn get(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `key`.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// The folders below `dir` that hold a description file `file`: (folder
/// name, folder, its fields), by name.
pub fn described_folders(
    dir: &std::path::Path,
    file: &str,
) -> Result<Vec<(String, PathBuf, Fields)>> {
    let mut out = Vec::new();
    for e in io_ctx(fs::read_dir(dir), "cannot read", dir)?.flatten() {
        let path = e.path();
        let txt = path.join(file);
        if txt.exists() {
            let fields = Fields(parse_fields(&fs::read_to_string(&txt)?));
            out.push((e.file_name().to_string_lossy().into_owned(), path, fields));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

impl Class {
    fn get(&self, key: &str) -> &str {
        self.fields.get(key)
    }

    fn memory_mib(&self) -> Result<u32> {
        match self.get("memory-mib") {
            "" => Ok(DEFAULT_MEMORY_MIB),
            v => v
                .parse()
                .map_err(|_| crate::util::Error(format!("{}: bad memory-mib `{v}`", self.slug))),
        }
    }
}

/// Parses `key: value` lines; a line starting with whitespace continues the
/// previous value.
pub fn parse_fields(text: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            if let Some((_, v)) = fields.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            fields.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    fields
}

/// The header of a bug patch: (title, description, upstream fix).
pub fn patch_header(patch: &str) -> Option<(String, String, String)> {
    let head = &patch[..patch.find("\n---\n")?];
    let (subject, rest) = head.split_once("\n\n")?;
    let title = subject
        .strip_prefix("Subject: [EVIDENCE] ")?
        .trim()
        .to_string();
    let (body, upstream) = rest.split_once("Modeled-on: ")?;
    let join = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    Some((title, join(body), join(upstream)))
}

/// The `//!` documentation of a Rust case, without its `Must not build:`.
pub fn case_doc(src: &str) -> String {
    let doc: Vec<&str> = src
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(str::trim)
        .collect();
    let doc = doc.join(" ");
    doc.strip_prefix("Must not build: ")
        .unwrap_or(&doc)
        .to_string()
}

/// Every class, in folder order.
pub fn classes(p: &Project) -> Result<Vec<Class>> {
    let dir = p.root.join("tests/evidence/c");
    let mut out = Vec::new();
    for e in io_ctx(fs::read_dir(&dir), "cannot read", &dir)?.flatten() {
        let c_dir = e.path();
        if !c_dir.join("bug.patch").exists() {
            continue;
        }
        let slug = e.file_name().to_string_lossy().into_owned();
        let patch = fs::read_to_string(c_dir.join("bug.patch"))?;
        let Some((title, c_bug, upstream)) = patch_header(&patch) else {
            bail!(
                "tests/evidence/c/{slug}/bug.patch needs a header: \
                 `Subject: [EVIDENCE] …`, a blank line, the bug, `Modeled-on: …`, `---`"
            );
        };
        let rust_dir = p.root.join("tests/evidence/rust").join(&slug);
        let rs = files_below(&rust_dir)?
            .into_iter()
            .find(|f| f.extension().is_some_and(|e| e == "rs"));
        let Some(rs) = rs else {
            bail!("tests/evidence/rust/{slug}/ has no Rust case");
        };
        let c = Class {
            rust_attempt: case_doc(&fs::read_to_string(rs)?),
            fields: Fields(parse_fields(&fs::read_to_string(c_dir.join("class.txt"))?)),
            slug,
            c_dir,
            rust_dir,
            title,
            c_bug,
            upstream,
        };
        if c.get("expect").is_empty() || c.get("expect-line").is_empty() {
            bail!(
                "tests/evidence/c/{}/class.txt needs `expect:` and `expect-line:`",
                c.slug
            );
        }
        out.push(c);
    }
    out.sort_by(|a, b| a.slug.cmp(&b.slug));
    Ok(out)
}

/// Builds the edu C twin with the class's patch applied.
fn build_c_variant(p: &Project, b: &Built, c: &Class) -> Result<Module> {
    let src = p.build.join("evidence").join(&c.slug).join("src");
    fs::create_dir_all(&src)?;
    let twin = p.root.join("drivers/edu_c");
    for f in ["Kbuild", "edu_c.c"] {
        write_if_changed(&src.join(f), &fs::read(twin.join(f))?)?;
    }
    let patched = src.join("edu_c.c.patched");
    run(Command::new("patch")
        .args(["--quiet", "--force", "--no-backup-if-mismatch", "-o"])
        .arg(&patched)
        .arg(twin.join("edu_c.c"))
        .arg("-i")
        .arg(c.c_dir.join("bug.patch")))?;
    write_if_changed(&src.join("edu_c.c"), &fs::read(&patched)?)?;
    fs::remove_file(&patched)?;
    let dest = p.build.join("evidence").join(&c.slug).join("build");
    let r = make_external(p, b, &src, &dest, &format!("evidence-{}", c.slug))?;
    let ko = dest.join("edu_c.ko");
    if !r.success || !ko.exists() {
        for l in r.lines.iter().rev().take(20).rev() {
            eprintln!("  {l}");
        }
        bail!("building the C variant of {} failed", c.slug);
    }
    Ok(Module {
        name: "edu_c".into(),
        ko,
        warnings: Vec::new(),
    })
}

/// Who reported a C bug at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detector {
    Kasan,
    DmaApiDebug,
    Kmemleak,
    Kernel,
    DeviceModel,
    DataCheck,
    Nothing,
}

impl Detector {
    /// The `expect:` key of `class.txt`.
    pub fn key(self) -> &'static str {
        match self {
            Detector::Kasan => "kasan",
            Detector::DmaApiDebug => "dma-api-debug",
            Detector::Kmemleak => "kmemleak",
            Detector::Kernel => "kernel-warning",
            Detector::DeviceModel => "device-model",
            Detector::DataCheck => "data-check",
            Detector::Nothing => "nothing",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Detector::Kasan => "KASAN",
            Detector::DmaApiDebug => "DMA-API debugging",
            Detector::Kmemleak => "kmemleak",
            Detector::Kernel => "a kernel WARNING/BUG",
            Detector::DeviceModel => "no kernel tool; only QEMU's edu model logged it",
            Detector::DataCheck => "no tool: silent corruption, seen only by comparing the data",
            Detector::Nothing => "nothing",
        }
    }
}

/// Replaces addresses and code offsets (which vary between builds and boots)
/// with `…`, so a report line can be compared and committed.
pub fn normalize(line: &str) -> String {
    let line = ktap::clean(line).trim();
    let mut out = String::new();
    let mut rest = line;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("0x") {
            let n = r.chars().take_while(char::is_ascii_hexdigit).count();
            out.push_str("0x…");
            rest = &r[n..];
            continue;
        }
        let word = rest
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect::<String>();
        if word.len() >= 12 && word.starts_with("ffff") {
            out.push('…');
            rest = &rest[word.len()..];
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The first report in a console log after the `evidence: begin` marker.
pub fn first_report(log: &str) -> (Detector, String) {
    let after = ktap::between(log, "evidence: begin", None).unwrap_or("");
    for l in after.lines().skip(1) {
        let d = if l.contains("BUG: KASAN:") {
            Detector::Kasan
        } else if l.contains("DMA-API:") && ktap::is_finding(l) {
            Detector::DmaApiDebug
        } else if l.contains("suspected memory leak") {
            // kmemleak's console notice; the report itself follows.
            continue;
        } else if l.contains("unreferenced object 0x") {
            Detector::Kmemleak
        } else if l.contains("EDU: clamping DMA") {
            Detector::DeviceModel
        } else if l.contains("evidence: data differs") {
            Detector::DataCheck
        } else if ktap::is_finding(l) {
            Detector::Kernel
        } else {
            continue;
        };
        return (d, normalize(l.trim_start_matches("qemu: ")));
    }
    (Detector::Nothing, String::new())
}

/// What the C variant's boot showed.
pub struct COutcome {
    pub detector: Detector,
    pub line: String,
    pub ran: bool,
    /// The exercise's exit status (`evidence: exercise exit status N`).
    pub exit: Option<i32>,
}

/// The exit status the guest printed for an exercise: `evidence: exercise
/// exit status N`, or `evidence: exercise <slug> exit status N`.
pub fn exercise_status(log: &str, slug: Option<&str>) -> Option<i32> {
    let marker = match slug {
        Some(s) => format!("evidence: exercise {s} exit status "),
        None => "evidence: exercise exit status ".to_string(),
    };
    log.lines()
        .filter_map(|l| l.split(marker.as_str()).nth(1))
        .filter_map(|s| s.trim().parse().ok())
        .next_back()
}

fn run_c(p: &Project, b: &Built, tools: &[(String, PathBuf)], c: &Class) -> Result<COutcome> {
    let ko = build_c_variant(p, b, c)?;
    let mut extra = tools.to_vec();
    extra.push(("/evidence/exercise.sh".into(), c.c_dir.join("exercise.sh")));
    let contents = Contents {
        modules: vec![ko.ko],
        load: Vec::new(),
        script: p.root.join("guest/evidence.sh"),
        extra,
        env: Vec::new(),
    };
    let name = format!("evidence-{}", c.slug);
    let initrd = initramfs::pack(p, b, &contents, &name)?;
    let log = p.build.join(format!("logs/{name}.log"));
    let timeout = Duration::from_secs(300);
    let opts = BootOpts {
        append: c.get("boot").split_whitespace().map(String::from).collect(),
        memory_mib: c.memory_mib()?,
        ..BootOpts::quiet(log.clone(), timeout)
    };
    say("evidence", &format!("{}: booting the C variant", c.slug));
    let boot = qemu::boot(p, b, &initrd, &opts)?;
    let ran = demo::finished(&boot, timeout, &log).is_ok_and(|code| code == 0)
        && boot.log.contains("evidence: end");
    let (detector, line) = first_report(&boot.log);
    Ok(COutcome {
        detector,
        line,
        ran,
        exit: exercise_status(&boot.log, None),
    })
}

/// The exit status `class.txt` expects of the exercise under `key` (`exit`
/// with the bug, `control-exit` with the unpatched driver); 0 if unset.
fn expected_exit(c: &Class, key: &str) -> Result<i32> {
    match c.get(key) {
        "" => Ok(0),
        v => v
            .parse()
            .map_err(|_| crate::util::Error(format!("{}: bad {key} `{v}`", c.slug))),
    }
}

/// Whether the C variant's outcome is the one `class.txt` names: the
/// checker (`expect:`), a line of its report (`expect-line:`) and the
/// exercise's exit status (`exit:`).
pub fn c_verdict(c: &Class, o: &COutcome) -> std::result::Result<(), String> {
    if !o.ran {
        return Err(format!(
            "the guest script did not finish (see build/logs/evidence-{}.log)",
            c.slug
        ));
    }
    let want = c.get("expect");
    if o.detector.key() != want {
        return Err(format!(
            "expected {want}, got {}: {}",
            o.detector.key(),
            o.line
        ));
    }
    let line = c.get("expect-line");
    if line.is_empty() || !o.line.contains(line) {
        return Err(format!(
            "expected a report containing `{line}`, got: {}",
            o.line
        ));
    }
    let exit = expected_exit(c, "exit").map_err(|e| e.0)?;
    if o.exit != Some(exit) {
        return Err(format!(
            "the exercise exited with {:?}, class.txt says {exit}",
            o.exit
        ));
    }
    Ok(())
}

/// The console lines of one class's exercise in a control boot: from its
/// `evidence: begin <slug>` to its exit status line.
pub fn class_span<'a>(log: &'a str, slug: &str) -> Option<&'a str> {
    let end = format!("evidence: exercise {slug} exit status");
    ktap::between(log, &format!("evidence: begin {slug}"), Some(&end))
}

/// Whether a class's exercise ran cleanly in a finished control boot: no
/// checker report during it or in the final kmemleak scan (except the one
/// `control-report:` allows), not the bug's report, unloaded, same data, and
/// the `control-exit:` status.
pub fn control_verdict(c: &Class, log: &str) -> std::result::Result<(), String> {
    let want = expected_exit(c, "control-exit").map_err(|e| e.0)?;
    let got = exercise_status(log, Some(&c.slug));
    // After the last exercise: kmemleak's scan, charged to every class.
    let tail = log
        .rfind("evidence: exercise ")
        .and_then(|at| log[at..].split_once('\n'))
        .map_or("", |(_, t)| t);
    let Some(span) = class_span(log, &c.slug) else {
        return Err(format!(
            "no span `evidence: begin {0}` .. `evidence: exercise {0} exit status` in the log",
            c.slug
        ));
    };
    let span = format!("{span}\n{tail}");
    // A report `control-report:` names (with its stack dump) is expected.
    let allowed = c.get("control-report");
    if !allowed.is_empty() && !span.contains(allowed) {
        return Err(format!(
            "class.txt expects the control to report `{allowed}`; it did not"
        ));
    }
    let rest = if allowed.is_empty() {
        span.clone()
    } else {
        ktap::strip_reports(&span, &[allowed])
    };
    let findings = ktap::parse(&rest).findings;
    if !findings.is_empty() {
        return Err(format!(
            "the unpatched driver was reported too: {}",
            findings
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(" | ")
        ));
    }
    if span.contains(c.get("expect-line")) {
        return Err(format!(
            "the unpatched driver shows the bug's report too: `{}`",
            c.get("expect-line")
        ));
    }
    if span.contains("evidence: rmmod edu_c failed") {
        return Err("the unpatched driver did not unload".into());
    }
    if span.contains("evidence: data differs") {
        return Err("the unpatched driver's data differs too".into());
    }
    if got != Some(want) {
        return Err(format!(
            "with the unpatched driver the exercise exited with {got:?}, class.txt says {want}"
        ));
    }
    Ok(())
}

/// The control: the unpatched edu_c runs the exercises of every class that
/// boots the same way (command line and RAM), one after another in one boot.
/// Nothing may report anything, and each exercise must exit with its
/// `control-exit:` status. Returns each class's verdict.
fn run_controls(
    p: &Project,
    ready: &Ready,
    classes: &[Class],
) -> Result<Vec<(String, std::result::Result<(), String>)>> {
    let b = &ready.kernel;
    let clean = crate::modules::build_one(p, b, crate::kernel::TEST.name, "edu_c")?;
    let mut groups: Vec<(String, u32, Vec<&Class>)> = Vec::new();
    for c in classes {
        let key = (c.get("boot").to_string(), c.memory_mib()?);
        match groups.iter_mut().find(|g| (g.0.clone(), g.1) == key) {
            Some(g) => g.2.push(c),
            None => groups.push((key.0, key.1, vec![c])),
        }
    }
    let mut out = Vec::new();
    for (i, (boot_args, memory, members)) in groups.iter().enumerate() {
        let mut extra = ready.tools.clone();
        for c in members {
            extra.push((
                format!("/evidence/{}/exercise.sh", c.slug),
                c.c_dir.join("exercise.sh"),
            ));
        }
        let contents = Contents {
            modules: vec![clean.ko.clone()],
            load: Vec::new(),
            script: p.root.join("guest/evidence-control.sh"),
            extra,
            env: Vec::new(),
        };
        let name = format!("evidence-control-{}", i + 1);
        let initrd = initramfs::pack(p, b, &contents, &name)?;
        let log = p.build.join(format!("logs/{name}.log"));
        let timeout = Duration::from_secs(300);
        let opts = BootOpts {
            append: boot_args.split_whitespace().map(String::from).collect(),
            memory_mib: *memory,
            ..BootOpts::quiet(log.clone(), timeout)
        };
        say(
            "evidence",
            &format!(
                "control: unpatched edu_c runs {} exercise(s)",
                members.len()
            ),
        );
        let boot = qemu::boot(p, b, &initrd, &opts)?;
        let ran = demo::finished(&boot, timeout, &log).is_ok_and(|code| code == 0)
            && boot.log.contains("evidence: end");
        for c in members {
            let verdict = if ran {
                control_verdict(c, &boot.log)
            } else {
                Err(format!(
                    "the control run did not finish (see {})",
                    log.display()
                ))
            };
            out.push((c.slug.clone(), verdict));
        }
    }
    Ok(out)
}

/// The Rust half: the compile-fail case's first error.
pub struct ROutcome {
    pub rejected: bool,
    pub error: String,
}

fn run_rust(p: &Project, b: &Built, c: &Class) -> Result<ROutcome> {
    let o = compile_fail_case(p, b, &c.rust_dir, &evidence_case_name(&c.slug))?;
    Ok(ROutcome {
        rejected: o.verdict.is_ok(),
        error: o.first_error.unwrap_or_default(),
    })
}

/// The C runs as tests of `cargo xtask test`: each class's C bug must still
/// be reported as `class.txt` says (`evidence.<class>.c_outcome`), and the
/// unpatched driver must run the same exercise cleanly
/// (`evidence.<class>.c_control_clean`). (The Rust halves run with the
/// compile-fail cases.)
pub fn c_tests(p: &Project, ready: &Ready, t: &mut Tally) -> Result {
    let classes = classes(p)?;
    for (slug, verdict) in run_controls(p, ready, &classes)? {
        let why = verdict.clone().err().unwrap_or_default();
        t.add(
            format!("evidence.{slug}.c_control_clean"),
            verdict.is_ok(),
            || why,
        );
    }
    let doc = fs::read_to_string(p.root.join("docs/evidence.md")).unwrap_or_default();
    for c in &classes {
        let o = run_c(p, &ready.kernel, &ready.tools, c)?;
        let verdict = c_verdict(c, &o);
        let why = verdict.clone().err().unwrap_or_default();
        t.add(
            format!("evidence.{}.c_outcome", c.slug),
            verdict.is_ok(),
            || why,
        );
        // The published table states this run's report.
        let cell = code_cell(&o.line);
        t.add(
            format!("evidence.{}.doc_matches_run", c.slug),
            doc.contains(&cell),
            || format!("docs/evidence.md does not show {cell}: rerun `cargo xtask evidence`"),
        );
    }
    Ok(())
}

/// Whether docs/evidence.md shows the Rust case's first error as this run
/// produced it.
pub fn doc_shows_rust_error(p: &Project, first_error: &str) -> bool {
    fs::read_to_string(p.root.join("docs/evidence.md"))
        .is_ok_and(|doc| doc.contains(&code_cell(first_error)))
}

/// A table cell showing `s` as code.
fn code_cell(s: &str) -> String {
    let s = s.replace('|', "\\|");
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

/// The rows: (class, C outcome, Rust outcome).
pub fn render(rows: &[(&Class, COutcome, ROutcome)]) -> String {
    let mut s = String::from(
        "# Evidence: bug classes in C at run time, in Rust at compile time\n\n\
         Generated by `cargo xtask evidence`; do not edit by hand. For each class, the C twin of the edu\n\
         driver (`drivers/edu_c`) gets that one bug (`tests/evidence/c/<class>/bug.patch`) and\n\
         runs its `exercise.sh` on the test kernel (KASAN, DMA-API debugging with scatter-gather checks, kmemleak;\n\
         some classes boot with `swiotlb=force` so that the outcome is what a bouncing platform sees); the\n\
         table shows the first report of any checker after the exercise started. The same mistake\n\
         attempted against dmabridge's API in a driver without `unsafe` (`tests/evidence/rust/<class>/`)\n\
         is built and must fail with the compiler error shown. Addresses and code offsets in report\n\
         lines are replaced by `…`.\n\n\
         | # | class | C: caught at run time by | C: first report | Rust: compile error |\n\
         | --- | --- | --- | --- | --- |\n",
    );
    let mut caught = 0;
    let mut rejected = 0;
    let mut by_language = 0;
    for (i, (c, co, ro)) in rows.iter().enumerate() {
        let tool_caught = matches!(
            co.detector,
            Detector::Kasan | Detector::DmaApiDebug | Detector::Kmemleak | Detector::Kernel
        );
        if tool_caught {
            caught += 1;
        }
        // `rust-rejected-by: language`: Rust itself refuses the attempt
        // (e.g. calling an `unsafe fn` without `unsafe`), not a type of
        // the binding.
        let by_binding = c.get("rust-rejected-by") != "language";
        if ro.rejected && by_binding {
            rejected += 1;
        } else if ro.rejected {
            by_language += 1;
        }
        let c_line = if !co.ran {
            "the run did not finish".to_string()
        } else if co.line.is_empty() {
            "—".to_string()
        } else {
            code_cell(&co.line)
        };
        let r = if ro.rejected {
            code_cell(&ro.error)
        } else {
            "**compiled: the guarantee is broken**".to_string()
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            i + 1,
            c.title.replace('|', "\\|"),
            co.detector.describe(),
            c_line,
            r
        ));
    }
    s.push_str(&format!(
        "\nTotals: of {n} classes, the kernel's run-time checkers reported {caught} in C (the others \
         corrupt data or pass silently); at compile time, dmabridge's types rejected {rejected} of \
         {n} and Rust itself {by_language} (the attempt needs `unsafe`, which a driver may not write). \
         What safe Rust could still reach of each class, and the bugs the project itself had, are \
         in `docs/soundness.md`.\n",
        n = rows.len()
    ));
    for (i, (c, _, _)) in rows.iter().enumerate() {
        s.push_str(&format!(
            "\n## {}. {}\n\n- C bug (`tests/evidence/c/{}/bug.patch`): {}\n- Modeled on the upstream fix: {}\n",
            i + 1,
            c.title,
            c.slug,
            c.c_bug,
            c.upstream,
        ));
        if !c.get("boot").is_empty() || c.memory_mib().ok() != Some(DEFAULT_MEMORY_MIB) {
            s.push_str(&format!(
                "- Boot: `{}`, {} MiB of RAM\n",
                c.get("boot"),
                c.memory_mib().unwrap_or(DEFAULT_MEMORY_MIB)
            ));
        }
        s.push_str(&format!(
            "- Rust attempt (`tests/evidence/rust/{}/`): {}\n",
            c.slug, c.rust_attempt
        ));
        if !c.get("rust-note").is_empty() {
            s.push_str(&format!(
                "- What the attempt does not cover: {}\n",
                c.get("rust-note")
            ));
        }
    }
    s.push_str(OWN_BUGS);
    s.push_str(
        "\nThe C outcomes are also checked by `cargo xtask test` (`evidence.<class>.c_outcome`: the\n\
         checker named in `class.txt` must still report the bug), and the Rust cases run with the\n\
         compile-fail tests (`compile_fail.evidence_<class>`).\n",
    );
    s
}

/// The section on the project's own bugs (the debate's split: `unsafe`
/// binding code that Rust does not check, and logic in safe code).
const OWN_BUGS: &str = "
## The bugs dmabridge itself had

Two hostile reviews (2026-11-26) found 26 holes in the bindings: safe driver code that could
reach the classes above, or worse. Every one of them lived in the bindings' `unsafe` code or in
what that code promised: Rust checks none of it, and each was a wrong argument in a `SAFETY`
comment or a C rule the binding did not carry. Examples: a mapping that *borrowed* its buffer
(a `mem::forget` of the mapping ended the borrow without the unmap: class 5 from safe code),
registrations that outlived their module, a revocable guard that was an RCU read section
(sleeping in it let unbind unmap a BAR under the reader), sleeping releases reachable from
interrupt handlers, an unbind that waited forever on a leaked user. `docs/soundness.md` has the
argument type by type, the status of each hole and the misuse case (`tests/misuse/`) that tries
it on every run.

One bug lived in safe code, in the flagship driver: `drivers/edu` treated a timeout of its
interrupt wait as \"completed after a signal\": userspace got errno 512, bus mastering stayed
on, and the buffer the device might still write was freed. No type could see it (its C twin did
not have it); `guest/tests/edu_timeout.sh` now provokes it on both drivers.
";

/// `cargo xtask evidence`.
pub fn evidence(p: &Project) -> Result<i32> {
    let ready = demo::prepare(p)?;
    let classes = classes(p)?;
    if classes.is_empty() {
        bail!("no classes under tests/evidence/");
    }
    let mut rows = Vec::new();
    for c in &classes {
        say(
            "evidence",
            &format!("{}: Rust attempt must not compile", c.slug),
        );
        let ro = run_rust(p, &ready.kernel, c)?;
        let co = run_c(p, &ready.kernel, &ready.tools, c)?;
        say(
            "evidence",
            &format!(
                "{}: C caught by {}; Rust {}",
                c.slug,
                co.detector.key(),
                if ro.rejected { "rejected" } else { "COMPILED" }
            ),
        );
        rows.push((c, co, ro));
    }
    let text = render(&rows);
    let doc = p.root.join("docs/evidence.md");
    let changed = write_if_changed(&doc, text.as_bytes())?;
    print!("{text}");
    say(
        "evidence",
        if changed {
            "wrote docs/evidence.md"
        } else {
            "docs/evidence.md is unchanged"
        },
    );
    let ok = rows
        .iter()
        .all(|(c, co, ro)| ro.rejected && c_verdict(c, co).is_ok());
    Ok(if ok { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_continuations() {
        let f = parse_fields("# c\ntitle: a b\nc-bug: one\n  two\n\nexpect: kasan\n");
        assert_eq!(f[0], ("title".into(), "a b".into()));
        assert_eq!(f[1], ("c-bug".into(), "one two".into()));
        assert_eq!(f[2], ("expect".into(), "kasan".into()));
    }

    #[test]
    fn patch_headers_and_case_docs() {
        let patch = "Subject: [EVIDENCE] a title\n\nThe bug,\nin two lines.\n\nModeled-on: \"x: fix y\" (123abc):\n why.\n---\n--- a/f.c\n+++ b/f.c\n";
        let (t, b, u) = patch_header(patch).unwrap();
        assert_eq!(t, "a title");
        assert_eq!(b, "The bug, in two lines.");
        assert_eq!(u, "\"x: fix y\" (123abc): why.");
        assert!(patch_header("--- a/f.c\n").is_none());
        let rs = "// SPDX\n\n//! Must not build: do\n//! this.\n\nuse x;\n";
        assert_eq!(case_doc(rs), "do this.");
    }

    #[test]
    fn control_spans() {
        let log = "x\nevidence: begin a\nWARNING: one\nevidence: exercise a exit status 0\nevidence: begin b\nok\nevidence: exercise b exit status 1\n";
        assert_eq!(
            class_span(log, "a"),
            Some("evidence: begin a\nWARNING: one\n")
        );
        assert_eq!(class_span(log, "b"), Some("evidence: begin b\nok\n"));
        assert_eq!(class_span(log, "c"), None);
    }

    #[test]
    fn exercise_statuses() {
        let log = "evidence: exercise exit status 1\nevidence: exercise 2-x exit status 0\n";
        assert_eq!(exercise_status(log, None), Some(1));
        assert_eq!(exercise_status(log, Some("2-x")), Some(0));
        assert_eq!(exercise_status(log, Some("3-y")), None);
    }

    #[test]
    fn normalized_reports() {
        assert_eq!(
            normalize("[    3.1] BUG: KASAN: slab-out-of-bounds in _copy_from_user+0x4a/0x80"),
            "BUG: KASAN: slab-out-of-bounds in _copy_from_user+0x…/0x…"
        );
        assert_eq!(
            normalize("unreferenced object 0xffff888003a1b2c0 (size 16):"),
            "unreferenced object 0x… (size 16):"
        );
        assert_eq!(normalize("at addr ffff888003a1b2c0 x"), "at addr … x");
    }

    #[test]
    fn first_report_after_marker() {
        let log = "DMA-API: old\nevidence: begin\nok\n[ 1.0] DMA-API: pci 0000:00:03.0: device driver failed to check map error[device address=0x0000000001234000]\nBUG: KASAN: x\n";
        let (d, l) = first_report(log);
        assert_eq!(d, Detector::DmaApiDebug);
        assert!(l.ends_with("map error[device address=0x…]"));
        assert_eq!(first_report("evidence: begin\nfine\n").0, Detector::Nothing);
        let (d, _) = first_report("evidence: begin\nevidence: data differs at byte 0\n");
        assert_eq!(d, Detector::DataCheck);
    }
}
