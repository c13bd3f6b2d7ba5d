//! `cargo xtask run --gdb`'s command, and its test (step `debugger`): gdb
//! attaches to a `run --gdb` boot with the kernel's and the modules' symbols.

use crate::demo::{boot_script, Ready};
use crate::kernel::Built;
use crate::qemu::BootOpts;
use crate::test::Tally;
use crate::util::{say, Hasher, Result};
use crate::Project;
use std::net::TcpListener;
use std::process::Command;
use std::thread;
use std::time::Duration;

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
    // lx-lsmod: `0xffffffffa0000000 edu   159744  0`.
    if !out
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some("edu") && l.starts_with("0x"))
    {
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
    // No ~/.gdbinit or system gdbinit: only the commands above.
    cmd.splice(1..1, ["-batch".to_string(), "-nx".to_string()]);
    let log = p.build.join("logs/gdb.log");
    // Replayed like a boot when nothing it depends on changed: the kernel
    // image, its symbols and gdb helpers, the modules, the guest files, QEMU,
    // gdb and its commands (the port aside), and this code and QEMU's runner.
    let mut h = Hasher::new();
    h.str("gdb v2")
        .str(include_str!("debugger.rs"))
        .str(include_str!("qemu.rs"));
    for f in [&ready.kernel.bzimage, &ready.kernel.out.join("vmlinux")] {
        h.file(f)?;
    }
    h.file(&ready.kernel.out.join("scripts/gdb/linux/constants.py"))?
        .tree(&ready.kernel.src.join("scripts/gdb"))?;
    for m in &ready.modules {
        h.file(&m.ko)?;
    }
    h.tree(&p.root.join("guest"))?;
    let qemu = crate::setup::Tools::new(p).qemu;
    for (tool, arg) in [
        (qemu.as_path(), "--version"),
        (std::path::Path::new("gdb"), "--version"),
    ] {
        h.str(&crate::util::output(Command::new(tool).arg(arg)).unwrap_or_default());
    }
    for w in &cmd {
        h.str(&w.replace(&port.to_string(), "PORT"));
    }
    let key = h.hex();
    let replayed = crate::cache::lookup(p, "debugger: gdb session", &key, |s| Some(s.to_string()));
    let text = match replayed {
        Some(text) => Ok(text),
        None => {
            let (boot, out) = thread::scope(|s| {
                let boot =
                    s.spawn(|| boot_script(p, ready, "gdb", script, &["edu".to_string()], opts));
                // gdb retries the connection until QEMU listens (`set tcp
                // connect-timeout` in the command).
                let out = Command::new(&cmd[0]).args(&cmd[1..]).output();
                (boot.join(), out)
            });
            match boot {
                Err(_) => say("test", "debugger: the boot thread panicked"),
                Ok(Err(e)) => say(
                    "test",
                    &format!("debugger: the boot ended with an error: {e}"),
                ),
                Ok(Ok(_)) => {}
            }
            match out {
                Ok(o) => {
                    let text = format!(
                        "{}{}",
                        String::from_utf8_lossy(&o.stdout),
                        String::from_utf8_lossy(&o.stderr)
                    );
                    crate::cache::record(p, &key, &text)?;
                    Ok(text)
                }
                Err(e) => Err(format!("cannot run gdb: {e}")),
            }
        }
    };
    let verdict = match text {
        Err(e) => Err(e),
        Ok(text) => {
            std::fs::write(&log, &text)?;
            gdb_verdict(&text).map_err(|e| format!("{e} (gdb output: {})", log.display()))
        }
    };
    let why = verdict.clone().err().unwrap_or_default();
    t.add("debugger.gdb_attaches".into(), verdict.is_ok(), || why);
    Ok(())
}

/// The gdb command that attaches to a boot started with `gdb_port`: the
/// kernel's symbols and gdb helpers, the drivers' sources where their build
/// copies are, a hardware breakpoint at `start_kernel` (software ones would
/// be overwritten while the kernel decompresses itself), then `lx-symbols`,
/// which loads each module's symbols from build/modules/test as the guest
/// loads it.
pub fn gdb_command(p: &Project, b: &Built, port: u16) -> Result<Vec<String>> {
    let out = b.out.display().to_string();
    let modules = p.build.join("modules/test");
    let mut ex = vec![
        ("-iex", format!("add-auto-load-safe-path {out}")),
        // QEMU may still be starting: retry the connection for a minute.
        ("-iex", "set tcp connect-timeout 60".to_string()),
        ("-ex", format!("file {out}/vmlinux")),
        ("-ex", format!("source {out}/vmlinux-gdb.py")),
    ];
    // Build paths are recorded relative to the project (KCFLAGS and
    // KRUSTFLAGS of `Tools::make_vars`): gdb finds them from the project
    // root (C files under the kernel's output folder, where they were
    // compiled), and a driver's sources in drivers/ rather than in its
    // build copy.
    ex.push(("-ex", format!("directory {}", p.root.display())));
    ex.push((
        "-ex",
        format!(
            "set substitute-path build/kernel/test/build/src {}",
            p.build.join("src").display()
        ),
    ));
    for name in crate::modules::driver_names(p)? {
        ex.push((
            "-ex",
            format!(
                "set substitute-path build/modules/test/{name} {}",
                p.root.join("drivers").join(&name).display()
            ),
        ));
    }
    ex.extend([
        ("-ex", format!("target remote 127.0.0.1:{port}")),
        ("-ex", "hbreak start_kernel".to_string()),
        ("-ex", "continue".to_string()),
        ("-ex", "delete".to_string()),
        ("-ex", format!("lx-symbols {}", modules.display())),
    ]);
    let mut cmd = vec!["gdb".to_string(), "-q".to_string()];
    for (flag, arg) in ex {
        cmd.push(flag.to_string());
        cmd.push(arg);
    }
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gdb_verdict_needs_every_piece() {
        let good = "Linux version 6.12.117 (x)\nloading @0xffffffffa0000000: /b/edu.ko\n\
                    0xffffffffa0000000 edu  16384  0\nFile /b/modules/test/edu/edu.rs:\n#0 at kernel/reboot.c:7\n";
        assert_eq!(gdb_verdict(good), Ok(()));
        assert!(gdb_verdict(&good.replace(" edu  ", " xdu  "))
            .unwrap_err()
            .contains("lx-lsmod"));
        assert!(gdb_verdict(&good.replace("/b/edu.ko", "/b/x.ko"))
            .unwrap_err()
            .contains("lx-symbols"));
        assert!(gdb_verdict("").is_err());
    }
}
