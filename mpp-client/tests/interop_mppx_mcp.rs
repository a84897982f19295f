//! Interop with mppx's MCP transport as a server: our `PayingMcpClient` and
//! `mpp mcp` pay `conformance/interop/mppx/mcp-server.mjs`, an offline mppx 0.11.0
//! server on the official MCP TypeScript SDK (Streamable HTTP), with its free
//! `echo` and its `preimage/charge` tools `paid_echo` (1000 usd) and `paid_upper`
//! (2500 usd); in its default form (sessions, event-stream answers) and its
//! stateless, JSON-answer form.
//!
//! Without `node` or the harness's `node_modules` the test is skipped with a notice,
//! unless `CI` is set: then it fails (as `interop_mppx.rs`).
#![cfg(feature = "cli")]

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use mpp_client::mcp::{McpError, McpOptions, PayingMcpClient};
use mpp_core::client::{PolicyError, Skipped, SpendingPolicy, Wallet};
use mpp_methods::preimage::PreimagePayer;
use mpp_test_support::mppx;
use mpp_test_support::process::ServerProcess;
use serde_json::{Value, json};

const SECRET: &str = "mpp-client-mcp-interop-secret-0123456789abcdef";
const REALM: &str = "mppx-mcp-interop.test";
const PREIMAGE: &str = "mpp-client-mcp-interop-preimage";

fn start(dir: &std::path::Path, flags: &[&str]) -> ServerProcess {
    let mut command = Command::new("node");
    command
        .arg("mcp-server.mjs")
        .args(["--port", "0", "--secret", SECRET, "--realm", REALM])
        .args(flags)
        .current_dir(dir)
        .env("MPP_PREIMAGE", PREIMAGE);
    ServerProcess::start(command, mppx::STARTUP_TIMEOUT)
}

fn wallet() -> Wallet {
    let policy = SpendingPolicy {
        max_per_request: vec![("usd".into(), 1000)],
        ..SpendingPolicy::default()
    };
    Wallet::new(policy).with_method(Arc::new(PreimagePayer::new(PREIMAGE)), 1000)
}

fn text_of(result: &serde_json::Map<String, Value>) -> &str {
    result["content"][0]["text"].as_str().unwrap_or_default()
}

/// Our client pays mppx's server: once per paid call, with its receipt.
async fn pay_with_the_library(server: &ServerProcess) {
    let log = || server.stderr();
    let options = McpOptions {
        timeout: Duration::from_secs(30),
        ..McpOptions::default()
    };
    let client = PayingMcpClient::connect(&server.base, wallet(), options)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}\n--- mppx stderr ---\n{}", log()));
    let info = client.server().unwrap();
    assert!(
        info.payment
            .as_ref()
            .unwrap()
            .supports("preimage", "charge"),
        "{info:?}"
    );

    let tools = client.list_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["echo", "paid_echo", "paid_upper"]);

    let args = json!({"text": "interop"}).as_object().cloned();
    let free = client.call_tool("echo", args.clone()).await.unwrap();
    assert_eq!(text_of(&free.result), "interop");
    assert!(free.payment.is_none() && free.receipt.is_none());

    let paid = client
        .call_tool("paid_echo", args.clone())
        .await
        .unwrap_or_else(|e| panic!("paid_echo: {e}\n--- mppx stderr ---\n{}", log()));
    assert_eq!(text_of(&paid.result), "interop");
    let payment = paid.payment.as_ref().unwrap();
    assert_eq!((payment.amount, payment.currency.as_str()), (1000, "usd"));
    assert_eq!(payment.challenge.realm.as_str(), REALM);
    let receipt = paid.receipt.as_ref().expect("mppx's receipt");
    assert_eq!(receipt.challenge_id, payment.challenge.id);
    assert_eq!(receipt.receipt.method.as_str(), "preimage");
    assert_eq!(
        receipt.receipt.reference,
        mpp_methods::preimage::hash_hex(PREIMAGE)
    );

    // 2500 usd is over the cap: refused before anything is paid.
    let error = client.call_tool("paid_upper", args).await.unwrap_err();
    let McpError::Declined(declined) = &error else {
        panic!("{error:?}")
    };
    assert!(
        declined.passed.iter().all(|p| matches!(
            p.reason,
            Skipped::Policy(PolicyError::OverRequestCap { .. })
        )),
        "{declined:?}"
    );
    let spent = client.wallet().lock().await.spent().to_vec();
    assert_eq!(spent, [("usd".to_owned(), 1000)], "one payment in all");
    client.close().await;
}

/// Our CLI pays mppx's server.
fn pay_with_the_cli(server: &ServerProcess) {
    let out = Command::new(env!("CARGO_BIN_EXE_mpp"))
        .args(["mcp", "call", &server.base, "paid_upper", "--args"])
        .arg(r#"{"text":"loud"}"#)
        .args(["--preimage", PREIMAGE, "--max-amount", "2500:usd", "--json"])
        .env_remove("MPP_PREIMAGE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{stdout}\n{stderr}\n--- mppx stderr ---\n{}",
        server.stderr()
    );
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["result"]["content"][0]["text"], "LOUD");
    assert_eq!(v["payment"]["amount"], "2500");
    assert_eq!(v["receipt"]["challengeId"], v["payment"]["challengeId"]);
    assert!(!stdout.contains(PREIMAGE) && !stderr.contains(PREIMAGE));

    let out = Command::new(env!("CARGO_BIN_EXE_mpp"))
        .args(["mcp", "tools", &server.base])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("paid_upper — "), "{listed}");
}

#[test]
fn our_client_and_cli_pay_the_mppx_mcp_server() {
    let Some(dir) = mppx::harness_or_skip("our_client_and_cli_pay_the_mppx_mcp_server") else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for flags in [
        &[][..],
        &["--stateless", "--json"][..],
        &["--strict-errors"][..],
    ] {
        let server = start(&dir, flags);
        runtime.block_on(pay_with_the_library(&server));
        pay_with_the_cli(&server);
    }
}
