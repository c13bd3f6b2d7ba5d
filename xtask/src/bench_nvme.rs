//! `bench nvme`: rnvme against the kernel's own nvme driver on one QEMU
//! NVMe controller backed by `null-co`, under fio, alternating over several
//! rounds in one boot of the benchmark kernel. Prints the median IOPS of
//! each side per point, their spread and ratio, and writes
//! docs/nvme-performance.md and docs/nvme-performance.svg.

use crate::bench::{median, run_guest};
use crate::compare;
use crate::demo::Ready;
use crate::kernel::{self, BENCH};
use crate::modules;
use crate::util::{read_stamp, say, write_if_changed, Result};
use crate::{bail, setup, Project};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// Rounds in one boot; each runs every point on both drivers.
const ROUNDS: u32 = 5;
/// Seconds fio measures each point (after one second of ramp).
const RUNTIME_S: u32 = 3;

/// One point's result over all rounds.
#[derive(Debug, PartialEq)]
pub struct Point {
    pub name: String,
    /// IOPS of every round: rnvme's and nvme's.
    pub rust: Vec<f64>,
    pub c: Vec<f64>,
}

impl Point {
    pub fn ratio(&self) -> f64 {
        median(self.rust.clone()) / median(self.c.clone())
    }
}

/// Spread of a side: (min, max) relative to its median, in percent.
fn spread(v: &[f64]) -> (f64, f64) {
    let m = median(v.to_vec());
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(0.0, f64::max);
    ((lo / m - 1.0) * 100.0, (hi / m - 1.0) * 100.0)
}

/// Every `nvme_bench: DRIVER POINT IOPS` line of a console log, per point in
/// order of appearance.
pub fn points(log: &str) -> Vec<Point> {
    let mut order: Vec<String> = Vec::new();
    let mut by: BTreeMap<(String, bool), Vec<f64>> = BTreeMap::new();
    for rest in log.lines().filter_map(|l| l.split("nvme_bench: ").nth(1)) {
        let f: Vec<&str> = rest.split_whitespace().collect();
        let [drv, point, iops] = f.as_slice() else {
            continue;
        };
        let rust = match *drv {
            "rnvme" => true,
            "nvme" => false,
            _ => continue,
        };
        let Ok(iops) = iops.parse::<f64>() else {
            continue;
        };
        if !order.iter().any(|o| o == point) {
            order.push(point.to_string());
        }
        by.entry((point.to_string(), rust)).or_default().push(iops);
    }
    order
        .into_iter()
        .filter_map(|name| {
            let rust = by.get(&(name.clone(), true))?.clone();
            let c = by.get(&(name.clone(), false))?.clone();
            Some(Point { name, rust, c })
        })
        .collect()
}

/// The table as the terminal and the document show it.
pub fn table(points: &[Point]) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "| point | rnvme IOPS (median) | spread | nvme IOPS (median) | spread | rnvme/nvme | rounds |"
    );
    let _ = writeln!(t, "|---|---:|---:|---:|---:|---:|---:|");
    for p in points {
        let (rl, rh) = spread(&p.rust);
        let (cl, ch) = spread(&p.c);
        let _ = writeln!(
            t,
            "| {} | {:.0} | {:+.1}/{:+.1} % | {:.0} | {:+.1}/{:+.1} % | {:.3} | {} |",
            p.name,
            median(p.rust.clone()),
            rl,
            rh,
            median(p.c.clone()),
            cl,
            ch,
            p.ratio(),
            p.rust.len().min(p.c.len())
        );
    }
    t
}

/// The worst (lowest) rust/c IOPS ratio.
pub fn worst(points: &[Point]) -> f64 {
    points
        .iter()
        .map(Point::ratio)
        .fold(f64::INFINITY, f64::min)
}

/// A bar chart of the ratios, one bar per point, with a line at 1.00.
pub fn svg(points: &[Point]) -> String {
    let (w, bar, gap, top, left) = (760.0, 22.0, 10.0, 40.0, 170.0);
    let h = top + points.len() as f64 * (bar + gap) + 40.0;
    // The axis spans 0.80 to 1.20 (ratios outside are clipped, labelled).
    let (lo, hi) = (0.8, 1.2);
    let x = |r: f64| left + (r.clamp(lo, hi) - lo) / (hi - lo) * (w - left - 60.0);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(s, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
    let _ = writeln!(
        s,
        "<text x=\"{left}\" y=\"20\" font-size=\"14\">rnvme / nvme IOPS (median of each \
         side; above 1.00: rnvme faster)</text>"
    );
    for (i, p) in points.iter().enumerate() {
        let y = top + i as f64 * (bar + gap);
        let r = p.ratio();
        let (x0, x1) = (x(1.0).min(x(r)), x(1.0).max(x(r)));
        let colour = if r >= 1.0 { "#2e7d32" } else { "#c62828" };
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            left - 8.0,
            y + bar * 0.7,
            p.name
        );
        let _ = writeln!(
            s,
            "<rect x=\"{x0:.1}\" y=\"{y}\" width=\"{:.1}\" height=\"{bar}\" fill=\"{colour}\"/>",
            (x1 - x0).max(1.0)
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{}\">{r:.3}</text>",
            x1 + 4.0,
            y + bar * 0.7
        );
    }
    let base = top + points.len() as f64 * (bar + gap);
    for tick in [0.8, 0.9, 1.0, 1.1, 1.2] {
        let _ = writeln!(
            s,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1}\" y2=\"{base}\" stroke=\"{2}\"/>\
             <text x=\"{0:.1}\" y=\"{3}\" text-anchor=\"middle\">{tick:.2}</text>",
            x(tick),
            top - 6.0,
            if tick == 1.0 { "black" } else { "#ccc" },
            base + 16.0
        );
    }
    s.push_str("</svg>\n");
    s
}

/// The document: how it was measured, the table and the chart.
/// What the document says of the run besides the points: the CPUs, the
/// accelerator, and the drivers' module sizes (text, data, bss).
struct Setting {
    cpus: String,
    accel: String,
    rnvme: [u64; 3],
    nvme: [u64; 3],
}

fn document(points: &[Point], set: &Setting) -> String {
    let size = |v: [u64; 3]| {
        let k = crate::compare::kib;
        format!("{} / {} / {}", k(v[0]), k(v[1]), k(v[2]))
    };
    format!(
        "# rnvme against the kernel's nvme driver\n\n\
         Measured with `cargo xtask bench nvme` (the numbers below are this file's last \
         run; the command rewrites it).\n\n\
         ## Set-up\n\n\
         - The benchmark kernel (`kernel/config/bench.config`: no DMA-API debugging, no \
           KASAN, no lockdep; C at `-O2`, Rust at `-Copt-level=2`), under {accel} (KVM where \
           the host has it, else TCG: software emulation, where every instruction costs \
           several).\n\
         - One QEMU NVMe controller on `null-co` (1 GiB, reads return zeroes, writes are \
           dropped): the device costs as little as QEMU can make it, so the drivers' \
           differences show. The controller does not offer shadow doorbells \
           (`dbcs=off`): neither driver uses them. Both drivers get one I/O queue pair per \
           CPU ({cpus}) and one MSI-X vector per queue, and no poll queues. Both build PRP \
           lists (nvme loaded with `sgl_threshold=0`: QEMU offers SGLs, which rnvme does \
           not use).\n\
         - fio {fio}, `--direct=1 --ioengine=io_uring`, one job per CPU pinned to it, \
           {RUNTIME_S} s per point after 1 s of ramp. QD is the depth of each job. IOPS are \
           the sum over the jobs.\n\
         - {ROUNDS} rounds in one boot; each round binds the controller to one driver, runs \
           every point, then to the other; the order swaps every round. Medians over the \
           rounds; the spread is the lowest and highest round against the median.\n\n\
         ## Results\n\n\
         ![rnvme/nvme IOPS ratio per point](nvme-performance.svg)\n\n\
         {table}\n\
         worst rust/c IOPS ratio: {worst:.2}\n\n\
         ## Module sizes\n\n\
         `size` of the modules of this run, text / data / bss in KiB (benchmark kernel):\n\n\
         | rnvme.ko | nvme.ko + nvme-core.ko |\n\
         |---:|---:|\n\
         | {rsize} | {csize} |\n\n\
         The kernel's nvme driver serves more than rnvme does (passthrough \
         ioctls, power management, error recovery, SGLs, metadata); rnvme carries \
         the bindings' generic code, monomorphised for its types.\n",
        cpus = set.cpus,
        accel = set.accel,
        rsize = size(set.rnvme),
        csize = size(set.nvme),
        fio = crate::userspace::FIO_VERSION,
        table = table(points),
        worst = worst(points),
    )
}

/// `cargo xtask bench nvme`.
pub fn bench(p: &Project) -> Result<i32> {
    setup::setup(p)?;
    say(
        "bench",
        "the benchmark kernel has no checkers (no DMA-API debugging, no KASAN)",
    );
    let built = kernel::build(p, &BENCH)?;
    say("modules", "building rnvme for the benchmark kernel");
    let rnvme = modules::build_one(p, &built, BENCH.name, "rnvme")?;
    let host = built.out.join("drivers/nvme/host");
    let (core, c) = (
        compare::sizes(&host.join("nvme-core.ko"))?,
        compare::sizes(&host.join("nvme.ko"))?,
    );
    let rnvme_size = compare::sizes(&rnvme.ko)?;
    let ready = Ready {
        kernel: built,
        modules: vec![rnvme],
        tools: crate::userspace::fio(p)?,
    };
    say(
        "bench",
        &format!(
            "booting: {ROUNDS} rounds of 10 fio points ({RUNTIME_S} s each) on rnvme and on \
             nvme, about {} minutes",
            ROUNDS * 2 * 10 * (RUNTIME_S + 2) / 60 + 1
        ),
    );
    let (boot, log) = run_guest(p, &ready, "bench-nvme", Duration::from_secs(1800), false)?;
    let points = points(&boot.log);
    if points.len() < 10 {
        bail!(
            "expected 10 points measured on both drivers, got {}; console log: {}",
            points.len(),
            log.display()
        );
    }
    let table = table(&points);
    println!();
    print!("{table}");
    let set = Setting {
        cpus: boot
            .log
            .lines()
            .find_map(|l| l.split("nvme_bench: cpus ").nth(1))
            .unwrap_or("?")
            .trim()
            .to_string(),
        accel: match read_stamp(&p.build.join("accel")).as_str() {
            "kvm" => "KVM".into(),
            _ => "TCG".into(),
        },
        rnvme: rnvme_size,
        nvme: [core[0] + c[0], core[1] + c[1], core[2] + c[2]],
    };
    let doc = p.root.join("docs/nvme-performance.md");
    write_if_changed(&doc, document(&points, &set).as_bytes())?;
    let chart = p.root.join("docs/nvme-performance.svg");
    write_if_changed(&chart, svg(&points).as_bytes())?;
    say(
        "bench",
        &format!("wrote {} and {}", doc.display(), chart.display()),
    );
    println!();
    println!("worst rust/c IOPS ratio: {:.2}", worst(&points));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_points_and_ratios() {
        let log = "[ 1.0] nvme_bench: round 1 of 2\r\n\
                   nvme_bench: rnvme randread_512_qd1 1000\n\
                   nvme_bench: nvme randread_512_qd1 800\n\
                   nvme_bench: nvme randread_512_qd1 1200\n\
                   nvme_bench: rnvme randread_512_qd1 1100\n\
                   nvme_bench: rnvme write_128k_qd32 10\n\
                   nvme_bench: fio failed: x\n";
        let p = points(log);
        // write_128k_qd32 has no C result: not compared.
        assert_eq!(
            p,
            vec![Point {
                name: "randread_512_qd1".into(),
                rust: vec![1000.0, 1100.0],
                c: vec![800.0, 1200.0],
            }]
        );
        assert!((p[0].ratio() - 1.05).abs() < 1e-9);
        assert!((worst(&p) - 1.05).abs() < 1e-9);
        assert!(table(&p).contains(
            "| randread_512_qd1 | 1050 | -4.8/+4.8 % | 1000 | -20.0/+20.0 % | 1.050 | 2 |"
        ));
        assert!(svg(&p).contains(">1.050</text>"));
    }
}
