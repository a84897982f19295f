//! Interop with mppx, the TypeScript reference SDK: the reference server (the
//! `mpp-server` binary) is paid by mppx's client and checked by `mppx validate`.
//!
//! The TypeScript side is the harness in `conformance/interop/mppx` (see its README):
//! `pay.mjs` pays URLs with two toy methods (`preimage/charge`, `token/charge`) and
//! prints one JSON line per URL; `validate.mjs` runs `mppx validate` and exits
//! non-zero on any failing check. Its dependencies are installed by
//! `conformance/interop/mppx/setup`.
//!
//! Without `node` on PATH or without the harness's `node_modules`, the test is skipped
//! with a notice, unless `CI` is set: then it fails, so CI never skips it silently.
//!
//! `MPP_INTEROP_BASE_URL=http://127.0.0.1:PORT` points the test at a server that is
//! already running instead of starting the binary (the preimage and token are then
//! taken from `MPP_PREIMAGE` and `MPP_TOKEN`, defaulting to the harness's defaults).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use mpp_test_support::mppx::{self, node};
use mpp_test_support::process::ServerProcess;
use serde_json::Value;

/// The challenge-binding secret the server is started with (at least 32 bytes).
const SECRET: &str = "interop-mppx-test-secret-0123456789abcdef";
/// Not the harness's defaults, so the test shows the values really travel.
const PREIMAGE: &str = "mpp-reference-interop-preimage";
const TOKEN: &str = "mpp-reference-interop-token";
/// How long the server may take to print its address.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Starts the `mpp-server` binary on a free loopback port.
fn start_server() -> ServerProcess {
    // A state file of its own, in the build's temporary directory.
    let state = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("interop-{}.sqlite3", std::process::id()));
    let mut command = Command::new(env!("CARGO_BIN_EXE_mpp-server"));
    command
        .args(["--listen", "127.0.0.1:0", "--secret", SECRET])
        .arg("--sqlite")
        .arg(&state)
        .args(["--preimage", PREIMAGE, "--token", TOKEN]);
    let server = ServerProcess::start(command, STARTUP_TIMEOUT);
    assert!(
        server.base.starts_with("http://127.0.0.1:"),
        "mpp-server listens on {}, not on 127.0.0.1",
        server.base
    );
    server
}

/// Pays `paths` with `pay.mjs OPTIONS URL...` and checks that each ends 200 with a
/// successful receipt of `method`.
fn pay(
    dir: &Path,
    base: &str,
    (preimage, token): (&str, &str),
    options: &[&str],
    paths: &[&str],
    method: &str,
    server_log: &dyn Fn() -> String,
) {
    let urls: Vec<String> = paths.iter().map(|p| format!("{base}{p}")).collect();
    let mut args = vec!["pay.mjs"];
    args.extend(options);
    args.extend(urls.iter().map(String::as_str));
    let run = node(
        dir,
        &args,
        &[("MPP_PREIMAGE", preimage), ("MPP_TOKEN", token)],
    );
    let context = || format!("{}\n--- server stderr ---\n{}", run.report(), server_log());

    let lines: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(
        lines.len(),
        urls.len(),
        "expected one JSON line per URL\n{}",
        context()
    );
    for (url, line) in urls.iter().zip(lines) {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("pay.mjs printed {line:?}, not JSON ({e})\n{}", context()));
        let status = &v["status"];
        let body = v["body"].as_str().unwrap_or("<none>");
        let receipt = &v["receipt"];
        assert_eq!(v["url"].as_str(), Some(url.as_str()), "{}", context());
        assert!(
            status.as_u64() == Some(200),
            "{url}: status {status}, expected 200\nbody: {body}\nreceipt: {receipt}\n{}",
            context()
        );
        assert!(
            receipt.is_object(),
            "{url}: status 200 but no Payment-Receipt that mppx's Receipt.deserialize \
             accepts (see stderr)\nbody: {body}\n{}",
            context()
        );
        assert!(
            receipt["method"] == method && receipt["status"] == "success",
            "{url}: receipt {receipt}, expected method {method:?} and status \"success\"\n\
             body: {body}\n{}",
            context()
        );
    }
    assert!(
        run.success,
        "pay.mjs failed although every line looks right\n{}",
        context()
    );
}

#[test]
fn mppx_pays_and_validates_the_reference_server() {
    // req: core.receipt.status-success
    let Some(dir) = mppx::harness_or_skip("mppx_pays_and_validates_the_reference_server") else {
        return;
    };

    // Either an already-running server (for debugging the harness) or the binary.
    let external = std::env::var("MPP_INTEROP_BASE_URL").ok();
    let server = external.is_none().then(start_server);
    let (base, preimage, token) = match (&server, external) {
        (Some(server), _) => (server.base.clone(), PREIMAGE.to_owned(), TOKEN.to_owned()),
        (None, url) => (
            url.unwrap_or_default().trim_end_matches('/').to_owned(),
            std::env::var("MPP_PREIMAGE").unwrap_or_else(|_| "mppx-interop-preimage".into()),
            std::env::var("MPP_TOKEN").unwrap_or_else(|_| "mppx-interop-token".into()),
        ),
    };
    let secrets = (preimage.as_str(), token.as_str());
    let server_log = || match &server {
        Some(server) => server.stderr(),
        None => "<external server: not captured>".to_owned(),
    };

    // mppx's client pays the single-offer route and the two-offer route, picking the
    // preimage offer by default...
    pay(
        &dir,
        &base,
        secrets,
        &[],
        &["/paid", "/paid-multi"],
        "preimage",
        &server_log,
    );
    // ...and the token offer (the second one) when it prefers token via Accept-Payment.
    pay(
        &dir,
        &base,
        secrets,
        &["--prefer", "token"],
        &["/paid-multi"],
        "token",
        &server_log,
    );
    // ...and a POST whose body the challenge binds by `digest` (the reference
    // server's route; other servers need not have it).
    if server.is_some() {
        pay(
            &dir,
            &base,
            secrets,
            &["--data", r#"{"item":"interop"}"#],
            &["/paid-post"],
            "preimage",
            &server_log,
        );
    }

    // mppx's own server checker: discovery, challenges, error handling.
    let mut args = vec![
        "validate.mjs",
        "--expect",
        "GET:/paid",
        "--expect",
        "GET:/paid-multi",
    ];
    if server.is_some() {
        args.extend(["--expect", "POST:/paid-post"]);
    }
    args.push(&base);
    let run = node(&dir, &args, &[]);
    assert!(
        run.success,
        "mppx validate found problems with {base}\n{}\n--- server stderr ---\n{}",
        run.report(),
        server_log()
    );
}
