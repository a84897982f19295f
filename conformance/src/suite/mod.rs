//! The black-box suite: checks any HTTP server that speaks the Payment scheme,
//! case by case, each case citing the requirement it checks.
//!
//! A case sends requests to the target and reaches a [`Verdict`]. Cases are grouped
//! by spec section; each states its requirement id (see `spec/requirements.json`)
//! and level. SHOULD (NOT) cases run only with `--strict` (as h2spec does); cases that need
//! a payment run only when the suite can pay (`--pay preimage=…`). A case that does
//! not apply to the target (a POST route it does not have, a second offer it does not
//! make) is "not applicable", apart from a failure.

mod cases;
mod context;
pub mod report;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use spec::Level;

use crate::Status;

pub(crate) use context::describe_error;
pub use context::{Ctx, Payer, SuiteOptions};
pub use report::{CaseReport, SuiteReport, Summary};

/// A boxed future, for case functions.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a case concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The target meets the requirement.
    Pass,
    /// It does not: what was expected and what happened.
    Fail {
        /// What the requirement asks for.
        expected: String,
        /// What the target did.
        actual: String,
    },
    /// The case does not apply to this target, and why.
    NotApplicable(String),
}

impl Verdict {
    /// A failure.
    pub fn fail(expected: impl Into<String>, actual: impl Into<String>) -> Verdict {
        Verdict::Fail {
            expected: expected.into(),
            actual: actual.into(),
        }
    }

    /// Pass when `ok`, else fail with these texts.
    pub fn check(ok: bool, expected: impl Into<String>, actual: impl Into<String>) -> Verdict {
        if ok {
            Verdict::Pass
        } else {
            Verdict::fail(expected, actual)
        }
    }
}

/// One check of the suite.
#[derive(Clone)]
pub struct Case {
    /// A stable id: `section.name`.
    pub id: &'static str,
    /// The spec section it belongs to.
    pub section: &'static str,
    /// The requirement it checks, by registry id.
    pub requirement: &'static str,
    /// The level of the requirement it checks, as the registry states it.
    pub level: Level,
    /// Whether it needs to make a payment.
    pub pays: bool,
    /// What it checks, in one line.
    pub title: &'static str,
    /// The check itself.
    pub run: for<'a> fn(&'a Ctx) -> BoxFuture<'a, Verdict>,
}

impl Case {
    /// How strongly the spec asks for what the case checks, as reports and `--list`
    /// print it: `MUST` or `SHOULD`. A MUST NOT is checked as a MUST, a SHOULD NOT
    /// as a SHOULD.
    pub fn strength(&self) -> &'static str {
        if self.level.is_mandatory() {
            "MUST"
        } else {
            "SHOULD"
        }
    }
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case")
            .field("id", &self.id)
            .field("requirement", &self.requirement)
            .finish_non_exhaustive()
    }
}

/// Every case of the suite, in the order they run.
pub fn cases() -> Vec<Case> {
    cases::all()
}

/// Which cases to run.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Case ids or id prefixes (a section name selects its cases); empty: all.
    pub only: Vec<String>,
    /// Run SHOULD and SHOULD NOT cases too.
    pub strict: bool,
}

impl Selection {
    fn selects(&self, case: &Case) -> bool {
        self.only.is_empty()
            || self
                .only
                .iter()
                .any(|s| case.id == s || case.id.starts_with(&format!("{s}.")) || case.section == s)
    }
}

/// Runs the selected cases against the target and reports each one.
pub async fn run(ctx: &Ctx, selection: &Selection) -> SuiteReport {
    // A target that does not answer at all fails every case at once, rather than
    // each case waiting out its own timeout.
    let unreachable = ctx.get(&[]).await.err();
    let mut reports = Vec::new();
    for case in cases() {
        if !selection.selects(&case) {
            continue;
        }
        let (status, expected, actual) = if !case.level.is_mandatory() && !selection.strict {
            (
                Status::Skipped,
                String::new(),
                "a SHOULD: run with --strict".into(),
            )
        } else if case.pays && ctx.payer().is_none() {
            (
                Status::Skipped,
                String::new(),
                "needs a payment: run with --pay preimage=SECRET".into(),
            )
        } else if let Some(e) = &unreachable {
            (Status::Failed, "the target to answer".into(), e.clone())
        } else {
            let timeout = ctx.options().case_timeout();
            match tokio::time::timeout(timeout, (case.run)(ctx)).await {
                Ok(Verdict::Pass) => (Status::Passed, String::new(), String::new()),
                Ok(Verdict::Fail { expected, actual }) => (Status::Failed, expected, actual),
                Ok(Verdict::NotApplicable(why)) => (Status::NotApplicable, String::new(), why),
                Err(_) => (
                    Status::Failed,
                    "an answer within the timeout".into(),
                    format!("no verdict after {}", fmt_duration(timeout)),
                ),
            }
        };
        reports.push(CaseReport {
            id: case.id.into(),
            section: case.section.into(),
            requirement: case.requirement.into(),
            level: case.strength().into(),
            title: case.title.into(),
            status,
            expected,
            actual,
        });
    }
    SuiteReport::new(ctx.target().to_string(), reports)
}

fn fmt_duration(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}
