//! dmabridge's host tool: `cargo xtask <command>`.
//!
//! Every command first does whatever set-up it depends on that is missing
//! (toolchain, kernel, modules), idempotently, and says what it is doing.

mod arm64;
mod bench;
mod bench_nvme;
mod cache;
mod canaries;
mod compare;
mod debugger;
mod demo;
mod evidence;
mod export;
mod gpt;
mod ide;
mod initramfs;
mod kernel;
mod ktap;
mod misuse;
mod modules;
mod qemu;
mod qmp;
mod results;
mod series;
mod setup;
mod test;
mod userspace;
mod util;

use clap::{value_parser, Arg, ArgAction, ArgMatches, Command};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use util::Result;

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

/// The command line: one subcommand each, with its own `--help`.
fn cli() -> Command {
    let plain = |name: &'static str, about: &'static str| Command::new(name).about(about);
    Command::new("cargo xtask")
        .bin_name("cargo xtask")
        .about("dmabridge's host tool: set-up, kernel build, QEMU runs, tests")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(plain(
            "setup",
            "install the pinned toolchain (Debian rustc-web, clang, QEMU 10, bindgen)",
        ))
        .subcommand(plain(
            "kernel",
            "unpack Linux 6.12, lay the overlay onto it, configure and build it",
        ))
        .subcommand(plain(
            "modules",
            "build every out-of-tree module under drivers/",
        ))
        .subcommand(
            plain("run", "boot the kernel and run a script in the guest")
                .arg(
                    Arg::new("driver")
                        .long("driver")
                        .value_name("NAME")
                        .action(ArgAction::Append)
                        .help("load drivers/NAME before the script (repeatable)"),
                )
                .arg(
                    Arg::new("script")
                        .long("script")
                        .value_name("FILE")
                        .value_parser(value_parser!(PathBuf))
                        .help("the script to run with /bin/sh (default: show the machine)"),
                )
                .arg(
                    Arg::new("append")
                        .long("append")
                        .value_name("ARGS")
                        .action(ArgAction::Append)
                        .help("extra kernel command line"),
                )
                .arg(
                    Arg::new("timeout")
                        .long("timeout")
                        .value_name("SECS")
                        .value_parser(value_parser!(u64).range(1..))
                        .help("kill QEMU after this long (default 300; with --gdb, none)"),
                )
                .arg(
                    Arg::new("memory")
                        .long("memory")
                        .value_name("MIB")
                        .value_parser(value_parser!(u32).range(128..))
                        .help("guest RAM in MiB (default 256: edu's DMA reaches 256 MiB)"),
                )
                .arg(Arg::new("gdb").long("gdb").action(ArgAction::SetTrue).help(
                    "start QEMU's gdb stub (tcp::1234), stopped before the kernel \
                             runs, and print the gdb command that attaches with the \
                             kernel's and the modules' symbols",
                )),
        )
        .subcommand(
            plain(
                "test",
                "build, boot and run every test; ends with `N passed, N failed`",
            )
            .long_about(
                "Builds, boots and runs every test and ends with `N passed, N failed`; \
                 results also go to build/results/ (KTAP and JUnit XML).\n\n\
                 With SELECTIONs, runs only those: a step (host, quality, ide, harness_canaries, \
                 compile_fail, misuse, guest, debugger, evidence, export, arm64), harness_canaries.NAME, or a \
                 guest group or test (`dma`, `edu_c`, `edu.edu_loads`: one boot runs the scripts \
                 printing them).\n\n\
                 A guest boot or module build whose inputs are byte-identical to one in an \
                 earlier fully passing run is replayed from its record and judged again; \
                 --fresh runs everything.",
            )
            .arg(
                Arg::new("selection")
                    .value_name("SELECTION")
                    .num_args(0..)
                    .help("steps, groups or tests to run (default: everything)"),
            )
            .arg(
                Arg::new("list")
                    .long("list")
                    .action(ArgAction::SetTrue)
                    .help("list what can be selected and every test name of the last run"),
            )
            .arg(
                Arg::new("fresh")
                    .long("fresh")
                    .action(ArgAction::SetTrue)
                    .help("replay nothing: boot and build everything again"),
            ),
        )
        .subcommand(
            plain(
                "boots",
                "boot the test kernel N times; count boots with a checker report",
            )
            .arg(
                Arg::new("n")
                    .value_name("N")
                    .required(true)
                    .value_parser(value_parser!(u32).range(1..)),
            ),
        )
        .subcommand(plain("demo", "build, boot and show what dmabridge does"))
        .subcommand(
            plain("bench", "benchmarks against C in the same boot").arg(
                Arg::new("what")
                    .required(true)
                    .value_parser(["dma", "nvme", "nvme-profile"])
                    .help(
                        "dma: the DMA bindings against direct C calls; nvme: rnvme against \
                         the kernel's nvme under fio (both on the benchmark kernel); \
                         nvme-profile: where each driver's guest instructions go, per function",
                    ),
            ),
        )
        .subcommand(plain(
            "evidence",
            "each bug class in C (run under the checkers) and in Rust (must not compile): \
             writes docs/evidence.md",
        ))
        .subcommand(plain(
            "export",
            "write dmabridge as a git format-patch series for a 6.12 tree \
             (build/export/series/), checked with checkpatch",
        ))
        .subcommand(plain(
            "compare",
            "Rust edu vs C edu_c (lines, unsafe, sizes, tests, checker reports): writes \
             docs/comparison.md",
        ))
        .subcommand(plain(
            "rust-analyzer",
            "write rust-project.json: rust-analyzer then resolves the kernel crate, its \
             macros and every module under drivers/ and tests/",
        ))
}

/// Options of `run`.
#[derive(Debug, Default, PartialEq)]
pub struct RunArgs {
    pub drivers: Vec<String>,
    pub script: Option<PathBuf>,
    pub append: Vec<String>,
    pub timeout: Option<Duration>,
    pub memory_mib: Option<u32>,
    pub gdb: bool,
}

impl RunArgs {
    fn from(m: &ArgMatches) -> RunArgs {
        let all = |id: &str| -> Vec<String> {
            m.get_many::<String>(id)
                .map(|v| v.cloned().collect())
                .unwrap_or_default()
        };
        RunArgs {
            drivers: all("driver"),
            script: m.get_one::<PathBuf>("script").cloned(),
            append: all("append"),
            timeout: m.get_one::<u64>("timeout").map(|s| Duration::from_secs(*s)),
            memory_mib: m.get_one::<u32>("memory").copied(),
            gdb: m.get_flag("gdb"),
        }
    }
}

/// Holds `build/.lock` for the whole command: two commands in one checkout
/// would share initramfs files, module build folders and replay entries.
fn lock(p: &Project) -> Result<std::fs::File> {
    std::fs::create_dir_all(&p.build)?;
    let path = p.build.join(".lock");
    let f = util::io_ctx(std::fs::File::create(&path), "cannot create", &path)?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => {
            bail!("another `cargo xtask` is running in this checkout (it holds build/.lock)")
        }
        Err(std::fs::TryLockError::Error(e)) => bail!("cannot lock {}: {e}", path.display()),
    }
}

fn dispatch(m: &ArgMatches) -> Result<i32> {
    let p = Project::new();
    let _lock = lock(&p)?;
    let (cmd, sub) = m.subcommand().expect("clap requires a subcommand");
    match cmd {
        "setup" => {
            setup::setup(&p)?;
            Ok(0)
        }
        "kernel" => {
            setup::setup(&p)?;
            kernel::build(&p, &kernel::TEST)?;
            Ok(0)
        }
        "modules" => {
            setup::setup(&p)?;
            let b = kernel::build(&p, &kernel::TEST)?;
            for m in modules::build_all(&p, &b, kernel::TEST.name)? {
                util::say("modules", &format!("built {}: {}", m.name, m.ko.display()));
            }
            Ok(0)
        }
        "run" => demo::run(&p, &RunArgs::from(sub)),
        "test" => {
            let selection: Vec<String> = sub
                .get_many::<String>("selection")
                .map(|v| v.cloned().collect())
                .unwrap_or_default();
            if sub.get_flag("list") {
                return test::list(&p);
            }
            test::test(&p, &selection, sub.get_flag("fresh"))
        }
        "bench" => bench::bench(&p, sub.get_one::<String>("what").unwrap()),
        "evidence" => evidence::evidence(&p),
        "export" => export::command(&p),
        "compare" => compare::compare(&p),
        "boots" => demo::boots(&p, *sub.get_one::<u32>("n").unwrap()),
        "demo" => demo::demo(&p),
        "rust-analyzer" => ide::rust_analyzer(&p),
        other => bail!("unknown command `{other}`"),
    }
}

fn main() -> ExitCode {
    let m = cli().get_matches();
    match dispatch(&m) {
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

    fn parse(v: &[&str]) -> std::result::Result<ArgMatches, clap::Error> {
        cli().try_get_matches_from(std::iter::once("xtask").chain(v.iter().copied()))
    }

    #[test]
    fn cli_is_consistent() {
        cli().debug_assert();
    }

    #[test]
    fn run_args() {
        let m = parse(&[
            "run",
            "--driver",
            "edu",
            "--driver",
            "edu_c",
            "--script",
            "x.sh",
            "--timeout",
            "9",
            "--gdb",
        ])
        .unwrap();
        let r = RunArgs::from(m.subcommand_matches("run").unwrap());
        assert_eq!(r.drivers, vec!["edu", "edu_c"]);
        assert_eq!(r.script, Some(PathBuf::from("x.sh")));
        assert_eq!(r.timeout, Some(Duration::from_secs(9)));
        assert!(r.gdb);
    }

    #[test]
    fn run_args_errors() {
        assert!(parse(&["run", "--script"]).is_err());
        assert!(parse(&["run", "--bogus"]).is_err());
        assert!(parse(&["run", "--timeout", "0"]).is_err());
        assert!(parse(&["run", "--timeout", "soon"]).is_err());
        assert!(parse(&["run", "--memory", "64"]).is_err());
    }

    #[test]
    fn unknown_command_is_an_error() {
        assert!(parse(&["frobnicate"]).is_err());
        assert!(parse(&["kernel", "--fast"]).is_err());
        assert!(parse(&["bench", "nothing"]).is_err());
        assert!(parse(&["boots", "many"]).is_err());
    }

    #[test]
    fn test_selection_and_flags() {
        let m = parse(&["test", "dma", "edu.edu_loads", "--fresh"]).unwrap();
        let t = m.subcommand_matches("test").unwrap();
        let sel: Vec<&String> = t.get_many::<String>("selection").unwrap().collect();
        assert_eq!(sel, ["dma", "edu.edu_loads"]);
        assert!(t.get_flag("fresh") && !t.get_flag("list"));
    }
}
