//! dmabridge's host tool: `cargo xtask <command>`.
//!
//! Every command first does whatever set-up it depends on that is missing
//! (toolchain, kernel, modules), idempotently, and says what it is doing.

mod bench;
mod canaries;
mod compare;
mod demo;
mod evidence;
mod initramfs;
mod kernel;
mod ktap;
mod misuse;
mod modules;
mod qemu;
mod results;
mod setup;
mod test;
mod userspace;
mod util;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use util::{Error, Result};

/// Where the project and its build products are.
pub struct Project {
    pub root: PathBuf,
    pub build: PathBuf,
}

impl Project {
    fn new() -> Project {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask lives one level below the project root")
            .to_path_buf();
        let build = root.join("build");
        Project { root, build }
    }
}

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  setup      install the pinned toolchain (Debian rustc-web 1.85, clang, QEMU 10, bindgen)
  kernel     unpack Linux 6.12, lay the overlay onto it, configure and build it
  modules    build every out-of-tree module under drivers/
  run        boot the kernel and run a script in the guest
               --driver NAME   load drivers/NAME before the script (repeatable)
               --script FILE   the script to run with /bin/sh (default: show the machine)
               --append ARGS   extra kernel command line
               --timeout SECS  kill QEMU after this long (default 300)
               --memory MIB    guest RAM (default 256: edu's DMA reaches 256 MiB)
  test [SELECTION]... [--list]
             build, boot and run every test; ends with `N passed, N failed`;
             with SELECTIONs, only those: a step (host, quality,
             harness_canaries, compile_fail, misuse, guest, evidence),
             harness_canaries.NAME, or a guest group or test (`dma`,
             `edu_c`, `edu.edu_loads`: one boot runs the scripts printing
             them); --list shows what can be selected and every test name
             of the last run; results also go to build/results/ (KTAP, JUnit)
  boots N    boot the test kernel N times; count boots with a checker report
  demo       build, boot and show what dmabridge does
  bench dma  time the DMA bindings against direct C calls (benchmark kernel)
  evidence   each bug class in C (run under the checkers) and in Rust (must not
             compile): writes docs/evidence.md
  compare    Rust edu vs C edu_c (lines, unsafe, sizes, tests, checker reports):
             writes docs/comparison.md
";

/// Options of `run`.
#[derive(Debug, Default, PartialEq)]
pub struct RunArgs {
    pub drivers: Vec<String>,
    pub script: Option<PathBuf>,
    pub append: Vec<String>,
    pub timeout: Option<Duration>,
    pub memory_mib: Option<u32>,
}

/// Parses the options of `run`.
pub fn parse_run_args(args: &[String]) -> Result<RunArgs> {
    let mut r = RunArgs::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| Error(format!("{name} needs a value")))
        };
        match a.as_str() {
            "--driver" => r.drivers.push(value("--driver")?),
            "--script" => r.script = Some(PathBuf::from(value("--script")?)),
            "--append" => r.append.push(value("--append")?),
            "--timeout" => {
                let v = value("--timeout")?;
                let secs: u64 =
                    v.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                        Error(format!("--timeout takes whole seconds, not `{v}`"))
                    })?;
                r.timeout = Some(Duration::from_secs(secs));
            }
            "--memory" => {
                let v = value("--memory")?;
                let mib: u32 = v.parse().ok().filter(|m| *m >= 128).ok_or_else(|| {
                    Error(format!("--memory takes MiB (at least 128), not `{v}`"))
                })?;
                r.memory_mib = Some(mib);
            }
            other => bail!("unknown option `{other}` for run (see `cargo xtask help`)"),
        }
    }
    Ok(r)
}

fn dispatch(args: &[String]) -> Result<i32> {
    let p = Project::new();
    let Some(cmd) = args.first() else {
        print!("{USAGE}");
        return Ok(2);
    };
    let rest = &args[1..];
    let no_options = |name: &str| -> Result {
        if let Some(a) = rest.first() {
            bail!("`{name}` takes no option `{a}`");
        }
        Ok(())
    };
    match cmd.as_str() {
        "setup" => {
            no_options("setup")?;
            setup::setup(&p)?;
            Ok(0)
        }
        "kernel" => {
            no_options("kernel")?;
            setup::setup(&p)?;
            kernel::build(&p, &kernel::TEST)?;
            Ok(0)
        }
        "modules" => {
            no_options("modules")?;
            setup::setup(&p)?;
            let b = kernel::build(&p, &kernel::TEST)?;
            for m in modules::build_all(&p, &b, kernel::TEST.name)? {
                util::say("modules", &format!("built {}: {}", m.name, m.ko.display()));
            }
            Ok(0)
        }
        "run" => demo::run(&p, &parse_run_args(rest)?),
        "test" => test::test(&p, rest),
        "bench" => bench::bench(&p, rest),
        "evidence" => {
            no_options("evidence")?;
            evidence::evidence(&p)
        }
        "compare" => {
            no_options("compare")?;
            compare::compare(&p)
        }
        "boots" => {
            let n = match rest {
                [n] => match n.parse() {
                    Ok(n) => n,
                    Err(_) => bail!("boots: `{n}` is not a number"),
                },
                _ => bail!("usage: cargo xtask boots N"),
            };
            demo::boots(&p, n)
        }
        "demo" => {
            no_options("demo")?;
            demo::demo(&p)
        }
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(0)
        }
        other => bail!("unknown command `{other}` (see `cargo xtask help`)"),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match dispatch(&args) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn run_args() {
        let r = parse_run_args(&s(&[
            "--driver",
            "edu",
            "--driver",
            "edu_c",
            "--script",
            "x.sh",
            "--timeout",
            "9",
        ]))
        .unwrap();
        assert_eq!(r.drivers, vec!["edu", "edu_c"]);
        assert_eq!(r.script, Some(PathBuf::from("x.sh")));
        assert_eq!(r.timeout, Some(Duration::from_secs(9)));
    }

    #[test]
    fn run_args_errors() {
        assert!(parse_run_args(&s(&["--script"])).is_err());
        assert!(parse_run_args(&s(&["--bogus"])).is_err());
        assert!(parse_run_args(&s(&["--timeout", "0"])).is_err());
        assert!(parse_run_args(&s(&["--timeout", "soon"])).is_err());
    }

    #[test]
    fn unknown_command_is_an_error() {
        assert!(dispatch(&s(&["frobnicate"])).is_err());
        assert!(dispatch(&s(&["kernel", "--fast"])).is_err());
    }
}
