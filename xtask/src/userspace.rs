//! Userspace tools for the guest (`tools/`): built with the host's cargo as
//! static executables, since the guest has no C library of its own.

use crate::util::{output, run, say, Result};
use crate::Project;
use sha2::Digest;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target the guest runs; glibc's static libraries come with libc6-dev.
const TARGET: &str = "x86_64-unknown-linux-gnu";

/// The tools: (package under `tools/`, path in the guest).
const TOOLS: &[(&str, &str)] = &[
    ("eductl", "/usr/bin/eductl"),
    ("blkzero", "/usr/bin/blkzero"),
];

/// Builds every tool; returns (guest path, host path) pairs for the initramfs.
pub fn build(p: &Project) -> Result<Vec<(String, PathBuf)>> {
    let target_dir = p.build.join("userspace");
    let mut out = Vec::new();
    for (pkg, guest) in TOOLS {
        say("userspace", &format!("building {pkg} (static, {TARGET})"));
        // With --target, RUSTFLAGS reach only the tool, not build scripts.
        run(Command::new("cargo")
            .args([
                "build",
                "--quiet",
                "--release",
                "-p",
                pkg,
                "--target",
                TARGET,
            ])
            .arg("--target-dir")
            .arg(&target_dir)
            .env("RUSTFLAGS", "-C target-feature=+crt-static")
            .current_dir(&p.root))?;
        out.push((
            guest.to_string(),
            target_dir.join(TARGET).join("release").join(pkg),
        ));
    }
    Ok(out)
}

/// A tool built from Debian's source of the version bookworm ships, as a
/// static executable: the guest has no C library, and Debian's binaries link
/// shared libraries the suites never use (fio alone some 70, 80 MiB).
struct SourceTool {
    /// The source package, as in Debian's pool.
    package: &'static str,
    version: &'static str,
    /// The SHA-256 of `<package>_<version>.orig.tar.gz`.
    sha256: &'static str,
    configure: &'static [&'static str],
    /// `make` runs, each: a directory of the tree and its targets.
    make: &'static [(&'static str, &'static [&'static str])],
    /// What the guest gets: (path in the tree, path in the guest).
    install: &'static [(&'static str, &'static str)],
}

/// fio for the storage suites and `bench nvme`: the `psync`, `io_uring` and
/// `posixaio` engines.
const FIO: SourceTool = SourceTool {
    package: "fio",
    version: FIO_VERSION,
    sha256: "d2410e13e0f379d061d077cc5ae325835bb7c6186aa7bafc1df954cbc9b014fc",
    configure: &[
        "--build-static",
        "--cc=clang",
        "--disable-native",
        "--disable-numa",
        "--disable-rdma",
        "--disable-rados",
        "--disable-rbd",
        "--disable-http",
        "--disable-gfapi",
        "--disable-pmem",
        "--disable-xnvme",
        "--disable-libzbc",
        "--disable-tcmalloc",
        "--disable-dfs",
        "--disable-lex",
        "--disable-shm",
    ],
    make: &[(".", &["fio"])],
    install: &[("fio", "/usr/bin/fio")],
};
pub const FIO_VERSION: &str = "3.33";

/// e2fsprogs' mke2fs and e2fsck, for the filesystem tests.
const E2FSPROGS: SourceTool = SourceTool {
    package: "e2fsprogs",
    version: "1.47.0",
    sha256: "6667afde56eef0c6af26684974400e4d2288ea49e9441bf5e6229195d51a3578",
    configure: &[
        "CC=clang",
        "LDFLAGS=-static",
        "--disable-nls",
        "--disable-fuse2fs",
        "--disable-e2initrd-helper",
        "--disable-defrag",
        "--disable-imager",
        "--disable-tdb",
        "--disable-uuidd",
        "--disable-debugfs",
        "--disable-resizer",
        "--without-libarchive",
    ],
    make: &[
        (".", &["libs"]),
        ("misc", &["mke2fs"]),
        ("e2fsck", &["e2fsck"]),
    ],
    install: &[
        ("misc/mke2fs", "/sbin/mkfs.ext4"),
        ("e2fsck/e2fsck", "/sbin/fsck.ext4"),
    ],
};

/// The storage tools: fio, mkfs.ext4 and fsck.ext4, as (guest path, host
/// path) pairs. Each is built once, in under a minute, under build/tools.
pub fn storage_tools(p: &Project) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for t in [&FIO, &E2FSPROGS] {
        out.extend(t.build(p)?);
    }
    Ok(out)
}

/// fio alone, for `bench nvme`.
pub fn fio(p: &Project) -> Result<Vec<(String, PathBuf)>> {
    FIO.build(p)
}

impl SourceTool {
    fn build(&self, p: &Project) -> Result<Vec<(String, PathBuf)>> {
        let name = format!("{}-{}", self.package, self.version);
        let dir = p.build.join("tools").join(&name);
        let installed = |(tree, guest): &(&str, &str)| {
            let file = Path::new(tree).file_name().unwrap_or_default().to_owned();
            (guest.to_string(), dir.join("bin").join(file))
        };
        let out: Vec<(String, PathBuf)> = self.install.iter().map(installed).collect();
        if out.iter().all(|(_, h)| h.exists()) {
            return Ok(out);
        }
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("bin"))?;
        let uri = crate::setup::debian_uri(&crate::setup::apt_sources())
            .unwrap_or_else(|| "http://deb.debian.org/debian".to_string());
        let tarball = format!("{}_{}.orig.tar.gz", self.package, self.version);
        let pool = self.package.chars().next().unwrap_or('_');
        let url = format!(
            "{}/pool/main/{pool}/{}/{tarball}",
            uri.trim_end_matches('/'),
            self.package
        );
        say("userspace", &format!("fetching {url}"));
        run(Command::new("curl")
            .args(["-sSfL", "-o", &tarball, &url])
            .current_dir(&dir))?;
        let data = fs::read(dir.join(&tarball))?;
        let got: String = sha2::Sha256::digest(&data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if got != self.sha256 {
            crate::bail!("{tarball}: sha256 {got}, expected {}", self.sha256);
        }
        run(Command::new("tar").args(["xf", &tarball]).current_dir(&dir))?;
        let src = dir.join(&name);
        say("userspace", &format!("building {name} (static)"));
        output(
            Command::new("./configure")
                .args(self.configure)
                .current_dir(&src),
        )?;
        for (sub, targets) in self.make {
            output(
                Command::new("make")
                    .arg("-j3")
                    .args(*targets)
                    .current_dir(src.join(sub)),
            )?;
        }
        for ((tree, _), (_, host)) in self.install.iter().zip(&out) {
            run(Command::new("strip")
                .arg("-o")
                .arg(host)
                .arg(src.join(tree)))?;
        }
        let _ = fs::remove_dir_all(&src);
        let _ = fs::remove_file(dir.join(&tarball));
        Ok(out)
    }
}
