//! Reads a guest console log: KTAP results (KUnit and the guest test scripts)
//! and reports of the kernel's run-time checkers.

/// The outcome of one test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    Skip,
}

/// One leaf test result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResult {
    /// `suite.test`, or the bare test name at top level.
    pub name: String,
    pub outcome: Outcome,
}

/// Everything a console log says.
#[derive(Debug, Default)]
pub struct Report {
    pub results: Vec<TestResult>,
    /// Plans that were not met: a suite that said `1..N` and reported fewer or
    /// more results (a crash or hang in the middle of a suite).
    pub plan_errors: Vec<String>,
    /// Lines where a run-time checker reported a problem (each once).
    pub findings: Vec<String>,
    /// Suites whose own result line says `not ok` (a suite can fail while
    /// every test it printed passed, e.g. when its script exits non-zero).
    pub failed_suites: Vec<String>,
}

impl Report {
    pub fn count(&self, o: Outcome) -> usize {
        self.results.iter().filter(|r| r.outcome == o).count()
    }
}

/// Removes a printk timestamp (`[    1.234567] `) and a trailing `\r`.
pub fn clean(line: &str) -> &str {
    let line = line.trim_end_matches('\r');
    if let Some(rest) = line.strip_prefix('[') {
        if let Some((stamp, after)) = rest.split_once("] ") {
            if stamp.trim().chars().all(|c| c.is_ascii_digit() || c == '.') {
                return after;
            }
        }
    }
    line
}

/// Whether `line` is the marker line `marker`: after a printk time stamp,
/// the line starts with it, followed by nothing or a space (so `compare:
/// begin edu` is not `compare: begin edu_c`'s line).
pub fn is_marker(line: &str, marker: &str) -> bool {
    clean(line.trim_end_matches('\n'))
        .strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
}

/// The lines of `log` from the first marker line `begin` (`is_marker`) up to
/// the next marker line `end`, which is left out; with `end` `None`, to the
/// log's end. `None` if no line is `begin`, or `end` never comes after it: a
/// span that is not there is never read as a clean one.
pub fn between<'a>(log: &'a str, begin: &str, end: Option<&str>) -> Option<&'a str> {
    let mut at = 0;
    let mut start = None;
    for line in log.split_inclusive('\n') {
        match start {
            None if is_marker(line, begin) => start = Some(at),
            Some(s) if end.is_some_and(|e| is_marker(line, e)) => return Some(&log[s..at]),
            _ => {}
        }
        at += line.len();
    }
    start.filter(|_| end.is_none()).map(|s| &log[s..])
}

struct Parsed<'a> {
    ok: bool,
    name: &'a str,
    directive: &'a str,
}

/// Parses `ok 3 name # SKIP reason` / `not ok 3 name`.
fn parse_result(s: &str) -> Option<Parsed<'_>> {
    let (ok, rest) = if let Some(r) = s.strip_prefix("ok ") {
        (true, r)
    } else if let Some(r) = s.strip_prefix("not ok ") {
        (false, r)
    } else {
        return None;
    };
    let (num, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (name, directive) = match rest.split_once('#') {
        Some((n, d)) => (n.trim(), d.trim()),
        None => (rest.trim(), ""),
    };
    Some(Parsed {
        ok,
        name: name.strip_prefix("- ").unwrap_or(name),
        directive,
    })
}

/// One nesting level of KTAP output.
struct Level {
    indent: usize,
    suite: String,
    plan: Option<usize>,
    seen: usize,
}

/// The lines `guest/run-tests.sh` puts around the kernel log (`dmesg`) it
/// prints at the end: the host scans them for checker reports (lines the
/// console's log level held back) but reads no KTAP from them.
pub const DMESG_BEGIN: &str = "dmabridge: dmesg begin";
pub const DMESG_END: &str = "dmabridge: dmesg end";

/// The substrings that mark a run-time checker's report, with exceptions
/// that are informational lines of the same checker.
const FINDINGS: &[&str] = &[
    "DMA-API:",
    "BUG:",
    "WARNING:",
    "Oops",
    "KASAN:",
    "unreferenced object 0x",
    "suspected memory leak",
    "Kernel panic",
    "kernel BUG at",
    "general protection fault",
    "UBSAN:",
    "Call Trace:",
    // arm64 spells it in lower case.
    "Call trace:",
    // lockdep and RCU debugging (most also print `WARNING:`).
    "possible circular locking dependency",
    "inconsistent lock state",
    "possible recursive locking",
    "suspicious RCU usage",
    "INFO: trying to register non-static key",
    // Hung tasks and stalls.
    "INFO: task ",
    "detected stalls on CPUs",
    "rcu_preempt self-detected stall",
    // debugobjects.
    "ODEBUG:",
    // dmapool: a pool destroyed with blocks still allocated.
    "dma_pool_destroy",
    // QEMU's edu model (with `-d guest_errors`): a DMA beyond its mask.
    "EDU: clamping DMA",
    "EDU: DMA range",
    // QEMU (with `-d cpu_reset`): the guest reset itself, which ends the run.
    "Triple fault",
];

/// DMA-API lines that dma-debug prints at boot when all is well.
const BENIGN: &[&str] = &[
    "DMA-API: preallocated ",
    "DMA-API: debugging enabled by kernel config",
];

/// Is this console line a checker's report?
pub fn is_finding(line: &str) -> bool {
    FINDINGS.iter().any(|f| line.contains(f)) && !BENIGN.iter().any(|b| line.contains(b))
}

/// Closes every level at `indent` or deeper, checking their plans; returns
/// whether it closed any.
fn close_levels(levels: &mut Vec<Level>, indent: usize, errors: &mut Vec<String>) -> bool {
    let mut closed = false;
    while levels.last().is_some_and(|l| l.indent >= indent) {
        let l = levels.pop().unwrap();
        closed = true;
        let name = if l.suite.is_empty() {
            "top level"
        } else {
            &l.suite
        };
        match l.plan {
            Some(plan) if plan != l.seen => {
                errors.push(format!("{name}: planned {plan} tests, saw {}", l.seen));
            }
            Some(_) => {}
            None => errors.push(format!("{name}: no plan line (`1..N`)")),
        }
    }
    closed
}

/// Parses a whole console log.
pub fn parse(log: &str) -> Report {
    let mut report = Report::default();
    let mut levels: Vec<Level> = Vec::new();
    let mut pending_suite = String::new();
    let mut in_dmesg = false;
    for raw in log.lines() {
        let line = clean(raw);
        if is_finding(line) && !report.findings.iter().any(|f| f == line.trim()) {
            report.findings.push(line.trim().to_string());
        }
        if line.contains(DMESG_BEGIN) {
            in_dmesg = true;
        } else if line.contains(DMESG_END) {
            in_dmesg = false;
        }
        if in_dmesg {
            // The kernel log repeats KUnit's KTAP: only its findings count.
            continue;
        }
        let body = line.trim_start();
        let indent = line.len() - body.len();
        if body.starts_with("KTAP version") || body.starts_with("TAP version") {
            close_levels(&mut levels, indent, &mut report.plan_errors);
            levels.push(Level {
                indent,
                suite: std::mem::take(&mut pending_suite),
                plan: None,
                seen: 0,
            });
            continue;
        }
        if let Some(name) = body.strip_prefix("# Subtest: ") {
            match levels.last_mut() {
                Some(l) if l.indent == indent && l.suite.is_empty() => {
                    l.suite = name.trim().to_string();
                }
                _ => pending_suite = name.trim().to_string(),
            }
            continue;
        }
        if let Some(n) = body.strip_prefix("1..") {
            if let Ok(n) = n.trim().parse::<usize>() {
                if levels.last().is_none_or(|l| l.indent != indent) {
                    close_levels(&mut levels, indent + 1, &mut report.plan_errors);
                    levels.push(Level {
                        indent,
                        suite: std::mem::take(&mut pending_suite),
                        plan: None,
                        seen: 0,
                    });
                }
                if let Some(l) = levels.last_mut() {
                    if l.plan.is_some() {
                        let name = if l.suite.is_empty() {
                            "top level"
                        } else {
                            &l.suite
                        };
                        report
                            .plan_errors
                            .push(format!("{name}: a second plan line `1..{n}`"));
                    }
                    l.plan = Some(n);
                }
            }
            continue;
        }
        let Some(r) = parse_result(body) else {
            continue;
        };
        // Results of deeper levels are complete once a shallower result
        // comes; a result that closes a deeper level is that suite's own line.
        let is_suite = close_levels(&mut levels, indent + 1, &mut report.plan_errors);
        if !is_suite {
            // A `# Subtest:` whose test printed no KTAP names nothing more.
            pending_suite.clear();
        }
        let level = levels.iter_mut().rev().find(|l| l.indent == indent);
        let suite = match level {
            Some(l) => {
                l.seen += 1;
                l.suite.clone()
            }
            None => {
                report.plan_errors.push(format!(
                    "{}: a result outside any KTAP document (no `1..N` plan)",
                    r.name
                ));
                String::new()
            }
        };
        let skip = r.directive.to_ascii_uppercase().starts_with("SKIP");
        if is_suite {
            // A suite's own line sums up its tests, which were counted; it
            // must agree that the suite passed.
            if !r.ok && !skip {
                report.failed_suites.push(if suite.is_empty() {
                    r.name.to_string()
                } else {
                    format!("{suite}.{}", r.name)
                });
            }
            continue;
        }
        let name = if suite.is_empty() || suite == r.name {
            r.name.to_string()
        } else {
            format!("{suite}.{}", r.name)
        };
        let outcome = match (r.ok, skip) {
            (_, true) => Outcome::Skip,
            (true, false) => Outcome::Pass,
            (false, false) => Outcome::Fail,
        };
        report.results.push(TestResult { name, outcome });
    }
    close_levels(&mut levels, 0, &mut report.plan_errors);
    report
}

/// Whether a console line belongs to the register and stack dump of a
/// report (what follows its headline).
fn is_dump_line(line: &str) -> bool {
    const STARTS: &[&str] = &[
        "Call Trace:",
        "Call trace:",
        "<TASK>",
        "</TASK>",
        "<IRQ>",
        "</IRQ>",
        "CPU: ",
        "Tainted: ",
        "Hardware name:",
        "Modules linked in:",
        "RIP: ",
        "RSP: ",
        "RAX: ",
        "RDX: ",
        "RBP: ",
        "R10: ",
        "R13: ",
        "FS: ",
        "CS: ",
        "CR2: ",
        "DR0: ",
        "DR3: ",
        "Code: ",
        "---[ end trace ",
        "irq event stamp:",
        "hardirqs last ",
        "softirqs last ",
        "? ",
        // arm64: `pstate: …`, `pc : …`, `lr : …`, `sp : …`.
        "pstate: ",
        "pc : ",
        "lr : ",
        "sp : ",
    ];
    let t = line.trim();
    if STARTS.iter().any(|s| t.starts_with(s)) {
        return true;
    }
    // A register line (x86-64): `RAX: …`, `R08: …`, `PKRU: …`.
    const REGS: &[&str] = &[
        "RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "RSP", "RIP", "R08", "R09", "R10", "R11",
        "R12", "R13", "R14", "R15", "FS", "GS", "CS", "DS", "ES", "CR0", "CR2", "CR3", "CR4",
        "DR0", "DR1", "DR2", "DR3", "DR6", "DR7", "PKRU",
    ];
    let first = t.split_whitespace().next().unwrap_or("");
    // arm64: `x29: … x28: …`.
    let arm64_reg = |r: &str| {
        r.strip_prefix('x')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    if first
        .strip_suffix(':')
        .is_some_and(|r| REGS.contains(&r) || arm64_reg(r))
    {
        return true;
    }
    // A stack frame: ` symbol+0x1a/0x40`, maybe with `[module]`.
    line.starts_with(' ')
        && t.split_whitespace()
            .next()
            .is_some_and(|w| w.contains("+0x"))
}

/// Whether `line` is test-script output in KTAP (a version line, a plan, a
/// result or a diagnostic), never a kernel message.
fn is_ktap_line(line: &str) -> bool {
    let t = line.trim();
    let plan = t
        .split_once("..")
        .is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok());
    plan || t.starts_with("KTAP version ")
        || t.starts_with("ok ")
        || t.starts_with("not ok ")
        || t.starts_with("# ")
}

/// `log` without the reports that start with one of `allowed`: that line,
/// the `WARNING:` headline right after it, and the register and stack dump
/// that follows; the first other kernel line ends the report (so a report
/// another CPU prints in between still counts). The test script's KTAP
/// lines (from the other serial port, merged by arrival) may fall inside a
/// dump: they are kept and do not end it.
pub fn strip_reports(log: &str, allowed: &[&str]) -> String {
    let mut out = String::new();
    // 0: outside, 1: just after the allowed line, 2: in its dump.
    let mut state = 0;
    for line in log.lines() {
        let t = line.trim();
        if allowed.iter().any(|a| line.contains(a)) {
            state = 1;
            continue;
        }
        if state == 1 && t.starts_with("WARNING: CPU: ") || state > 0 && is_dump_line(line) {
            state = 2;
            continue;
        }
        if state > 0 && is_ktap_line(line) {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        state = 0;
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn between_markers() {
        let log = "a\n[ 1.5] begin edu_c\nx\nend edu_c\nbegin edu\ny\r\nend edu 0\nz\n";
        let span = |b, e| between(log, b, e);
        assert_eq!(span("begin edu", Some("end edu")), Some("begin edu\ny\r\n"));
        assert_eq!(
            span("begin edu_c", Some("end edu_c")),
            Some("[ 1.5] begin edu_c\nx\n")
        );
        assert_eq!(
            span("begin edu", None),
            Some("begin edu\ny\r\nend edu 0\nz\n")
        );
        assert_eq!(span("start", Some("end")), None);
        assert_eq!(span("start", None), None);
        assert_eq!(span("begin edu", Some("finish")), None);
        assert_eq!(span("begin", Some("end")), Some("[ 1.5] begin edu_c\nx\n"));
        assert!(is_marker(
            "[    2.000001] evidence: begin\r\n",
            "evidence: begin"
        ));
        assert!(!is_marker("evidence: beginning", "evidence: begin"));
    }

    #[test]
    fn interleaved_reports_are_kept() {
        let log = "sysfs: cannot create duplicate filename 'x'\nCPU: 1 UID: 0\nBUG: KASAN: slab-out-of-bounds in f\nCall Trace:\n";
        let out = strip_reports(log, &["sysfs: cannot create duplicate filename"]);
        assert_eq!(out, "BUG: KASAN: slab-out-of-bounds in f\nCall Trace:\n");
        let warn = "edu_c: swiotlb addr 0x1 overflow\nWARNING: CPU: 1 PID: 3 at x\nModules linked in: e\nRIP: 0010:f+0x1/0x2\nPKRU: 55555554\nR08: 0 R09: 1\nCall Trace:\n <TASK>\n f+0x1/0x2 [m]\n ? g+0x3/0x4\n </TASK>\n---[ end trace 0 ]---\nok 1 x\n";
        assert_eq!(strip_reports(warn, &["swiotlb addr"]), "ok 1 x\n");
    }

    #[test]
    fn second_plan_is_an_error() {
        let r = parse("KTAP version 1\n1..2\nok 1 a\n1..1\nok 2 b\n");
        assert!(
            r.plan_errors.iter().any(|e| e.contains("second plan")),
            "{:?}",
            r.plan_errors
        );
    }

    #[test]
    fn allowed_reports_end_with_their_stack() {
        let log = "a\nsysfs: cannot create duplicate filename 'x'\nCall Trace:\n <TASK>\n f+0x1\n </TASK>\nWARNING: other\nCall Trace:\n";
        let out = strip_reports(log, &["sysfs: cannot create duplicate filename"]);
        assert_eq!(out, "a\nWARNING: other\nCall Trace:\n");
        assert_eq!(strip_reports(log, &[]), log);
    }

    #[test]
    fn script_output_inside_an_allowed_dump_is_kept() {
        // The guest script's KTAP shares the console with the kernel's dump.
        let log = "sysfs: cannot create duplicate filename 'x'\n    KTAP version 1\nCPU: 0 UID: 0 PID: 3\n\
                   Tainted: [O]=OOT_MODULE\nCall Trace:\n <TASK>\n f+0x1\n    1..3\n </TASK>\nkobject: failed\n";
        let out = strip_reports(log, &["sysfs: cannot create duplicate filename"]);
        assert_eq!(out, "    KTAP version 1\n    1..3\nkobject: failed\n");
        // A kernel line from elsewhere still ends the dump.
        let other = "sysfs: cannot create duplicate filename 'x'\nBUG: KASAN: x\nCall Trace:\n";
        let out = strip_reports(other, &["sysfs: cannot create duplicate filename"]);
        assert_eq!(out, "BUG: KASAN: x\nCall Trace:\n");
    }

    const KUNIT: &str = "\
KTAP version 1
1..2
    KTAP version 1
    # Subtest: rust_doctests_kernel
    1..3
    # rust_doctest_kernel_a.0: ASSERTION FAILED at x.rs:3
    ok 1 rust_doctest_kernel_a_0
    not ok 2 rust_doctest_kernel_b_1
    ok 3 rust_doctest_kernel_c_2 # SKIP no device
# rust_doctests_kernel: pass:1 fail:1 skip:1 total:3
not ok 1 rust_doctests_kernel
    KTAP version 1
    # Subtest: other
    1..1
    ok 1 t
ok 2 other
";

    #[test]
    fn nested_leaves_only() {
        let r = parse(KUNIT);
        assert_eq!(r.results.len(), 4);
        assert_eq!(r.count(Outcome::Pass), 2);
        assert_eq!(r.count(Outcome::Fail), 1);
        assert_eq!(r.count(Outcome::Skip), 1);
        assert_eq!(
            r.results[1].name,
            "rust_doctests_kernel.rust_doctest_kernel_b_1"
        );
        assert_eq!(r.results[3].name, "other.t");
        assert!(r.plan_errors.is_empty(), "{:?}", r.plan_errors);
        assert!(r.findings.is_empty());
    }

    #[test]
    fn truncated_suite_is_a_plan_error() {
        let log =
            "KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: s\n    1..3\n    ok 1 a\n";
        let r = parse(log);
        assert_eq!(r.count(Outcome::Pass), 1);
        assert_eq!(
            r.plan_errors,
            vec![
                "s: planned 3 tests, saw 1".to_string(),
                "top level: planned 1 tests, saw 0".to_string()
            ]
        );
    }

    #[test]
    fn two_documents_in_one_log() {
        let log = format!("{KUNIT}KTAP version 1\n1..2\nok 1 guest_a\nnot ok 2 guest_b\n");
        let r = parse(&log);
        assert_eq!(r.results.len(), 6);
        assert_eq!(r.results[4].name, "guest_a");
        assert_eq!(r.results[5].outcome, Outcome::Fail);
        assert!(r.plan_errors.is_empty(), "{:?}", r.plan_errors);
    }

    #[test]
    fn timestamps_and_carriage_returns() {
        let log = "[    1.000000] KTAP version 1\r\n[    1.100000] 1..1\r\n[    1.2] ok 1 x\r\n";
        let r = parse(log);
        assert_eq!(
            r.results,
            vec![TestResult {
                name: "x".into(),
                outcome: Outcome::Pass
            }]
        );
        assert!(r.plan_errors.is_empty());
    }

    #[test]
    fn findings_ignore_boot_info() {
        assert!(!is_finding("DMA-API: preallocated 65536 debug entries"));
        assert!(!is_finding("DMA-API: debugging enabled by kernel config"));
        assert!(!is_finding(
            "kmemleak: Kernel memory leak detector initialized"
        ));
        assert!(!is_finding(
            "kasan: KernelAddressSanitizer initialized (generic)"
        ));
        assert!(is_finding(
            "edu 0000:00:03.0: DMA-API: device driver frees DMA memory with different size"
        ));
        assert!(is_finding(
            "WARNING: CPU: 0 PID: 1 at kernel/dma/debug.c:1000"
        ));
        assert!(is_finding("BUG: KASAN: slab-out-of-bounds in foo+0x1/0x2"));
        assert!(is_finding(
            "unreferenced object 0xffff888003b1c000 (size 64):"
        ));
        assert!(is_finding(
            "kmemleak: 2 new suspected memory leaks (see /sys/kernel/debug/kmemleak)"
        ));
        assert!(is_finding(
            "Oops: general protection fault, probably for non-canonical address"
        ));
    }

    #[test]
    fn findings_are_collected() {
        let r = parse("KTAP version 1\n1..1\nWARNING: CPU: 1 PID: 9 at x\nok 1 a\n");
        assert_eq!(r.findings.len(), 1);
        assert_eq!(r.count(Outcome::Pass), 1);
    }

    #[test]
    fn non_results_are_ignored() {
        let r = parse("okay then\nok x not a number\nnot ok\n# ok 1 comment\n");
        assert!(r.results.is_empty());
    }

    #[test]
    fn failed_suite_over_passing_tests() {
        let log = "KTAP version 1\n1..1\n    # Subtest: s\n    KTAP version 1\n    1..1\n    ok 1 a\nnot ok 1 s\n";
        let r = parse(log);
        assert_eq!(r.count(Outcome::Pass), 1);
        assert_eq!(r.failed_suites, vec!["s".to_string()]);
        assert!(r.plan_errors.is_empty(), "{:?}", r.plan_errors);
    }

    #[test]
    fn missing_plans_and_stray_results() {
        let r = parse("KTAP version 1\nok 1 a\n");
        assert_eq!(r.plan_errors, vec!["top level: no plan line (`1..N`)"]);
        let r = parse("ok 1 a\n");
        assert_eq!(r.plan_errors.len(), 1, "{:?}", r.plan_errors);
        assert!(r.plan_errors[0].contains("outside any KTAP document"));
    }

    #[test]
    fn script_without_ktap_is_a_leaf() {
        // The second script printed nothing: its line is a test, not a suite.
        let log = "KTAP version 1\n1..2\n    # Subtest: a\n    KTAP version 1\n    1..1\n    ok 1 x\nok 1 a\n    # Subtest: b\nnot ok 2 b\n";
        let r = parse(log);
        assert_eq!(r.results.len(), 2);
        assert_eq!(r.results[1].name, "b");
        assert_eq!(r.results[1].outcome, Outcome::Fail);
        assert!(r.plan_errors.is_empty(), "{:?}", r.plan_errors);
    }

    #[test]
    fn dmesg_gives_findings_only() {
        let log = format!(
            "KTAP version 1\n1..1\nok 1 a\n{DMESG_BEGIN}\n[ 1.0] KTAP version 1\n[ 1.0] not ok 1 hidden\n[ 2.0] kmemleak: 1 new suspected memory leaks (see /sys/kernel/debug/kmemleak)\nWARNING: CPU: 0 PID: 1 at x\n{DMESG_END}\nWARNING: CPU: 0 PID: 1 at x\n"
        );
        let r = parse(&log);
        assert_eq!(r.results.len(), 1);
        assert!(r.plan_errors.is_empty(), "{:?}", r.plan_errors);
        assert_eq!(r.findings.len(), 2, "{:?}", r.findings);
    }

    #[test]
    fn new_checkers_are_findings() {
        for l in [
            "WARNING: possible circular locking dependency detected",
            "BUG: sleeping function called from invalid context at kernel/locking/mutex.c:585",
            "qemu: EDU: clamping DMA 0x0000000040000000 to 0x0000000000000000!",
            "pool prp: dma_pool_destroy busy",
            "INFO: task insmod:80 blocked for more than 60 seconds.",
        ] {
            assert!(is_finding(l), "{l}");
        }
    }

    #[test]
    fn dash_before_name() {
        let r = parse("KTAP version 1\n1..1\nok 1 - named\n");
        assert_eq!(r.results[0].name, "named");
    }
}
