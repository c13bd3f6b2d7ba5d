//! `setup`: installs the pinned toolchain, skipping what is already there.

use crate::util::{io_ctx, output, run, say, Result};
use crate::{bail, Project};
use std::fs;
use std::path::PathBuf;
use std::process::Command;

/// The Rust compiler the kernel is built with (Debian's rustc-web), pinned.
pub const RUSTC_WEB: &str = "1.85.0+dfsg3-1~deb12u3";
/// The bindgen release the kernel's bindings are generated with, pinned.
pub const BINDGEN: &str = "0.69.5";
/// The rust-analyzer release of the week rustc 1.85 came out (2025-02-24):
/// later ones expect a newer `core` and proc-macro ABI than the kernel's
/// rustc-web gives them. Built from crates.io (`ra_ap_rust-analyzer`).
pub const RUST_ANALYZER: &str = "0.0.265";
/// The oldest QEMU whose edu device handles a full 4096-byte DMA.
const QEMU_MAJOR: u32 = 10;

/// Debian packages installed at an exact version.
const PINNED: &[&str] = &[
    "rustc-web",
    "rust-web-src",
    "libstd-rust-web-dev",
    "rust-web-clippy",
];

/// Debian packages installed at any version.
const PLAIN: &[&str] = &[
    "gdb",
    "git",
    // checkpatch's SPDX check (scripts/spdxcheck.py), for `export`.
    "python3-ply",
    "python3-git",
    "clang",
    "lld",
    "llvm",
    "flex",
    "bison",
    "bc",
    "libelf-dev",
    "libssl-dev",
    "cpio",
    "patch",
    "perl",
    "busybox-static",
    "linux-source-6.12",
    // The guest's fio, built from Debian's source (`userspace::fio`).
    "curl",
    "libc6-dev",
    "zlib1g-dev",
];

/// The tool paths every kernel and module build uses.
pub struct Tools {
    pub rustc: PathBuf,
    pub rustdoc: PathBuf,
    pub clippy_driver: PathBuf,
    pub bindgen: PathBuf,
    pub rust_analyzer: PathBuf,
    pub qemu: PathBuf,
    pub qemu_arm64: PathBuf,
    /// The project root: built files record paths relative to it.
    pub root: PathBuf,
}

impl Tools {
    pub fn new(p: &Project) -> Tools {
        Tools {
            rustc: "/usr/bin/rustc".into(),
            rustdoc: "/usr/bin/rustdoc".into(),
            clippy_driver: "/usr/bin/clippy-driver".into(),
            bindgen: p.build.join("tools/bin/bindgen"),
            rust_analyzer: p.build.join("tools/bin/rust-analyzer"),
            qemu: "/usr/bin/qemu-system-x86_64".into(),
            qemu_arm64: "/usr/bin/qemu-system-aarch64".into(),
            root: p.root.clone(),
        }
    }

    /// The `make` variables that select the pinned toolchain.
    pub fn make_vars(&self) -> Vec<String> {
        vec![
            "LLVM=1".into(),
            format!("RUSTC={}", self.rustc.display()),
            format!("RUSTDOC={}", self.rustdoc.display()),
            format!("BINDGEN={}", self.bindgen.display()),
            format!("CLIPPY_DRIVER={}", self.clippy_driver.display()),
            "CLIPPY=1".into(),
            // Paths inside the project are recorded relative to it (file
            // names in warnings, panics, KASAN descriptors), so a kernel or
            // module is the same bytes in every checkout.
            format!("KCFLAGS=-ffile-prefix-map={}/=", self.root.display()),
            format!("KRUSTFLAGS=--remap-path-prefix={}/=", self.root.display()),
        ]
    }
}

/// Returns the installed version of a Debian package, if installed.
fn installed_version(pkg: &str) -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Status}|${Version}", pkg])
        .output()
        .ok()?;
    let s = String::from_utf8_lossy(&out.stdout);
    let (status, version) = s.split_once('|')?;
    (status == "install ok installed").then(|| version.to_string())
}

/// Parses the upstream major version out of a Debian QEMU version such as
/// `1:10.0.2+ds-2+deb13u1~bpo12+1`.
pub fn qemu_major(version: &str) -> Option<u32> {
    let v = version.split_once(':').map_or(version, |(_, v)| v);
    v.split('.').next()?.parse().ok()
}

/// Finds the Debian archive URI serving `bookworm` in apt's sources, in
/// either the one-line or the deb822 format.
pub fn debian_uri(sources: &str) -> Option<String> {
    // One-line format: `deb [opts] URI bookworm main`.
    for line in sources.lines() {
        let words: Vec<&str> = line
            .split_whitespace()
            .filter(|w| !w.starts_with('['))
            .collect();
        if words.first() == Some(&"deb") && words.get(2) == Some(&"bookworm") {
            return words.get(1).map(|s| s.to_string());
        }
    }
    // deb822 format: stanzas separated by blank lines.
    for stanza in sources.split("\n\n") {
        let field = |name: &str| {
            stanza
                .lines()
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
        };
        let suites = field("Suites:").unwrap_or_default();
        if suites.split_whitespace().any(|s| s == "bookworm") {
            if let Some(uris) = field("URIs:") {
                return uris.split_whitespace().next().map(|s| s.to_string());
            }
        }
    }
    None
}

pub fn apt_sources() -> String {
    let mut all = fs::read_to_string("/etc/apt/sources.list").unwrap_or_default();
    if let Ok(dir) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut files: Vec<_> = dir.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            let name = f.to_string_lossy();
            if name.ends_with(".list") || name.ends_with(".sources") {
                all.push_str("\n\n");
                all.push_str(&fs::read_to_string(&f).unwrap_or_default());
            }
        }
    }
    all
}

/// Prefixes `sudo` when not running as root.
fn privileged(args: &[&str]) -> Command {
    let root = output(Command::new("id").arg("-u"))
        .map(|s| s.trim() == "0")
        .unwrap_or(false);
    let mut cmd = if root {
        let mut c = Command::new(args[0]);
        c.args(&args[1..]);
        c
    } else {
        let mut c = Command::new("sudo");
        c.args(args);
        c
    };
    cmd.env("DEBIAN_FRONTEND", "noninteractive");
    cmd
}

fn ensure_backports() -> Result {
    let sources = apt_sources();
    if sources.contains("bookworm-backports") {
        return Ok(());
    }
    let Some(uri) = debian_uri(&sources) else {
        bail!("no Debian bookworm entry in apt's sources to derive bookworm-backports from");
    };
    say("setup", &format!("enabling bookworm-backports from {uri}"));
    let entry = format!(
        "Types: deb\nURIs: {uri}\nSuites: bookworm-backports\nComponents: main\n\
         Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    );
    let tmp = std::env::temp_dir().join("dmabridge-backports.sources");
    io_ctx(fs::write(&tmp, entry), "cannot write", &tmp)?;
    run(&mut privileged(&[
        "install",
        "-m",
        "0644",
        &tmp.to_string_lossy(),
        "/etc/apt/sources.list.d/dmabridge-backports.sources",
    ]))
}

/// Installs whatever of the pinned toolchain is missing.
pub fn setup(p: &Project) -> Result {
    let mut wanted: Vec<String> = Vec::new();
    for pkg in PINNED {
        if installed_version(pkg).as_deref() != Some(RUSTC_WEB) {
            wanted.push(format!("{pkg}={RUSTC_WEB}"));
        }
    }
    for pkg in PLAIN {
        if installed_version(pkg).is_none() {
            wanted.push(pkg.to_string());
        }
    }
    // QEMU for both machines, 10 or newer, from bookworm-backports.
    let qemu_ok = QEMU.iter().all(|pkg| {
        installed_version(pkg)
            .and_then(|v| qemu_major(&v))
            .is_some_and(|m| m >= QEMU_MAJOR)
    });
    let busybox_arm64 = busybox_arm64(p);
    if wanted.is_empty() && qemu_ok && busybox_arm64.exists() {
        say("setup", "Debian packages present at the pinned versions");
    } else {
        if !qemu_ok {
            ensure_backports()?;
        }
        if !busybox_arm64.exists() {
            // busybox-static for arm64 is only unpacked (it would replace the
            // host's): dpkg must know the architecture before apt sees it.
            say(
                "setup",
                "adding dpkg architecture arm64 (for busybox-static:arm64)",
            );
            run(&mut privileged(&["dpkg", "--add-architecture", "arm64"]))?;
        }
        say("setup", "apt-get update");
        run(privileged(&["apt-get", "update", "-q"]).stdout(std::process::Stdio::null()))?;
        if !wanted.is_empty() {
            say("setup", &format!("installing {}", wanted.join(" ")));
            let mut args = vec!["apt-get", "install", "-y", "-q", "--no-install-recommends"];
            args.extend(wanted.iter().map(|s| s.as_str()));
            run(&mut privileged(&args))?;
        }
        if !qemu_ok {
            say(
                "setup",
                &format!("installing {} from bookworm-backports", QEMU.join(" ")),
            );
            let mut args = vec![
                "apt-get",
                "install",
                "-y",
                "-q",
                "--no-install-recommends",
                "-t",
                "bookworm-backports",
            ];
            args.extend(QEMU);
            run(&mut privileged(&args))?;
        }
        if !busybox_arm64.exists() {
            unpack_busybox_arm64(p)?;
        }
    }
    ensure_cargo_tool(p, "bindgen-cli", BINDGEN, "about 2 minutes")?;
    ensure_cargo_tool(
        p,
        "ra_ap_rust-analyzer",
        RUST_ANALYZER,
        "rust-analyzer for `cargo xtask rust-analyzer`'s test: about 9 minutes",
    )
}

/// QEMU's packages: the x86-64 and the arm64 machines.
const QEMU: &[&str] = &["qemu-system-x86", "qemu-system-arm"];

/// The static busybox the arm64 guest runs, unpacked from Debian's
/// `busybox-static:arm64`.
pub fn busybox_arm64(p: &Project) -> PathBuf {
    p.build.join("tools/arm64/bin/busybox")
}

fn unpack_busybox_arm64(p: &Project) -> Result {
    let dir = p.build.join("tools/arm64");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    say(
        "setup",
        "fetching busybox-static:arm64 (unpacked under build/tools/arm64)",
    );
    run(Command::new("apt-get")
        .args(["download", "-q", "busybox-static:arm64"])
        .current_dir(&dir))?;
    let deb = crate::util::files_below(&dir)?
        .into_iter()
        .find(|f| f.extension().is_some_and(|e| e == "deb"))
        .ok_or_else(|| crate::util::Error("apt-get download left no .deb".into()))?;
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&dir))?;
    if !busybox_arm64(p).exists() {
        crate::bail!("busybox-static:arm64 has no bin/busybox");
    }
    Ok(())
}

/// Installs crate `krate` at `version` into build/tools with `cargo install`
/// unless cargo's own record there says it is installed.
fn ensure_cargo_tool(p: &Project, krate: &str, version: &str, about: &str) -> Result {
    let root = p.build.join("tools");
    let record = fs::read_to_string(root.join(".crates.toml")).unwrap_or_default();
    if record.contains(&format!("\"{krate} {version} (registry+")) {
        say("setup", &format!("{krate} {version} present"));
        return Ok(());
    }
    say("setup", &format!("building {krate} {version} ({about})"));
    run(Command::new("cargo").args([
        "install",
        "--quiet",
        "--locked",
        krate,
        "--version",
        version,
        "--root",
        &root.to_string_lossy(),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_versions() {
        assert_eq!(qemu_major("1:10.0.2+ds-2+deb13u1~bpo12+1"), Some(10));
        assert_eq!(qemu_major("1:7.2+dfsg-7+deb12u18+b3"), Some(7));
        assert_eq!(qemu_major("garbage"), None);
    }

    #[test]
    fn uri_from_deb822() {
        let s =
            "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n\
                 Components: main\n\nTypes: deb\nURIs: http://sec.example/debian-security\n\
                 Suites: bookworm-security\n";
        assert_eq!(
            debian_uri(s).as_deref(),
            Some("http://mirror.example/debian")
        );
    }

    #[test]
    fn uri_from_one_line() {
        let s = "deb http://sec.example/ bookworm-security main\n\
                 deb [arch=amd64] http://mirror.example/debian bookworm main contrib\n";
        assert_eq!(
            debian_uri(s).as_deref(),
            Some("http://mirror.example/debian")
        );
    }

    #[test]
    fn uri_absent() {
        assert_eq!(debian_uri("deb http://x/ trixie main\n"), None);
    }
}
