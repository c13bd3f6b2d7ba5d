//! `cargo xtask rust-analyzer`: editor support for modules on the `kernel`
//! crate.
//!
//! The kernel's own generator (`scripts/generate_rust_analyzer.py`, what
//! `make rust-analyzer` runs) writes the crate graph: the sysroot
//! crates, `macros` (with the proc-macro library the build made), `bindings`,
//! `uapi` and `kernel` with the configuration's cfgs. Given `drivers/` as the
//! external module tree, it adds every module crate root below
//! `drivers/` (a `.rs` file whose name its `Kbuild` gives as an object) with
//! `core` and `kernel` as dependencies, and writes `drivers/rust-project.json`.
//! rust-analyzer finds it there next to the Cargo workspace of the host
//! tools (it looks one folder below the one you open).

use crate::demo::Ready;
use crate::kernel::{self, Built};
use crate::setup::{self, Tools};
use crate::test::Tally;
use crate::util::{io_ctx, output, say, write_if_changed, Result};
use crate::{bail, Project};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the file goes.
pub fn project_json(p: &Project) -> PathBuf {
    p.root.join("drivers/rust-project.json")
}

/// Writes `drivers/rust-project.json` for the built kernel `b`.
///
/// 6.12's `make M=dir rust-analyzer` looks for `rust/Makefile` in the
/// module's folder and stops, so this runs the generator that target runs,
/// with the arguments `rust/Makefile` gives it: `core`'s cfgs and edition
/// (2021 before rustc 1.87), the trees, rustc's sysroot and the library
/// source the kernel compiles `core` from.
pub fn generate(p: &Project, b: &Built) -> Result<PathBuf> {
    let tools = Tools::new(p);
    let sysroot = output(Command::new(&tools.rustc).args(["--print", "sysroot"]))?;
    let sysroot = sysroot.trim();
    let version = crate::kernel::config_value(
        &fs::read_to_string(b.out.join(".config"))?,
        "CONFIG_RUSTC_VERSION",
    );
    let edition = if version.parse::<u32>().unwrap_or(0) >= 108700 {
        "2024"
    } else {
        "2021"
    };
    let out = output(
        Command::new("python3")
            .arg(b.src.join("scripts/generate_rust_analyzer.py"))
            .arg("--cfgs=core=--cfg no_fp_fmt_parse")
            .arg(edition)
            .arg(&b.src)
            .arg(&b.out)
            .arg(sysroot)
            .arg(Path::new(sysroot).join("lib/rustlib/src/rust/library"))
            .arg(p.root.join("drivers")),
    )?;
    let file = project_json(p);
    write_if_changed(&file, out.as_bytes())?;
    Ok(file)
}

/// One crate of the file, as far as the checks need it.
struct Crate<'a> {
    name: &'a str,
    root: &'a str,
    deps: Vec<(usize, &'a str)>,
    cfg: Vec<&'a str>,
}

fn crates(json: &Value) -> std::result::Result<Vec<Crate<'_>>, String> {
    let list = json["crates"].as_array().ok_or("no `crates` array")?;
    let mut out = Vec::new();
    for (i, c) in list.iter().enumerate() {
        let name = c["display_name"]
            .as_str()
            .ok_or(format!("crate {i} has no display_name"))?;
        let root = c["root_module"]
            .as_str()
            .ok_or(format!("crate {name} has no root_module"))?;
        let mut deps = Vec::new();
        for d in c["deps"]
            .as_array()
            .ok_or(format!("crate {name} has no deps"))?
        {
            let (Some(idx), Some(dn)) = (d["crate"].as_u64(), d["name"].as_str()) else {
                return Err(format!("crate {name} has a malformed dependency"));
            };
            deps.push((idx as usize, dn));
        }
        let cfg = c["cfg"]
            .as_array()
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        out.push(Crate {
            name,
            root,
            deps,
            cfg,
        });
    }
    Ok(out)
}

/// Everything in `text` (a rust-project.json) that does not resolve to the
/// built tree: crate roots and the proc-macro library that do not exist,
/// dependencies that point forward or at another crate's name, module
/// crates missing for a driver, cfgs that differ from the configuration's.
pub fn problems(text: &str, drivers: &[(String, PathBuf)], rustc_cfg: &str) -> Vec<String> {
    let json: Value = match serde_json::from_str(text) {
        Ok(j) => j,
        Err(e) => return vec![format!("not JSON: {e}")],
    };
    let crates = match crates(&json) {
        Ok(c) => c,
        Err(e) => return vec![e],
    };
    let mut bad = Vec::new();
    if !json["sysroot"]
        .as_str()
        .is_some_and(|s| Path::new(s).is_dir())
    {
        bad.push("`sysroot` is not a folder".to_string());
    }
    for (i, c) in crates.iter().enumerate() {
        if !Path::new(c.root).is_file() {
            bad.push(format!("{}: root {} does not exist", c.name, c.root));
        }
        for (idx, dn) in &c.deps {
            match crates.get(*idx) {
                Some(d) if *idx < i && d.name == *dn => {}
                _ => bad.push(format!(
                    "{}: dependency {dn} (#{idx}) does not resolve",
                    c.name
                )),
            }
        }
    }
    let find = |n: &str| crates.iter().position(|c| c.name == n);
    for must in ["core", "alloc", "macros", "bindings", "kernel"] {
        if find(must).is_none() {
            bad.push(format!("no crate {must}"));
        }
    }
    let macros = &json["crates"][find("macros").unwrap_or(usize::MAX)];
    if !macros["proc_macro_dylib_path"]
        .as_str()
        .is_some_and(|s| Path::new(s).is_file())
    {
        bad.push("macros: proc_macro_dylib_path does not exist (build the kernel)".into());
    }
    let want: Vec<String> = rustc_cfg
        .lines()
        .map(|l| l.trim().trim_start_matches("--cfg=").to_string())
        .filter(|l| !l.is_empty())
        .collect();
    if want.is_empty() {
        bad.push("the kernel's rustc_cfg is empty".into());
    }
    for (name, root) in drivers {
        let Some(c) = crates.iter().find(|c| Path::new(c.root) == root) else {
            bad.push(format!("no crate for driver {name} ({})", root.display()));
            continue;
        };
        let deps: Vec<&str> = c.deps.iter().map(|(_, n)| *n).collect();
        if !deps.contains(&"kernel") || !deps.contains(&"core") {
            bad.push(format!("{name}: depends on {deps:?}, not core and kernel"));
        }
        if c.cfg.len() != want.len() || want.iter().any(|w| !c.cfg.contains(&w.as_str())) {
            bad.push(format!(
                "{name}: cfgs differ from the kernel configuration's"
            ));
        }
    }
    bad
}

/// The Rust crate roots of the drivers: `drivers/<name>/<obj>.rs` for each
/// Rust object its `Kbuild` names.
pub fn driver_roots(p: &Project) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for name in crate::modules::driver_names(p)? {
        let dir = p.root.join("drivers").join(&name);
        let kbuild = fs::read_to_string(dir.join("Kbuild"))?;
        for word in kbuild.split_whitespace() {
            if let Some(obj) = word.strip_suffix(".o") {
                let rs = dir.join(format!("{obj}.rs"));
                if rs.is_file() {
                    out.push((name.clone(), rs));
                }
            }
        }
    }
    Ok(out)
}

/// Generates the file and checks it; the problems found (none when it
/// resolves).
pub fn generate_and_check(p: &Project, b: &Built) -> Result<Vec<String>> {
    let out = generate(p, b)?;
    let text = io_ctx(fs::read_to_string(&out), "cannot read", &out)?;
    let cfg_file = b.out.join("include/generated/rustc_cfg");
    let cfg = io_ctx(fs::read_to_string(&cfg_file), "cannot read", &cfg_file)?;
    Ok(problems(&text, &driver_roots(p)?, &cfg))
}

/// One diagnostic of `rust-analyzer diagnostics`.
#[derive(Debug, PartialEq)]
pub struct Diagnostic {
    pub krate: String,
    pub file: String,
    /// `E0599`, `SyntaxError`, `unresolved-import`, ...
    pub code: String,
    /// 1-based.
    pub line: usize,
    pub msg: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {} {}", self.file, self.line, self.code, self.msg)
    }
}

/// Parses `rust-analyzer diagnostics` output (its 2025 format: a
/// `processing crate: NAME, module: FILE` line, then one `Error CODE from
/// LineCol { line: L, ... } to ...: MESSAGE` line per error).
pub fn parse_diagnostics(out: &str) -> Vec<Diagnostic> {
    let mut krate = String::new();
    let mut file = String::new();
    let mut all = Vec::new();
    for l in out.lines() {
        if let Some(rest) = l.strip_prefix("processing crate: ") {
            if let Some((k, f)) = rest.split_once(", module: ") {
                krate = k.to_string();
                file = f.to_string();
            }
            continue;
        }
        let Some(rest) = l.strip_prefix("Error ") else {
            continue;
        };
        let Some((code, rest)) = rest.split_once(" from LineCol { line: ") else {
            continue;
        };
        let code = code
            .trim_start_matches("RustcHardError(\"")
            .trim_start_matches("Ra(\"")
            .split('"')
            .next()
            .unwrap_or(code)
            .to_string();
        let line = rest
            .split(',')
            .next()
            .and_then(|n| n.trim().parse::<usize>().ok())
            .map_or(0, |n| n + 1);
        let msg = rest.split_once("}: ").map_or("", |(_, m)| m).to_string();
        all.push(Diagnostic {
            krate: krate.clone(),
            file: file.clone(),
            code,
            line,
            msg,
        });
    }
    all
}

/// The two errors this rust-analyzer reports on correct kernel code: a
/// syntax error inside the expansion of `module!` (also through
/// `module_pci_driver!`), whose output it does not parse, and type
/// mismatches at `#[pin_data]` (pin-init's projections). Anything else in a
/// driver fails the test.
pub fn known_false_positive(d: &Diagnostic) -> bool {
    let line = fs::read_to_string(&d.file)
        .ok()
        .and_then(|t| t.lines().nth(d.line.saturating_sub(1)).map(str::to_string))
        .unwrap_or_default();
    (d.code == "SyntaxError"
        && d.msg.starts_with("Syntax Error in Expansion")
        && (line.contains("module!") || line.contains("module_pci_driver!")))
        || (d.code == "E0308" && line.trim_start().starts_with("#[pin_data"))
}

/// Runs `rust-analyzer diagnostics` on drivers/ and on a probe: a copy of
/// the project file whose `edu` crate is a copy of edu.rs calling a method
/// `pci::Device` does not have. Returns both outputs. Replayed like a boot
/// when nothing it reads changed.
pub fn analyzer_runs(p: &Project, b: &Built) -> Result<(String, String)> {
    let tools = Tools::new(p);
    let json = project_json(p);
    let text = io_ctx(fs::read_to_string(&json), "cannot read", &json)?;
    let edu = p.root.join("drivers/edu/edu.rs");
    let edu_text = io_ctx(fs::read_to_string(&edu), "cannot read", &edu)?;
    let mut h = crate::util::Hasher::new();
    h.str("rust-analyzer v1")
        .str(include_str!("ide.rs"))
        .str(&crate::util::read_stamp(&b.out.join(".dmabridge-built")))
        .str(&text)
        .tree(&p.root.join("drivers"))?
        .file(&tools.rust_analyzer)?;
    let key = h.hex();
    const SPLIT: &str = "\n=== probe ===\n";
    let decode = |r: &str| {
        r.split_once(SPLIT)
            .map(|(a, b)| (a.to_string(), b.to_string()))
    };
    if let Some(both) = crate::cache::lookup(p, "ide: rust-analyzer", &key, decode) {
        return Ok(both);
    }
    let diagnostics = |dir: &Path| -> Result<String> {
        let out = Command::new(&tools.rust_analyzer)
            .arg("diagnostics")
            .arg(dir)
            .output()
            .map_err(|e| crate::util::Error(format!("cannot run rust-analyzer: {e}")))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let clean = diagnostics(&p.root.join("drivers"))?;
    let probe = p.build.join("ide-probe");
    fs::create_dir_all(&probe)?;
    let probe_rs = probe.join("edu.rs");
    fs::write(
        &probe_rs,
        edu_text.replace("enable_device_mem()", "enable_device_memory()"),
    )?;
    fs::write(
        probe.join("rust-project.json"),
        text.replace(&edu.display().to_string(), &probe_rs.display().to_string()),
    )?;
    let probed = diagnostics(&probe)?;
    crate::cache::record(p, &key, &format!("{clean}{SPLIT}{probed}"))?;
    Ok((clean, probed))
}

/// `ide.rust_project_resolves`: the generated rust-project.json names only
/// files and crates that exist, a crate for every driver on `core` and
/// `kernel`, with the configuration's cfgs. `ide.rust_analyzer_drivers_clean`
/// and `ide.rust_analyzer_sees_misuse`: rust-analyzer itself, on that file.
pub fn ide_tests(p: &Project, ready: &Ready, t: &mut Tally) -> Result {
    say("test", "ide: cargo xtask rust-analyzer's rust-project.json");
    let bad = generate_and_check(p, &ready.kernel)?;
    t.add("ide.rust_project_resolves".into(), bad.is_empty(), || {
        bad.join(" / ")
    });
    say("test", "ide: rust-analyzer diagnostics on drivers/");
    let (clean, probe) = analyzer_runs(p, &ready.kernel)?;
    let drivers: Vec<String> = crate::modules::driver_names(p)?;
    let unexpected: Vec<String> = parse_diagnostics(&clean)
        .into_iter()
        .filter(|d| drivers.contains(&d.krate) && !known_false_positive(d))
        .map(|d| d.to_string())
        .collect();
    t.add(
        "ide.rust_analyzer_drivers_clean".into(),
        !clean.is_empty() && unexpected.is_empty(),
        || {
            if clean.is_empty() {
                "rust-analyzer printed nothing".into()
            } else {
                unexpected
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" / ")
            }
        },
    );
    let found = parse_diagnostics(&probe)
        .into_iter()
        .any(|d| d.krate == "edu" && d.code == "E0599" && d.msg.contains("enable_device_memory"));
    t.add("ide.rust_analyzer_sees_misuse".into(), found, || {
        "a copy of edu.rs calling pdev.enable_device_memory() got no E0599 from rust-analyzer"
            .into()
    });
    Ok(())
}

/// `cargo xtask rust-analyzer`.
pub fn rust_analyzer(p: &Project) -> Result<i32> {
    setup::setup(p)?;
    let b = kernel::build(p, &kernel::TEST)?;
    let bad = generate_and_check(p, &b)?;
    let out = project_json(p);
    if !bad.is_empty() {
        for l in &bad {
            eprintln!("  {l}");
        }
        bail!("{} does not resolve to the built tree", out.display());
    }
    let drivers = driver_roots(p)?;
    say(
        "ide",
        &format!(
            "wrote {}: the kernel crates of build/kernel/test and {} driver crate(s); \
             open the project folder in an editor with rust-analyzer",
            out.display(),
            drivers.len()
        ),
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(root: &Path) -> String {
        let f = |n: &str| root.join(n).display().to_string();
        serde_json::json!({
            "sysroot": root.display().to_string(),
            "crates": [
                {"display_name": "core", "root_module": f("core.rs"), "deps": [], "cfg": []},
                {"display_name": "alloc", "root_module": f("core.rs"), "deps": [{"crate": 0, "name": "core"}], "cfg": []},
                {"display_name": "macros", "root_module": f("core.rs"), "deps": [], "cfg": [],
                 "proc_macro_dylib_path": f("core.rs")},
                {"display_name": "bindings", "root_module": f("core.rs"), "deps": [], "cfg": []},
                {"display_name": "kernel", "root_module": f("core.rs"), "deps": [{"crate": 0, "name": "core"}], "cfg": ["CONFIG_PCI"]},
                {"display_name": "edu", "root_module": f("edu.rs"),
                 "deps": [{"crate": 0, "name": "core"}, {"crate": 4, "name": "kernel"}], "cfg": ["CONFIG_PCI"]}
            ]
        })
        .to_string()
    }

    #[test]
    fn diagnostics_parse() {
        let out = "processing crate: edu, module: /p/edu.rs\n\
                   Error RustcHardError(\"E0599\") from LineCol { line: 214, col: 13 } to LineCol { line: 214, col: 33 }: no method `x` on type `&Device<Core>`\n\
                   Error SyntaxError from LineCol { line: 3, col: 0 } to LineCol { line: 9, col: 1 }: Syntax Error in Expansion: expected an item\n\
                   processing crate: pci_test, module: /p/pci_test.rs\n";
        let d = parse_diagnostics(out);
        assert_eq!(d.len(), 2);
        assert_eq!(
            (d[0].krate.as_str(), d[0].code.as_str(), d[0].line),
            ("edu", "E0599", 215)
        );
        assert_eq!(d[0].msg, "no method `x` on type `&Device<Core>`");
        assert_eq!((d[1].code.as_str(), d[1].line), ("SyntaxError", 4));
    }

    #[test]
    fn resolving_file_has_no_problems_and_breakage_is_found() {
        let dir = std::env::temp_dir().join(format!("xtask-ide-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("core.rs"), "").unwrap();
        fs::write(dir.join("edu.rs"), "").unwrap();
        let drivers = vec![("edu".to_string(), dir.join("edu.rs"))];
        let good = sample(&dir);
        assert_eq!(
            problems(&good, &drivers, "--cfg=CONFIG_PCI\n"),
            Vec::<String>::new()
        );
        // A cfg the configuration has but the module crate lacks.
        let p = problems(&good, &drivers, "--cfg=CONFIG_PCI\n--cfg=CONFIG_X86\n");
        assert!(p.iter().any(|l| l.contains("edu: cfgs differ")), "{p:?}");
        // A dependency that names another crate.
        let p = problems(
            &good.replace("\"crate\":4", "\"crate\":3"),
            &drivers,
            "--cfg=CONFIG_PCI",
        );
        assert!(p.iter().any(|l| l.contains("dependency kernel")), "{p:?}");
        // A missing crate root and a driver without a crate.
        fs::remove_file(dir.join("edu.rs")).unwrap();
        let p = problems(&good, &drivers, "--cfg=CONFIG_PCI");
        assert!(p.iter().any(|l| l.contains("edu: root")), "{p:?}");
        let other = vec![("x".to_string(), dir.join("x.rs"))];
        let p = problems(&good, &other, "--cfg=CONFIG_PCI");
        assert!(
            p.iter().any(|l| l.contains("no crate for driver x")),
            "{p:?}"
        );
        assert!(problems("{", &drivers, "")[0].starts_with("not JSON"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
