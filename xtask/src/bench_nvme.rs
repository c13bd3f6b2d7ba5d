//! `bench nvme`: rnvme against the kernel's own nvme driver on one QEMU
//! NVMe controller backed by `null-co`, under fio, alternating over several
//! rounds in one boot of the benchmark kernel. Prints the median IOPS of
//! each side per point, their spread and ratio, and writes
//! docs/nvme-performance.md and docs/nvme-performance.svg.

use crate::bench::{counted, median, run_guest};
use crate::compare;
use crate::demo::Ready;
use crate::kernel::{self, BENCH};
use crate::modules;
use crate::qemu::BootOpts;
use crate::util::{read_stamp, say, write_if_changed, Result};
use crate::{bail, setup, Project};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// Rounds in one boot; each runs every point on both drivers.
const ROUNDS: u32 = 3;
/// Seconds fio measures each point (after half a second of ramp).
const RUNTIME_S: u32 = 1;

/// One point's result over all rounds.
#[derive(Debug, PartialEq)]
pub struct Point {
    pub name: String,
    /// IOPS of every round: rnvme's and nvme's.
    pub rust: Vec<f64>,
    pub c: Vec<f64>,
    /// KiB per command the disk completed, every round: rnvme's and nvme's
    /// (larger than the point's block size where the block layer merged).
    pub rust_kib: Vec<f64>,
    pub c_kib: Vec<f64>,
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

/// Values by point and side (true: rnvme).
type BySide = BTreeMap<(String, bool), Vec<f64>>;

/// Every `TAG DRIVER POINT VALUE` line of a console log, by point and side;
/// with the points in order of appearance.
fn values(log: &str, tag: &str) -> (Vec<String>, BySide) {
    let mut order: Vec<String> = Vec::new();
    let mut by = BySide::new();
    for rest in log.lines().filter_map(|l| l.split(tag).nth(1)) {
        let f: Vec<&str> = rest.split_whitespace().collect();
        let [drv, point, value] = f.as_slice() else {
            continue;
        };
        let rust = match *drv {
            "rnvme" => true,
            "nvme" => false,
            _ => continue,
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        if !order.iter().any(|o| o == point) {
            order.push(point.to_string());
        }
        by.entry((point.to_string(), rust)).or_default().push(value);
    }
    (order, by)
}

/// Every `nvme_bench: DRIVER POINT IOPS` line of a console log, per point in
/// order of appearance, with the `nvme_size: DRIVER POINT KIB` lines.
pub fn points(log: &str) -> Vec<Point> {
    let (order, by) = values(log, "nvme_bench: ");
    let (_, kib) = values(log, "nvme_size: ");
    let kib = |name: &String, rust| kib.get(&(name.clone(), rust)).cloned().unwrap_or_default();
    order
        .into_iter()
        .filter_map(|name| {
            let rust = by.get(&(name.clone(), true))?.clone();
            let c = by.get(&(name.clone(), false))?.clone();
            Some(Point {
                rust_kib: kib(&name, true),
                c_kib: kib(&name, false),
                name,
                rust,
                c,
            })
        })
        .collect()
}

/// The table as the terminal and the document show it.
pub fn table(points: &[Point]) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "| point | rnvme IOPS (median) | spread | nvme IOPS (median) | spread | rnvme/nvme | \
         KiB per command, rnvme / nvme | rounds |"
    );
    let _ = writeln!(t, "|---|---:|---:|---:|---:|---:|---:|---:|");
    let kib = |v: &[f64]| match v {
        [] => "-".to_string(),
        v => format!("{:.1}", median(v.to_vec())),
    };
    for p in points {
        let (rl, rh) = spread(&p.rust);
        let (cl, ch) = spread(&p.c);
        let _ = writeln!(
            t,
            "| {} | {:.0} | {:+.1}/{:+.1} % | {:.0} | {:+.1}/{:+.1} % | {:.3} | {} / {} | {} |",
            p.name,
            median(p.rust.clone()),
            rl,
            rh,
            median(p.c.clone()),
            cl,
            ch,
            p.ratio(),
            kib(&p.rust_kib),
            kib(&p.c_kib),
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

/// What separates the drivers where the CPUs bound the IOPS (random I/O at
/// QD32), in guest instructions per I/O (10^9 / IOPS under `-icount`).
fn gap(points: &[Point]) -> String {
    let mut t = String::from(
        "## The gap in instructions\n\n\
         Where the CPUs bound the IOPS (random I/O at QD32), 10^9 / IOPS is what one I/O costs the guest in \
         instructions: fio, io_uring, the block layer, the driver and its interrupt. The \
         difference is the drivers' (and their bindings') alone.\n\n\
         | point | rnvme instr/I/O | nvme instr/I/O | rnvme - nvme |\n\
         |---|---:|---:|---:|\n",
    );
    for p in points
        .iter()
        .filter(|p| p.name.starts_with("rand") && p.name.ends_with("qd32"))
    {
        let (r, c) = (1e9 / median(p.rust.clone()), 1e9 / median(p.c.clone()));
        let _ = writeln!(t, "| {} | {r:.0} | {c:.0} | {:+.0} |", p.name, r - c);
    }
    t.push('\n');
    t
}

/// The document: how it was measured, the table and the chart.
/// What the document says of the run besides the points: the CPUs, the
/// accelerator, and the drivers' module sizes (text, data, bss).
struct Setting {
    cpus: String,
    accel: String,
    /// Whether guest time was its instruction count (`qemu::ICOUNT_MARKER`).
    icount: bool,
    rnvme: [u64; 3],
    nvme: [u64; 3],
}

fn document(points: &[Point], set: &Setting) -> String {
    let size = |v: [u64; 3]| {
        let k = crate::compare::kib;
        format!("{} / {} / {}", k(v[0]), k(v[1]), k(v[2]))
    };
    let clock = if set.icount {
        "with `-icount shift=0`: guest time is the guest's instruction count, one \
         instruction a nanosecond, the instructions of both CPUs counted on one clock. \
         A point the CPUs bound (random I/O at QD32) gives the same IOPS in every round, to \
         within about 1 %, and 10^9 / IOPS is the guest's instructions per I/O. At QD1 a CPU waits for the device, and QEMU's device model runs in the \
         host's real time, which passes at the same rate in the guest while every CPU \
         waits: those points (and, less, the 128 KiB ones, where QEMU moves more data) vary \
         from round to round with the host's load."
    } else {
        "time as the guest's clock measures it."
    };
    format!(
        "# rnvme against the kernel's nvme driver\n\n\
         Measured with `cargo xtask bench nvme` (the numbers below are this file's last \
         run; the command rewrites it).\n\n\
         ## Set-up\n\n\
         - The benchmark kernel (`kernel/config/bench.config`: no DMA-API debugging, no \
           KASAN, no lockdep; C at `-O2`, Rust at `-Copt-level=2`), under {accel} (KVM where \
           the host has it, else TCG: software emulation), {clock}\n\
         - One QEMU NVMe controller on `null-co` (1 GiB, reads return zeroes, writes are \
           dropped): the device costs as little as QEMU can make it, so the drivers' \
           differences show. The controller does not offer shadow doorbells \
           (`dbcs=off`): neither driver uses them. Both drivers get one I/O queue pair per \
           CPU ({cpus}) and one MSI-X vector per queue, and no poll queues. Both build PRP \
           lists (nvme loaded with `sgl_threshold=0`: QEMU offers SGLs, which rnvme does \
           not use).\n\
         - fio {fio}, `--direct=1 --ioengine=io_uring`, one job per CPU pinned to it, \
           {RUNTIME_S} s per point after 0.5 s of ramp. QD is the depth of each job. IOPS are \
           the sum over the jobs.\n\
         - {ROUNDS} rounds in one boot; each round binds the controller to one driver, runs \
           every point, then to the other; the order swaps every round. Medians over the \
           rounds; the spread is the lowest and highest round against the median.\n\n\
         ## Results\n\n\
         ![rnvme/nvme IOPS ratio per point](nvme-performance.svg)\n\n\
         {table}\n\
         worst rust/c IOPS ratio: {worst:.2}\n\n\
         {gap}\
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
        clock = clock,
        rsize = size(set.rnvme),
        csize = size(set.nvme),
        fio = crate::userspace::FIO_VERSION,
        table = table(points),
        worst = worst(points),
        gap = if set.icount {
            gap(points)
        } else {
            String::new()
        },
    )
}

/// What both commands boot: the benchmark kernel with nvme and nvme-core as
/// modules, rnvme built for it, and fio; with the sizes of rnvme.ko and of
/// nvme.ko + nvme-core.ko (text, data, bss).
fn prepare(p: &Project) -> Result<(Ready, [u64; 3], [u64; 3])> {
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
    let nvme = [core[0] + c[0], core[1] + c[1], core[2] + c[2]];
    Ok((ready, rnvme_size, nvme))
}

/// `cargo xtask bench nvme`.
pub fn bench(p: &Project) -> Result<i32> {
    let (ready, rnvme_size, nvme_size) = prepare(p)?;
    say(
        "bench",
        &format!(
            "booting: {ROUNDS} rounds of 10 fio points ({RUNTIME_S} s each) on rnvme and on \
             nvme; under TCG time is the guest's instruction count; about {} minutes",
            ROUNDS * 2 * 10 * (RUNTIME_S + 1) * 8 / 60 + 1
        ),
    );
    // Under TCG the host's speed varies by more than the differences measured: count time in
    // guest instructions (`bench dma` does too).
    let opts = counted(p, "bench-nvme", Duration::from_secs(3600));
    let (boot, log) = run_guest(p, &ready, "bench-nvme", opts)?;
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
        icount: boot.log.contains(crate::qemu::ICOUNT_MARKER),
        rnvme: rnvme_size,
        nvme: nvme_size,
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

/// A profile window's instructions per guest function: `(function, instructions)`.
pub type Profile = BTreeMap<String, u64>;

/// One profile window: the driver, the point, the I/Os it completed and
/// where its instructions went.
#[derive(Debug, PartialEq)]
pub struct Window {
    pub driver: String,
    pub point: String,
    pub ios: u64,
    pub total: u64,
    pub functions: Profile,
}

/// The function an address is in: the last symbol at or below it in
/// `syms` (sorted by address), or `[user]` below the kernel's half of the
/// address space.
fn function_of(syms: &[(u64, String)], pc: u64) -> String {
    if pc < 0xffff_8000_0000_0000 {
        return "[user]".into();
    }
    match syms.partition_point(|(a, _)| *a <= pc) {
        0 => "[unknown]".into(),
        i => syms[i - 1].1.clone(),
    }
}

/// The text symbols of `nm -n` output, and of the guest's
/// `nvme_profile: sym ADDRESS TYPE NAME [MODULE]` lines, sorted by address.
pub fn symbols(nm: &str, log: &str) -> Vec<(u64, String)> {
    let text = |t: &str| matches!(t, "t" | "T" | "w" | "W");
    let mut syms: Vec<(u64, String)> = nm
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f[..] {
                [a, t, name] if text(t) => Some((u64::from_str_radix(a, 16).ok()?, name.into())),
                _ => None,
            }
        })
        .collect();
    for rest in log
        .lines()
        .filter_map(|l| l.split("nvme_profile: sym ").nth(1))
    {
        let f: Vec<&str> = rest.split_whitespace().collect();
        if let [a, t, name, module] = f[..] {
            if let (Ok(a), true) = (u64::from_str_radix(a, 16), text(t)) {
                syms.push((a, format!("{name} {module}")));
            }
        }
    }
    syms.sort();
    syms
}

/// The profile windows of a log: the plugin's counts (`insn_profile:`)
/// named by `syms`, with the guest's `nvme_profile: window` lines, matched
/// by window number.
pub fn windows(log: &str, syms: &[(u64, String)]) -> Vec<Window> {
    let mut counts: BTreeMap<u32, (Profile, u64)> = BTreeMap::new();
    let mut open: Option<u32> = None;
    for rest in log.lines().filter_map(|l| l.split("insn_profile: ").nth(1)) {
        let f: Vec<&str> = rest.split_whitespace().collect();
        match f[..] {
            ["window", n] => open = n.parse().ok(),
            ["end", n, total] => {
                if let (Some(w), Ok(n), Ok(total)) = (open, n.parse::<u32>(), total.parse()) {
                    if w == n {
                        counts.entry(w).or_default().1 = total;
                    }
                }
                open = None;
            }
            [pc, insns] => {
                let (Some(w), Ok(pc), Ok(insns)) =
                    (open, u64::from_str_radix(pc, 16), insns.parse::<u64>())
                else {
                    continue;
                };
                *counts
                    .entry(w)
                    .or_default()
                    .0
                    .entry(function_of(syms, pc))
                    .or_default() += insns;
            }
            _ => {}
        }
    }
    log.lines()
        .filter_map(|l| l.split("nvme_profile: window ").nth(1))
        .filter_map(|rest| {
            let f: Vec<&str> = rest.split_whitespace().collect();
            let [n, driver, point, ios] = f[..] else {
                return None;
            };
            let (functions, total) = counts.remove(&n.parse().ok()?)?;
            Some(Window {
                driver: driver.into(),
                point: point.into(),
                ios: ios.parse().ok().filter(|&n| n > 0)?,
                total,
                functions,
            })
        })
        .collect()
}

/// Per point: the functions whose instructions per I/O differ most between
/// the drivers, with both totals.
pub fn profile_report(windows: &[Window], top: usize) -> String {
    let mut t = String::new();
    let per_io =
        |w: &Window, f: &str| w.functions.get(f).copied().unwrap_or(0) as f64 / w.ios as f64;
    let mut points: Vec<&str> = Vec::new();
    for w in windows {
        if !points.contains(&w.point.as_str()) {
            points.push(&w.point);
        }
    }
    for point in points {
        let of = |d: &str| windows.iter().find(|w| w.point == point && w.driver == d);
        let (Some(r), Some(c)) = (of("rnvme"), of("nvme")) else {
            continue;
        };
        let (rt, ct) = (r.total as f64 / r.ios as f64, c.total as f64 / c.ios as f64);
        let _ = writeln!(
            t,
            "### {point}\n\n\
             Guest instructions per I/O: rnvme {rt:.0}, nvme {ct:.0} ({:+.0}; {} and {} I/Os \
             profiled).\n\n\
             | function | rnvme | nvme | rnvme - nvme |\n\
             |---|---:|---:|---:|",
            rt - ct,
            r.ios,
            c.ios
        );
        let mut names: Vec<&String> = r.functions.keys().chain(c.functions.keys()).collect();
        names.sort();
        names.dedup();
        names.sort_by(|a, b| {
            let d = |f: &str| (per_io(r, f) - per_io(c, f)).abs();
            d(b).total_cmp(&d(a))
        });
        for f in names.into_iter().take(top) {
            let (a, b) = (per_io(r, f), per_io(c, f));
            let _ = writeln!(t, "| `{f}` | {a:.0} | {b:.0} | {:+.0} |", a - b);
        }
        t.push('\n');
    }
    t
}

/// Drops the crate hashes (`[629f7b87377b9372]`, 8 to 16 hex digits) of a
/// demangled Rust name.
fn without_hashes(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(i) = rest.find('[') {
        let len = rest[i + 1..].find(']').unwrap_or(0);
        let hash = &rest[i + 1..i + 1 + len];
        if (8..=16).contains(&len) && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            out.push_str(&rest[..i]);
            rest = &rest[i + len + 2..];
        } else {
            out.push_str(&rest[..=i]);
            rest = &rest[i + 1..];
        }
    }
    out.push_str(rest);
    out
}

/// Names the windows' Rust functions as source code does (`c++filt`
/// demangles Rust's v0 names), without crate hashes.
fn demangle(windows: &mut [Window]) -> Result<()> {
    use std::io::Write as _;
    let names: Vec<String> = windows
        .iter()
        .flat_map(|w| w.functions.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut child = std::process::Command::new("c++filt")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let input = names.join("\n") + "\n";
    let mut stdin = child.stdin.take().expect("piped");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output()?;
    let _ = writer.join();
    let plain: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(without_hashes)
        .collect();
    if plain.len() != names.len() {
        bail!("c++filt gave {} names for {}", plain.len(), names.len());
    }
    let map: BTreeMap<&String, &String> = names.iter().zip(plain.iter()).collect();
    for w in windows {
        let mut renamed = Profile::new();
        for (f, n) in std::mem::take(&mut w.functions) {
            *renamed
                .entry(map.get(&f).map_or(f.clone(), |m| (*m).clone()))
                .or_default() += n;
        }
        w.functions = renamed;
    }
    Ok(())
}

/// Builds the instruction-count plugin (`xtask/plugin/insn_profile.c`).
fn build_plugin(p: &Project) -> Result<std::path::PathBuf> {
    let src = p.root.join("xtask/plugin/insn_profile.c");
    let out = p.build.join("tools/insn_profile.so");
    if let Some(d) = out.parent() {
        std::fs::create_dir_all(d)?;
    }
    say("bench", "building the instruction-count plugin for QEMU");
    crate::util::run(
        std::process::Command::new("cc")
            .args(["-O2", "-Wall", "-shared", "-fPIC", "-o"])
            .arg(&out)
            .arg(&src),
    )?;
    Ok(out)
}

/// `cargo xtask bench nvme-profile`: where each driver's guest instructions
/// go, per I/O and per function, at random 4 KiB reads and writes and
/// sequential 128 KiB writes, QD32, counted by a TCG plugin; writes
/// docs/nvme-profile.md.
pub fn profile(p: &Project) -> Result<i32> {
    let (ready, _, _) = prepare(p)?;
    if read_stamp(&p.build.join("accel")) == "kvm" {
        bail!("the profile counts instructions with a TCG plugin: it needs TCG, not KVM");
    }
    let plugin = build_plugin(p)?;
    let nm = crate::util::output(
        std::process::Command::new("nm")
            .arg("-n")
            .arg(ready.kernel.out.join("vmlinux")),
    )?;
    let mark = symbols(&nm, "")
        .into_iter()
        .find(|(_, n)| n == "drop_caches_sysctl_handler")
        .ok_or_else(|| crate::util::Error("vmlinux has no drop_caches_sysctl_handler".into()))?
        .0;
    say(
        "bench",
        "booting: one profiled fio run per driver and point (random 4 KiB reads and writes, \
         sequential 128 KiB writes, QD32), instructions counted per block; about 6 minutes",
    );
    let opts = BootOpts {
        append: vec!["nokaslr".into(), "dmabridge.profile=1".into()],
        plugin: Some(format!("{},mark={mark:x}", plugin.display())),
        ..counted(p, "bench-nvme-profile", Duration::from_secs(3600))
    };
    let (boot, log) = run_guest(p, &ready, "bench-nvme", opts)?;
    let syms = symbols(&nm, &boot.log);
    let mut windows = windows(&boot.log, &syms);
    demangle(&mut windows)?;
    if windows.len() < 6 {
        bail!(
            "expected 6 profile windows (3 points on each driver), got {}; console log: {}",
            windows.len(),
            log.display()
        );
    }
    let report = profile_report(&windows, 25);
    println!();
    print!("{report}");
    let doc = p.root.join("docs/nvme-profile.md");
    write_if_changed(
        &doc,
        format!(
            "# Where rnvme's and nvme's instructions go\n\n\
             Measured with `cargo xtask bench nvme-profile` (this file is its last run): the \
             benchmark kernel under TCG with `-icount shift=0`, the controller and fio as in \
             [nvme-performance.md](nvme-performance.md), one fio run per driver and point. A \
             QEMU plugin (`xtask/plugin/insn_profile.c`) counts the guest instructions executed \
             from each translation block between two marks the guest sets around the run; \
             blocks are named by the function they start in (the kernel's `nm`, the modules' \
             `/proc/kallsyms`). Counts are exact and the same from run to run up to what the \
             host's timing changes (interrupt batching); per I/O, they include fio, io_uring, \
             the block layer, the driver and its interrupts, divided by the I/Os the disk \
             completed in the window.\n\n\
             The {} functions whose instructions per I/O differ most:\n\n{report}",
            25
        )
        .as_bytes(),
    )?;
    say("bench", &format!("wrote {}", doc.display()));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_windows_named_and_compared() {
        let nm = "ffffffff81000000 T _text\n\
                  ffffffff81000100 t blk_mq_end_request\n\
                  ffffffff81000200 D some_data\n";
        let log = "nvme_profile: sym ffffffffc0001000 t rnvme_irq [rnvme]\n\
                   qemu: insn_profile: window 0\n\
                   qemu: insn_profile: 400000 50\n\
                   qemu: insn_profile: ffffffff81000120 100\n\
                   qemu: insn_profile: ffffffffc0001010 300\n\
                   qemu: insn_profile: end 0 450\n\
                   nvme_profile: window 0 rnvme randread_4k_qd32 10\n\
                   qemu: insn_profile: window 1\n\
                   qemu: insn_profile: ffffffff81000100 200\n\
                   qemu: insn_profile: end 1 200\n\
                   nvme_profile: window 1 nvme randread_4k_qd32 10\n";
        let syms = symbols(nm, log);
        assert_eq!(
            function_of(&syms, 0xffff_ffff_8100_0150),
            "blk_mq_end_request"
        );
        assert_eq!(
            function_of(&syms, 0xffff_ffff_c000_1010),
            "rnvme_irq [rnvme]"
        );
        assert_eq!(function_of(&syms, 0x40_0000), "[user]");
        assert_eq!(
            without_hashes(
                "<rnvme[ccd659c232c9b4b0]::NvmeOps as kernel[629f7b87377b9372]::x> [rnvme]"
            ),
            "<rnvme::NvmeOps as kernel::x> [rnvme]"
        );
        let w = windows(log, &syms);
        assert_eq!(w.len(), 2);
        assert_eq!(
            (w[0].driver.as_str(), w[0].ios, w[0].total),
            ("rnvme", 10, 450)
        );
        assert_eq!(w[0].functions.get("rnvme_irq [rnvme]"), Some(&300));
        let r = profile_report(&w, 2);
        assert!(r.contains("rnvme 45, nvme 20 (+25;"), "{r}");
        // The largest differences first: rnvme_irq (+30), blk_mq_end_request (-10); not
        // [user] (+5).
        assert!(
            r.contains("| `rnvme_irq [rnvme]` | 30 | 0 | +30 |\n| `blk_mq_end_request` | 10 | 20 | -10 |\n\n"),
            "{r}"
        );
    }

    #[test]
    fn parses_points_and_ratios() {
        let log = "[ 1.0] nvme_bench: round 1 of 2\r\n\
                   nvme_bench: rnvme randread_512_qd1 1000\n\
                   nvme_bench: nvme randread_512_qd1 800\n\
                   nvme_bench: nvme randread_512_qd1 1200\n\
                   nvme_bench: rnvme randread_512_qd1 1100\n\
                   nvme_size: rnvme randread_512_qd1 0.5\n\
                   nvme_size: nvme randread_512_qd1 1.0\n\
                   nvme_size: nvme randread_512_qd1 2.0\n\
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
                rust_kib: vec![0.5],
                c_kib: vec![1.0, 2.0],
            }]
        );
        assert!((p[0].ratio() - 1.05).abs() < 1e-9);
        assert!((worst(&p) - 1.05).abs() < 1e-9);
        assert!(table(&p).contains(
            "| randread_512_qd1 | 1050 | -4.8/+4.8 % | 1000 | -20.0/+20.0 % | 1.050 | 0.5 / 1.5 | 2 |"
        ));
        assert!(svg(&p).contains(">1.050</text>"));
    }
}
