//! The tests of the driver author's tools: `cargo xtask rust-analyzer`'s
//! file resolves to the built tree (step `ide`), and gdb attaches to a
//! `run --gdb` boot with the kernel's and the modules' symbols (step
//! `debugger`).

use crate::demo::{boot_script, Ready};
use crate::qemu::{gdb_command, BootOpts};
use crate::test::Tally;
use crate::util::{say, Hasher, Result};
use crate::Project;
use std::net::TcpListener;
use std::process::Command;
use std::thread;
use std::time::Duration;

/// `ide.rust_project_resolves`: the generated rust-project.json names only
/// files and crates that exist, a crate for every driver on `core` and
/// `kernel`, with the configuration's cfgs.
pub fn ide_tests(p: &Project, ready: &Ready, t: &mut Tally) -> Result {
    say("test", "ide: cargo xtask rust-analyzer's rust-project.json");
    let bad = crate::ide::generate_and_check(p, &ready.kernel)?;
    t.add("ide.rust_project_resolves".into(), bad.is_empty(), || {
        bad.join(" / ")
    });
    Ok(())
}

/// A free local TCP port.
fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// What gdb must print after attaching: the banner read from guest memory,
/// the module's symbols loaded by `lx-symbols`, the module listed by
/// `lx-lsmod`, and a driver function found in the driver's source file.
pub fn gdb_verdict(out: &str) -> std::result::Result<(), String> {
    let want = [
        ("Linux version 6.12", "lx-version did not read the banner"),
        ("edu.ko", "lx-symbols loaded no symbols for edu.ko"),
        ("edu/edu.rs", "no edu function with its source file"),
        ("kernel/reboot.c", "no source line in the backtrace"),
    ];
    let missing: Vec<&str> = want
        .iter()
        .filter(|(w, _)| !out.contains(w))
        .map(|(_, why)| *why)
        .collect();
    if !out.lines().any(|l| l.starts_with("edu ")) {
        return Err(format!(
            "lx-lsmod does not list edu{}",
            if missing.is_empty() {
                String::new()
            } else {
                format!("; {}", missing.join("; "))
            }
        ));
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(missing.join("; "))
    }
}

/// `debugger.gdb_attaches`: boots as `cargo xtask run --gdb --driver edu`
/// does, runs the gdb command that run prints (in batch mode), lets the guest
/// run to its final `reboot`, and checks what gdb read.
pub fn gdb_tests(p: &Project, ready: &Ready, t: &mut Tally) -> Result {
    say("test", "debugger: gdb attaches to a run --gdb boot");
    let port = free_port()?;
    let log = p.build.join("logs/gdb-boot.log");
    let opts = BootOpts {
        gdb_port: Some(port),
        ..BootOpts::quiet(log.clone(), Duration::from_secs(300))
    };
    let script = p.root.join("guest/show-machine.sh");
    let mut cmd = gdb_command(p, &ready.kernel, port)?;
    for c in [
        "hbreak __do_sys_reboot",
        "continue",
        "lx-version",
        "lx-lsmod",
        "info functions -n edu::",
        "bt",
        "kill",
    ] {
        cmd.push("-ex".into());
        cmd.push(c.into());
    }
    cmd.insert(1, "-batch".into());
    // Replayed like a boot when nothing it depends on changed: the kernel,
    // the modules, the guest files, gdb and its commands (the port aside).
    let mut h = Hasher::new();
    h.str("gdb v1").file(&ready.kernel.bzimage)?;
    for m in &ready.modules {
        h.file(&m.ko)?;
    }
    h.tree(&p.root.join("guest"))?;
    for w in &cmd {
        h.str(&w.replace(&port.to_string(), "PORT"));
    }
    let key = h.hex();
    if let Some(text) = crate::cache::lookup(p, "debugger: gdb session", &key) {
        let verdict = gdb_verdict(&text);
        let why = verdict.clone().err().unwrap_or_default();
        t.add("debugger.gdb_attaches".into(), verdict.is_ok(), || why);
        return Ok(());
    }
    let (boot, out) = thread::scope(|s| {
        let boot = s.spawn(|| boot_script(p, ready, "gdb", script, &["edu".to_string()], opts));
        // QEMU listens a moment after it starts (the boot packs its
        // initramfs first).
        thread::sleep(Duration::from_secs(5));
        let out = Command::new(&cmd[0]).args(&cmd[1..]).output();
        (boot.join(), out)
    });
    let boot = boot.map_err(|_| crate::util::Error("the boot thread panicked".into()))?;
    let verdict = match out {
        Err(e) => Err(format!("cannot run gdb: {e}")),
        Ok(o) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            let log = p.build.join("logs/gdb.log");
            std::fs::write(&log, &text)?;
            crate::cache::record(p, &key, &text)?;
            gdb_verdict(&text).map_err(|e| format!("{e} (gdb output: {})", log.display()))
        }
    };
    if let Err(e) = boot {
        say(
            "test",
            &format!("debugger: the boot ended with an error: {e}"),
        );
    }
    let why = verdict.clone().err().unwrap_or_default();
    t.add("debugger.gdb_attaches".into(), verdict.is_ok(), || why);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gdb_verdict_needs_every_piece() {
        let good = "Linux version 6.12.117 (x)\nloading @0xffffffffa0000000: /b/edu.ko\n\
                    edu 0xffffffffa0000000 16384\nFile /b/modules/test/edu/edu.rs:\n#0 at kernel/reboot.c:7\n";
        assert_eq!(gdb_verdict(good), Ok(()));
        assert!(gdb_verdict(&good.replace("edu 0x", "xdu 0x"))
            .unwrap_err()
            .contains("lx-lsmod"));
        assert!(gdb_verdict(&good.replace("/b/edu.ko", "/b/x.ko"))
            .unwrap_err()
            .contains("lx-symbols"));
        assert!(gdb_verdict("").is_err());
    }
}
