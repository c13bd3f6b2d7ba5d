//! Results for machines: the whole run as one KTAP document
//! (`build/results/results.ktap`) and as JUnit XML (`build/results/junit.xml`),
//! which CI systems render. Written at the end of every `cargo xtask test`.

use crate::ktap::{Outcome, TestResult};
use crate::util::Result;
use crate::Project;
use std::fs;

/// Why `name` failed, from the run's reasons (`name: why`).
fn reason<'a>(reasons: &'a [String], name: &str) -> Option<&'a str> {
    reasons.iter().find_map(|r| {
        r.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(": "))
    })
}

/// One KTAP document: a test line per result, failures followed by their
/// reason as diagnostic lines.
pub fn ktap(results: &[TestResult], reasons: &[String]) -> String {
    let mut s = format!("KTAP version 1\n1..{}\n", results.len());
    for (i, r) in results.iter().enumerate() {
        let n = i + 1;
        match r.outcome {
            Outcome::Pass => s.push_str(&format!("ok {n} {}\n", r.name)),
            Outcome::Skip => s.push_str(&format!("ok {n} {} # SKIP\n", r.name)),
            Outcome::Fail => {
                if let Some(why) = reason(reasons, &r.name) {
                    for l in why.lines() {
                        s.push_str(&format!("# {l}\n"));
                    }
                }
                s.push_str(&format!("not ok {n} {}\n", r.name));
            }
        }
    }
    s
}

/// Text escaped for XML attributes and content.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 allows no other control characters.
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' && c != '\r' => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: a `testsuite` per group (the name before the first dot), a
/// `testcase` per result, `failure` (with the reason) or `skipped` inside.
pub fn junit(results: &[TestResult], reasons: &[String]) -> String {
    let mut groups: Vec<(&str, Vec<&TestResult>)> = Vec::new();
    for r in results {
        let g = r.name.split('.').next().unwrap_or("");
        match groups.iter_mut().find(|(name, _)| *name == g) {
            Some((_, v)) => v.push(r),
            None => groups.push((g, vec![r])),
        }
    }
    let failures = |v: &[&TestResult]| v.iter().filter(|r| r.outcome == Outcome::Fail).count();
    let skips = |v: &[&TestResult]| v.iter().filter(|r| r.outcome == Outcome::Skip).count();
    let all: Vec<&TestResult> = results.iter().collect();
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    s.push_str(&format!(
        "<testsuites name=\"dmabridge\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">\n",
        all.len(),
        failures(&all),
        skips(&all)
    ));
    for (g, v) in &groups {
        s.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">\n",
            xml_escape(g),
            v.len(),
            failures(v),
            skips(v)
        ));
        for r in v {
            let case = r.name.strip_prefix(g).and_then(|n| n.strip_prefix('.'));
            let open = format!(
                "    <testcase classname=\"{}\" name=\"{}\"",
                xml_escape(g),
                xml_escape(case.unwrap_or(&r.name))
            );
            match r.outcome {
                Outcome::Pass => s.push_str(&format!("{open}/>\n")),
                Outcome::Skip => {
                    s.push_str(&format!("{open}>\n      <skipped/>\n    </testcase>\n"))
                }
                Outcome::Fail => {
                    let why = reason(reasons, &r.name).unwrap_or("failed");
                    s.push_str(&format!(
                        "{open}>\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                        xml_escape(why.lines().next().unwrap_or("failed")),
                        xml_escape(why)
                    ));
                }
            }
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}

/// Writes both files under `build/results/`.
pub fn write(p: &Project, results: &[TestResult], reasons: &[String]) -> Result {
    let dir = p.build.join("results");
    fs::create_dir_all(&dir)?;
    fs::write(dir.join("results.ktap"), ktap(results, reasons))?;
    fs::write(dir.join("junit.xml"), junit(results, reasons))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &str, outcome: Outcome) -> TestResult {
        TestResult {
            name: name.into(),
            outcome,
        }
    }

    /// Whether `xml` is well-formed as far as this writer's output goes:
    /// every tag closed in order, attributes quoted, no raw `<`/`&` in text.
    fn well_formed(xml: &str) -> bool {
        let body = xml.split_once("?>\n").map(|(_, b)| b).unwrap_or(xml);
        let mut stack: Vec<String> = Vec::new();
        let mut rest = body;
        while let Some(i) = rest.find('<') {
            let text = &rest[..i];
            if text.contains('>')
                || text
                    .replace("&amp;", "")
                    .replace("&lt;", "")
                    .replace("&gt;", "")
                    .replace("&quot;", "")
                    .replace("&apos;", "")
                    .contains('&')
            {
                return false;
            }
            let Some(j) = rest[i..].find('>') else {
                return false;
            };
            let tag = &rest[i + 1..i + j];
            if tag.matches('"').count() % 2 == 1 {
                return false;
            }
            if let Some(name) = tag.strip_prefix('/') {
                if stack.pop().as_deref() != Some(name) {
                    return false;
                }
            } else if !tag.ends_with('/') {
                stack.push(tag.split_whitespace().next().unwrap_or("").to_string());
            }
            rest = &rest[i + j + 1..];
        }
        stack.is_empty() && rest.trim().is_empty()
    }

    #[test]
    fn junit_has_a_case_per_result_and_marks_failures() {
        let results = [
            r("dma.dma_pool_roundtrip", Outcome::Pass),
            r("misuse.boot.no_checker_reports", Outcome::Fail),
            r("edu.skipped_one", Outcome::Skip),
        ];
        let reasons = ["misuse.boot.no_checker_reports: KASAN <here> & \"there\"".to_string()];
        let x = junit(&results, &reasons);
        assert!(well_formed(&x), "{x}");
        assert_eq!(x.matches("<testcase ").count(), 3);
        assert_eq!(x.matches("<failure ").count(), 1);
        assert_eq!(x.matches("<skipped/>").count(), 1);
        assert!(x.contains("KASAN &lt;here&gt; &amp; &quot;there&quot;"));
        assert!(x.contains("<testsuite name=\"misuse\" tests=\"1\" failures=\"1\""));
        assert!(x.contains("name=\"boot.no_checker_reports\""));
    }

    #[test]
    fn ktap_numbers_every_result() {
        let results = [r("a.x", Outcome::Pass), r("a.y", Outcome::Fail)];
        let k = ktap(&results, &["a.y: broke\ntwice".to_string()]);
        assert_eq!(
            k,
            "KTAP version 1\n1..2\nok 1 a.x\n# broke\n# twice\nnot ok 2 a.y\n"
        );
        let parsed = crate::ktap::parse(&k);
        assert_eq!(parsed.results.len(), 2);
    }

    #[test]
    fn the_checker_rejects_broken_xml() {
        assert!(!well_formed("<a><b></a></b>"));
        assert!(!well_formed("<a>x & y</a>"));
        assert!(well_formed("<a x=\"1\"><b/></a>"));
    }
}
