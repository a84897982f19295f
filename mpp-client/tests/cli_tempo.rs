//! The `mpp` binary paying `tempo/charge` for real on a local Tempo chain: the
//! reference server (the `mpp-server` binary, its `/paid-tempo` routes) is paid in
//! pull and push mode within `--max-amount`, refused over it, and shown in people's
//! units by `mpp inspect`; a bad key file, an unknown token or an unreachable node
//! is refused before anything is paid.
//!
//! The reference server runs as a process: `mpp-reference-server` dev-depends on
//! this crate, so this crate cannot depend on it (D18). Its binary is built by
//! `cargo build` on first use, at the profile of this test.
#![cfg(feature = "cli")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use mpp_test_support::process::ServerProcess;
use mpp_test_support::tempo::{self, DEV_KEYS, PATH_USD, TempoChain};
use serde_json::Value;

const CHAIN_ID: u64 = 42431;
/// The reference server's price for `/paid-tempo`: 0.01 pathUSD.
const PRICE: u128 = 10_000;
/// The payer: the second development account (the first pays the chain's setup).
const PAYER: (&str, &str) = DEV_KEYS[1];

/// The `mpp-server` binary, built once per run of this test binary at its profile.
fn reference_server_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test binary");
        // target/<profile>/deps/<test>: build at the same profile.
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test binary is in target/<profile>/deps");
        let mut command = Command::new(env!("CARGO"));
        // What cargo sets for this test's run would make build scripts (ring's) see
        // another environment and rebuild, here and again in the next `cargo test`.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("CARGO_PKG_")
                || name.starts_with("CARGO_BIN_")
                || name.starts_with("CARGO_MANIFEST_")
                || [
                    "CARGO_CRATE_NAME",
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_TARGET_TMPDIR",
                    "CARGO_RUSTC_CURRENT_DIR",
                    "OUT_DIR",
                ]
                .contains(&name.as_ref())
            {
                command.env_remove(name.as_ref());
            }
        }
        command.args([
            "build",
            "-p",
            "mpp-reference-server",
            "--bin",
            "mpp-server",
            "--message-format",
            "json-render-diagnostics",
        ]);
        match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => {}
            Some("release") => {
                command.arg("--release");
            }
            Some(other) => {
                command.args(["--profile", other]);
            }
        }
        let out = command
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stderr(Stdio::inherit())
            .output()
            .expect("cannot run cargo");
        assert!(out.status.success(), "cargo build of mpp-server failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo names the mpp-server executable")
    })
}

/// The reference server paid on `chain`, to `recipient`.
fn reference_server(chain: &TempoChain, recipient: &str, name: &str) -> ServerProcess {
    let state = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-tempo-{name}-{}.sqlite3", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", state.display()));
    }
    let mut command = Command::new(reference_server_binary());
    command
        .args(["--listen", "127.0.0.1:0"])
        .args(["--secret", "a-reference-secret-of-at-least-32-bytes"])
        .args(["--preimage", "s3cret"])
        .arg("--sqlite")
        .arg(&state)
        .args(["--tempo-rpc", &chain.rpc_url()])
        .args(["--tempo-recipient", recipient])
        .env_remove("MPP_REDIS_URL");
    ServerProcess::start(command, Duration::from_secs(30))
}

/// A key file holding `key`, with `mode` permissions (Unix).
fn key_file(name: &str, key: &str, mode: u32) -> PathBuf {
    let path =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}.key", std::process::id()));
    std::fs::write(&path, format!("{key}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = mode;
    path
}

/// Runs `mpp ARGS` with `env` and no other secret in its environment.
fn mpp(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mpp"));
    command
        .args(args)
        .env_remove("MPP_PREIMAGE")
        .env_remove("MPP_TOKEN")
        .env_remove("MPP_TEMPO_KEY")
        .env_remove("MPP_TEMPO_RPC")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    command.output().expect("cannot run mpp")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn assert_exit(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "expected exit {code}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        stdout(o),
        stderr(o)
    );
}

/// Neither output shows the payer's key, with or without `0x`.
#[track_caller]
fn assert_no_key(o: &Output) {
    let key = PAYER.1.trim_start_matches("0x");
    for (name, text) in [("stdout", stdout(o)), ("stderr", stderr(o))] {
        assert!(!text.contains(key), "{name} shows the key:\n{text}");
    }
}

#[test]
fn mpp_get_pays_the_reference_server_in_pull_and_push_mode() {
    let Some(anvil) = tempo::anvil_or_skip("mpp_get_pays_the_reference_server") else {
        return;
    };
    let chain = TempoChain::start(&anvil, CHAIN_ID);
    let recipient = "0x00000000000000000000000000000000000c1101";
    let server = reference_server(&chain, recipient, "pays");
    let url = server.url("/paid-tempo");
    let rpc = chain.rpc_url();
    let balance = || chain.token_balance(PATH_USD, recipient).unwrap();
    let key = key_file("cli-tempo-payer", PAYER.1, 0o600);
    let key = key.to_str().unwrap();

    // Pull (the default): the server broadcasts the signed transaction.
    let out = mpp(
        &[
            "get",
            &url,
            "--tempo-key-file",
            key,
            "--tempo-rpc",
            &rpc,
            "--max-amount",
            "10000:pathUSD",
            "--json",
        ],
        &[],
    );
    assert_exit(&out, 0);
    assert_no_key(&out);
    assert!(
        !stderr(&out).contains("warning"),
        "a 0600 key file is not warned about: {}",
        stderr(&out)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], 200, "{report}");
    assert_eq!(report["payment"]["method"], "tempo");
    assert_eq!(report["payment"]["amount"], "10000");
    assert_eq!(report["payment"]["currency"], PATH_USD);
    assert_eq!(report["payment"]["display"], "0.01 pathUSD");
    assert!(report["receipt"].is_object(), "{report}");
    assert_eq!(balance(), PRICE, "the recipient got the price");

    // Push, key and node from the environment: mpp broadcasts, the server checks
    // the hash. `-v` shows the amounts in people's units.
    let out = mpp(
        &[
            "get",
            &url,
            "--method",
            "tempo",
            "--tempo-mode",
            "push",
            "--max-amount",
            "10000:PATHUSD",
            "-v",
        ],
        &[("MPP_TEMPO_KEY", PAYER.1), ("MPP_TEMPO_RPC", &rpc)],
    );
    assert_exit(&out, 0);
    assert_no_key(&out);
    let err = stderr(&out);
    assert!(
        err.contains("per request at most: 10000 (0.01 pathUSD)"),
        "{err}"
    );
    assert!(
        err.contains("chosen: tempo/charge for 10000 (0.01 pathUSD)"),
        "{err}"
    );
    assert!(err.contains("\"type\": \"<redacted>\""), "{err}");
    assert_eq!(balance(), 2 * PRICE, "the recipient got the price again");

    // Over the cap: refused, nothing paid, not even a fee.
    let payer_before = chain.token_balance(PATH_USD, PAYER.0).unwrap();
    let out = mpp(
        &[
            "get",
            &url,
            "--tempo-key-file",
            key,
            "--tempo-rpc",
            &rpc,
            "--max-amount",
            "9999:pathUSD",
        ],
        &[],
    );
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("nothing was paid"), "{err}");
    assert!(err.contains("above your --max-amount"), "{err}");
    assert_eq!(balance(), 2 * PRICE, "over the cap: nothing paid");
    assert_eq!(
        chain.token_balance(PATH_USD, PAYER.0).unwrap(),
        payer_before,
        "over the cap: the payer spent nothing"
    );

    // A recipient outside --tempo-recipient: the payer refuses before signing.
    let out = mpp(
        &[
            "get",
            &url,
            "--tempo-key-file",
            key,
            "--tempo-rpc",
            &rpc,
            "--tempo-recipient",
            "0x00000000000000000000000000000000000c9999",
            "--max-amount",
            "10000:pathUSD",
        ],
        &[],
    );
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("not one this payer pays"),
        "{}",
        stderr(&out)
    );
    assert_eq!(balance(), 2 * PRICE, "another recipient: nothing paid");
}

/// A JSON-RPC proxy to `node` that passes every call on, but answers a broadcast
/// (`eth_sendRawTransactionSync`) with a 502 once the node has it: the network
/// failing after the transaction went out. Served by its own runtime thread.
fn proxy_losing_broadcast_answers(node: String) -> String {
    use axum::body::Bytes;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    let forward = move |body: Bytes| {
        let node = node.clone();
        async move {
            let method = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["method"].as_str().map(str::to_owned));
            let answer = reqwest::Client::new()
                .post(&node)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            let answer = match answer {
                Ok(r) => r.bytes().await.unwrap_or_default(),
                Err(_) => return StatusCode::BAD_GATEWAY.into_response(),
            };
            if method.as_deref() == Some("eth_sendRawTransactionSync") {
                return StatusCode::BAD_GATEWAY.into_response();
            }
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                answer,
            )
                .into_response()
        }
    };
    let app = axum::Router::new().route("/", axum::routing::post(forward));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    let addr = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    format!("http://{addr}/")
}

#[test]
fn a_push_whose_outcome_is_unknown_names_its_transaction() {
    let Some(anvil) = tempo::anvil_or_skip("a_push_whose_outcome_is_unknown") else {
        return;
    };
    let chain = TempoChain::start(&anvil, CHAIN_ID);
    let recipient = "0x00000000000000000000000000000000000c1103";
    let server = reference_server(&chain, recipient, "unknown");
    let proxy = proxy_losing_broadcast_answers(chain.rpc_url());
    let key = key_file("cli-tempo-unknown", PAYER.1, 0o600);

    let out = mpp(
        &[
            "get",
            &server.url("/paid-tempo"),
            "--tempo-key-file",
            key.to_str().unwrap(),
            "--tempo-rpc",
            &proxy,
            "--tempo-mode",
            "push",
            "--max-amount",
            "10000:pathUSD",
            "--json",
        ],
        &[],
    );
    assert_exit(&out, 5);
    assert_no_key(&out);
    let err = stderr(&out);
    assert!(!err.contains("nothing was paid"), "{err}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["error"]["kind"], "unknown-outcome", "{report}");
    assert_eq!(report["payment"]["display"], "0.01 pathUSD", "{report}");
    // The hash printed is the transaction's, which did reach the chain.
    let message = report["error"]["message"].as_str().unwrap();
    assert!(err.contains(message), "{err}");
    let at = message.find("transaction 0x").expect("the hash is named") + "transaction ".len();
    let hash = &message[at..at + 66];
    let mut receipt = Value::Null;
    for _ in 0..50 {
        receipt = chain
            .rpc("eth_getTransactionReceipt", serde_json::json!([hash]))
            .unwrap();
        if !receipt.is_null() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(receipt["status"], "0x1", "{hash}: {receipt}");
    assert_eq!(chain.token_balance(PATH_USD, recipient).unwrap(), PRICE);
}

#[test]
fn mpp_inspect_shows_tempo_terms_in_the_tokens_units() {
    let Some(anvil) = tempo::anvil_or_skip("mpp_inspect_shows_tempo_terms") else {
        return;
    };
    let chain = TempoChain::start(&anvil, CHAIN_ID);
    let recipient = "0x00000000000000000000000000000000000c1102";
    let server = reference_server(&chain, recipient, "inspect");
    let url = server.url("/paid-tempo");

    let out = mpp(&["inspect", &url], &[]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("tempo/charge: 10000 (0.01 pathUSD)"),
        "{text}"
    );
    for row in [
        "amount       10000 (0.01 pathUSD)",
        "token        pathUSD (0x20c0000000000000000000000000000000000000, 6 decimals)",
        &format!("recipient    {recipient}"),
        "chain id     42431",
        "modes        pull, push",
        "fee payer    the payer pays the transaction fees",
    ] {
        assert!(text.contains(row), "{row:?} missing:\n{text}");
    }

    let out = mpp(&["inspect", &url, "--json"], &[]);
    assert_exit(&out, 0);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tempo = report["challenges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["method"] == "tempo")
        .unwrap_or_else(|| panic!("a tempo challenge: {report}"));
    // The existing members are unchanged; `terms` is added.
    assert_eq!(tempo["amount"], "10000");
    assert_eq!(tempo["currency"], PATH_USD);
    let terms = &tempo["terms"];
    assert_eq!(terms["display"], "0.01 pathUSD", "{terms}");
    assert_eq!(terms["token"]["symbol"], "pathUSD");
    assert_eq!(terms["token"]["decimals"], 6);
    assert_eq!(terms["recipient"], recipient);
    assert_eq!(terms["chainId"], CHAIN_ID);
    assert_eq!(terms["modes"], serde_json::json!(["pull", "push"]));
    assert_eq!(terms["feePayer"], false);
    assert_eq!(terms["splits"], serde_json::json!([]));
}

/// Refusals that need no chain: each before any request is sent.
#[test]
fn bad_tempo_options_are_refused_clearly() {
    let url = "http://127.0.0.1:9/paid-tempo";
    // A closed port: nothing listens there.
    let closed = "http://127.0.0.1:9";
    let good_key = key_file("cli-tempo-good", PAYER.1, 0o600);
    let good_key = good_key.to_str().unwrap();
    let base = |key: &str| {
        vec![
            "get".to_owned(),
            url.to_owned(),
            "--tempo-key-file".to_owned(),
            key.to_owned(),
            "--tempo-rpc".to_owned(),
            closed.to_owned(),
            "--max-amount".to_owned(),
            "10000:pathUSD".to_owned(),
        ]
    };
    let run = |args: Vec<String>, env: &[(&str, &str)]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        mpp(&args, env)
    };

    // A missing key file.
    let out = run(base("/nonexistent/tempo.key"), &[]);
    assert_exit(&out, 64);
    assert!(
        stderr(&out).contains("cannot read --tempo-key-file /nonexistent/tempo.key"),
        "{}",
        stderr(&out)
    );

    // A file that is not a key: refused, its content never shown.
    let secretish = "not-a-key-but-private-9f3e1c";
    let not_a_key = key_file("cli-tempo-not-a-key", secretish, 0o600);
    let out = run(base(not_a_key.to_str().unwrap()), &[]);
    assert_exit(&out, 64);
    let err = stderr(&out);
    assert!(err.contains("does not hold a private key"), "{err}");
    assert!(
        !err.contains(secretish),
        "the file's content is shown: {err}"
    );

    // No key at all.
    let out = mpp(
        &[
            "get",
            url,
            "--method",
            "tempo",
            "--tempo-rpc",
            closed,
            "--max-amount",
            "1:pathUSD",
        ],
        &[],
    );
    assert_exit(&out, 64);
    assert!(
        stderr(&out).contains("--tempo-key-file FILE"),
        "{}",
        stderr(&out)
    );

    // An unknown token name.
    let mut args = base(good_key);
    args.extend(["--tempo-token".into(), "DOGE".into()]);
    let out = run(args, &[]);
    assert_exit(&out, 64);
    assert!(
        stderr(&out).contains("\"DOGE\" is not a token mpp knows"),
        "{}",
        stderr(&out)
    );

    // No token to pay in: a cap must exist.
    let out = mpp(
        &[
            "get",
            url,
            "--tempo-key-file",
            good_key,
            "--tempo-rpc",
            closed,
            "--max-amount",
            "1000:usd",
        ],
        &[],
    );
    assert_exit(&out, 64);
    assert!(
        stderr(&out).contains("--max-amount AMOUNT:TOKEN"),
        "{}",
        stderr(&out)
    );

    // The node unreachable: a network error, as for the Lightning test network.
    let out = run(base(good_key), &[]);
    assert_exit(&out, 4);
    let err = stderr(&out);
    assert!(err.contains("cannot reach the Tempo node"), "{err}");
    assert!(!err.contains("warning"), "{err}");
    assert_no_key(&out);

    // A key file others can read is warned about (and still used).
    #[cfg(unix)]
    {
        let open_key = key_file("cli-tempo-open", PAYER.1, 0o644);
        let out = run(base(open_key.to_str().unwrap()), &[]);
        assert_exit(&out, 4);
        let err = stderr(&out);
        assert!(
            err.contains("warning: --tempo-key-file") && err.contains("chmod 600"),
            "{err}"
        );
        assert_no_key(&out);
    }

    // A tempo flag with other methods chosen explicitly.
    let out = mpp(
        &[
            "get",
            url,
            "--method",
            "preimage",
            "--preimage",
            "x",
            "--tempo-mode",
            "push",
            "--max-amount",
            "1:usd",
        ],
        &[],
    );
    assert_exit(&out, 64);
    assert!(stderr(&out).contains("--method tempo"), "{}", stderr(&out));
}

#[test]
fn help_documents_the_tempo_flags() {
    let out = mpp(&["get", "--help"], &[]);
    assert_exit(&out, 0);
    let help = stdout(&out);
    for flag in [
        "--tempo-key-file",
        "--tempo-rpc",
        "--tempo-mode",
        "--tempo-token",
        "--tempo-recipient",
        "MPP_TEMPO_KEY",
        "MPP_TEMPO_RPC",
        "10000:pathUSD",
    ] {
        assert!(
            help.contains(flag),
            "{flag} missing from `mpp get --help`:\n{help}"
        );
    }
}
