//! Packs the guest's initramfs with the kernel's own `gen_init_cpio`: static
//! busybox, `guest/` (its `init` becomes `/init`), the modules, and the script
//! to run. No root rights are needed: device nodes are described, not made.

use crate::kernel::{Arch, Built};
use crate::util::{files_below, io_ctx, Result};
use crate::{bail, Project};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const BUSYBOX: &str = "/bin/busybox";

/// The kernel's own modules every guest gets in `/lib/modules/`, in load
/// order: the C NVMe driver, twin of `drivers/rnvme`.
pub const IN_TREE_MODULES: &[&str] = &[
    "drivers/nvme/host/nvme-core.ko",
    "drivers/nvme/host/nvme.ko",
];

/// What goes into one guest boot.
pub struct Contents {
    /// Every module available in the guest, as `/lib/modules/<file>`.
    pub modules: Vec<PathBuf>,
    /// Modules `init` loads before running the script, in order.
    pub load: Vec<String>,
    /// The script `init` runs with `/bin/sh`.
    pub script: PathBuf,
    /// Extra files: (guest path, host path), e.g. static user tools.
    pub extra: Vec<(String, PathBuf)>,
    /// Environment variables exported to the script.
    pub env: Vec<(String, String)>,
}

/// The `gen_init_cpio` description of the archive.
pub fn spec(entries: &[(String, PathBuf, u32)], env_file: &Path) -> String {
    let mut dirs = BTreeSet::new();
    for d in [
        "/dev",
        "/proc",
        "/sys",
        "/tmp",
        "/etc",
        "/bin",
        "/sbin",
        "/usr",
        "/usr/bin",
        "/usr/sbin",
        "/lib",
        "/lib/modules",
    ] {
        dirs.insert(d.to_string());
    }
    for (guest, _, _) in entries {
        let mut p = Path::new(guest).parent();
        while let Some(d) = p {
            if d != Path::new("/") {
                dirs.insert(d.display().to_string());
            }
            p = d.parent();
        }
    }
    let mut s = String::new();
    // BTreeSet order puts every parent before its children.
    for d in &dirs {
        s.push_str(&format!("dir {d} 0755 0 0\n"));
    }
    s.push_str("nod /dev/console 0600 0 0 c 5 1\n");
    s.push_str("nod /dev/null 0666 0 0 c 1 3\n");
    s.push_str(&format!("slink /bin/sh {BUSYBOX} 0777 0 0\n"));
    for (guest, host, mode) in entries {
        s.push_str(&format!("file {guest} {} {mode:o} 0 0\n", host.display()));
    }
    s.push_str(&format!(
        "file /etc/dmabridge.env {} 644 0 0\n",
        env_file.display()
    ));
    s
}

/// Quotes a value for a POSIX shell.
pub fn sh_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', r"'\''"))
}

/// Packs the archive for `c` and returns its path.
pub fn pack(p: &Project, b: &Built, c: &Contents, name: &str) -> Result<PathBuf> {
    let gen = b.out.join("usr/gen_init_cpio");
    if !gen.exists() {
        bail!("{} is missing: build the kernel first", gen.display());
    }
    // The guest's /bin/busybox: the host's, or Debian's arm64 build.
    let busybox = match b.arch {
        Arch::X86_64 => PathBuf::from(BUSYBOX),
        Arch::Arm64 => crate::setup::busybox_arm64(p),
    };
    if !busybox.exists() {
        bail!(
            "{} is missing: run `cargo xtask setup` (busybox-static)",
            busybox.display()
        );
    }
    let guest = p.root.join("guest");
    let mut entries: Vec<(String, PathBuf, u32)> = Vec::new();
    entries.push((BUSYBOX.to_string(), busybox, 0o755));
    for f in files_below(&guest)? {
        let rel = f.strip_prefix(&guest).unwrap_or(&f).display().to_string();
        if rel == "init" {
            entries.push(("/init".into(), f, 0o755));
        } else {
            entries.push((format!("/guest/{rel}"), f, 0o755));
        }
    }
    if !entries.iter().any(|(g, _, _)| g == "/init") {
        bail!("guest/init is missing");
    }
    // The kernel's own modules the C twins need, where the flavor builds them.
    let in_tree = IN_TREE_MODULES
        .iter()
        .map(|m| b.out.join(m))
        .filter(|m| m.exists());
    // Without their debug information (three quarters of a module's bytes,
    // and the guest's RAM is small: the unpacked archive stays in it); the
    // symbols stay, for the kernel's own stack traces.
    let stripped = p.build.join("initramfs/modules").join(name);
    io_ctx(fs::create_dir_all(&stripped), "cannot create", &stripped)?;
    for m in c.modules.iter().cloned().chain(in_tree) {
        let file = m
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let small = stripped.join(&file);
        crate::util::run(
            Command::new("llvm-strip")
                .arg("--strip-debug")
                .arg("-o")
                .arg(&small)
                .arg(&m),
        )?;
        entries.push((format!("/lib/modules/{file}"), small, 0o644));
    }
    for (g, h) in &c.extra {
        entries.push((g.clone(), h.clone(), 0o755));
    }
    entries.push(("/script".into(), c.script.clone(), 0o755));
    let dir = p.build.join("initramfs");
    io_ctx(fs::create_dir_all(&dir), "cannot create", &dir)?;
    let env_file = dir.join(format!("{name}.env"));
    let mut env = format!(
        "DMABRIDGE_LOAD={}\nexport DMABRIDGE_OUT=/dev/{}\n",
        sh_quote(&c.load.join(" ")),
        b.arch.output()
    );
    for (k, v) in &c.env {
        env.push_str(&format!("export {k}={}\n", sh_quote(v)));
    }
    fs::write(&env_file, &env)?;
    let list = dir.join(format!("{name}.list"));
    fs::write(&list, spec(&entries, &env_file))?;
    // gen_init_cpio writes the archive to standard output as bytes. One
    // fixed time stamp for every entry: the same files make the same
    // archive, byte for byte (the replay key of a boot hashes it).
    let bytes = Command::new(&gen).args(["-t", "0"]).arg(&list).output()?;
    if !bytes.status.success() {
        bail!(
            "gen_init_cpio failed: {}",
            String::from_utf8_lossy(&bytes.stderr).trim()
        );
    }
    let out = dir.join(format!("{name}.cpio"));
    fs::write(&out, bytes.stdout)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn spec_lists_parents_first() {
        let e = vec![(
            "/guest/tests/x.sh".to_string(),
            PathBuf::from("/h/x.sh"),
            0o755,
        )];
        let s = spec(&e, Path::new("/h/env"));
        let guest = s.find("dir /guest 0755").unwrap();
        let tests = s.find("dir /guest/tests 0755").unwrap();
        let file = s.find("file /guest/tests/x.sh /h/x.sh 755 0 0").unwrap();
        assert!(guest < tests && tests < file);
        assert!(s.contains("nod /dev/console 0600 0 0 c 5 1"));
    }
}
