//! `compare`: the Rust edu driver against its C twin, written to
//! `docs/comparison.md` — source lines, `unsafe`, module sizes, and the same
//! guest suite's results with the run-time checkers' reports.

use crate::demo::{self, Ready};
use crate::kernel::{self, BENCH};
use crate::ktap::{self, Outcome, TestResult};
use crate::modules;
use crate::qemu::BootOpts;
use crate::util::{output, say, write_if_changed, Result};
use crate::{bail, Project};
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The two drivers: (module under `drivers/`, language).
const DRIVERS: [(&str, &str); 2] = [("edu", "Rust"), ("edu_c", "C")];

/// Lines of a source file: (all, code). Code lines are neither blank nor
/// only comment (`//…` lines and `/* … */` blocks).
pub fn count_lines(src: &str) -> (usize, usize) {
    let mut in_block = false;
    let mut code = 0;
    for line in src.lines() {
        let mut rest = line.trim();
        let mut has_code = false;
        while !rest.is_empty() {
            if in_block {
                match rest.find("*/") {
                    Some(i) => {
                        in_block = false;
                        rest = rest[i + 2..].trim_start();
                    }
                    None => rest = "",
                }
            } else if rest.starts_with("//") {
                rest = "";
            } else if let Some(r) = rest.strip_prefix("/*") {
                in_block = true;
                rest = r;
            } else {
                has_code = true;
                match rest.find("/*") {
                    Some(i) => rest = &rest[i..],
                    None => rest = "",
                }
            }
        }
        if has_code {
            code += 1;
        }
    }
    (src.lines().count(), code)
}

/// Occurrences of the word `unsafe` outside comments.
pub fn count_unsafe(src: &str) -> usize {
    src.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .flat_map(|l| l.split(|c: char| !(c.is_alphanumeric() || c == '_')))
        .filter(|w| *w == "unsafe")
        .count()
}

/// `size` (Berkeley format) of a module: text, data, bss.
pub fn sizes(ko: &Path) -> Result<[u64; 3]> {
    let out = output(Command::new("size").arg(ko))?;
    let nums: Vec<u64> = out
        .lines()
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .take(3)
        .filter_map(|n| n.parse().ok())
        .collect();
    match nums[..] {
        [t, d, b] => Ok([t, d, b]),
        _ => bail!("cannot read `size {}`: {out}", ko.display()),
    }
}

/// What one driver's guest run showed.
#[derive(Debug, Default, PartialEq)]
pub struct GuestRun {
    pub passed: usize,
    pub failed: usize,
    pub dma_api_errors: Option<u64>,
    pub kmemleak: Option<u64>,
    /// Console lines of run-time checkers (KASAN, WARNING, BUG, …).
    pub findings: usize,
}

/// The lines of `log` from the one containing `begin` to the one before the
/// one containing `end`.
fn section(log: &str, begin: &str, end: &str) -> String {
    log.lines()
        .skip_while(|l| !l.contains(begin))
        .take_while(|l| !l.contains(end))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads a driver's `compare:` sections of the log. The script's output and
/// the kernel's messages come on two serial ports, each in order but not in
/// order with the other: the suite's results are read between the script's
/// markers, the checkers' reports between the markers the script wrote into
/// the kernel's log.
pub fn guest_runs(log: &str, drv: &str) -> GuestRun {
    let results = section(
        log,
        &format!("compare: begin {drv}"),
        &format!("compare: end {drv}"),
    );
    let kernel = section(
        log,
        &format!("compare: kernel log of {drv} begins"),
        &format!("compare: kernel log of {drv} ends"),
    );
    let report = ktap::parse(&results);
    let value = |key: &str| {
        let tag = format!("compare: {key} {drv} ");
        log.lines()
            .find_map(|l| l.split_once(&tag).map(|(_, v)| v.trim().parse().ok()))
            .flatten()
    };
    GuestRun {
        passed: report.count(Outcome::Pass),
        failed: report.count(Outcome::Fail),
        dma_api_errors: value("dma-api-errors"),
        kmemleak: value("kmemleak"),
        findings: ktap::parse(&kernel).findings.len(),
    }
}

struct Column {
    lang: &'static str,
    lines: (usize, usize),
    unsafe_words: usize,
    test_size: [u64; 3],
    bench_size: [u64; 3],
    run: GuestRun,
}

/// Bytes as KiB with one decimal: C modules embed their source file's path
/// (KASAN, WARN), so exact sizes move by a few bytes between checkouts.
pub fn kib(bytes: u64) -> String {
    format!("{}.{}", bytes / 1024, (bytes % 1024) * 10 / 1024)
}

fn opt(v: Option<u64>) -> String {
    v.map_or("missing".into(), |v| v.to_string())
}

fn render(cols: &[Column]) -> String {
    let mut s = String::from(
        "# Rust `edu` and its C twin `edu_c`, compared\n\n\
         Generated by `cargo xtask compare`, which builds both drivers for the test kernel (KASAN,\n\
         DMA-API debugging, kmemleak) and the benchmark kernel (no checkers), boots the test kernel\n\
         and runs the same guest suite (`guest/lib/edu-suite.sh`, with `eductl selftest` nested in it)\n\
         against each driver in turn. Do not edit by hand: rerun the command.\n\n",
    );
    let row = |s: &mut String, name: &str, f: &dyn Fn(&Column) -> String| {
        s.push_str(&format!("| {name} |"));
        for c in cols {
            s.push_str(&format!(" {} |", f(c)));
        }
        s.push('\n');
    };
    s.push_str("| |");
    for c in cols {
        s.push_str(&format!(" {} |", c.lang));
    }
    s.push_str("\n| --- |");
    for _ in cols {
        s.push_str(" --- |");
    }
    s.push('\n');
    row(&mut s, "source lines (all)", &|c| c.lines.0.to_string());
    row(
        &mut s,
        "source lines (code: no blanks, no comments)",
        &|c| c.lines.1.to_string(),
    );
    row(&mut s, "`unsafe` in the driver", &|c| {
        if c.lang == "C" {
            "all of it (C has no safe subset)".into()
        } else {
            c.unsafe_words.to_string()
        }
    });
    let size = |v: [u64; 3]| format!("{} / {} / {}", kib(v[0]), kib(v[1]), kib(v[2]));
    row(&mut s, "`.ko` text / data / bss (KiB), test kernel", &|c| {
        size(c.test_size)
    });
    row(
        &mut s,
        "`.ko` text / data / bss (KiB), benchmark kernel",
        &|c| size(c.bench_size),
    );
    row(&mut s, "guest tests passed / failed", &|c| {
        format!("{} / {}", c.run.passed, c.run.failed)
    });
    row(&mut s, "DMA-API debug errors during the suite", &|c| {
        opt(c.run.dma_api_errors)
    });
    row(&mut s, "kmemleak reports after the suite", &|c| {
        opt(c.run.kmemleak)
    });
    row(
        &mut s,
        "other checker reports (KASAN, WARNING, BUG, oops)",
        &|c| c.run.findings.to_string(),
    );
    s.push_str(
        "\nSource lines count the driver's own files (`drivers/edu/*.rs`, `drivers/edu_c/*.c`); both\n\
         share `drivers/include/uapi/edu.h`. The Rust driver's safety rests on the bindings in\n\
         `kernel/rust/kernel/` (shared by every Rust driver, reviewed once), whose `unsafe` blocks each\n\
         carry a `// SAFETY:` argument; the C driver's rests on its author getting every path right.\n\
         Module sizes are `size` of the `.ko`, in KiB: the Rust module carries monomorphized generic code of the\n\
         bindings (devres, DMA mappings, misc device vtables) that C gets from out-of-line kernel\n\
         functions.\n",
    );
    s
}

pub fn source_stats(p: &Project, drv: &str) -> Result<((usize, usize), usize)> {
    let dir = p.root.join("drivers").join(drv);
    let mut lines = (0, 0);
    let mut unsafe_words = 0;
    for f in crate::util::files_below(&dir)? {
        if !f.extension().is_some_and(|e| e == "rs" || e == "c") {
            continue;
        }
        let src = fs::read_to_string(&f)?;
        let (all, code) = count_lines(&src);
        lines = (lines.0 + all, lines.1 + code);
        unsafe_words += count_unsafe(&src);
    }
    Ok((lines, unsafe_words))
}

/// The two cells (Rust, C) of a row of docs/comparison.md.
pub fn doc_row<'a>(doc: &'a str, label: &str) -> Option<(&'a str, &'a str)> {
    let line = doc
        .lines()
        .find(|l| l.starts_with(&format!("| {label} |")))?;
    let mut cells = line.split('|').map(str::trim).skip(2);
    Some((cells.next()?, cells.next()?))
}

/// What docs/comparison.md states that this test run can check: each
/// driver's source lines and its passing guest tests (`edu.*` and the
/// nested `edu_eductl_selftest.*`). Returns the rows that disagree.
pub fn doc_disagreements(p: &Project, results: &[TestResult]) -> Result<Vec<String>> {
    let doc = fs::read_to_string(p.root.join("docs/comparison.md"))?;
    let mut wrong = Vec::new();
    let passed = |drv: &str| {
        results
            .iter()
            .filter(|r| r.outcome == Outcome::Pass)
            .filter(|r| {
                r.name.starts_with(&format!("{drv}."))
                    || r.name.starts_with(&format!("{drv}_eductl_selftest."))
            })
            .count()
    };
    let (rust_lines, _) = source_stats(p, "edu")?;
    let (c_lines, _) = source_stats(p, "edu_c")?;
    let want = [
        (
            "source lines (all)",
            rust_lines.0.to_string(),
            c_lines.0.to_string(),
        ),
        (
            "source lines (code: no blanks, no comments)",
            rust_lines.1.to_string(),
            c_lines.1.to_string(),
        ),
        (
            "guest tests passed / failed",
            format!("{} / 0", passed("edu")),
            format!("{} / 0", passed("edu_c")),
        ),
    ];
    for (label, rust, c) in want {
        match doc_row(&doc, label) {
            Some((r, cc)) if r == rust && cc == c => {}
            Some((r, cc)) => wrong.push(format!(
                "`{label}`: the doc says {r} | {cc}, this run {rust} | {c}"
            )),
            None => wrong.push(format!("`{label}`: no such row")),
        }
    }
    Ok(wrong)
}

/// `cargo xtask compare`.
pub fn compare(p: &Project) -> Result<i32> {
    let ready: Ready = demo::prepare(p)?;
    let bench = kernel::build(p, &BENCH)?;
    let log = p.build.join("logs/compare.log");
    let timeout = Duration::from_secs(900);
    let opts = BootOpts::quiet(log.clone(), timeout);
    say("compare", "running the edu suite against edu, then edu_c");
    let boot = demo::boot_script(
        p,
        &ready,
        "compare",
        p.root.join("guest/compare.sh"),
        &[],
        opts,
    )?;
    demo::finished(&boot, timeout, &log)?;
    let mut cols = Vec::new();
    for (drv, lang) in DRIVERS {
        let ko = ready
            .modules
            .iter()
            .find(|m| m.name == drv)
            .map(|m| m.ko.clone());
        let Some(ko) = ko else {
            bail!("driver {drv} was not built");
        };
        say(
            "modules",
            &format!("building {drv} for the benchmark kernel"),
        );
        let bench_ko = modules::build_one(p, &bench, BENCH.name, drv)?.ko;
        let (lines, unsafe_words) = source_stats(p, drv)?;
        let run = guest_runs(&boot.log, drv);
        if run.passed == 0 {
            bail!("no results for {drv} in the console log {}", log.display());
        }
        cols.push(Column {
            lang,
            lines,
            unsafe_words,
            test_size: sizes(&ko)?,
            bench_size: sizes(&bench_ko)?,
            run,
        });
    }
    let doc = p.root.join("docs/comparison.md");
    let text = render(&cols);
    let changed = write_if_changed(&doc, text.as_bytes())?;
    print!("{text}");
    say(
        "compare",
        &format!(
            "{} docs/comparison.md",
            if changed { "wrote" } else { "unchanged:" }
        ),
    );
    let clean = cols.iter().all(|c| {
        c.run.failed == 0
            && c.run.dma_api_errors == Some(0)
            && c.run.kmemleak == Some(0)
            && c.run.findings == 0
    });
    Ok(if clean { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_without_comments() {
        let c = "/* a\n * b */\nint x; /* c */\n\n// d\nint y;\n";
        assert_eq!(count_lines(c), (6, 2));
        let r = "//! doc\nfn f() {} // end\n    /// x\n";
        assert_eq!(count_lines(r), (3, 1));
    }

    #[test]
    fn doc_rows() {
        let doc = "| | Rust | C |\n| source lines (all) | 327 | 351 |\n";
        assert_eq!(doc_row(doc, "source lines (all)"), Some(("327", "351")));
        assert_eq!(doc_row(doc, "other"), None);
    }

    #[test]
    fn kibibytes() {
        assert_eq!(kib(8212), "8.0");
        assert_eq!(kib(43410), "42.3");
        assert_eq!(kib(98), "0.0");
    }

    #[test]
    fn unsafe_words() {
        assert_eq!(count_unsafe("// unsafe\nlet x = 1; // SAFETY: unsafe"), 0);
        assert_eq!(count_unsafe("unsafe { f() }\nunsafe_op();"), 1);
    }

    #[test]
    fn guest_sections() {
        // The kernel's lines arrive ahead of the script's.
        let log = "compare: kernel log of edu begins\nWARNING: x\ncompare: begin edu\n\
                   KTAP version 1\n1..2\nok 1 a\ncompare: kernel log of edu ends\nnot ok 2 b\n\
                   compare: dma-api-errors edu 0\ncompare: end edu\ncompare: kmemleak edu 1\n\
                   compare: kernel log of edu_c begins\ncompare: kernel log of edu_c ends\n\
                   compare: begin edu_c\nKTAP version 1\n1..1\nok 1 a\ncompare: end edu_c\n";
        let r = guest_runs(log, "edu");
        assert_eq!((r.passed, r.failed, r.findings), (1, 1, 1));
        assert_eq!((r.dma_api_errors, r.kmemleak), (Some(0), Some(1)));
        let c = guest_runs(log, "edu_c");
        assert_eq!((c.passed, c.dma_api_errors, c.findings), (1, None, 0));
    }
}
