//! `kernel/patches/`: dmabridge as a series of logical pieces.
//!
//! Each `NNNN-slug.patch` is one piece, in series order: its commit message
//! (a subject line, a blank line, the body), an `Adds:` line naming the files
//! of `kernel/rust/` the piece brings into the tree (a folder ends with `/`),
//! a `---` line, then unified diff sections against the tree as the earlier
//! pieces left it. A section for an upstream file is applied by the overlay
//! (`kernel::build`) and by the export; a section for a file that an earlier
//! piece added is only used by the export (`cargo xtask export`), which adds
//! that file without the later pieces' sections and applies each in its turn,
//! so every commit of the series builds on its own.

use crate::util::{files_below, io_ctx, Result};
use crate::{bail, Project};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One piece of the series.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    /// The file's stem, e.g. `0012-rust-dma-...`.
    pub name: String,
    pub subject: String,
    pub body: String,
    /// Tree paths the piece adds from `kernel/`; a folder ends with `/`.
    pub adds: Vec<String>,
    pub sections: Vec<Section>,
}

/// The part of a piece's diff that changes one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// The file, relative to the tree (`rust/kernel/lib.rs`).
    pub path: String,
    /// The section's text, from its `--- ` line, ending with a newline.
    pub text: String,
}

/// Parses one piece; `name` is the file's stem.
pub fn parse(name: &str, text: &str) -> std::result::Result<Piece, String> {
    let lines: Vec<&str> = text.lines().collect();
    let sep = lines
        .iter()
        .position(|l| *l == "---")
        .ok_or("no `---` line between the commit message and the diff")?;
    let subject = lines.first().copied().unwrap_or("").trim().to_string();
    if subject.is_empty() || lines.get(1).is_some_and(|l| !l.is_empty()) {
        return Err("the first line must be the subject, followed by a blank line".into());
    }
    let mut adds = Vec::new();
    let mut body = Vec::new();
    for l in &lines[1..sep] {
        match l.strip_prefix("Adds:") {
            Some(list) => adds.extend(list.split_whitespace().map(str::to_string)),
            None => body.push(*l),
        }
    }
    let body = body.join("\n").trim().to_string();
    if body.is_empty() {
        return Err("the commit message has no body: say what the piece does and why".into());
    }
    let mut sections: Vec<Section> = Vec::new();
    let diff = &lines[sep + 1..];
    // Lines still due in the current hunk (old side, new side): inside a
    // hunk, `--- x` is a removed line, not the start of a file.
    let mut due = (0usize, 0usize);
    for (i, l) in diff.iter().enumerate() {
        if due != (0, 0) {
            match l.chars().next() {
                Some(' ') | None => due = (due.0.saturating_sub(1), due.1.saturating_sub(1)),
                Some('-') => due.0 = due.0.saturating_sub(1),
                Some('+') => due.1 = due.1.saturating_sub(1),
                Some('\\') => {}
                _ => return Err(format!("hunk ends early at `{l}`")),
            }
        } else if l.starts_with("--- ") && diff.get(i + 1).is_some_and(|n| n.starts_with("+++ ")) {
            let target = diff[i + 1][4..].split('\t').next().unwrap_or("").trim();
            let path = target.strip_prefix("b/").unwrap_or(target).to_string();
            sections.push(Section {
                path,
                text: String::new(),
            });
        } else if let Some(h) = l.strip_prefix("@@ ") {
            due = hunk_sizes(h).ok_or_else(|| format!("bad hunk header `{l}`"))?;
        } else if !sections.is_empty()
            && !l.starts_with("+++ ")
            && !l.starts_with("diff ")
            && !l.starts_with("index ")
            && !l.starts_with("\\")
            && !l.is_empty()
        {
            return Err(format!("a line outside any hunk: `{l}`"));
        }
        match sections.last_mut() {
            Some(s) => {
                s.text.push_str(l);
                s.text.push('\n');
            }
            None if l.trim().is_empty() => {}
            None => return Err(format!("diff text before the first file: `{l}`")),
        }
    }
    if due != (0, 0) {
        return Err("the last hunk is cut short".into());
    }
    Ok(Piece {
        name: name.to_string(),
        subject,
        body,
        adds,
        sections,
    })
}

/// The old and new line counts of a hunk header's rest (`-1,3 +1,4 @@`).
fn hunk_sizes(rest: &str) -> Option<(usize, usize)> {
    let mut it = rest.split_whitespace();
    let count = |r: &str| -> Option<usize> {
        match r.split_once(',') {
            Some((_, n)) => n.parse().ok(),
            None => r.parse::<usize>().ok().map(|_| 1),
        }
    };
    let old = count(it.next()?.strip_prefix('-')?)?;
    let new = count(it.next()?.strip_prefix('+')?)?;
    Some((old, new))
}

/// Every piece of `kernel/patches/`, in series order.
pub fn load(p: &Project) -> Result<Vec<Piece>> {
    let dir = p.root.join("kernel/patches");
    let mut pieces = Vec::new();
    for f in files_below(&dir)? {
        if f.extension().is_none_or(|e| e != "patch") {
            continue;
        }
        let name = f
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let text = io_ctx(fs::read_to_string(&f), "cannot read", &f)?;
        let piece =
            parse(&name, &text).map_err(|e| crate::util::Error(format!("{}: {e}", f.display())))?;
        let paths = piece
            .sections
            .iter()
            .map(|s| &s.path)
            .chain(piece.adds.iter());
        for path in paths {
            if !path.starts_with("rust/") || path.contains("..") {
                bail!(
                    "{}: {path}: pieces may only add or change files under rust/",
                    f.display()
                );
            }
        }
        pieces.push(piece);
    }
    pieces.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(pieces)
}

/// The tree paths of every file under `kernel/rust/`, each with the piece
/// that adds it. Fails unless exactly one piece claims each file and every
/// claim names something that exists.
pub fn owners(p: &Project, pieces: &[Piece]) -> Result<BTreeMap<String, usize>> {
    let kdir = p.root.join("kernel");
    let mut owner = BTreeMap::new();
    for (i, piece) in pieces.iter().enumerate() {
        for add in &piece.adds {
            let files = expand(&kdir, add)?;
            if files.is_empty() {
                bail!("{}: `Adds: {add}` names nothing under kernel/", piece.name);
            }
            for f in files {
                if let Some(j) = owner.insert(f.clone(), i) {
                    bail!("{f} is added by both {} and {}", pieces[j].name, piece.name);
                }
            }
        }
    }
    for f in files_below(&kdir.join("rust"))? {
        let rel = tree_path(&kdir, &f);
        if !owner.contains_key(&rel) {
            bail!("kernel/{rel} is in no piece: name it in the `Adds:` line of one in kernel/patches/");
        }
    }
    Ok(owner)
}

/// `add` (a file or a folder ending with `/`) as the files it names.
fn expand(kdir: &Path, add: &str) -> Result<Vec<String>> {
    let at = kdir.join(add);
    if add.ends_with('/') {
        if !at.is_dir() {
            return Ok(Vec::new());
        }
        return Ok(files_below(&at)?
            .iter()
            .map(|f| tree_path(kdir, f))
            .collect());
    }
    Ok(if at.is_file() {
        vec![add.to_string()]
    } else {
        Vec::new()
    })
}

fn tree_path(kdir: &Path, f: &Path) -> String {
    f.strip_prefix(kdir)
        .unwrap_or(f)
        .to_string_lossy()
        .into_owned()
}

/// The diff of `sections`, as one text for `patch -p1`.
pub fn diff_of<'a>(sections: impl Iterator<Item = &'a Section>) -> String {
    sections.map(|s| s.text.as_str()).collect()
}

/// Runs `patch -p1` in `dir` with `diff`; `reverse` takes it back out.
pub fn apply(dir: &Path, diff: &str, reverse: bool) -> std::result::Result<(), String> {
    let file = dir.join(".dmabridge-piece.diff");
    fs::write(&file, diff).map_err(|e| e.to_string())?;
    let mut c = Command::new("patch");
    // Exactly where the section says: a section that only fits elsewhere
    // (offset or fuzz) would put code in the wrong place of a commit.
    c.args([
        "-p1",
        "--batch",
        "--fuzz=0",
        "--no-backup-if-mismatch",
        "-i",
    ])
    .arg(&file)
    .current_dir(dir);
    if reverse {
        c.arg("-R");
    } else {
        c.arg("--forward");
    }
    let out = c.output().map_err(|e| e.to_string());
    let _ = fs::remove_file(&file);
    let out = out?;
    let said = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(said.trim().to_string());
    }
    match said
        .lines()
        .find(|l| l.contains("offset") || l.contains("fuzz"))
    {
        Some(l) => Err(format!("applies only elsewhere: {l}")),
        None => Ok(()),
    }
}

/// Where the piece's file is.
pub fn file(p: &Project, piece: &Piece) -> PathBuf {
    p.root
        .join("kernel/patches")
        .join(format!("{}.patch", piece.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIECE: &str = "rust: x: add y\n\nWhy y.\n\nAdds: rust/kernel/y.rs rust/kernel/y/\n---\n\
--- a/rust/kernel/lib.rs\n+++ b/rust/kernel/lib.rs\n@@ -1,1 +1,2 @@\n pub mod x;\n+pub mod y;\n\
--- a/rust/kernel/x.rs\n+++ b/rust/kernel/x.rs\n@@ -1 +1 @@\n--- old comment\n+++ new comment\n";

    #[test]
    fn pieces_parse() {
        let p = parse("0001-y", PIECE).unwrap();
        assert_eq!(p.subject, "rust: x: add y");
        assert_eq!(p.body, "Why y.");
        assert_eq!(p.adds, vec!["rust/kernel/y.rs", "rust/kernel/y/"]);
        let paths: Vec<&str> = p.sections.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(paths, vec!["rust/kernel/lib.rs", "rust/kernel/x.rs"]);
        assert!(p.sections[1].text.ends_with("+++ new comment\n"));
        assert_eq!(diff_of(p.sections.iter()).lines().count(), 10);
    }

    #[test]
    fn every_file_in_exactly_one_piece() {
        let root = std::env::temp_dir().join(format!("dmabridge-series-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let k = root.join("kernel/rust/kernel");
        fs::create_dir_all(k.join("y")).unwrap();
        for f in ["x.rs", "y.rs", "y/z.rs"] {
            fs::write(k.join(f), "").unwrap();
        }
        let p = Project {
            root: root.clone(),
            build: root.join("build"),
        };
        let piece = |name: &str, adds: &[&str]| Piece {
            name: name.into(),
            subject: "s".into(),
            body: "b".into(),
            adds: adds.iter().map(|a| a.to_string()).collect(),
            sections: Vec::new(),
        };
        let a = piece("0001-x", &["rust/kernel/x.rs"]);
        let b = piece("0002-y", &["rust/kernel/y.rs", "rust/kernel/y/"]);
        let owner = owners(&p, &[a.clone(), b.clone()]).unwrap();
        assert_eq!(owner.get("rust/kernel/y/z.rs"), Some(&1));
        let unclaimed = owners(&p, std::slice::from_ref(&a)).unwrap_err().0;
        assert!(
            unclaimed.starts_with("kernel/rust/kernel/y") && unclaimed.contains("is in no piece"),
            "{unclaimed}"
        );
        let twice = owners(&p, &[a.clone(), b, piece("0003-x", &["rust/kernel/x.rs"])]);
        assert!(twice
            .unwrap_err()
            .0
            .contains("added by both 0001-x and 0003-x"));
        let nothing = owners(&p, &[a, piece("0002-w", &["rust/kernel/w/"])]);
        assert!(nothing.unwrap_err().0.contains("names nothing"));
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn bad_pieces() {
        assert!(parse("a", "subject\n\nbody\n").unwrap_err().contains("---"));
        assert!(parse("a", "subject\nbody\n---\n")
            .unwrap_err()
            .contains("blank"));
        assert!(parse("a", "subject\n\nAdds: x\n---\n")
            .unwrap_err()
            .contains("no body"));
        assert!(parse("a", "s\n\nb\n---\n@@ -1 +1 @@\n")
            .unwrap_err()
            .contains("before"));
        let short = "s\n\nb\n---\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n x\n";
        assert!(parse("a", short).unwrap_err().contains("cut short"));
        let long = "s\n\nb\n---\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-x\n+y\n+z\n";
        assert!(parse("a", long).unwrap_err().contains("outside any hunk"));
    }
}
