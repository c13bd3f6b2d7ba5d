//! `modules`: builds every out-of-tree module under `drivers/` against a built
//! kernel flavor.

use crate::kernel::{rust_warnings, Built};
use crate::setup::Tools;
use crate::util::{
    files_below, io_ctx, read_stamp, run_logged, say, write_if_changed, Logged, Result,
};
use crate::{bail, Project};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A built module.
pub struct Module {
    pub name: String,
    pub ko: PathBuf,
    /// Compiler and clippy warnings from its build: `file<TAB>warning`.
    pub warnings: Vec<String>,
}

/// The names of the project's drivers: `drivers/<name>/` holding a `Kbuild`.
pub fn driver_names(p: &Project) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let dir = p.root.join("drivers");
    if let Ok(entries) = fs::read_dir(&dir) {
        for e in entries.flatten() {
            if e.path().join("Kbuild").exists() {
                names.push(e.file_name().to_string_lossy().into_owned());
            }
        }
    }
    names.sort();
    Ok(names)
}

/// The Rust flags of every out-of-tree module the project builds.
pub const FORBID_UNSAFE: &str = "-Funsafe_code";

/// Copies `src` into `dest` (only changed files) and runs `make M=dest`
/// there, so the source folder stays free of build products.
pub fn make_external(
    p: &Project,
    b: &Built,
    src: &Path,
    dest: &Path,
    log_name: &str,
) -> Result<Logged> {
    for f in files_below(src)? {
        let rel = f.strip_prefix(src).unwrap_or(&f);
        write_if_changed(&dest.join(rel), &io_ctx(fs::read(&f), "cannot read", &f)?)?;
    }
    // Shared headers (e.g. drivers/include/uapi) are reachable from every module.
    let include = p.root.join("drivers/include");
    let tools = Tools::new(p);
    let mut make = b.make(&tools);
    // Module crates are drivers: `forbid(unsafe_code)` also rejects what
    // needs no `unsafe` keyword in Rust 2021 (`#[link_section]`,
    // `#[no_mangle]`, `#[export_name]`, `global_asm!`).
    make.arg(format!("M={}", dest.display()))
        .arg(format!("rustflags-y={FORBID_UNSAFE}"))
        .arg(format!("DMABRIDGE_INCLUDE={}", include.display()))
        .arg("-j2")
        .arg("modules");
    run_logged(
        &mut make,
        &p.build.join(format!("logs/{log_name}.log")),
        "modules",
        Duration::from_secs(30),
        |_| true,
    )
}

/// The warnings of a module's last compilation: those of this `make` when it
/// compiled the module, else the ones stored when it last did (a no-op
/// rebuild prints none, and its warnings still stand).
fn kept_warnings(dest: &Path, lines: &[String]) -> Result<Vec<String>> {
    let stored = dest.join(".dmabridge-warnings");
    let compiled = lines.iter().any(|l| {
        let l = l.trim_start();
        ["RUSTC [M]", "CLIPPY [M]", "CC [M]"]
            .iter()
            .any(|step| l.starts_with(step))
    });
    if !compiled && stored.exists() {
        return Ok(read_stamp(&stored)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect());
    }
    let warnings: Vec<String> = rust_warnings(lines)
        .into_iter()
        .map(|(f, w)| format!("{f}\t{w}"))
        .collect();
    fs::write(&stored, warnings.join("\n"))?;
    Ok(warnings)
}

/// Builds one driver module.
pub fn build_one(p: &Project, b: &Built, flavor: &str, name: &str) -> Result<Module> {
    let src = p.root.join("drivers").join(name);
    if !src.join("Kbuild").exists() {
        bail!("no driver `{name}`: drivers/{name}/Kbuild does not exist");
    }
    let dest = p.build.join("modules").join(flavor).join(name);
    let r = make_external(p, b, &src, &dest, &format!("module-{flavor}-{name}"))?;
    if !r.success {
        for l in r.lines.iter().rev().take(30).rev() {
            eprintln!("  {l}");
        }
        bail!(
            "building module {name} failed (make exited {})",
            r.code.unwrap_or(-1)
        );
    }
    let ko = dest.join(format!("{name}.ko"));
    if !ko.exists() {
        bail!("building module {name} produced no {name}.ko");
    }
    let warnings = kept_warnings(&dest, &r.lines)?;
    Ok(Module {
        name: name.to_string(),
        ko,
        warnings,
    })
}

/// Builds every driver.
pub fn build_all(p: &Project, b: &Built, flavor: &str) -> Result<Vec<Module>> {
    let names = driver_names(p)?;
    if names.is_empty() {
        say("modules", "no drivers under drivers/ yet");
    }
    let mut out = Vec::new();
    for name in names {
        say("modules", &format!("building {name}"));
        out.push(build_one(p, b, flavor, &name)?);
    }
    Ok(out)
}
