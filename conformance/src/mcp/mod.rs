//! The black-box suite for servers that price JSON-RPC methods or MCP tools with the
//! Payment scheme (draft-payment-transport-mcp-00), case by case, each case citing
//! the requirements it checks.
//!
//! It speaks MCP over Streamable HTTP (or, with [`Transport::Rpc`], plain JSON-RPC 2.0
//! over HTTP POST) as any client would, and judges only what comes back, as the
//! HTTP suite ([`crate::suite`]) does for 402s. Every case runs, SHOULDs included:
//! the report shows each case's level, and the CLI's exit status counts a failed
//! SHOULD only under `--strict`. Cases that need a payment are skipped without a
//! preimage to pay with; a case that cannot apply to the target (root `_meta` over
//! MCP, a second priced tool it does not have, `/stats` it does not serve) is "not
//! applicable".

mod cases;
mod wire;

use std::time::Duration;

use spec::Level;

use crate::Status;
use crate::suite::report::{CaseReport, SuiteReport};
use crate::suite::{BoxFuture, Verdict};

pub use wire::{McpCtx, McpOptions, PROTOCOL_VERSION, Reply, Transport};

/// One check of the suite.
#[derive(Clone)]
pub struct McpCase {
    /// A stable id: `section.name`.
    pub id: &'static str,
    /// The section it belongs to.
    pub section: &'static str,
    /// The requirements it checks, by registry id (empty for a rule of JSON-RPC 2.0
    /// itself, which the registry does not hold; [`reference`](Self::reference)
    /// names it).
    pub requirements: &'static [&'static str],
    /// The rule checked when no registry id names it.
    pub reference: &'static str,
    /// The level of what it checks (that of every requirement it cites).
    pub level: Level,
    /// Whether it needs to make a payment.
    pub pays: bool,
    /// What it checks, in one line.
    pub title: &'static str,
    /// The check itself.
    pub run: for<'a> fn(&'a McpCtx) -> BoxFuture<'a, Verdict>,
}

impl McpCase {
    /// `MUST` or `SHOULD` (a MUST NOT is checked as a MUST, a SHOULD NOT as a SHOULD).
    pub fn strength(&self) -> &'static str {
        if self.level.is_mandatory() {
            "MUST"
        } else {
            "SHOULD"
        }
    }

    /// What the reports show as its requirement: the ids, or the rule.
    pub fn cites(&self) -> String {
        if self.requirements.is_empty() {
            self.reference.to_owned()
        } else {
            self.requirements.join(" ")
        }
    }
}

impl std::fmt::Debug for McpCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpCase")
            .field("id", &self.id)
            .field("requirements", &self.requirements)
            .finish_non_exhaustive()
    }
}

/// Every case, in running order.
pub fn cases() -> Vec<McpCase> {
    cases::all()
}

/// Runs the cases `only` selects (ids, id prefixes or sections; empty: all) and
/// reports each one.
pub async fn run(ctx: &McpCtx, only: &[String]) -> SuiteReport {
    // A target that cannot be talked to fails every case at once.
    let unreachable = ctx.connect().await.err();
    let mut reports = Vec::new();
    for case in cases() {
        if !selects(only, &case) {
            continue;
        }
        let (status, expected, actual) = if case.pays && !ctx.pays() {
            (
                Status::Skipped,
                String::new(),
                "needs a payment: run with --pay preimage=SECRET".into(),
            )
        } else if let Some(e) = &unreachable {
            (Status::Failed, "the target to answer".into(), e.clone())
        } else {
            let timeout = ctx.options().timeout * 8;
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
            requirement: case.cites(),
            level: case.strength().into(),
            title: case.title.into(),
            status,
            expected,
            actual,
        });
    }
    SuiteReport::new(ctx.target().to_string(), reports)
}

/// Whether `case` is among those `only` names.
pub fn selects(only: &[String], case: &McpCase) -> bool {
    only.is_empty()
        || only
            .iter()
            .any(|s| case.id == s || case.id.starts_with(&format!("{s}.")) || case.section == s)
}

/// Whether a report has a failure that counts: any failed MUST, and with `strict`
/// any failed SHOULD too.
pub fn failed(report: &SuiteReport, strict: bool) -> bool {
    report
        .cases
        .iter()
        .any(|c| c.status == Status::Failed && (strict || c.level == "MUST"))
}

fn fmt_duration(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}
