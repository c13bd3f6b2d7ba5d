//! Userspace tools for the guest (`tools/`): built with the host's cargo as
//! static executables, since the guest has no C library of its own.

use crate::util::{run, say, Result};
use crate::Project;
use std::path::PathBuf;
use std::process::Command;

/// The target the guest runs; glibc's static libraries come with libc6-dev.
const TARGET: &str = "x86_64-unknown-linux-gnu";

/// The tools: (package under `tools/`, path in the guest).
const TOOLS: &[(&str, &str)] = &[("eductl", "/usr/bin/eductl")];

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
