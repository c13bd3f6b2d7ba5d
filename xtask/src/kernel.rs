//! `kernel`: unpacks Debian's Linux 6.12 source, lays the project's overlay onto
//! it, configures a flavor and builds it incrementally.

use crate::setup::Tools;
use crate::util::{
    files_below, human, io_ctx, read_stamp, run, run_logged, say, write_if_changed, Error, Hasher,
    Result,
};
use crate::{bail, series, Project};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub const TARBALL: &str = "/usr/src/linux-source-6.12.tar.xz";
pub const TREE_NAME: &str = "linux-source-6.12";

/// The architectures a kernel is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// The host's: booted under `qemu-system-x86_64 -M q35`.
    X86_64,
    /// Cross-built with `ARCH=arm64 LLVM=1`, booted under
    /// `qemu-system-aarch64 -M virt`.
    Arm64,
}

impl Arch {
    /// The kernel image QEMU boots, relative to the build folder.
    pub fn image(self) -> &'static str {
        match self {
            Arch::X86_64 => "arch/x86/boot/bzImage",
            Arch::Arm64 => "arch/arm64/boot/Image",
        }
    }

    /// `make`'s `ARCH=` for a cross build (none for the host's).
    pub fn make_arg(self) -> Option<&'static str> {
        match self {
            Arch::X86_64 => None,
            Arch::Arm64 => Some("ARCH=arm64"),
        }
    }

    /// The serial console's device: the kernel's messages.
    pub fn console(self) -> &'static str {
        match self {
            Arch::X86_64 => "ttyS0",
            Arch::Arm64 => "ttyAMA0",
        }
    }

    /// The second serial port: everything the guest's programs print
    /// (`guest/init` sends its output there). On one port, a kernel message
    /// written while a program's line is half sent lands in the middle of
    /// that line, and a KTAP line cut in two is lost.
    pub fn output(self) -> &'static str {
        match self {
            Arch::X86_64 => "ttyS1",
            Arch::Arm64 => "ttyAMA1",
        }
    }
}

/// A kernel configuration: tinyconfig plus fragments from `kernel/config/`.
pub struct Flavor {
    pub name: &'static str,
    pub fragments: &'static [&'static str],
    pub arch: Arch,
}

/// The kernel the tests, the demo and `run` boot: DMA-API debugging, KASAN
/// and kmemleak on.
pub const TEST: Flavor = Flavor {
    name: "test",
    fragments: &["base", "debug"],
    arch: Arch::X86_64,
};

/// The test kernel for arm64: the same checkers, on QEMU's `virt` machine.
pub const TEST_ARM64: Flavor = Flavor {
    name: "test-arm64",
    fragments: &["base", "debug", "arm64"],
    arch: Arch::Arm64,
};

/// The kernel `bench` boots: the base configuration without checkers.
pub const BENCH: Flavor = Flavor {
    name: "bench",
    fragments: &["base", "bench"],
    arch: Arch::X86_64,
};

/// A built kernel flavor.
pub struct Built {
    pub src: PathBuf,
    pub out: PathBuf,
    /// The kernel image QEMU boots (`bzImage` or arm64's `Image`).
    pub bzimage: PathBuf,
    pub arch: Arch,
}

impl Built {
    /// Where a flavor's build lives, whether or not it is built yet.
    pub fn locate(p: &Project, flavor: &Flavor) -> Built {
        let src = p.build.join("src").join(TREE_NAME);
        let out = p.build.join("kernel").join(flavor.name);
        let bzimage = out.join(flavor.arch.image());
        Built {
            src,
            out,
            bzimage,
            arch: flavor.arch,
        }
    }

    /// The `make` command for this tree and output directory.
    pub fn make(&self, tools: &Tools) -> Command {
        let mut cmd = Command::new("make");
        cmd.arg("-C")
            .arg(&self.src)
            .arg(format!("O={}", self.out.display()))
            .args(self.arch.make_arg())
            .args(tools.make_vars());
        cmd
    }

    /// Files of the tree the overlay added or patched, relative to the tree.
    pub fn overlay_files(&self) -> Vec<String> {
        read_stamp(&self.src.join(OVERLAY_STATE))
            .lines()
            .chain(read_stamp(&self.src.join(PATCH_STATE)).lines())
            .map(str::to_string)
            .collect()
    }
}

const UNPACK_STAMP: &str = ".dmabridge-unpacked";
const OVERLAY_STATE: &str = ".dmabridge-overlay";
const PATCH_STATE: &str = ".dmabridge-patched";
const PRISTINE: &str = ".dmabridge-pristine";

/// The Debian version of the unpacked source tarball.
pub fn source_version() -> Result<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "linux-source-6.12"])
        .output()?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if v.is_empty() || !Path::new(TARBALL).exists() {
        bail!("{TARBALL} is missing: run `cargo xtask setup`");
    }
    Ok(v)
}

/// Unpacks the source tarball unless the same version is already unpacked.
fn unpack(p: &Project, src: &Path) -> Result<String> {
    let version = source_version()?;
    let stamp = src.join(UNPACK_STAMP);
    if read_stamp(&stamp) == version {
        return Ok(version);
    }
    let parent = src.parent().unwrap_or(&p.build);
    if parent.exists() {
        say(
            "kernel",
            "source version changed: removing the old tree and builds",
        );
        io_ctx(fs::remove_dir_all(parent), "cannot remove", parent)?;
        let _ = fs::remove_dir_all(p.build.join("kernel"));
    }
    io_ctx(fs::create_dir_all(parent), "cannot create", parent)?;
    say("kernel", &format!("unpacking linux-source-6.12 {version}"));
    run(Command::new("tar")
        .arg("-C")
        .arg(parent)
        .arg("-xf")
        .arg(TARBALL))?;
    if !src.join("Makefile").exists() {
        bail!("{TARBALL} did not unpack to {TREE_NAME}/");
    }
    fs::write(&stamp, &version)?;
    Ok(version)
}

/// Copies `kernel/rust/**` into the tree's `rust/`, only adding files (an
/// upstream file is changed by a patch, never replaced), and removes files a
/// previous overlay added that are gone now.
fn apply_overlay(p: &Project, src: &Path) -> Result {
    let root = p.root.join("kernel/rust");
    let state = src.join(OVERLAY_STATE);
    let before: BTreeSet<String> = read_stamp(&state).lines().map(str::to_string).collect();
    let mut now = BTreeSet::new();
    for f in files_below(&root)? {
        let rel = format!("rust/{}", f.strip_prefix(&root).unwrap_or(&f).display());
        let dest = src.join(&rel);
        if dest.exists() && !before.contains(&rel) {
            bail!(
                "overlay file kernel/{rel} would replace an upstream file: change it with a patch in kernel/patches/"
            );
        }
        if write_if_changed(&dest, &io_ctx(fs::read(&f), "cannot read", &f)?)? {
            say("kernel", &format!("overlay: {rel}"));
        }
        now.insert(rel);
    }
    for gone in before.difference(&now) {
        say("kernel", &format!("overlay: removing {gone}"));
        let _ = fs::remove_file(src.join(gone));
    }
    let list: Vec<&str> = now.iter().map(|s| s.as_str()).collect();
    write_if_changed(&state, list.join("\n").as_bytes())?;
    Ok(())
}

/// Applies the upstream-file sections of the pieces in `kernel/patches/`
/// (see `series`), in order, to pristine copies of the files they touch, and
/// writes a tree file only when its patched content changes. Only files under
/// `rust/` may be patched: the C core stays as upstream wrote it. Sections for
/// files of the overlay are for the export alone: the overlay has those files
/// whole.
fn apply_patches(p: &Project, src: &Path) -> Result {
    let pieces = series::load(p)?;
    let owner = series::owners(p, &pieces)?;
    let upstream = |s: &&series::Section| !owner.contains_key(&s.path);
    let state = src.join(PATCH_STATE);
    let pristine = src.join(PRISTINE);
    let before: BTreeSet<String> = read_stamp(&state).lines().map(str::to_string).collect();
    let touched: BTreeSet<String> = pieces
        .iter()
        .flat_map(|piece| piece.sections.iter().filter(upstream))
        .map(|s| s.path.clone())
        .collect();
    // Keep a pristine copy of every file before it is first patched.
    for path in before.union(&touched) {
        let keep = pristine.join(path);
        if !keep.exists() {
            let orig = src.join(path);
            if !orig.exists() {
                bail!("a patch changes {path}, which this kernel tree does not have");
            }
            io_ctx(
                fs::create_dir_all(keep.parent().unwrap()),
                "cannot create",
                &keep,
            )?;
            io_ctx(fs::copy(&orig, &keep), "cannot copy", &orig)?;
        }
    }
    let scratch = src.parent().unwrap().join("patch-scratch");
    let _ = fs::remove_dir_all(&scratch);
    fs::create_dir_all(&scratch)?;
    for path in &touched {
        let dest = scratch.join(path);
        fs::create_dir_all(dest.parent().unwrap())?;
        fs::copy(pristine.join(path), &dest)?;
    }
    for piece in &pieces {
        let diff = series::diff_of(piece.sections.iter().filter(upstream));
        if diff.is_empty() {
            continue;
        }
        series::apply(&scratch, &diff, false).map_err(|e| {
            Error(format!(
                "{} does not apply to this 6.12 tree: {e}",
                series::file(p, piece).display()
            ))
        })?;
    }
    for path in &touched {
        if write_if_changed(&src.join(path), &fs::read(scratch.join(path))?)? {
            say("kernel", &format!("patched: {path}"));
        }
    }
    for gone in before.difference(&touched) {
        say("kernel", &format!("restoring upstream {gone}"));
        write_if_changed(&src.join(gone), &fs::read(pristine.join(gone))?)?;
    }
    let _ = fs::remove_dir_all(&scratch);
    let list: Vec<&str> = touched.iter().map(|s| s.as_str()).collect();
    write_if_changed(&state, list.join("\n").as_bytes())?;
    Ok(())
}

/// The options a fragment asks for: (`CONFIG_X`, `y`/`m`/value or `n`).
pub fn fragment_options(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("# CONFIG_") {
            if let Some(name) = rest.strip_suffix(" is not set") {
                out.push((format!("CONFIG_{name}"), "n".to_string()));
            }
        } else if line.starts_with("CONFIG_") {
            if let Some((k, v)) = line.split_once('=') {
                out.push((k.to_string(), v.to_string()));
            }
        }
    }
    out
}

/// The value `.config` gives an option (`n` when unset or absent).
pub fn config_value(config: &str, name: &str) -> String {
    for line in config.lines() {
        if let Some(v) = line.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            return v.to_string();
        }
    }
    "n".to_string()
}

/// Configures `b` as `flavor` unless it already is; returns the fragments' hash.
pub fn configure(p: &Project, b: &Built, flavor: &Flavor, tools: &Tools) -> Result<String> {
    let mut frags = Vec::new();
    let mut h = Hasher::new();
    for name in flavor.fragments {
        let f = p.root.join("kernel/config").join(format!("{name}.config"));
        let text = io_ctx(fs::read_to_string(&f), "cannot read", &f)?;
        h.str(&text);
        frags.push((f, text));
    }
    let hash = h.hex();
    let stamp = b.out.join(".dmabridge-config");
    if read_stamp(&stamp) == hash && b.out.join(".config").exists() {
        return Ok(hash);
    }
    say(
        "kernel",
        &format!(
            "configuring {}: tinyconfig + {}",
            flavor.name,
            flavor.fragments.join(" + ")
        ),
    );
    fs::create_dir_all(&b.out)?;
    let quiet = |c: &mut Command| -> Result {
        let out = c.output()?;
        if !out.status.success() {
            bail!(
                "kernel configuration failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    };
    quiet(b.make(tools).arg("tinyconfig"))?;
    let mut merge = Command::new(b.src.join("scripts/kconfig/merge_config.sh"));
    merge
        .current_dir(&b.src)
        .arg("-m")
        .arg("-O")
        .arg(&b.out)
        .arg(b.out.join(".config"))
        .args(frags.iter().map(|(f, _)| f));
    quiet(&mut merge)?;
    quiet(b.make(tools).arg("olddefconfig"))?;
    let config = fs::read_to_string(b.out.join(".config"))?;
    // A later fragment overrides an earlier one: check the last value of each option.
    let mut wanted: Vec<(String, String)> = Vec::new();
    for (_, text) in &frags {
        for (k, v) in fragment_options(text) {
            wanted.retain(|(seen, _)| *seen != k);
            wanted.push((k, v));
        }
    }
    let missing: Vec<String> = wanted
        .iter()
        .filter(|(k, v)| config_value(&config, k) != *v)
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if !missing.is_empty() {
        bail!(
            "the kernel configuration refused {} (unmet dependencies; for CONFIG_RUST see `make rustavailable`)",
            missing.join(", ")
        );
    }
    fs::write(&stamp, &hash)?;
    Ok(hash)
}

/// Is this make output line worth showing in the heartbeat?
fn build_step(line: &str) -> bool {
    let t = line.trim_start();
    [
        "CC ", "RUSTC ", "CLIPPY ", "LD ", "AR ", "BINDGEN ", "AS ", "OBJCOPY ",
    ]
    .iter()
    .any(|p| t.starts_with(p))
}

/// Rust compiler and clippy warnings in a build log: `(file, first line)`.
pub fn rust_warnings(lines: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending: Option<String> = None;
    for l in lines {
        if l.starts_with("warning:") {
            pending = Some(l.clone());
        } else if let Some(w) = &pending {
            if let Some(loc) = l.trim_start().strip_prefix("--> ") {
                let file = loc.split(':').next().unwrap_or(loc).to_string();
                out.push((file, w.clone()));
                pending = None;
            }
        }
    }
    out
}

/// Builds `flavor`, skipping `make` entirely when nothing that feeds it changed.
pub fn build(p: &Project, flavor: &Flavor) -> Result<Built> {
    let tools = Tools::new(p);
    let b = Built::locate(p, flavor);
    let version = unpack(p, &b.src)?;
    apply_overlay(p, &b.src)?;
    apply_patches(p, &b.src)?;
    let config_hash = configure(p, &b, flavor, &tools)?;
    let key = || -> Result<String> {
        let hash = inputs_hash(p, &version, &config_hash, &tools)?;
        Ok(match flavor.arch.make_arg() {
            Some(arch) => Hasher::new().str(&hash).str(arch).hex(),
            None => hash,
        })
    };
    let hash = key()?;
    let stamp = b.out.join(".dmabridge-built");
    if read_stamp(&stamp) == hash && b.bzimage.exists() {
        say("kernel", &format!("{} kernel is up to date", flavor.name));
        return Ok(b);
    }
    // No stamp while the tree is between two builds: module builds key on it.
    let _ = fs::remove_file(&stamp);
    let first = !b.bzimage.exists();
    say(
        "kernel",
        &format!(
            "building the {} kernel with make -j3 ({})",
            flavor.name,
            if first {
                "first build: about 6-8 minutes on 2 cores"
            } else {
                "incremental"
            }
        ),
    );
    let log = p.build.join(format!("logs/kernel-{}.log", flavor.name));
    let start = Instant::now();
    let r = run_logged(
        b.make(&tools).arg("-j3"),
        &log,
        "kernel",
        Duration::from_secs(20),
        build_step,
    )?;
    let warnings = rust_warnings(&r.lines);
    let list: Vec<String> = warnings.iter().map(|(f, w)| format!("{f}\t{w}")).collect();
    fs::write(b.out.join(".dmabridge-warnings"), list.join("\n"))?;
    if !r.success {
        for l in r.lines.iter().filter(|l| l.contains("error")).take(12) {
            eprintln!("  {l}");
        }
        return Err(Error(format!(
            "kernel build failed (make exited {}); full log: {}",
            r.code.unwrap_or(-1),
            log.display()
        )));
    }
    if !b.bzimage.exists() {
        bail!("kernel build produced no {}", b.bzimage.display());
    }
    // A source saved during the build is not in this build: no stamp, so
    // the next command builds again.
    if key()? != hash {
        bail!("kernel/ changed while the kernel was building: run the command again");
    }
    fs::write(&stamp, &hash)?;
    say(
        "kernel",
        &format!("{} kernel built in {}", flavor.name, human(start.elapsed())),
    );
    Ok(b)
}

/// What a kernel build depends on besides the tree: the overlay and patches,
/// the configuration, the make variables and the versions of the tools.
fn inputs_hash(p: &Project, version: &str, config_hash: &str, tools: &Tools) -> Result<String> {
    let mut h = Hasher::new();
    h.str(version).str(config_hash);
    h.tree(&p.root.join("kernel/rust"))?;
    h.tree(&p.root.join("kernel/patches"))?;
    h.str(&tools_hash(tools)?);
    Ok(h.hex())
}

/// The make variables and the versions of the tools a kernel build uses.
pub fn tools_hash(tools: &Tools) -> Result<String> {
    let mut h = Hasher::new();
    for v in tools.make_vars() {
        h.str(&v);
    }
    for (tool, arg) in [
        (tools.rustc.as_path(), "-vV"),
        (tools.bindgen.as_path(), "--version"),
        (Path::new("clang"), "--version"),
        (Path::new("ld.lld"), "--version"),
        (Path::new("make"), "--version"),
    ] {
        h.str(&crate::util::output(Command::new(tool).arg(arg))?);
    }
    Ok(h.hex())
}

/// Warnings the last kernel build printed for the project's overlay files.
pub fn overlay_warnings(b: &Built) -> Vec<String> {
    let ours = b.overlay_files();
    read_stamp(&b.out.join(".dmabridge-warnings"))
        .lines()
        .filter(|l| {
            let file = l.split('\t').next().unwrap_or("");
            ours.iter().any(|o| file.ends_with(o.as_str()))
        })
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_parse() {
        let f = "# comment\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x\"\n";
        assert_eq!(
            fragment_options(f),
            vec![
                ("CONFIG_A".into(), "y".into()),
                ("CONFIG_B".into(), "n".into()),
                ("CONFIG_C".into(), "\"x\"".into())
            ]
        );
    }

    #[test]
    fn config_values() {
        let c = "CONFIG_AB=y\nCONFIG_A=m\n# CONFIG_X is not set\n";
        assert_eq!(config_value(c, "CONFIG_A"), "m");
        assert_eq!(config_value(c, "CONFIG_AB"), "y");
        assert_eq!(config_value(c, "CONFIG_X"), "n");
        assert_eq!(config_value(c, "CONFIG_NONE"), "n");
    }

    #[test]
    fn warnings_with_locations() {
        let log: Vec<String> = [
            "warning: unused variable: `x`",
            "  --> rust/kernel/dmabridge.rs:10:9",
            "   |",
            "warning: 1 warning emitted",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let w = rust_warnings(&log);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].0, "rust/kernel/dmabridge.rs");
    }
}
