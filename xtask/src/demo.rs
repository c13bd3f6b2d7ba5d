//! `run` and `demo`: boot the kernel with the project's drivers and run a
//! guest script.

use crate::initramfs::{self, Contents};
use crate::kernel::{self, Built};
use crate::ktap::{self, Outcome};
use crate::modules::{self, Module};
use crate::qemu::{self, Boot, BootOpts, DEFAULT_MEMORY_MIB};
use crate::userspace;
use crate::util::{say, Result};
use crate::{bail, setup, Project, RunArgs};
use std::path::PathBuf;
use std::time::Duration;

/// A kernel and every driver, built and ready to boot.
pub struct Ready {
    pub kernel: Built,
    pub modules: Vec<Module>,
    /// Static userspace tools: (guest path, host path).
    pub tools: Vec<(String, PathBuf)>,
}

/// Sets up, builds the test kernel and every driver.
pub fn prepare(p: &Project) -> Result<Ready> {
    setup::setup(p)?;
    let kernel = kernel::build(p, &kernel::TEST)?;
    let modules = modules::build_all(p, &kernel, kernel::TEST.name)?;
    let mut tools = userspace::build(p)?;
    tools.extend(userspace::storage_tools(p)?);
    Ok(Ready {
        kernel,
        modules,
        tools,
    })
}

/// Boots `r` with `script`, loading `load` first.
pub fn boot_script(
    p: &Project,
    r: &Ready,
    name: &str,
    script: PathBuf,
    load: &[String],
    opts: BootOpts,
) -> Result<Boot> {
    let contents = Contents {
        modules: r.modules.iter().map(|m| m.ko.clone()).collect(),
        load: load.to_vec(),
        script,
        extra: r.tools.clone(),
        env: Vec::new(),
    };
    let initrd = initramfs::pack(p, &r.kernel, &contents, name)?;
    qemu::boot(p, &r.kernel, &initrd, &opts)
}

/// Turns a boot that did not reach the end of its script into an error.
pub fn finished(boot: &Boot, timeout: Duration, log: &std::path::Path) -> Result<i32> {
    if boot.timed_out {
        bail!(
            "QEMU timed out after {}s; console log: {}",
            timeout.as_secs(),
            log.display()
        );
    }
    match boot.exit {
        Some(124) => bail!(
            "the guest could not open its output port (the second serial port); console log: {}",
            log.display()
        ),
        Some(125) => bail!(
            "the guest could not load a driver; console log: {}",
            log.display()
        ),
        Some(code) => Ok(code),
        None => bail!(
            "the guest stopped before its script finished (kernel panic?); console log: {}",
            log.display()
        ),
    }
}

/// `cargo xtask run`.
pub fn run(p: &Project, args: &RunArgs) -> Result<i32> {
    // Check what the user gave before spending minutes on builds.
    let script = match &args.script {
        Some(s) if !s.is_file() => bail!("script file {} does not exist", s.display()),
        Some(s) => s.canonicalize()?,
        None => p.root.join("guest/show-machine.sh"),
    };
    let known = modules::driver_names(p)?;
    for d in &args.drivers {
        if !known.contains(d) {
            bail!(
                "unknown driver `{d}` (drivers: {})",
                if known.is_empty() {
                    "none yet".to_string()
                } else {
                    known.join(", ")
                }
            );
        }
    }
    let ready = prepare(p)?;
    // Under a debugger the guest waits for the user: a day, unless given.
    let timeout = args
        .timeout
        .unwrap_or(Duration::from_secs(if args.gdb { 86_400 } else { 300 }));
    let log = p.build.join("logs/run.log");
    let gdb_port = args.gdb.then_some(GDB_PORT);
    if let Some(port) = gdb_port {
        let cmd = crate::debugger::gdb_command(p, &ready.kernel, port)?;
        say(
            "run",
            &format!(
                "QEMU waits for gdb on 127.0.0.1:{port}; in another terminal:\n\n  {}\n",
                shell_words(&cmd)
            ),
        );
    }
    let opts = BootOpts {
        append: args.append.clone(),
        timeout,
        echo: true,
        log: log.clone(),
        memory_mib: args.memory_mib.unwrap_or(DEFAULT_MEMORY_MIB),
        gdb_port,
        hotplug: false,
        icount: false,
        plugin: None,
    };
    let boot = boot_script(p, &ready, "run", script, &args.drivers, opts)?;
    let code = finished(&boot, timeout, &log)?;
    say("run", &format!("guest script exited with status {code}"));
    Ok(code)
}

/// The port of `cargo xtask run --gdb`'s gdb stub (QEMU's usual one).
pub const GDB_PORT: u16 = 1234;

/// `cmd` as one line a POSIX shell runs as the same words.
pub fn shell_words(cmd: &[String]) -> String {
    cmd.iter()
        .map(|w| {
            if w.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./:=@".contains(c))
            {
                w.clone()
            } else {
                initramfs::sh_quote(w)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `cargo xtask boots N`: boots the test kernel `n` times (the machine
/// summary script, every checker on) and counts the boots with a checker
/// report. For flaky reports: one in thirty boots is easy to miss.
pub fn boots(p: &Project, n: u32) -> Result<i32> {
    let ready = prepare(p)?;
    let timeout = Duration::from_secs(300);
    let mut reported = 0;
    for i in 1..=n {
        let log = p.build.join(format!("logs/boots-{i}.log"));
        let opts = BootOpts::quiet(log.clone(), timeout);
        let script = p.root.join("guest/show-machine.sh");
        let boot = boot_script(p, &ready, "boots", script, &[], opts)?;
        let code = finished(&boot, timeout, &log)?;
        let report = ktap::parse(&boot.log);
        let bad = code != 0 || !report.findings.is_empty() || report.count(Outcome::Fail) != 0;
        if bad {
            reported += 1;
        }
        say(
            "boots",
            &format!(
                "boot {i}/{n}: {}",
                if bad {
                    format!(
                        "REPORTED ({}): {}",
                        report.findings.join(" | "),
                        log.display()
                    )
                } else {
                    "clean".to_string()
                }
            ),
        );
    }
    println!("{n} boots, {reported} with a checker report or a failure");
    Ok(if reported == 0 { 0 } else { 1 })
}

/// `cargo xtask demo`.
pub fn demo(p: &Project) -> Result<i32> {
    let ready = prepare(p)?;
    let timeout = Duration::from_secs(300);
    let log = p.build.join("logs/demo.log");
    let opts = BootOpts::quiet(log.clone(), timeout);
    let load = vec!["edu".to_string()];
    let boot = boot_script(p, &ready, "demo", p.root.join("guest/demo.sh"), &load, opts)?;
    let code = finished(&boot, timeout, &log)?;
    let report = ktap::parse(&boot.log);
    println!();
    println!(
        "Linux 6.12 with Rust booted under QEMU. Rust KUnit doctests run at boot: {} passed, {} failed.",
        report.count(Outcome::Pass),
        report.count(Outcome::Fail)
    );
    // The guest script's own lines; kernel messages stay in the log.
    for line in boot.log.lines() {
        if let Some(text) = line.strip_prefix("demo| ") {
            println!("{text}");
        }
    }
    if !report.findings.is_empty() {
        bail!(
            "the kernel reported problems: {}",
            report.findings.join(" | ")
        );
    }
    if code != 0 || report.count(Outcome::Fail) != 0 {
        bail!("the demo failed; console log: {}", log.display());
    }
    println!("\nDemo finished. Full console log: {}", log.display());
    Ok(0)
}
