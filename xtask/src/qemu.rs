//! Boots a built kernel and an initramfs under QEMU with the project's devices,
//! streaming the kernel's serial console and the second port the guest's programs
//! print on (`Arch::output`), with a hard timeout.

use crate::cache;
use crate::kernel::{Arch, Built};
use crate::setup::Tools;
use crate::util::{io_ctx, read_stamp, say, Error, Hasher, Result};
use crate::{bail, Project};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// The line `guest/init` prints when it starts the script.
pub const SCRIPT_MARKER: &str = "dmabridge: script begins";

/// The line `guest/init` prints with the script's exit status.
pub const EXIT_MARKER: &str = "dmabridge: script exit status ";

/// The line a boot's log begins with when time is the guest's instruction
/// count (`BootOpts::icount`).
pub const ICOUNT_MARKER: &str = "qemu: time is the guest's instruction count (-icount shift=0)";

/// How to boot.
pub struct BootOpts {
    pub append: Vec<String>,
    pub timeout: Duration,
    /// Copy the console to the terminal as it arrives.
    pub echo: bool,
    /// Where to keep the console log.
    pub log: PathBuf,
    /// Guest RAM in MiB: `DEFAULT_MEMORY_MIB` unless a run needs more.
    pub memory_mib: u32,
    /// Start QEMU's gdb stub on this local port, the CPUs stopped until a
    /// debugger continues them.
    pub gdb_port: Option<u16>,
    /// Hot-pluggable slots with devices in them, which the guest can have
    /// removed through QEMU's monitor (`hotplug_devices`, `qmp`).
    pub hotplug: bool,
    /// Under TCG, let time be the guest's instruction count (`-icount
    /// shift=0`: one instruction, one nanosecond), so that a benchmark counts
    /// instructions rather than the host's busy time. Ignored under KVM.
    pub icount: bool,
    /// A TCG plugin and its arguments (`-plugin file=...,...`), whose output
    /// QEMU logs with its own (`-d plugin`). Ignored under KVM.
    pub plugin: Option<String>,
}

impl BootOpts {
    /// A boot with the default RAM and kernel command line that keeps the
    /// console in `log` without echoing it.
    pub fn quiet(log: PathBuf, timeout: Duration) -> BootOpts {
        BootOpts {
            append: Vec::new(),
            timeout,
            echo: false,
            log,
            memory_mib: DEFAULT_MEMORY_MIB,
            gdb_port: None,
            hotplug: false,
            icount: false,
            plugin: None,
        }
    }
}

/// edu addresses 28 bits (256 MiB). x86 turns swiotlb on only above 4 GiB of
/// RAM, and a forced bounce pool is allocated high in low memory, so with more
/// RAM a streaming mapping of a buffer above 256 MiB fails (dma-direct warns
/// "DMA addr ... overflow"). 256 MiB of RAM keeps every buffer and every
/// bounce slot addressable by edu.
pub const DEFAULT_MEMORY_MIB: u32 = 256;

/// What a boot left.
pub struct Boot {
    pub log: String,
    /// The script's exit status, if the guest got that far.
    pub exit: Option<i32>,
    pub timed_out: bool,
}

/// Whether `l` belongs to the register dump `-d cpu_reset` prints at a vCPU
/// reset, given whether the line before did: the dump starts with
/// `CPU Reset (CPU 1)` and goes on with lines such as `EAX=00000000 EBX=...`,
/// `CS =0000 ...`, `XMM00=...` (x86) or ` PC=...`, `X00=...` (arm64).
fn is_reset_dump(l: &str, in_dump: bool) -> bool {
    if l.starts_with("CPU Reset (CPU ") {
        return true;
    }
    if !in_dump {
        return false;
    }
    let Some((name, _)) = l.trim_start().split_once('=') else {
        return false;
    };
    let name = name.trim_end();
    (1..=6).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// The guest's CPUs.
const VCPUS: u32 = 2;

/// The log line that says how QEMU ended.
pub const QEMU_ENDED: &str = "qemu: ended:";

/// Reads the script exit status from the console log.
pub fn exit_status(log: &str) -> Option<i32> {
    log.lines()
        .filter_map(|l| l.trim_end_matches('\r').split(EXIT_MARKER).nth(1))
        .filter_map(|s| s.trim().parse().ok())
        .next_back()
}

/// QEMU's binary for `arch`.
pub fn binary(tools: &Tools, arch: Arch) -> &Path {
    match arch {
        Arch::X86_64 => &tools.qemu,
        Arch::Arm64 => &tools.qemu_arm64,
    }
}

/// edu's DMA mask on arm64's `virt` machine, whose RAM starts at 1 GiB: its
/// default 28 bits reach no RAM there (`edu` and `edu_c` fail their probe with
/// EIO), so the arm64 machine's edu addresses 40 bits and the DMA test module
/// asks for 40 there.
pub const EDU_DMA_MASK_ARM64: &str = "0xffffffffff";

/// The size of the data disk behind the second NVMe controller.
pub const NVME_DATA_BYTES: u64 = 64 << 20;

/// The raw image behind a boot's second NVMe controller (serial
/// `dmabridge1`): made empty (zeroes) for each boot, next to its log, and
/// removed after it, so boots never share one.
fn data_image(opts: &BootOpts) -> PathBuf {
    opts.log.with_extension("nvme.img")
}

/// QEMU's monitor socket of a boot (`qmp`): in the temporary directory, as
/// a Unix socket's path must fit in 108 bytes, named after the boot's log.
fn qmp_socket(opts: &BootOpts) -> PathBuf {
    boot_socket(opts, "qmp")
}

/// The socket the host listens on for the guest's second serial port
/// (`Arch::output`): QEMU connects to it as it starts, before the guest runs.
fn output_socket(opts: &BootOpts) -> PathBuf {
    boot_socket(opts, "out")
}

/// A boot's Unix socket, in the temporary directory (a path in a deep
/// checkout could pass the 108 bytes a socket's path may have), named by a
/// hash of the boot's log path.
fn boot_socket(opts: &BootOpts, kind: &str) -> PathBuf {
    let mut h = crate::util::Hasher::new();
    h.str(&opts.log.to_string_lossy());
    std::env::temp_dir().join(format!("dmabridge-{}.{kind}", &h.hex()[..16]))
}

/// The size of that controller's second namespace, which holds a GUID
/// partition table with one partition (`gpt::write_image`).
pub const NVME_GPT_BYTES: u64 = 32 << 20;

/// The image of that second namespace, made and removed with the first.
fn gpt_image(opts: &BootOpts) -> PathBuf {
    opts.log.with_extension("gpt.img")
}

fn qemu_command(
    tools: &Tools,
    accel: &str,
    b: &Built,
    initrd: &Path,
    append: &str,
    opts: &BootOpts,
) -> Command {
    let (memory_mib, data, gpt) = (opts.memory_mib, data_image(opts), gpt_image(opts));
    let mut cmd = Command::new(binary(tools, b.arch));
    match b.arch {
        Arch::X86_64 => {
            // Two sockets of one core: without ACPI the kernel finds processors in
            // QEMU's MP table, which lists one per socket (`-smp 2` alone boots one).
            cmd.args([
                "-M",
                "q35",
                "-accel",
                accel,
                "-smp",
                &format!("{VCPUS},sockets={VCPUS},cores=1"),
                "-m",
            ])
            .arg(format!("{memory_mib}M"));
            // No 5-level paging. While `identify_cpu` rebuilds the boot CPU's
            // feature bits, `boot_cpu_data` briefly lacks LA57 with interrupts on:
            // an interrupt then sees KASAN's shadow bounds for 4-level paging, and
            // the timer's `raw_spin_lock(&desc->lock)` on a 5-level direct-map
            // address is reported as a wild-memory-access (a false report in about
            // one boot of thirty). `no5lvl` on the command line covers KVM hosts too.
            if accel == "tcg" {
                cmd.args(["-cpu", "max,la57=off"]);
            } else {
                cmd.args(["-cpu", "host"]);
            }
        }
        Arch::Arm64 => {
            // GICv3 with its ITS: MSI and MSI-X for the PCIe devices.
            cmd.args([
                "-M",
                "virt,gic-version=3",
                "-accel",
                "tcg",
                "-cpu",
                "cortex-a57",
            ])
            .args(["-smp", &VCPUS.to_string(), "-m"])
            .arg(format!("{memory_mib}M"));
        }
    }
    // Device models report a guest's bad requests (e.g. edu clamping a DMA
    // address beyond its mask) only with guest_errors logging, on stderr;
    // under TCG, cpu_reset logs a triple fault ("Triple fault"), which with
    // -no-reboot ends QEMU without a word from the guest (and each vCPU's
    // state at its power-on reset, which `is_reset_dump` leaves out of the
    // log).
    if counts_instructions(accel, opts) {
        cmd.args(["-icount", "shift=0"]);
    }
    match &opts.plugin {
        Some(plugin) if accel == "tcg" => {
            cmd.args(["-plugin", plugin, "-d", "guest_errors,cpu_reset,plugin"]);
        }
        _ => {
            cmd.args(["-d", "guest_errors,cpu_reset"]);
        }
    }
    // The kernel's console on standard output, the guest's programs on a
    // second port (`Arch::output`).
    cmd.args(["-display", "none", "-serial", "stdio", "-monitor", "none"])
        .arg("-chardev")
        .arg(format!(
            "socket,id=output,path={}",
            output_socket(opts).display()
        ))
        .args(["-serial", "chardev:output"])
        .args(["-no-reboot", "-nic", "none"])
        .arg("-kernel")
        .arg(&b.bzimage)
        .arg("-initrd")
        .arg(initrd)
        .arg("-append")
        .arg(append)
        .arg("-device")
        .arg(match b.arch {
            Arch::X86_64 => "edu".to_string(),
            Arch::Arm64 => format!("edu,dma_mask={EDU_DMA_MASK_ARM64}"),
        })
        .args([
            "-blockdev",
            "driver=null-co,node-name=nullnvme,size=1073741824,read-zeroes=on",
            "-device",
            // No shadow doorbells, so that `bench nvme` compares the drivers
            // with the same doorbell writes (the kernel's nvme uses them
            // when offered; rnvme does not implement them).
            "nvme,drive=nullnvme,serial=dmabridge0,dbcs=off",
        ])
        // Data that goes through a controller comes back: a file-backed one.
        .arg("-blockdev")
        .arg(format!(
            "driver=raw,node-name=datanvme,discard=unmap,file.driver=file,file.filename={}",
            data.display()
        ))
        .arg("-blockdev")
        .arg(format!(
            "driver=raw,node-name=gptnvme,file.driver=file,file.filename={}",
            gpt.display()
        ))
        .args([
            "-device",
            "nvme,id=nvmedata,serial=dmabridge1",
            "-device",
            "nvme-ns,drive=datanvme,bus=nvmedata,nsid=1",
            "-device",
            "nvme-ns,drive=gptnvme,bus=nvmedata,nsid=2",
        ]);
    cmd
}

/// A PCI-to-PCI bridge whose standard hot-plug controller (SHPC, the
/// kernel's shpchp) serves three slots, each holding a device the guest can
/// have removed (`device_del` through the monitor on `qmp`): an edu (id
/// `hpedu`) and two NVMe controllers on null-co (`hpnvme1`, serial
/// dmabridge2; `hpnvme2`, serial dmabridge3). They are there from boot, so
/// the suite removes devices and never adds them. Not PCIe root ports: this
/// kernel's pciehp reports a lockdep cycle on every add and removal.
fn hotplug_devices(cmd: &mut Command, arch: Arch) {
    cmd.args(["-device", "pci-bridge,id=hp,chassis_nr=1,shpc=on"]);
    for (i, dev) in [
        "edu,id=hpedu",
        "nvme,id=hpnvme1,drive=hpnull1,serial=dmabridge2",
        "nvme,id=hpnvme2,drive=hpnull2,serial=dmabridge3",
    ]
    .iter()
    .enumerate()
    {
        if i > 0 {
            cmd.arg("-blockdev").arg(format!(
                "driver=null-co,node-name=hpnull{i},size=268435456,read-zeroes=on"
            ));
        }
        cmd.arg("-device")
            .arg(format!("{dev},bus=hp,addr={}", i + 1));
    }
    if arch == Arch::X86_64 {
        // q35 hot-plugs behind bridges through ACPI by default; this kernel
        // has no ACPI: the bridge's own hot-plug controller instead.
        cmd.args([
            "-global",
            "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off",
        ]);
    }
}

/// The x86 guest's clock: its rate given rather than measured against the PIT.
///
/// TCG's vCPUs read the host's cycle counter: one counter for all of them,
/// at the host's rate (on an x86 host its TSC; QEMU on other hosts counts
/// nanoseconds, and under `-icount` instructions, one per nanosecond). Left
/// to itself the guest measures that rate against QEMU's PIT, which on a busy
/// host fails now and then ("could not calculate TSC khz": 3 boots of 27 in
/// one CI run). The local APIC timer is then calibrated against PIT ticks
/// too, and when its check fails ("APIC timer disabled due to verification
/// failure") every tick comes from the PIT through the I/O APIC, broadcast to
/// the other CPU: the path of both idle hangs in docs/soundness.md. With the
/// rate given, the APIC timer is calibrated against the TSC. Two sockets
/// without the invariant-TSC bit make the kernel distrust a counter it cannot
/// check and fall back to jiffies, which move in 4 ms steps: where the rate
/// is known to be constant (and under KVM, which synchronises its vCPUs'
/// TSCs), `tsc=reliable` keeps the TSC as the clock source.
fn x86_clock(accel: &str, opts: &BootOpts) -> Vec<String> {
    let khz = if accel != "tcg" {
        return vec!["tsc=reliable".into()];
    } else if counts_instructions(accel, opts) {
        1_000_000
    } else {
        match host_tsc_mhz() {
            Some(mhz) => mhz * 1000,
            None => return Vec::new(),
        }
    };
    vec![format!("tsc_early_khz={khz}"), "tsc=reliable".into()]
}

/// Whether a boot's time is its instruction count (`BootOpts::icount`).
fn counts_instructions(accel: &str, opts: &BootOpts) -> bool {
    opts.icount && accel == "tcg"
}

/// The rate in MHz of the counter TCG gives the guest as its TSC (whole, so
/// that a boot's replay key stays the same from run to run), measured once;
/// `None` (said once) if it does not tick at a constant rate.
fn host_tsc_mhz() -> Option<u64> {
    static MHZ: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *MHZ.get_or_init(|| {
        let mhz = measure_tsc_mhz();
        if mhz.is_none() {
            say(
                "run",
                "the host's TSC has no constant rate: x86 guests calibrate theirs against the PIT",
            );
        }
        mhz
    })
}

#[cfg(target_arch = "x86_64")]
fn measure_tsc_mhz() -> Option<u64> {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").ok()?;
    let flags = cpuinfo.lines().find(|l| l.starts_with("flags"))?;
    let has = |f: &str| flags.split_whitespace().any(|w| w == f);
    if !(has("constant_tsc") && has("nonstop_tsc")) {
        return None;
    }
    // A TSC reading and the monotonic clock's time around it; of several
    // tries the one whose two clock readings are closest (the others were
    // interrupted in between). Over 200 ms, a bracket of microseconds is an
    // error of a few parts per million.
    let pair = || {
        (0..20)
            .map(|_| {
                let before = Instant::now();
                // SAFETY: `rdtsc` reads the time-stamp counter and has no
                // other effect; every x86_64 processor has it, and Linux lets
                // user space run it.
                let tsc = unsafe { core::arch::x86_64::_rdtsc() };
                let after = Instant::now();
                (after - before, before + (after - before) / 2, tsc)
            })
            .min_by_key(|&(width, _, _)| width)
            .map(|(_, at, tsc)| (at, tsc))
    };
    let (t0, c0) = pair()?;
    thread::sleep(Duration::from_millis(200));
    let (t1, c1) = pair()?;
    let secs = (t1 - t0).as_secs_f64();
    Some((c1.wrapping_sub(c0) as f64 / secs / 1e6).round() as u64)
}

/// QEMU's TCG on an arm64 host counts nanoseconds (`get_clock()`).
#[cfg(target_arch = "aarch64")]
fn measure_tsc_mhz() -> Option<u64> {
    Some(1000)
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn measure_tsc_mhz() -> Option<u64> {
    None
}

/// The whole QEMU command of a boot.
fn command_for(tools: &Tools, accel: &str, b: &Built, initrd: &Path, opts: &BootOpts) -> Command {
    let mut append = vec![
        format!("console={}", b.arch.console()),
        "panic=-1".to_string(),
    ];
    if b.arch == Arch::X86_64 {
        append.push("no5lvl".to_string());
        append.extend(x86_clock(accel, opts));
    }
    if opts.gdb_port.is_some() {
        // Symbols at the addresses vmlinux gives them.
        append.push("nokaslr".to_string());
    }
    append.extend(opts.append.iter().cloned());
    let mut cmd = qemu_command(tools, accel, b, initrd, &append.join(" "), opts);
    if opts.hotplug {
        hotplug_devices(&mut cmd, b.arch);
    }
    // Every boot has a monitor: hot-plug requests, and the machine's state
    // when a boot times out (`machine_state`).
    cmd.arg("-qmp").arg(format!(
        "unix:{},server=on,wait=off",
        qmp_socket(opts).display()
    ));
    if let Some(port) = opts.gdb_port {
        cmd.args(["-gdb", &format!("tcp:127.0.0.1:{port}"), "-S"]);
    }
    cmd
}

/// The replay key of a boot: QEMU's binary (size and time stamp), its whole
/// command line with the kernel image and the initramfs replaced by their
/// contents, and the timeout.
fn boot_key(
    tools: &Tools,
    accel: &str,
    b: &Built,
    initrd: &Path,
    opts: &BootOpts,
) -> Result<String> {
    let cmd = command_for(tools, accel, b, initrd, opts);
    let mut h = Hasher::new();
    // How the boot is run and its output captured is part of its key.
    h.str("boot v2")
        .str(include_str!("qemu.rs"))
        .str(include_str!("qmp.rs"))
        .str(include_str!("gpt.rs"));
    let qemu = binary(tools, b.arch);
    let meta = io_ctx(fs::metadata(qemu), "cannot stat", qemu)?;
    h.str(&qemu.display().to_string())
        .str(&format!("{} {:?}", meta.len(), meta.modified().ok()));
    for arg in cmd.get_args() {
        let path = Path::new(arg);
        if path == b.bzimage || path == initrd {
            h.file(path)?;
        } else {
            h.bytes(arg.as_encoded_bytes());
        }
    }
    h.str(&opts.timeout.as_secs().to_string());
    Ok(h.hex())
}

/// A boot as the replay cache keeps it: a header line, then the log.
fn encode(boot: &Boot) -> String {
    format!("timed_out={}\n{}", boot.timed_out, boot.log)
}

/// A recorded boot; its exit status is read again from the log.
fn decode(rec: &str) -> Option<Boot> {
    let (head, log) = rec.split_once('\n')?;
    let timed_out = head.strip_prefix("timed_out=")?.parse().ok()?;
    Some(Boot {
        log: log.to_string(),
        exit: exit_status(log),
        timed_out,
    })
}

fn boot_with(
    tools: &Tools,
    accel: &str,
    b: &Built,
    initrd: &Path,
    opts: &BootOpts,
) -> Result<Boot> {
    let data = data_image(opts);
    if let Some(d) = data.parent() {
        fs::create_dir_all(d)?;
    }
    let image = io_ctx(fs::File::create(&data), "cannot create", &data)?;
    io_ctx(image.set_len(NVME_DATA_BYTES), "cannot size", &data)?;
    drop(image);
    let gpt = gpt_image(opts);
    crate::gpt::write_image(&gpt, NVME_GPT_BYTES)?;
    let out_path = output_socket(opts);
    let _ = fs::remove_file(&out_path);
    let boot = io_ctx(UnixListener::bind(&out_path), "cannot listen on", &out_path)
        .and_then(|listener| run_qemu(tools, accel, b, initrd, opts, &listener));
    for file in [data, gpt, out_path, qmp_socket(opts)] {
        let _ = fs::remove_file(file);
    }
    boot
}

fn run_qemu(
    tools: &Tools,
    accel: &str,
    b: &Built,
    initrd: &Path,
    opts: &BootOpts,
    listener: &UnixListener,
) -> Result<Boot> {
    let mut child = command_for(tools, accel, b, initrd, opts)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            let qemu = binary(tools, b.arch).display();
            Error(format!("cannot start {qemu}: {e}"))
        })?;
    let (tx, rx) = mpsc::channel::<String>();
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let tx2 = tx.clone();
    let port = accept_output(listener, &mut child);
    // The console and the output port, line by line, in the order they come.
    let t3 = match port {
        Some(port) => Some(forward(Box::new(port), tx.clone())),
        None => {
            let _ = tx.send("qemu: the guest's output port was never connected".into());
            None
        }
    };
    let t1 = forward(Box::new(out), tx);
    let t2 = thread::spawn(move || {
        let mut in_dump = false;
        for l in BufReader::new(err).lines().map_while(|l| l.ok()) {
            in_dump = is_reset_dump(&l, in_dump);
            if in_dump {
                continue;
            }
            if tx2.send(format!("qemu: {l}")).is_err() {
                break;
            }
        }
    });
    if let Some(d) = opts.log.parent() {
        fs::create_dir_all(d)?;
    }
    let mut file = io_ctx(fs::File::create(&opts.log), "cannot create", &opts.log)?;
    let deadline = Instant::now() + opts.timeout;
    let mut log = String::new();
    // Each line goes to the log file and to the log the boot returns.
    let mut record = |line: &str| -> std::io::Result<()> {
        writeln!(file, "{line}")?;
        log.push_str(line);
        log.push('\n');
        Ok(())
    };
    if counts_instructions(accel, opts) {
        record(ICOUNT_MARKER)?;
    }
    let mut timed_out = false;
    let mut monitor: Option<crate::qmp::Monitor> = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            timed_out = true;
            // What the vCPUs were doing, for a hang that shows once in many
            // boots: each one's registers and, on x86, its local APIC.
            for l in machine_state(&mut monitor, &qmp_socket(opts), b.arch) {
                record(&l)?;
            }
            let _ = child.kill();
            break;
        }
        match rx.recv_timeout(left.min(Duration::from_millis(500))) {
            Ok(l) => {
                let l = l.trim_end_matches('\r').to_string();
                if opts.echo {
                    println!("{l}");
                }
                record(&l)?;
                if let Some(req) = crate::qmp::request(&l) {
                    let answer = qmp_send(&mut monitor, &qmp_socket(opts), req);
                    record(&format!("qmp: {answer}"))?;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let status = child.wait();
    let _ = t1.join();
    let _ = t2.join();
    if let Some(t3) = t3 {
        let _ = t3.join();
    }
    // How QEMU ended: a guest that stops early without a word from the
    // kernel is told apart from a QEMU that crashed.
    let ended = match status {
        Ok(s) if timed_out => format!("{QEMU_ENDED} killed at the timeout ({s})"),
        Ok(s) => format!("{QEMU_ENDED} {s}"),
        Err(e) => format!("{QEMU_ENDED} unknown: {e}"),
    };
    record(&ended)?;
    Ok(Boot {
        exit: exit_status(&log),
        log,
        timed_out,
    })
}

/// Sends each line `r` reads (bytes up to a newline, not necessarily UTF-8)
/// to `tx`, until the end of its input.
fn forward(r: Box<dyn Read + Send>, tx: mpsc::Sender<String>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        for l in BufReader::new(r).split(b'\n').map_while(|l| l.ok()) {
            if tx.send(String::from_utf8_lossy(&l).into_owned()).is_err() {
                break;
            }
        }
    })
}

/// Waits for QEMU to connect to the guest's output port, which it does as it
/// starts; `None` when QEMU ends first or takes over a minute (its standard
/// error says why).
fn accept_output(listener: &UnixListener, child: &mut Child) -> Option<UnixStream> {
    listener.set_nonblocking(true).ok()?;
    let start = Instant::now();
    loop {
        match listener.accept() {
            Ok((port, _)) => {
                port.set_nonblocking(false).ok()?;
                return Some(port);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return None,
        }
        if start.elapsed() > Duration::from_secs(60) || !matches!(child.try_wait(), Ok(None)) {
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// The machine's state through the monitor, as `qemu-state:` lines: every
/// vCPU's registers and, on x86, both local APICs (interrupts requested,
/// in service, the timer's count), the PIC and I/O APIC, and the count of
/// interrupts each line raised.
fn machine_state(
    monitor: &mut Option<crate::qmp::Monitor>,
    socket: &Path,
    arch: Arch,
) -> Vec<String> {
    let mut asks = vec!["info registers -a".to_string()];
    if arch == Arch::X86_64 {
        asks.extend((0..VCPUS).map(|cpu| format!("info lapic {cpu}")));
        // The PIT's interrupt reaches the CPUs through the PIC and the I/O
        // APIC: their state, and how many interrupts each line raised.
        asks.extend(["info pic".to_string(), "info irq".to_string()]);
    }
    let mut lines = Vec::new();
    for ask in asks {
        let json = serde_json::json!({
            "execute": "human-monitor-command",
            "arguments": { "command-line": ask },
        });
        let answer = qmp_send(monitor, socket, Ok(json.to_string()));
        let text = serde_json::from_str::<serde_json::Value>(&answer)
            .ok()
            .and_then(|v| v.get("return")?.as_str().map(str::to_string))
            .unwrap_or(answer);
        lines.push(format!("qemu-state: {ask}"));
        lines.extend(
            text.lines()
                .map(|l| format!("qemu-state:   {}", l.trim_end_matches('\r'))),
        );
    }
    lines
}

/// Sends a guest's request to QEMU's monitor, connecting on first use;
/// returns the answer, or what went wrong, for the log.
fn qmp_send(
    monitor: &mut Option<crate::qmp::Monitor>,
    socket: &Path,
    req: std::result::Result<String, String>,
) -> String {
    let json = match req {
        Ok(json) => json,
        Err(e) => return e,
    };
    if monitor.is_none() {
        match crate::qmp::Monitor::connect(socket) {
            Ok(m) => *monitor = Some(m),
            Err(e) => return format!("cannot connect to {}: {e}", socket.display()),
        }
    }
    match monitor.as_mut().map(|m| m.execute(&json)) {
        Some(Ok(answer)) => answer,
        Some(Err(e)) => {
            *monitor = None;
            format!("monitor error: {e}")
        }
        None => "no monitor".into(),
    }
}

/// Chooses KVM only when a real trial boot with it reaches the guest script;
/// the answer is kept in `build/accel`.
fn accel(p: &Project, tools: &Tools, b: &Built, initrd: &Path) -> Result<String> {
    let stamp = p.build.join("accel");
    let known = read_stamp(&stamp);
    if known == "kvm" || known == "tcg" {
        return Ok(known);
    }
    let mut choice = "tcg";
    if Path::new("/dev/kvm").exists() {
        say("run", "trying a boot with KVM");
        let trial = BootOpts {
            append: vec!["kunit.enable=0".into(), "dmabridge.trial=1".into()],
            ..BootOpts::quiet(p.build.join("logs/kvm-trial.log"), Duration::from_secs(60))
        };
        match boot_with(tools, "kvm", b, initrd, &trial) {
            Ok(boot) if boot.exit.is_some() => choice = "kvm",
            _ => say(
                "run",
                "KVM does not work here: using TCG (software emulation)",
            ),
        }
    }
    fs::write(&stamp, choice)?;
    Ok(choice.to_string())
}

/// Boots `b` with `initrd`.
pub fn boot(p: &Project, b: &Built, initrd: &Path, opts: &BootOpts) -> Result<Boot> {
    let tools = Tools::new(p);
    let qemu = binary(&tools, b.arch);
    if !qemu.exists() {
        bail!("{} is missing: run `cargo xtask setup`", qemu.display());
    }
    // KVM only runs the host's architecture.
    let accel = match b.arch {
        Arch::X86_64 => accel(p, &tools, b, initrd)?,
        Arch::Arm64 => "tcg".to_string(),
    };
    let name = opts
        .log
        .file_stem()
        .map_or(String::new(), |s| s.to_string_lossy().into_owned());
    let key = boot_key(&tools, &accel, b, initrd, opts)?;
    let replay = || cache::lookup(p, &format!("boot {name}"), &key, decode);
    if let Some(boot) = opts.gdb_port.is_none().then(replay).flatten() {
        if let Some(d) = opts.log.parent() {
            fs::create_dir_all(d)?;
        }
        io_ctx(fs::write(&opts.log, &boot.log), "cannot write", &opts.log)?;
        return Ok(boot);
    }
    say(
        "run",
        &format!(
            "booting the kernel under QEMU ({accel}, timeout {}s)",
            opts.timeout.as_secs()
        ),
    );
    let boot = boot_with(&tools, &accel, b, initrd, opts)?;
    if opts.gdb_port.is_none() {
        cache::record(p, &key, &encode(&boot))?;
    }
    if boot.timed_out {
        say(
            "run",
            &format!(
                "QEMU did not finish within {}s and was killed; log: {}",
                opts.timeout.as_secs(),
                opts.log.display()
            ),
        );
    }
    Ok(boot)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reset_dumps_are_left_out() {
        assert!(is_reset_dump("CPU Reset (CPU 1)", false));
        for l in [
            "EAX=00000000 EBX=00000000 ECX=00000000 EDX=00000000",
            "CS =0000 00000000 00000000 00000000",
            "GDT=     00000000 00000000",
            "XMM00=0000000000000000 0000000000000000 XMM01=0000000000000000",
            "FPR0=0000000000000000 0000 FPR1=0000000000000000 0000",
            " PC=0000000000000000 X00=0000000000000000 X01=0000000000000000",
        ] {
            assert!(is_reset_dump(l, true), "{l}");
            // Outside a dump, a line of that shape is kept.
            assert!(!is_reset_dump(l, false), "{l}");
        }
        for l in [
            "Triple fault",
            "EDU: clamping DMA 0x0000000040000000 to 0x0000000000000000!",
            "nvme_doorbell_cq: Invalid CQ head=3",
        ] {
            assert!(!is_reset_dump(l, true), "{l}");
        }
    }

    use super::*;

    #[test]
    fn exit_marker() {
        let log = format!("foo\n{EXIT_MARKER}3\r\nreboot\n");
        assert_eq!(exit_status(&log), Some(3));
        assert_eq!(exit_status("no marker\n"), None);
        let mixed = format!("[ 1.0] x {EXIT_MARKER}0\n");
        assert_eq!(exit_status(&mixed), Some(0));
    }

    #[test]
    fn replay_record_round_trip() {
        for (exit, timed_out) in [(Some(0), false), (Some(3), false), (None, true)] {
            let log = match exit {
                Some(c) => format!("a\n{EXIT_MARKER}{c}\n"),
                None => "a\nb=c d\n".to_string(),
            };
            let b = Boot {
                log,
                exit,
                timed_out,
            };
            let back = decode(&encode(&b)).unwrap();
            assert_eq!(
                (back.log, back.exit, back.timed_out),
                (b.log, exit, timed_out)
            );
        }
        assert!(decode("timed_out=maybe\nlog").is_none());
        assert!(decode("no header").is_none());
    }
}
