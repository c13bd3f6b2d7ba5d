//! `modules`: builds every out-of-tree module under `drivers/` against a built
//! kernel flavor.

use crate::cache;
use crate::kernel::{rust_warnings, Built};
use crate::setup::Tools;
use crate::util::{
    files_below, io_ctx, read_stamp, run_logged, say, write_if_changed, Hasher, Logged, Result,
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
/// there, so the source folder stays free of build products. Inside
/// `cargo xtask test`, a build whose inputs are unchanged since a passing run
/// is replayed (see `cache`) when its modules are still in `dest` as built.
pub fn make_external(
    p: &Project,
    b: &Built,
    src: &Path,
    dest: &Path,
    log_name: &str,
) -> Result<Logged> {
    // The key hashes the bytes as they are copied: a file saved during the
    // build cannot be recorded as built.
    let mut h = Hasher::new();
    for f in files_below(src)? {
        let rel = f.strip_prefix(src).unwrap_or(&f);
        let data = io_ctx(fs::read(&f), "cannot read", &f)?;
        h.str(&rel.to_string_lossy()).bytes(&data);
        write_if_changed(&dest.join(rel), &data)?;
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
    let key = build_key(p, b, h, &make)?;
    let what = format!("build {log_name}");
    let log = p.build.join(format!("logs/{log_name}.log"));
    if let Some(r) = cache::lookup(p, &what, &key, |r| decode_build(r, dest)) {
        io_ctx(fs::write(&log, r.lines.join("\n")), "cannot write", &log)?;
        return Ok(r);
    }
    let r = run_logged(&mut make, &log, "modules", Duration::from_secs(30), |_| {
        true
    })?;
    cache::record(p, &key, &encode_build(&r, dest)?)?;
    Ok(r)
}

/// The replay key of a module build: `sources` (the module's files as
/// copied), the kernel's build stamp (its sources, patches, configuration,
/// make variables and tool versions) and what modules build against (its
/// configuration, `Module.symvers`, the `kernel` crate's metadata, the Rust
/// cfgs), the shared headers and wrapper, the whole make command, and the
/// code that runs it.
fn build_key(
    p: &Project,
    b: &Built,
    mut sources: Hasher,
    make: &std::process::Command,
) -> Result<String> {
    let h = &mut sources;
    h.str("module build v2")
        .str(include_str!("modules.rs"))
        .str(include_str!("util.rs"))
        .str(&read_stamp(&b.out.join(".dmabridge-built")));
    for product in [
        ".config",
        "Module.symvers",
        "rust/libkernel.rmeta",
        "include/generated/rustc_cfg",
    ] {
        h.file(&b.out.join(product))?;
    }
    h.tree(&p.root.join("drivers/include"))?
        .file(&p.root.join("tests/compile-fail/case_module.rs"))?;
    h.bytes(make.get_program().as_encoded_bytes());
    for a in make.get_args() {
        h.bytes(a.as_encoded_bytes());
    }
    Ok(h.hex())
}

/// The modules `dest` holds, with their digests.
fn products(dest: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for f in files_below(dest)? {
        if f.extension().is_some_and(|e| e == "ko") {
            let name = f.strip_prefix(dest).unwrap_or(&f).display().to_string();
            out.push(format!("{name} {}", Hasher::new().file(&f)?.hex()));
        }
    }
    Ok(out)
}

/// A build as the replay cache keeps it: its exit code, the modules it left
/// (one `ko: name digest` line each), a blank line, then make's output.
fn encode_build(r: &Logged, dest: &Path) -> Result<String> {
    let mut s = format!("code={}\n", r.code.map_or("none".into(), |c| c.to_string()));
    if r.success {
        for k in products(dest)? {
            s.push_str(&format!("ko: {k}\n"));
        }
    }
    s.push('\n');
    for l in &r.lines {
        s.push_str(l);
        s.push('\n');
    }
    Ok(s)
}

/// The recorded build, if `dest` still holds exactly the modules it left.
fn decode_build(rec: &str, dest: &Path) -> Option<Logged> {
    let (head, out) = rec.split_once("\n\n")?;
    let mut lines = head.lines();
    let code = match lines.next()?.strip_prefix("code=")? {
        "none" => None,
        c => Some(c.parse().ok()?),
    };
    let kos: Vec<&str> = lines.filter_map(|l| l.strip_prefix("ko: ")).collect();
    let success = code == Some(0);
    if success && products(dest).ok()? != kos {
        return None;
    }
    Some(Logged {
        success,
        code,
        lines: out.lines().map(str::to_string).collect(),
    })
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
