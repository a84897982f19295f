//! `mpp mcp call` and `mpp mcp tools` against the stand-in MCP server on loopback:
//! what they print and their exit statuses, one per outcome.
#![cfg(feature = "cli")]

mod mcp_support;

use std::process::{Command, Output, Stdio};

use mcp_support::{Mode, PREIMAGE, StandServer, start};
use serde_json::Value;

/// Runs `mpp ARGS` off the async runtime that serves the stand-in.
async fn mpp(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_mpp"))
            .args(&args)
            .env_remove("MPP_PREIMAGE")
            .env_remove("MPP_TOKEN")
            .stdin(Stdio::null())
            .output()
            .expect("cannot run mpp")
    })
    .await
    .unwrap()
}

fn call_args(server: &StandServer, tool: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "mcp",
        "call",
        &server.url(),
        tool,
        "--args",
        r#"{"text":"hi"}"#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for a in [
        "--method",
        "preimage",
        "--preimage",
        PREIMAGE,
        "--timeout",
        "10",
    ] {
        args.push(a.into());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn exited(out: &Output, code: i32) -> (String, String) {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(code),
        "--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
    );
    assert!(!stdout.contains(PREIMAGE) && !stderr.contains(PREIMAGE));
    (stdout, stderr)
}

fn credentials(server: &StandServer) -> usize {
    server
        .stand
        .calls("tools/call", None)
        .iter()
        .map(|c| c.credentials().len())
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn call_prints_the_result_and_says_what_was_paid() {
    let server = start(Mode::Honest).await;
    let out = mpp(call_args(
        &server,
        "paid_echo",
        &["--max-amount", "1000:usd"],
    ))
    .await;
    let (stdout, stderr) = exited(&out, 0);
    let result: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(result["content"][0]["text"], "hi");
    assert!(
        stderr.contains("paid 1000 usd (preimage/charge)"),
        "{stderr}"
    );
    assert!(stderr.contains("receipt: preimage at "), "{stderr}");
    assert_eq!(credentials(&server), 1);

    let out = mpp(call_args(
        &server,
        "paid_echo",
        &["--max-amount", "1000:usd", "--json"],
    ))
    .await;
    let (stdout, _) = exited(&out, 0);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["result"]["content"][0]["text"], "hi");
    assert_eq!(v["payment"]["amount"], "1000");
    assert_eq!(v["receipt"]["challengeId"], v["payment"]["challengeId"]);
    assert_eq!(v["exitCode"], 0);

    // A free tool: nothing paid, nothing said about payment.
    let out = mpp(call_args(&server, "echo", &[])).await;
    let (stdout, stderr) = exited(&out, 0);
    assert!(stdout.contains("\"hi\""));
    assert!(!stderr.contains("paid"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn call_exit_statuses_follow_the_outcome() {
    // 2: over the per-request cap, nothing paid.
    let server = start(Mode::Honest).await;
    let out = mpp(call_args(
        &server,
        "paid_echo",
        &["--max-amount", "999:usd"],
    ))
    .await;
    let (_, stderr) = exited(&out, 2);
    assert!(stderr.contains("above your --max-amount"), "{stderr}");
    assert_eq!(credentials(&server), 0);

    // 3: refused after paying; paid once.
    let server = start(Mode::RefuseDraft).await;
    let out = mpp(call_args(
        &server,
        "paid_echo",
        &["--max-amount", "1000:usd"],
    ))
    .await;
    let (_, stderr) = exited(&out, 3);
    assert!(stderr.contains("rejected the payment (-32043"), "{stderr}");
    assert_eq!(credentials(&server), 1);

    // 4: an answer that is not JSON, before paying.
    let server = start(Mode::NotJson).await;
    let out = mpp(call_args(&server, "echo", &[])).await;
    let (_, stderr) = exited(&out, 4);
    assert!(stderr.contains("not JSON"), "{stderr}");

    // 5: no answer after paying, twice.
    let server = start(Mode::Unavailable(5)).await;
    let out = mpp(call_args(
        &server,
        "paid_echo",
        &["--max-amount", "1000:usd", "--json"],
    ))
    .await;
    let (stdout, _) = exited(&out, 5);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["error"]["kind"], "unknown-outcome");
    assert_eq!(v["payment"]["amount"], "1000");
    assert_eq!(server.stand.calls("tools/call", None).len(), 3);

    // 6: the tool failed after settling: the result and the receipt all the same.
    let server = start(Mode::ToolErrorAfterPay).await;
    let out = mpp(call_args(
        &server,
        "paid_echo",
        &["--max-amount", "1000:usd"],
    ))
    .await;
    let (stdout, stderr) = exited(&out, 6);
    assert!(stdout.contains("the tool failed"), "{stdout}");
    assert!(stderr.contains("receipt: preimage"), "{stderr}");

    // 5: refused as mppx's SDK server does by default (E41): a failed result with
    // no receipt after paying; whether the payment was taken is unknown.
    let refusing = start(Mode::RefuseAsToolError).await;
    let out = mpp(call_args(
        &refusing,
        "paid_echo",
        &["--max-amount", "1000:usd"],
    ))
    .await;
    let (_, stderr) = exited(&out, 5);
    assert!(
        stderr.contains("whether the payment was taken is unknown"),
        "{stderr}"
    );

    // 6: an unknown tool.
    let out = mpp(call_args(&server, "nope", &[])).await;
    exited(&out, 6);

    // 64: arguments that are not an object.
    let out = mpp(vec![
        "mcp".into(),
        "call".into(),
        server.url(),
        "echo".into(),
        "--args".into(),
        "[1]".into(),
    ])
    .await;
    let (_, stderr) = exited(&out, 64);
    assert!(stderr.contains("JSON object"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tools_lists_each_tool_with_its_prices() {
    let server = start(Mode::Honest).await;
    let out = mpp(vec!["mcp".into(), "tools".into(), server.url()]).await;
    let (stdout, _) = exited(&out, 0);
    assert!(
        stdout.contains("echo — Echoes its text\n    no price listed\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "paid_echo — Echoes its text, for 1000 usd\n    1000 usd (preimage/charge)\n"
        ),
        "{stdout}"
    );
    let out = mpp(vec![
        "mcp".into(),
        "tools".into(),
        server.url(),
        "--json".into(),
    ])
    .await;
    let (stdout, _) = exited(&out, 0);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v[1]["offers"][0]["amount"], "1000");
    assert_eq!(credentials(&server), 0);

    let out = mpp(vec![
        "mcp".into(),
        "tools".into(),
        format!("http://{}/nothing", server.addr),
    ])
    .await;
    exited(&out, 4);
}
