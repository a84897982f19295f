//! The MCP suite against mppx 0.11.0's MCP transport: the offline server of
//! `conformance/interop/mppx/mcp-server.mjs` (the MCP TypeScript SDK's McpServer
//! with tools priced by `Transport.mcpSdk()`), as it answers by default and with
//! `--strict-errors`. What mppx meets and misses, case by case, is this test's
//! expectation (the conformance README's table); a change on either side shows here.
//!
//! Without `node` or the harness's `node_modules` (`conformance/interop/mppx/setup`)
//! the test is skipped with a notice, unless `CI` is set: then it fails.

use std::collections::BTreeSet;
use std::process::Command;

use conformance::Status;
use conformance::mcp::{self, McpCtx, McpOptions, Transport};
use conformance::suite::SuiteReport;
use mpp_test_support::mppx;
use mpp_test_support::process::ServerProcess;

/// The harness's default preimage (`MPP_PREIMAGE` unset).
const PREIMAGE: &str = "mppx-interop-preimage";

fn ids(report: &SuiteReport, status: Status) -> BTreeSet<&str> {
    report
        .cases
        .iter()
        .filter(|c| c.status == status)
        .map(|c| c.id.as_str())
        .collect()
}

/// Where mppx answers JSON-RPC 2.0's errors its own way, in both modes.
const JSONRPC_FAILS: &[&str] = &[
    // A message that is JSON but not a valid request gets -32700 (Parse error), in
    // an HTTP 400, where JSON-RPC 2.0 names -32600.
    "jsonrpc.version",
    "jsonrpc.id-type",
    // `[]` gets 202 with no body, where JSON-RPC 2.0 asks for one -32600.
    "jsonrpc.empty-batch",
    // SHOULD: 10,000 nested arrays are parsed, and the call is served and charged.
    "jsonrpc.deep-nesting",
];

/// By default McpServer turns every error a tool throws but -32042 into an
/// `isError` tool result: the refusals carry no JSON-RPC error, no fresh challenge.
const DEFAULT_FAILS: &[&str] = &[
    "credential.not-object",
    "credential.no-challenge",
    "credential.payload-not-object",
    "credential.wrong-proof",
    "credential.altered-id",
    "credential.altered-request",
    "paid.replay",
    "paid.other-tool",
];

/// With `--strict-errors` the refusals are JSON-RPC errors with fresh challenges,
/// but -32043 carries no `failure` object.
const STRICT_FAILS: &[&str] = &["credential.wrong-proof"];

/// Not applicable to mppx: the root `_meta` is not MCP's, and it has no `/stats`.
const NOT_APPLICABLE: &[&str] = &[
    "credential.root-meta",
    "credential.conflicting-meta",
    "notification.not-run",
];

#[tokio::test]
async fn mppx_against_the_mcp_suite() {
    let Some(dir) = mppx::harness_or_skip("mppx_against_the_mcp_suite") else {
        return;
    };
    for (flags, fails) in [
        (&[][..], DEFAULT_FAILS),
        (&["--strict-errors"][..], STRICT_FAILS),
    ] {
        let mut command = Command::new("node");
        command
            .arg("mcp-server.mjs")
            .args(["--port", "0"])
            .args(flags)
            .current_dir(&dir);
        // It prints `listening on http://127.0.0.1:PORT/mcp`, the endpoint itself.
        let server = ServerProcess::start(command, mppx::STARTUP_TIMEOUT);
        let options = McpOptions {
            free: Some("echo".into()),
            preimage: Some(PREIMAGE.into()),
            ..McpOptions::new(Transport::Mcp, "paid_echo")
        };
        let ctx = McpCtx::new(server.base.parse().unwrap(), options).unwrap();
        let report = mcp::run(&ctx, &[]).await;
        let text = format!(
            "{flags:?}:\n{}\nserver stderr:\n{}",
            report.to_text(true),
            server.stderr()
        );
        let expected: BTreeSet<&str> = fails.iter().chain(JSONRPC_FAILS).copied().collect();
        assert_eq!(ids(&report, Status::Failed), expected, "{text}");
        assert_eq!(
            ids(&report, Status::NotApplicable),
            NOT_APPLICABLE.iter().copied().collect(),
            "{text}"
        );
        assert!(ids(&report, Status::Skipped).is_empty(), "{text}");
    }
}
