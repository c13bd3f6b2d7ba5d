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

use crate::kernel::{self, Built};
use crate::setup::{self, Tools};
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
