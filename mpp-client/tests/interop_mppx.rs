//! Interop with mppx, the TypeScript reference SDK, as a server: our `PayingClient`
//! and our `mpp` CLI pay `conformance/interop/mppx/server.mjs`, an offline mppx
//! 0.11.0 server with the `preimage/charge` and `token/charge` toy methods.
//!
//! Without `node` on PATH or without the harness's `node_modules` (installed by
//! `conformance/interop/mppx/setup`), the test is skipped with a notice, unless `CI`
//! is set: then it fails, so CI never skips it silently.
#![cfg(feature = "cli")]

use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use mpp_client::PayingClient;
use mpp_core::client::{SpendingPolicy, Wallet};
use mpp_core::receipt::Receipt;
use mpp_methods::preimage::PreimagePayer;
use mpp_methods::token::TokenPayer;
use mpp_test_support::mppx;
use mpp_test_support::process::ServerProcess;
use serde_json::Value;

/// Not the harness's defaults, so the test shows the values really travel.
const SECRET: &str = "mpp-client-interop-secret-0123456789abcdef";
const REALM: &str = "mppx-interop.test";
const PREIMAGE: &str = "mpp-client-interop-preimage";
const TOKEN: &str = "mpp-client-interop-token";

fn policy() -> SpendingPolicy {
    // Plain HTTP is allowed to loopback without `allow_insecure`.
    SpendingPolicy {
        max_per_request: vec![("usd".into(), 1000)],
        ..SpendingPolicy::default()
    }
}

/// Our `PayingClient` pays the mppx server.
async fn pay_with_the_library(server: &ServerProcess) {
    let log = || server.stderr();
    let wallet = Wallet::new(policy()).with_method(Arc::new(PreimagePayer::new(PREIMAGE)), 1000);
    let client = PayingClient::new(wallet).unwrap();

    let free = client.get(&server.url("/free")).await.unwrap();
    assert_eq!(free.status, 200);
    assert!(free.payments.is_empty() && free.receipt.is_none());

    for path in ["/paid", "/paid-multi"] {
        let url = server.url(path);
        let response = client
            .get(&url)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}\n--- mppx server stderr ---\n{}", log()));
        let body = String::from_utf8_lossy(&response.body);
        assert_eq!(
            response.status,
            200,
            "{url}: {body}\n--- mppx server stderr ---\n{}",
            log()
        );
        let header = response
            .headers
            .get("payment-receipt")
            .unwrap_or_else(|| panic!("{url}: no Payment-Receipt"));
        let parsed = Receipt::parse(header.as_bytes())
            .unwrap_or_else(|e| panic!("{url}: the Payment-Receipt does not parse: {e}"));
        let receipt = response.receipt.as_ref().expect("the client parsed it");
        assert_eq!(receipt, &parsed);
        assert_eq!(receipt.method.as_str(), "preimage");
        assert_eq!(
            receipt.reference,
            mpp_methods::preimage::hash_hex(PREIMAGE),
            "server.mjs's reference is the payment hash"
        );
        let [payment] = &response.payments[..] else {
            panic!("{url}: one payment, not {:?}", response.payments)
        };
        assert_eq!((payment.amount, payment.currency.as_str()), (1000, "usd"));
        assert_eq!(payment.challenge.realm.as_str(), REALM);
        assert!(body.contains(&format!(r#""route":"{path}""#)), "{body}");
    }

    // The token offer of the two-offer route, by a wallet that only has the token.
    let wallet = Wallet::new(policy()).with_method(Arc::new(TokenPayer::new(TOKEN)), 1000);
    let client = PayingClient::new(wallet).unwrap();
    let response = client.get(&server.url("/paid-multi")).await.unwrap();
    assert_eq!(response.status, 200, "--- stderr ---\n{}", log());
    assert_eq!(response.receipt.unwrap().method.as_str(), "token");
}

fn mpp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mpp"))
        .args(args)
        .args(["--timeout", "30"])
        .env_remove("MPP_PREIMAGE")
        .env_remove("MPP_TOKEN")
        .stdin(Stdio::null())
        .output()
        .expect("cannot run mpp")
}

#[track_caller]
fn succeeded(out: &Output, what: &str, server: &ServerProcess) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "`mpp {what}` exited with {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}\n\
         --- mppx server stderr ---\n{}",
        out.status,
        server.stderr()
    );
    serde_json::from_str(&stdout).unwrap_or(Value::Null)
}

/// Our `mpp` CLI pays the mppx server.
fn pay_with_the_cli(server: &ServerProcess) {
    let preimage = ["--method", "preimage", "--preimage", PREIMAGE];
    let cap = ["--max-amount", "1000:usd"];
    for path in ["/paid", "/paid-multi"] {
        let url = server.url(path);
        // The body as is on stdout.
        let out = mpp(&[&["get", url.as_str()][..], &preimage, &cap].concat());
        succeeded(&out, &format!("get {url}"), server);
        let body: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(body["route"], path);
        // The JSON report.
        let out = mpp(&[&["get", url.as_str(), "--json"][..], &preimage, &cap].concat());
        let v = succeeded(&out, &format!("get {url} --json"), server);
        assert_eq!(v["status"], 200, "{v}");
        assert_eq!(v["receipt"]["method"], "preimage", "{v}");
        assert_eq!(v["payment"]["method"], "preimage");
        assert_eq!(v["payment"]["amount"], "1000");
    }

    // The token offer of the two-offer route.
    let url = server.url("/paid-multi");
    let out = mpp(&[
        "get",
        &url,
        "--method",
        "token",
        "--token",
        TOKEN,
        "--max-amount",
        "1000:usd",
        "--json",
    ]);
    let v = succeeded(&out, "get /paid-multi --method token", server);
    assert_eq!(v["receipt"]["method"], "token", "{v}");
    assert_eq!(v["payment"]["method"], "token");

    // -v decodes mppx's challenges and receipt, without the secret.
    let out = mpp(&[&["get", url.as_str(), "-v"][..], &preimage, &cap].concat());
    succeeded(&out, "get /paid-multi -v", server);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Payment challenge: valid"), "{err}");
    assert!(err.contains("Payment receipt: valid"), "{err}");
    assert!(!err.contains(PREIMAGE), "{err}");

    // inspect parses both of mppx's challenges.
    let out = mpp(&["inspect", &url, "--json"]);
    let v = succeeded(&out, "inspect /paid-multi --json", server);
    let methods: Vec<&str> = v["challenges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["valid"] == true)
        .map(|c| c["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["preimage", "token"], "{v}");
}

#[test]
fn our_client_and_cli_pay_the_mppx_server() {
    let Some(dir) = mppx::harness_or_skip("our_client_and_cli_pay_the_mppx_server") else {
        return;
    };
    let server = mppx::start_server(
        &dir,
        &[
            ("MPP_SECRET_KEY", SECRET),
            ("MPP_REALM", REALM),
            ("MPP_PREIMAGE", PREIMAGE),
            ("MPP_TOKEN", TOKEN),
        ],
    );
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(pay_with_the_library(&server));
    pay_with_the_cli(&server);
}
