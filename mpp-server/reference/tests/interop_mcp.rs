//! Interop over MCP with mppx, the TypeScript reference SDK: mppx's MCP client
//! (`mppx/mcp/client` around `@modelcontextprotocol/sdk`'s client, over Streamable
//! HTTP) pays the reference server's priced tools at `/mcp` with the preimage test
//! method, through `conformance/interop/mppx/mcp-pay.mjs`.
//!
//! Each paid call must end with the tool's result and a receipt in
//! `result._meta["org.paymentauth/receipt"]` naming the challenge paid, and the
//! server's `/stats` must count exactly the paid tools that ran. Skipped (with a
//! notice) without node or the harness, unless `CI` is set.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use mpp_test_support::mppx::{self, node};
use mpp_test_support::process::ServerProcess;
use serde_json::{Value, json};

const SECRET: &str = "interop-mcp-test-secret-0123456789abcdef";
const PREIMAGE: &str = "mpp-reference-mcp-preimage";

fn start_server() -> ServerProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mpp-server"));
    command.args([
        "--listen",
        "127.0.0.1:0",
        "--secret",
        SECRET,
        "--preimage",
        PREIMAGE,
    ]);
    ServerProcess::start(command, Duration::from_secs(60))
}

/// `mcp-pay.mjs ARGS…`: its exit status and its one JSON line.
fn mcp_pay(dir: &Path, args: &[&str], preimage: &str, log: &dyn Fn() -> String) -> (bool, Value) {
    let mut all = vec!["mcp-pay.mjs"];
    all.extend(args);
    let run = node(dir, &all, &[("MPP_PREIMAGE", preimage)]);
    let line = run
        .stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line\n{}\n--- server ---\n{}", run.report(), log()));
    let value: Value = serde_json::from_str(line).expect("mcp-pay prints JSON");
    (run.success, value)
}

fn paid_runs(base: &str) -> u64 {
    let text = raw_get(base, "/stats");
    let body = &text[text.find("\r\n\r\n").expect("a response") + 4..];
    let stats: Value = serde_json::from_str(body).expect("stats JSON");
    stats["paidHandlerRuns"].as_u64().expect("paidHandlerRuns")
}

fn raw_get(base: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("write");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("read");
    text
}

#[test]
fn mppx_mcp_client_pays_the_reference_servers_priced_tools() {
    // req: mcp.receipt.paid mcp.receipt.members mcp.challenge.code
    let Some(dir) =
        mppx::harness_or_skip("mppx_mcp_client_pays_the_reference_servers_priced_tools")
    else {
        return;
    };
    let server = start_server();
    let url = format!("{}/mcp", server.base);
    let log = || server.stderr();

    // tools/list shows the prices.
    let (ok, list) = mcp_pay(&dir, &["--list", &url], PREIMAGE, &log);
    assert!(ok, "{list}");
    let tools = list["tools"].as_array().expect("tools");
    let offers = |name: &str| {
        tools
            .iter()
            .find(|t| t["name"] == name)
            .map(|t| t["_meta"]["org.paymentauth/offers"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(offers("echo"), Value::Null, "a free tool lists no price");
    assert_eq!(
        offers("paid_echo"),
        json!([{"method": "preimage", "intent": "charge", "amount": "1000", "currency": "usd"}])
    );

    // The free tool: served, no receipt.
    let (ok, free) = mcp_pay(
        &dir,
        &["--free", &url, "echo", r#"{"text":"free"}"#],
        PREIMAGE,
        &log,
    );
    assert!(ok, "{free}");
    assert_eq!(free["result"]["content"][0]["text"], "free");
    assert_eq!(paid_runs(&server.base), 0);

    // Each paid tool: one payment, the result, and a receipt naming its challenge.
    for (tool, args, expected) in [
        ("paid_echo", r#"{"text":"hello mcp"}"#, "hello mcp"),
        (
            "paid_weather",
            r#"{"city":"Lisbon"}"#,
            "Lisbon: sunny, 21 °C",
        ),
    ] {
        let (ok, paid) = mcp_pay(&dir, &[&url, tool, args], PREIMAGE, &log);
        assert!(ok, "{tool}: {paid}\n{}", log());
        assert_eq!(paid["result"]["content"][0]["text"], expected);
        let receipt = &paid["result"]["_meta"]["org.paymentauth/receipt"];
        assert_eq!(receipt["status"], "success");
        assert_eq!(receipt["method"], "preimage");
        assert!(
            receipt["challengeId"]
                .as_str()
                .is_some_and(|id| !id.is_empty())
        );
        assert_eq!(&paid["receipt"], receipt, "mppx lifts the receipt it read");
    }
    assert_eq!(paid_runs(&server.base), 2);

    // A tool that fails after the payment: isError, with the receipt.
    let (ok, failed) = mcp_pay(&dir, &[&url, "paid_fail", "{}"], PREIMAGE, &log);
    assert!(!ok, "mcp-pay reports the tool's failure: {failed}");
    assert_eq!(failed["result"]["isError"], true);
    assert_eq!(failed["receipt"]["status"], "success", "{failed}");
    assert_eq!(paid_runs(&server.base), 3);

    // A wrong preimage: refused, nothing served, and no receipt.
    let (ok, refused) = mcp_pay(&dir, &[&url, "paid_echo", "{}"], "not-the-preimage", &log);
    assert!(!ok, "{refused}");
    assert_eq!(refused["receipt"], Value::Null);
    assert_eq!(refused["error"]["code"], -32043, "{refused}");
    assert_eq!(paid_runs(&server.base), 3);
}
