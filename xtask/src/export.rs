//! `cargo xtask export`: dmabridge as a `git format-patch` series that a
//! pristine 6.12 tree takes with `git am`, and the test that takes it.
//!
//! The series is made from `kernel/patches/` (see `series`): one commit per
//! piece on a git repository of the pristine tree (`build/export/base`). A
//! piece's new files come from `kernel/rust/`, without the sections that later
//! pieces add to them; its sections are applied in its turn; its new files are
//! listed in a `RUST [DMABRIDGE]` MAINTAINERS entry. The test applies the
//! series with `git am` to another checkout of the pristine tree
//! (`build/export/am`), checks that the result has exactly the overlay's
//! `rust/` and nothing else changed but MAINTAINERS, and builds `rust/` at
//! every commit (bisectable). With the test kernel's configuration, the last
//! commit is then the test kernel, which every guest suite runs on: it is not
//! built and booted a second time.

use crate::demo::Ready;
use crate::kernel::{self, Built, Flavor};
use crate::setup::Tools;
use crate::test::{Check, Tally};
use crate::util::{io_ctx, output, read_stamp, run_logged, say, Error, Hasher, Result};
use crate::{bail, series, Project};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The test kernel's configuration, built from the series instead of the overlay.
const EXPORT: Flavor = Flavor {
    name: "export",
    fragments: kernel::TEST.fragments,
    arch: kernel::TEST.arch,
};

/// The cover letter's subject and text.
const COVER_SUBJECT: &str = "rust: DMA, PCI, IRQ and misc-device driver bindings for 6.12";
const COVER_BODY: &str = "
This series adds safe Rust bindings over the unchanged C DMA API, and the
PCI, MMIO, IRQ, devres and misc-device bindings a Rust PCI driver needs, to
a 6.12 tree. It touches files under rust/ only, plus a MAINTAINERS entry.

Names and signatures follow mainline where it has the concept. Where the
bindings are stricter than mainline, it is to keep safe code sound when an
object is leaked (mem::forget, an Arc cycle), dropped in any context, or
outlives its device's binding or its module: leaked registrations are
undone when their module goes away, and no DMA memory outlives the binding.

Each patch builds on its own and is checkpatch-clean. The drivers, KUnit
suites and QEMU-based tests that exercise the bindings live with the
project that publishes this series.
";

/// The MAINTAINERS entry the series adds its files to.
const ENTRY: &str = "RUST [DMABRIDGE]";

/// Who the series is from: the author of the checkout's last commit.
struct Author {
    name: String,
    email: String,
    /// Git's raw date (`<seconds> <zone>`): the same inputs give the same commits.
    date: String,
}

impl Author {
    fn of(p: &Project) -> Author {
        let out = output(Command::new("git").arg("-C").arg(&p.root).args([
            "log",
            "-1",
            "--format=%an%n%ae%n%ad",
            "--date=raw",
        ]))
        .unwrap_or_default();
        let mut l = out.lines().map(str::to_string);
        match (l.next(), l.next(), l.next()) {
            (Some(name), Some(email), Some(date)) if !name.is_empty() => {
                Author { name, email, date }
            }
            _ => {
                say(
                    "export",
                    "the project is not a git checkout: the series is from dmabridge <dmabridge@localhost>",
                );
                Author {
                    name: "dmabridge".into(),
                    email: "dmabridge@localhost".into(),
                    date: "1731888000 +0000".into(),
                }
            }
        }
    }

    fn ident(&self) -> String {
        format!("{} <{}>", self.name, self.email)
    }

    /// `git` in `dir` as this author, with no user configuration.
    fn git(&self, dir: &Path) -> Command {
        let mut c = Command::new("git");
        // Nothing of the caller's git state (a hook's GIT_DIR, say) applies.
        for var in [
            "GIT_DIR",
            "GIT_WORK_TREE",
            "GIT_INDEX_FILE",
            "GIT_OBJECT_DIRECTORY",
            "GIT_ALTERNATE_OBJECT_DIRECTORIES",
            "GIT_CONFIG_PARAMETERS",
            "GIT_CONFIG_COUNT",
            "GIT_DIFF_OPTS",
            "GIT_EXTERNAL_DIFF",
        ] {
            c.env_remove(var);
        }
        c.arg("-C")
            .arg(dir)
            .args(["-c", "core.autocrlf=false", "-c", "commit.gpgsign=false"])
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", &self.name)
            .env("GIT_AUTHOR_EMAIL", &self.email)
            .env("GIT_AUTHOR_DATE", &self.date)
            .env("GIT_COMMITTER_NAME", &self.name)
            .env("GIT_COMMITTER_EMAIL", &self.email)
            .env("GIT_COMMITTER_DATE", &self.date);
        c
    }
}

fn export_dir(p: &Project) -> PathBuf {
    p.build.join("export")
}

/// A git repository of the pristine tree, made once per source version;
/// returns it and its one commit.
fn base(p: &Project) -> Result<(PathBuf, String)> {
    let dir = export_dir(p).join("base");
    let stamp = export_dir(p).join(".base");
    let version = kernel::source_version()?;
    let mut seen = read_stamp(&stamp)
        .lines()
        .map(str::to_string)
        .collect::<Vec<_>>();
    let version = format!("{version} (base v2)");
    if seen.len() == 2 && seen[0] == version && dir.join(".git").exists() {
        return Ok((dir, seen.remove(1)));
    }
    say(
        "export",
        &format!("making a git repository of pristine linux-source-6.12 {version} (once)"),
    );
    let _ = fs::remove_dir_all(export_dir(p));
    fs::create_dir_all(export_dir(p))?;
    crate::util::run(
        Command::new("tar")
            .arg("-C")
            .arg(export_dir(p))
            .arg("-xf")
            .arg(kernel::TARBALL),
    )?;
    let unpacked = export_dir(p).join(kernel::TREE_NAME);
    io_ctx(fs::rename(&unpacked, &dir), "cannot rename", &unpacked)?;
    // The base commit is the same on every machine: a fixed author and date.
    let upstream = Author {
        name: "linux-source-6.12".into(),
        email: "linux-source-6.12@debian.invalid".into(),
        date: "1731888000 +0000".into(),
    };
    output(upstream.git(&dir).args(["init", "-q", "-b", "base"]))?;
    output(upstream.git(&dir).args(["add", "-A", "-f"]))?;
    output(upstream.git(&dir).args([
        "commit",
        "-q",
        "-m",
        &format!(
            "Linux 6.12 (Debian linux-source-6.12 {})",
            kernel::source_version()?
        ),
    ]))?;
    let commit = output(upstream.git(&dir).args(["rev-parse", "HEAD"]))?
        .trim()
        .to_string();
    fs::write(&stamp, format!("{version}\n{commit}"))?;
    Ok((dir, commit))
}

/// `git checkout` of `commit` in `dir`, dropping every change and stray file.
fn reset(who: &Author, dir: &Path, commit: &str) -> Result {
    let _ = who.git(dir).args(["am", "--abort"]).output();
    output(
        who.git(dir)
            .args(["checkout", "-q", "-f", "--detach", commit]),
    )?;
    output(who.git(dir).args(["clean", "-q", "-f", "-d", "-x"]))?;
    Ok(())
}

/// `maintainers` with `files` listed in the `RUST [DMABRIDGE]` entry, which
/// is made (after the `RUST` entries, in order) if it is not there yet.
pub fn add_to_maintainers(maintainers: &str, who: &str, files: &[String]) -> Result<String> {
    let lines: Vec<&str> = maintainers.lines().collect();
    let header = |i: usize| -> bool {
        i > 0
            && lines[i - 1].is_empty()
            && !lines[i].is_empty()
            && lines[i].as_bytes().get(1) != Some(&b':')
    };
    let start = match (0..lines.len()).find(|&i| header(i) && lines[i] == ENTRY) {
        Some(i) => i,
        None => {
            let rust = (0..lines.len())
                .find(|&i| header(i) && lines[i] == "RUST")
                .ok_or_else(|| Error("MAINTAINERS has no RUST entry".into()))?;
            let at = (rust + 1..lines.len())
                .find(|&i| header(i) && lines[i] > ENTRY)
                .ok_or_else(|| Error("MAINTAINERS: no entry after RUST".into()))?;
            let mut out: Vec<String> = lines[..at].iter().map(|s| s.to_string()).collect();
            out.extend(
                [
                    ENTRY.to_string(),
                    format!("M:\t{who}"),
                    "L:\trust-for-linux@vger.kernel.org".into(),
                    "S:\tMaintained".into(),
                    String::new(),
                ]
                .into_iter()
                .chain(lines[at..].iter().map(|s| s.to_string())),
            );
            return add_to_maintainers(&(out.join("\n") + "\n"), who, files);
        }
    };
    let end = (start..lines.len())
        .find(|&i| lines[i].is_empty())
        .unwrap_or(lines.len());
    let mut entry: Vec<String> = lines[start..end].iter().map(|s| s.to_string()).collect();
    let mut listed: Vec<String> = entry
        .iter()
        .filter_map(|l| l.strip_prefix("F:\t").map(str::to_string))
        .collect();
    entry.retain(|l| !l.starts_with("F:\t"));
    listed.extend(files.iter().cloned());
    listed.sort();
    listed.dedup();
    entry.extend(listed.iter().map(|f| format!("F:\t{f}")));
    let mut out: Vec<String> = lines[..start].iter().map(|s| s.to_string()).collect();
    out.extend(entry);
    out.extend(lines[end..].iter().map(|s| s.to_string()));
    Ok(out.join("\n") + "\n")
}

/// The series made by `export`.
pub struct Series {
    pub patches: Vec<PathBuf>,
    /// The pristine tree's repository and commit.
    pub base: (PathBuf, String),
    who: Author,
}

/// Writes the series to `build/export/series/`.
pub fn export(p: &Project) -> Result<Series> {
    let who = Author::of(p);
    let pieces = series::load(p)?;
    let owner = series::owners(p, &pieces)?;
    let (repo, commit) = base(p)?;
    reset(&who, &repo, &commit)?;
    let kdir = p.root.join("kernel");
    for (i, piece) in pieces.iter().enumerate() {
        let mine: Vec<&String> = owner
            .iter()
            .filter(|(_, o)| **o == i)
            .map(|(f, _)| f)
            .collect();
        for f in &mine {
            let dest = repo.join(f);
            fs::create_dir_all(dest.parent().unwrap())?;
            let src = kdir.join(f);
            io_ctx(fs::copy(&src, &dest), "cannot copy", &src)?;
            // Without what later pieces add to it.
            for later in pieces[i + 1..].iter().rev() {
                let diff = series::diff_of(later.sections.iter().filter(|s| s.path == **f));
                if !diff.is_empty() {
                    series::apply(&repo, &diff, true).map_err(|e| {
                        Error(format!(
                            "{}: its section for {f} does not match kernel/{f} ({e}); \
                             rewrite the section as the diff from {f} before that piece to now",
                            later.name
                        ))
                    })?;
                }
            }
        }
        let diff = series::diff_of(piece.sections.iter());
        if !diff.is_empty() {
            series::apply(&repo, &diff, false).map_err(|e| {
                Error(format!(
                    "{} does not apply after the pieces before it: {e}",
                    piece.name
                ))
            })?;
        }
        if !mine.is_empty() {
            let path = repo.join("MAINTAINERS");
            let text = io_ctx(fs::read_to_string(&path), "cannot read", &path)?;
            fs::write(&path, add_to_maintainers(&text, &who.ident(), &piece.adds)?)?;
        }
        output(who.git(&repo).args(["add", "-A", "-f"]))?;
        let msg = format!(
            "{}\n\n{}\n\nSigned-off-by: {}\n",
            piece.subject,
            piece.body,
            who.ident()
        );
        let msg_file = export_dir(p).join(".message");
        fs::write(&msg_file, msg)?;
        output(who.git(&repo).args(["commit", "-q", "-F"]).arg(&msg_file))?;
    }
    let out = export_dir(p).join("series");
    let _ = fs::remove_dir_all(&out);
    let list = output(
        who.git(&repo)
            .args([
                "format-patch",
                "--numbered",
                "--no-signature",
                "--zero-commit",
                "--cover-letter",
                "-o",
            ])
            .arg(&out)
            .arg(format!("{commit}..HEAD")),
    )?;
    let mut patches: Vec<PathBuf> = list.lines().map(PathBuf::from).collect();
    // The cover letter: a mail for reviewers, not a commit (git am skips it).
    let cover = patches.remove(0);
    let text = io_ctx(fs::read_to_string(&cover), "cannot read", &cover)?;
    if !text.contains("*** SUBJECT HERE ***") {
        bail!("{} is not git's cover letter template", cover.display());
    }
    let text = text
        .replace("*** SUBJECT HERE ***", COVER_SUBJECT)
        .replace("*** BLURB HERE ***", COVER_BODY.trim());
    // Beside the series, so that `git am series/*.patch` takes the commits only.
    fs::write(export_dir(p).join("cover-letter.patch"), text)?;
    fs::remove_file(&cover)?;
    if patches.len() != pieces.len() {
        bail!(
            "format-patch wrote {} patches for {} pieces",
            patches.len(),
            pieces.len()
        );
    }
    say(
        "export",
        &format!("{} patches in {}", patches.len(), out.display()),
    );
    Ok(Series {
        patches,
        base: (repo, commit),
        who,
    })
}

/// checkpatch's verdict on one patch: `None` when clean, else its findings.
fn checkpatch(tree: &Path, patch: &Path) -> Result<Option<String>> {
    // checkpatch runs scripts/spdxcheck.py with the first python3 on PATH:
    // Debian's, which has the modules it needs (python3-ply, python3-git).
    let path = format!("/usr/bin:{}", std::env::var("PATH").unwrap_or_default());
    // Nobody's ~/.checkpatch.conf (an --ignore, say) applies.
    let home = tree.join(".git/checkpatch-home");
    fs::create_dir_all(&home)?;
    let out = Command::new("perl")
        .env("PATH", path)
        .env("HOME", &home)
        .arg(tree.join("scripts/checkpatch.pl"))
        .arg("--no-color")
        .arg(patch)
        .current_dir(tree)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    if !err.trim().is_empty() {
        // A helper that failed (spdxcheck.py) leaves its check undone.
        return Ok(Some(format!("checkpatch printed errors: {}", err.trim())));
    }
    let total = text.lines().find(|l| l.starts_with("total:")).unwrap_or("");
    if total.starts_with("total: 0 errors, 0 warnings") {
        return Ok(None);
    }
    let findings: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("ERROR:") || l.contains("WARNING:"))
        .take(5)
        .collect();
    Ok(Some(if findings.is_empty() {
        format!("checkpatch printed no verdict: {}", text.trim())
    } else {
        findings.join("; ")
    }))
}

/// Compiler warnings (Rust, clippy or C) in a build log.
fn build_warnings(lines: &[String]) -> Vec<String> {
    let mut out: Vec<String> = kernel::rust_warnings(lines)
        .into_iter()
        .map(|(f, w)| format!("{f}: {w}"))
        .collect();
    out.extend(lines.iter().filter(|l| l.contains(": warning:")).cloned());
    out
}

/// What the test's expensive part found; recorded for replay.
struct Verdict {
    checks: Vec<Check>,
}

impl Verdict {
    fn add(&mut self, name: impl Into<String>, pass: bool, why: impl Into<String>) {
        self.checks.push(Check {
            name: format!("export.{}", name.into()),
            pass,
            why: why.into(),
        });
    }

    fn encode(&self, state: &str) -> String {
        let mut s = format!("{state}\n");
        for c in &self.checks {
            s.push_str(&format!(
                "{}\t{}\t{}\n",
                c.name,
                c.pass,
                c.why.replace('\n', " ")
            ));
        }
        s
    }

    fn decode(text: &str, now: &str) -> Option<Verdict> {
        let mut lines = text.lines();
        if lines.next()? != now {
            return None;
        }
        let checks = lines
            .map(|l| {
                let mut f = l.splitn(3, '\t');
                Some(Check {
                    name: f.next()?.to_string(),
                    pass: f.next()? == "true",
                    why: f.next().unwrap_or("").to_string(),
                })
            })
            .collect::<Option<Vec<Check>>>()?;
        Some(Verdict { checks })
    }
}

/// What the series' tree and build are now: the checked-out commit and the
/// `rust/` built there. A recorded verdict is
/// replayed only onto the same state (a failed run may have left the tree
/// at another commit, and `rust/` built there).
fn built_state(who: &Author, b: &Built) -> String {
    let head = output(who.git(&b.src).args(["rev-parse", "HEAD^{tree}"])).unwrap_or_default();
    let dirty = output(who.git(&b.src).args(["status", "--porcelain"])).unwrap_or_default();
    let mut h = Hasher::new();
    h.str(head.trim()).str(&dirty);
    if h.file(&b.out.join("rust/libkernel.rmeta")).is_err() {
        return String::new();
    }
    h.hex()
}

/// The series' tree (a worktree of the pristine repository) and its build.
fn am_built(p: &Project) -> Built {
    Built {
        src: export_dir(p).join("am"),
        ..Built::locate(p, &EXPORT)
    }
}

/// Every file below `dir`, relative to it.
fn tree_files(dir: &Path) -> Result<Vec<String>> {
    Ok(crate::util::files_below(dir)?
        .iter()
        .map(|f| {
            f.strip_prefix(dir)
                .unwrap_or(f)
                .to_string_lossy()
                .into_owned()
        })
        .collect())
}

/// The files of `tree` outside `rust/` and MAINTAINERS that differ from
/// `commit` of the pristine repository `repo` (changed or missing; files git
/// does not track are not built). Compared through an index of its own,
/// whose first refresh reads every file.
fn changed_outside_rust(
    p: &Project,
    who: &Author,
    repo: &Path,
    commit: &str,
    tree: &Path,
) -> Result<Vec<String>> {
    let index = export_dir(p).join("tested-tree.index");
    let git = |args: &[&str]| {
        let mut c = who.git(repo);
        c.env("GIT_INDEX_FILE", &index)
            .arg("--work-tree")
            .arg(tree)
            .args(args);
        c
    };
    if !index.exists() {
        output(&mut git(&["read-tree", commit]))?;
    }
    say(
        "export",
        "comparing the tested tree with the pristine one outside rust/",
    );
    // Exits 1 when files changed; the diff below says which.
    let _ = git(&["update-index", "-q", "--refresh"]).output()?;
    let changed = output(&mut git(&[
        "diff",
        "--name-only",
        commit,
        "--",
        ".",
        ":!rust",
        ":!MAINTAINERS",
    ]))?;
    Ok(changed.lines().map(str::to_string).collect())
}

/// The series through checkpatch and `git am` onto a pristine checkout,
/// `rust/` built at every commit.
fn take_series(p: &Project, s: &Series, overlay: &Built, tools: &Tools) -> Result<Verdict> {
    let mut v = Verdict { checks: Vec::new() };
    let (repo, commit) = &s.base;
    for patch in &s.patches {
        let name = patch
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let found = checkpatch(repo, patch)?;
        v.add(
            format!("checkpatch.{}", &name[..4.min(name.len())]),
            found.is_none(),
            format!("{}: {}", patch.display(), found.unwrap_or_default()),
        );
    }
    // The check of the check: a patch with an unknown licence must not pass.
    if let Some(first) = s.patches.iter().find(|f| {
        fs::read_to_string(f).is_ok_and(|t| t.contains("SPDX-License-Identifier: GPL-2.0\n"))
    }) {
        let bad = export_dir(p).join("canary.patch");
        let text = fs::read_to_string(first)?.replacen(
            "SPDX-License-Identifier: GPL-2.0\n",
            "SPDX-License-Identifier: GPL-2.0-bogus\n",
            1,
        );
        fs::write(&bad, text)?;
        let found = checkpatch(repo, &bad)?;
        v.add(
            "checkpatch_flags_an_unknown_licence",
            found
                .as_deref()
                .is_some_and(|f| f.contains("is not supported in LICENSES")),
            format!(
                "checkpatch did not flag GPL-2.0-bogus in {}: {found:?}",
                bad.display()
            ),
        );
    } else {
        v.add(
            "checkpatch_flags_an_unknown_licence",
            false,
            "no patch adds a GPL-2.0 file",
        );
    }
    let b = am_built(p);
    if !b.src.join(".git").exists() || reset(&s.who, &b.src, commit).is_err() {
        // Missing, or unusable (moved with the checkout): made again. A
        // worktree deleted by hand is still registered until pruned.
        let _ = fs::remove_dir_all(&b.src);
        output(s.who.git(repo).args(["worktree", "prune"]))?;
        output(
            s.who
                .git(repo)
                .args(["worktree", "add", "-q", "--detach"])
                .arg(&b.src)
                .arg(commit),
        )?;
    }
    reset(&s.who, &b.src, commit)?;
    say("export", "git am of the series onto a pristine checkout");
    let am = s
        .who
        .git(&b.src)
        .args(["am", "-q"])
        .args(&s.patches)
        .output()?;
    let applied = am.status.success();
    v.add(
        "applies_with_git_am",
        applied,
        format!(
            "git am failed: {}",
            String::from_utf8_lossy(&am.stderr).trim()
        ),
    );
    if !applied {
        return Ok(v);
    }
    // The series gives the overlay's rust/ exactly, and touches nothing
    // else but MAINTAINERS.
    let ours = tree_files(&b.src.join("rust"))?;
    let theirs = tree_files(&overlay.src.join("rust"))?;
    let mut differ: Vec<String> = ours
        .iter()
        .chain(theirs.iter())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|f| {
            fs::read(b.src.join("rust").join(f)).ok()
                != fs::read(overlay.src.join("rust").join(f)).ok()
        })
        .map(|f| format!("rust/{f}"))
        .collect();
    let changed = output(
        s.who
            .git(&b.src)
            .args(["diff", "--name-only", commit, "HEAD"]),
    )?;
    differ.extend(
        changed
            .lines()
            .filter(|f| !f.starts_with("rust/") && *f != "MAINTAINERS")
            .map(|f| format!("{f} (outside rust/)")),
    );
    // And the tested tree is the pristine one outside `rust/` (the overlay
    // writes only there; this catches a hand edit, or a file an older
    // harness changed, in the kept unpacked tree).
    differ.extend(
        changed_outside_rust(p, &s.who, repo, commit, &overlay.src)?
            .into_iter()
            .map(|f| format!("{f} (changed in the tested tree)")),
    );
    v.add(
        "tree_is_the_overlay",
        differ.is_empty(),
        format!(
            "the series' tree differs from the overlay's: {}",
            differ.join(", ")
        ),
    );
    // Bisectable: rust/ builds without a warning at every commit. No stamp
    // while the build is between two states: module builds key on it.
    let _ = fs::remove_file(b.out.join(".dmabridge-built"));
    kernel::configure(p, &b, &EXPORT, tools)?;
    let commits =
        output(
            s.who
                .git(&b.src)
                .args(["rev-list", "--reverse", &format!("{commit}..HEAD")]),
        )?;
    let head = output(s.who.git(&b.src).args(["rev-parse", "HEAD"]))?
        .trim()
        .to_string();
    let log_dir = p.build.join("logs");
    for (i, c) in commits.lines().enumerate() {
        output(s.who.git(&b.src).args(["checkout", "-q", "--detach", c]))?;
        say(
            "export",
            &format!(
                "bisect: building rust/ at patch {}/{}",
                i + 1,
                s.patches.len()
            ),
        );
        let r = run_logged(
            b.make(tools).args(["-j3", "rust/"]),
            &log_dir.join(format!("export-bisect-{:02}.log", i + 1)),
            "export",
            Duration::from_secs(30),
            |l| l.trim_start().starts_with("RUSTC") || l.trim_start().starts_with("CC"),
        )?;
        let warnings = build_warnings(&r.lines);
        let errors: Vec<&String> = r
            .lines
            .iter()
            .filter(|l| l.contains("error"))
            .take(3)
            .collect();
        v.add(
            format!("bisect.{:04}_builds", i + 1),
            r.success && warnings.is_empty(),
            format!(
                "make rust/ at patch {}: {}",
                i + 1,
                if r.success {
                    warnings.join("; ")
                } else {
                    format!("failed: {errors:?}")
                }
            ),
        );
    }
    output(
        s.who
            .git(&b.src)
            .args(["checkout", "-q", "--detach", &head]),
    )?;
    // The kernel of the series is the test kernel: the same `rust/` (above),
    // the same pristine files elsewhere, and the same configuration (checked
    // here). Every guest suite already ran on it, so it is not built and
    // booted a second time.
    let config = |k: &Built| fs::read_to_string(k.out.join(".config")).ok();
    v.add(
        "configuration_is_the_test_kernels",
        config(&b).is_some() && config(&b) == config(overlay),
        format!(
            "{} differs from {}",
            b.out.join(".config").display(),
            overlay.out.join(".config").display()
        ),
    );
    Ok(v)
}

/// The `export` step of `cargo xtask test`.
pub fn export_tests(p: &Project, ready: &Ready, t: &mut Tally) -> Result {
    let s = match export(p) {
        Ok(s) => s,
        Err(e) => {
            t.add("export.series_written".into(), false, || e.0);
            return Ok(());
        }
    };
    let tools = Tools::new(p);
    let b = am_built(p);
    // What the verdict depends on: the pieces and the overlay (not the
    // patches' bytes, whose dates follow the project's last commit), who
    // signs them (checkpatch compares From and Signed-off-by), the pristine
    // tree, the configuration, the tools, and the code that judges.
    let mut key = Hasher::new();
    key.str("export v3")
        .str(&kernel::source_version()?)
        .str(&s.base.1)
        .str(&s.who.ident())
        .str(include_str!("export.rs"))
        .str(include_str!("series.rs"))
        .str(include_str!("kernel.rs"))
        .str(include_str!("util.rs"))
        .str(&kernel::tools_hash(&tools)?);
    key.tree(&p.root.join("kernel"))?;
    key.file(&s.base.0.join("scripts/checkpatch.pl"))?;
    key.tree(&ready.kernel.src.join("rust"))?;
    let key = key.hex();
    let now = built_state(&s.who, &b);
    let verdict = match crate::cache::lookup(p, "export: series taken and built", &key, |r| {
        Verdict::decode(r, &now).filter(|_| !now.is_empty())
    }) {
        Some(v) => v,
        None => {
            let v = take_series(p, &s, &ready.kernel, &tools).unwrap_or_else(|e| Verdict {
                checks: vec![Check {
                    name: "export.series_taken".into(),
                    pass: false,
                    why: e.0,
                }],
            });
            if v.checks.iter().all(|c| c.pass) {
                crate::cache::record(p, &key, &v.encode(&built_state(&s.who, &b)))?;
            }
            v
        }
    };
    for c in verdict.checks {
        t.add(c.name, c.pass, || c.why);
    }
    Ok(())
}

/// `cargo xtask export`.
pub fn command(p: &Project) -> Result<i32> {
    crate::setup::setup(p)?;
    let s = export(p)?;
    let mut dirty = 0;
    for patch in &s.patches {
        if let Some(found) = checkpatch(&s.base.0, patch)? {
            dirty += 1;
            eprintln!("checkpatch: {}: {found}", patch.display());
        }
        println!("{}", patch.display());
    }
    println!(
        "\nTake it into a 6.12.y tree with:\n  git am {}/*.patch\n(cover letter for a mailing list: {})",
        export_dir(p).join("series").display(),
        export_dir(p).join("cover-letter.patch").display()
    );
    Ok(if dirty == 0 { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = "Intro\n\nRUST\nM:\tA <a@b>\nF:\trust/\n\nRUST [ALLOC]\nM:\tB <b@c>\nF:\trust/kernel/alloc.rs\n\nRXRPC SOCKETS (AF_RXRPC)\nM:\tC <c@d>\n";

    #[test]
    fn maintainers_entry() {
        let once = add_to_maintainers(
            M,
            "X <x@y>",
            &["rust/kernel/dma/".into(), "rust/kernel/dma.rs".into()],
        )
        .unwrap();
        assert!(once.contains(
            "F:\trust/kernel/alloc.rs\n\nRUST [DMABRIDGE]\nM:\tX <x@y>\nL:\trust-for-linux@vger.kernel.org\nS:\tMaintained\nF:\trust/kernel/dma.rs\nF:\trust/kernel/dma/\n\nRXRPC"
        ), "{once}");
        let twice =
            add_to_maintainers(&once, "X <x@y>", &["rust/kernel/devres.rs".into()]).unwrap();
        assert!(twice.contains("S:\tMaintained\nF:\trust/kernel/devres.rs\nF:\trust/kernel/dma.rs\nF:\trust/kernel/dma/\n\nRXRPC"), "{twice}");
        assert_eq!(twice.matches(ENTRY).count(), 1);
    }
}
