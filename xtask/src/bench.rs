//! `bench dma`: times the DMA operations through dmabridge's Rust bindings and
//! through direct C calls, alternating in one boot of the benchmark kernel,
//! and prints ns/op for each and the ratio rust/c.

use crate::demo::{self, Ready};
use crate::kernel::{self, BENCH};
use crate::modules;
use crate::qemu::BootOpts;
use crate::util::{say, Error, Result};
use crate::{bail, setup, Project};
use std::collections::BTreeMap;
use std::time::Duration;

/// One result line: `dma_bench: LANG OP ITERATIONS NANOSECONDS`.
#[derive(Debug, PartialEq)]
pub struct Sample {
    pub lang: String,
    pub op: String,
    pub ns_per_op: f64,
}

/// Every result line of a console log.
pub fn samples(log: &str) -> Vec<Sample> {
    log.lines()
        .filter_map(|l| l.split("dma_bench: ").nth(1))
        .filter_map(|rest| {
            let f: Vec<&str> = rest.split_whitespace().collect();
            let [lang, op, iters, ns] = f.as_slice() else {
                return None;
            };
            let iters: f64 = iters.parse().ok()?;
            let ns: f64 = ns.parse().ok()?;
            (iters > 0.0).then(|| Sample {
                lang: lang.to_string(),
                op: op.to_string(),
                ns_per_op: ns / iters,
            })
        })
        .collect()
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Per operation, in order of appearance: (median rust ns/op, median c
/// ns/op, rust/c, runs). The ratio is the median of each round's own ratio:
/// under TCG the host's speed drifts from round to round by more than the
/// difference measured, and within a round the two modules run back to back.
pub fn table(samples: &[Sample]) -> Vec<(String, f64, f64, f64, usize)> {
    let mut order: Vec<String> = Vec::new();
    let mut by: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for s in samples {
        if !order.contains(&s.op) {
            order.push(s.op.clone());
        }
        by.entry((s.op.clone(), s.lang.clone()))
            .or_default()
            .push(s.ns_per_op);
    }
    order
        .into_iter()
        .filter_map(|op| {
            let r = by.get(&(op.clone(), "rust".into()))?.clone();
            let c = by.get(&(op.clone(), "c".into()))?.clone();
            let runs = r.len().min(c.len());
            let ratio = median(r.iter().zip(&c).map(|(r, c)| r / c).collect());
            Some((op, median(r), median(c), ratio, runs))
        })
        .collect()
}

/// `cargo xtask bench dma`.
pub fn bench(p: &Project, what: &str) -> Result<i32> {
    match what {
        "dma" => {}
        "nvme" => return crate::bench_nvme::bench(p),
        "nvme-profile" => return crate::bench_nvme::profile(p),
        _ => bail!("no benchmark `{what}` (there are: dma, nvme, nvme-profile)"),
    }
    setup::setup(p)?;
    say(
        "bench",
        "the benchmark kernel has no checkers (no DMA-API debugging, no KASAN)",
    );
    let built = kernel::build(p, &BENCH)?;
    let mut mods = Vec::new();
    for name in ["dma_bench", "dma_bench_c"] {
        say(
            "modules",
            &format!("building {name} for the benchmark kernel"),
        );
        mods.push(modules::build_one(p, &built, BENCH.name, name)?);
    }
    let ready = Ready {
        kernel: built,
        modules: mods,
        tools: Vec::new(),
    };
    say(
        "bench",
        "booting: 5 rounds, each loads the Rust then the C module; under TCG time is the \
         guest's instruction count",
    );
    // Under TCG the host's speed varies by more than the differences measured
    // (docs/performance.md): time the loops in guest instructions instead.
    let opts = counted(p, "bench-dma", Duration::from_secs(1200));
    let (boot, log) = run_guest(p, &ready, "bench-dma", opts)?;
    let unit = if boot.log.contains(crate::qemu::ICOUNT_MARKER) {
        "instr/op"
    } else {
        "ns/op"
    };
    let rows = table(&samples(&boot.log));
    if rows.len() < 5 {
        bail!(
            "expected 5 operations timed by both modules, got {}; console log: {}",
            rows.len(),
            log.display()
        );
    }
    println!();
    println!(
        "{:<22} {:>12} {:>12} {:>8} {:>5}",
        "operation",
        format!("rust {unit}"),
        format!("c {unit}"),
        "rust/c",
        "runs"
    );
    let mut worst: f64 = 0.0;
    for (op, r, c, ratio, runs) in &rows {
        worst = worst.max(*ratio);
        println!("{op:<22} {r:>12.1} {c:>12.1} {ratio:>8.3} {runs:>5}");
    }
    let json_path = p.root.join("docs/performance-dma.json");
    crate::util::write_if_changed(&json_path, json(&rows, unit).as_bytes())?;
    say(
        "bench",
        &format!("numbers for machines: {}", json_path.display()),
    );
    println!();
    println!("worst rust/c ratio: {worst:.2}");
    Ok(0)
}

/// A benchmark boot whose console log is `build/logs/LOG.log` and whose time
/// is, under TCG, the guest's instruction count (`BootOpts::icount`).
pub fn counted(p: &Project, log: &str, timeout: Duration) -> BootOpts {
    BootOpts {
        icount: true,
        ..BootOpts::quiet(p.build.join(format!("logs/{log}.log")), timeout)
    }
}

/// Boots `ready` with `guest/NAME.sh` as `opts` say (console log in
/// `opts.log`); the boot and its log, or an error if the script did not
/// finish with 0. `icount` in `opts`: time is the guest's instruction count.
pub fn run_guest(
    p: &Project,
    ready: &Ready,
    name: &str,
    opts: BootOpts,
) -> Result<(crate::qemu::Boot, std::path::PathBuf)> {
    let (log, timeout) = (opts.log.clone(), opts.timeout);
    // x86 boots trust the TSC where its rate is known (`qemu::x86_clock`);
    // `fine_clock` refuses a run on a jiffies clock, which ticks in 4 ms steps.
    let script = p.root.join(format!("guest/{name}.sh"));
    let boot = demo::boot_script(p, ready, name, script, &[], opts)?;
    let code = demo::finished(&boot, timeout, &log)?;
    if code != 0 {
        bail!(
            "the benchmark script failed ({code}); console log: {}",
            log.display()
        );
    }
    fine_clock(&boot.log).map_err(|e| Error(format!("{e}; console log: {}", log.display())))?;
    Ok((boot, log))
}

/// What the guest printed as its clock source (`bench: clocksource NAME`).
const CLOCK_MARKER: &str = "bench: clocksource ";

/// Refuses a run timed by a jiffies clock: under TCG a loaded host can make
/// the guest's calibration of its TSC against the PIT fail, and then every
/// time stamp is a multiple of the 4 ms tick.
fn fine_clock(log: &str) -> std::result::Result<(), String> {
    let clock = log
        .lines()
        .find_map(|l| l.trim_end_matches('\r').split(CLOCK_MARKER).nth(1))
        .map(str::trim)
        .ok_or("the guest did not say which clock source it ran on")?;
    if clock.contains("jiffies") {
        return Err(format!(
            "the guest's clock source was {clock}, which moves in 4 ms steps: the times \
             measured are meaningless (its TSC calibration against the PIT failed: a busy host)"
        ));
    }
    Ok(())
}

/// The table as JSON: per operation the median ns/op of each side, the
/// ratio and the number of runs, and the worst ratio.
/// `unit`: what a row's numbers count, `ns/op` or `instr/op`.
pub fn json(rows: &[(String, f64, f64, f64, usize)], unit: &str) -> String {
    let worst = rows.iter().map(|row| row.3).fold(0.0, f64::max);
    let ops: Vec<String> = rows
        .iter()
        .map(|(op, r, c, ratio, runs)| {
            format!(
                "    {{\"op\": \"{op}\", \"rust_per_op\": {r:.1}, \"c_per_op\": {c:.1}, \"ratio\": {ratio:.3}, \"runs\": {runs}}}"
            )
        })
        .collect();
    format!(
        "{{\n  \"bench\": \"dma\",\n  \"unit\": \"{unit}\",\n  \"operations\": [\n{}\n  ],\n  \"worst_ratio\": {worst:.3}\n}}\n",
        ops.join(",\n")
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_jiffies_clock_is_refused() {
        assert!(fine_clock("bench: clocksource tsc\r\n").is_ok());
        assert!(fine_clock("x\nbench: clocksource refined-jiffies\n")
            .unwrap_err()
            .contains("refined-jiffies"));
        assert!(fine_clock("no marker\n").is_err());
    }

    use super::*;

    #[test]
    fn json_of_the_table() {
        let rows = vec![
            ("map_unmap".to_string(), 110.0, 100.0, 1.1, 5),
            ("pool".to_string(), 50.0, 50.0, 1.0, 5),
        ];
        assert_eq!(
            json(&rows, "ns/op"),
            "{\n  \"bench\": \"dma\",\n  \"unit\": \"ns/op\",\n  \"operations\": [\n    {\"op\": \"map_unmap\", \"rust_per_op\": 110.0, \"c_per_op\": 100.0, \"ratio\": 1.100, \"runs\": 5},\n    {\"op\": \"pool\", \"rust_per_op\": 50.0, \"c_per_op\": 50.0, \"ratio\": 1.000, \"runs\": 5}\n  ],\n  \"worst_ratio\": 1.100\n}\n"
        );
    }

    #[test]
    fn parses_and_compares() {
        let log = "noise\r\n[    1.0] dma_bench: rust map_unmap 100 1000\n\
                   dma_bench: c map_unmap 100 800\n\
                   dma_bench: rust map_unmap 100 3000\n\
                   dma_bench: c map_unmap 100 1200\n\
                   dma_bench: round 1 of 5\n\
                   dma_bench: rust pool 10 50\n";
        let s = samples(log);
        assert_eq!(s.len(), 5);
        assert_eq!(s[0].ns_per_op, 10.0);
        let t = table(&s);
        // `pool` has no C result: not compared.
        // Rounds of 10/8 and 30/12: medians 20 and 10, but the rounds' own
        // ratios are 1.25 and 2.5.
        assert_eq!(t, vec![("map_unmap".to_string(), 20.0, 10.0, 1.875, 2)]);
    }
}
