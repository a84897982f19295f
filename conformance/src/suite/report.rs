//! The suite's results: for people (h2spec-style text), for programs (JSON), and for
//! CI systems (JUnit XML).

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::Status;

/// One case's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseReport {
    /// The case id.
    pub id: String,
    /// Its section.
    pub section: String,
    /// The requirement it checks.
    pub requirement: String,
    /// `MUST` or `SHOULD`: the case's [`strength`](super::Case::strength).
    pub level: String,
    /// What it checks.
    pub title: String,
    /// The outcome.
    pub status: Status,
    /// What was expected (failures).
    pub expected: String,
    /// What happened (failures), or why the case was skipped or does not apply.
    pub actual: String,
}

/// The counts of a report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Cases passed.
    pub passed: usize,
    /// Cases failed.
    pub failed: usize,
    /// Cases skipped.
    pub skipped: usize,
    /// Cases not applicable.
    pub not_applicable: usize,
}

/// A run's results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteReport {
    /// The target URL.
    pub target: String,
    /// Every case, in the order it ran.
    pub cases: Vec<CaseReport>,
}

impl SuiteReport {
    /// A report of these cases.
    pub fn new(target: String, cases: Vec<CaseReport>) -> SuiteReport {
        SuiteReport { target, cases }
    }

    /// The counts.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for case in &self.cases {
            match case.status {
                Status::Passed => s.passed += 1,
                Status::Failed => s.failed += 1,
                Status::Skipped => s.skipped += 1,
                Status::NotApplicable => s.not_applicable += 1,
            }
        }
        s
    }

    /// Whether any case failed (the CLI's exit status).
    pub fn failed(&self) -> bool {
        self.cases.iter().any(|c| c.status == Status::Failed)
    }

    /// The failed cases' ids.
    pub fn failures(&self) -> Vec<&str> {
        self.cases
            .iter()
            .filter(|c| c.status == Status::Failed)
            .map(|c| c.id.as_str())
            .collect()
    }

    /// The text report: cases by section, failures with Expected and Actual.
    pub fn to_text(&self, verbose: bool) -> String {
        let mut out = format!("Payment scheme conformance: {}\n", self.target);
        let mut section = "";
        for case in &self.cases {
            if case.section != section {
                section = &case.section;
                let _ = writeln!(out, "\n  {section}");
            }
            let _ = writeln!(
                out,
                "    {} {} [{} {}] {}",
                case.status.mark(),
                case.id,
                case.level,
                case.requirement,
                case.title
            );
            match case.status {
                Status::Failed => {
                    let _ = writeln!(out, "        Expected: {}", case.expected);
                    let _ = writeln!(out, "          Actual: {}", case.actual);
                }
                Status::Skipped | Status::NotApplicable if verbose => {
                    let _ = writeln!(out, "        {}", case.actual);
                }
                _ => {}
            }
        }
        let s = self.summary();
        let _ = writeln!(
            out,
            "\n{} cases: {} passed, {} failed, {} skipped, {} not applicable",
            self.cases.len(),
            s.passed,
            s.failed,
            s.skipped,
            s.not_applicable
        );
        out
    }

    /// The JSON report: `{"target", "cases": [...], "summary": {...}}`.
    pub fn to_json(&self) -> Value {
        let s = self.summary();
        json!({
            "target": self.target,
            "cases": self.cases.iter().map(|c| json!({
                "id": c.id,
                "section": c.section,
                "requirement": c.requirement,
                "level": c.level,
                "title": c.title,
                "status": c.status.as_str(),
                "expected": c.expected,
                "actual": c.actual,
            })).collect::<Vec<_>>(),
            "summary": {
                "total": self.cases.len(),
                "passed": s.passed,
                "failed": s.failed,
                "skipped": s.skipped,
                "notApplicable": s.not_applicable,
            },
        })
    }

    /// A JUnit XML report: one test suite per section.
    pub fn to_junit(&self) -> String {
        let s = self.summary();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuites name=\"mpp-conformance\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">",
            self.cases.len(),
            s.failed,
            s.skipped + s.not_applicable
        );
        let mut sections: Vec<&str> = Vec::new();
        for case in &self.cases {
            if !sections.contains(&case.section.as_str()) {
                sections.push(&case.section);
            }
        }
        for section in sections {
            let cases: Vec<_> = self.cases.iter().filter(|c| c.section == section).collect();
            let failures = cases.iter().filter(|c| c.status == Status::Failed).count();
            let skipped = cases
                .iter()
                .filter(|c| matches!(c.status, Status::Skipped | Status::NotApplicable))
                .count();
            let _ = writeln!(
                out,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">",
                xml(section),
                cases.len()
            );
            for case in cases {
                let _ = write!(
                    out,
                    "    <testcase classname=\"{}\" name=\"{} [{} {}]\"",
                    xml(section),
                    xml(&case.id),
                    case.level,
                    xml(&case.requirement)
                );
                match case.status {
                    Status::Passed => out.push_str("/>\n"),
                    Status::Failed => {
                        let _ = writeln!(
                            out,
                            ">\n      <failure message=\"{}\">Expected: {}\nActual: {}</failure>\n    </testcase>",
                            xml(&case.title),
                            xml(&case.expected),
                            xml(&case.actual)
                        );
                    }
                    Status::Skipped | Status::NotApplicable => {
                        let _ = writeln!(
                            out,
                            ">\n      <skipped message=\"{}: {}\"/>\n    </testcase>",
                            case.status.as_str(),
                            xml(&case.actual)
                        );
                    }
                }
            }
            out.push_str("  </testsuite>\n");
        }
        out.push_str("</testsuites>\n");
        out
    }
}

fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry most control characters at all.
            c if c.is_control() && !matches!(c, '\n' | '\t' | '\r') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}
