//! The `mpp` binary against a paywalled axum app served in this process (mpp-server's
//! paywall with the `preimage` and `token` test methods): what it prints, what it
//! pays, and its exit statuses.
#![cfg(feature = "cli")]

use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get as route_get, post};
use mpp_core::binding::{ChallengeBinder, Secret};
use mpp_core::challenge::ChallengeBuilder;
use mpp_core::credential::Credential;
use mpp_core::json::JsonObject;
use mpp_core::time::{Timestamp, UnixTime};
use mpp_methods::preimage::Preimage;
use mpp_methods::token::Token;
use mpp_server::{ChargeOffer, PaidRoute, PaywallLayer, VerifiedPayment};
use serde_json::Value;

const SECRET: &[u8] = b"mpp-cli-test-secret-at-least-32-bytes!!";
const PREIMAGE: &str = "cli-test-preimage-d41d8cd98f";
const TOKEN: &str = "cli-test-token-8f00b204e98";

/// The paywalled app, on a loopback port, served by its own runtime thread.
struct App {
    base: String,
    /// How many times a paid handler ran.
    runs: Arc<AtomicU64>,
}

impl App {
    fn start() -> App {
        let runs = Arc::new(AtomicU64::new(0));
        let preimage = || {
            ChargeOffer::new(
                Arc::new(Preimage),
                Preimage::request("1000", "usd", "acct_cli", PREIMAGE),
            )
        };
        let token = || {
            ChargeOffer::new(
                Arc::new(Token::new(TOKEN)),
                Token::request("1000", "usd", "acct_cli"),
            )
        };
        let paywall = PaywallLayer::builder(SECRET, "cli.test")
            .unwrap()
            .route(PaidRoute::new(http::Method::GET, "/paid").offer(preimage()))
            .route(PaidRoute::new(http::Method::POST, "/paid-post").offer(preimage()))
            .route(
                PaidRoute::new(http::Method::GET, "/paid-multi")
                    .offer(preimage())
                    .offer(token()),
            )
            .route(PaidRoute::new(http::Method::GET, "/paid-fails").offer(preimage()))
            .build()
            .unwrap();
        let counted = |runs: &Arc<AtomicU64>, body: &'static str| {
            let runs = runs.clone();
            move |_: VerifiedPayment| async move {
                runs.fetch_add(1, Ordering::SeqCst);
                body
            }
        };
        let post_runs = runs.clone();
        let fail_runs = runs.clone();
        let app = Router::new()
            .route("/free", route_get(|| async { "free body" }))
            .route("/paid", route_get(counted(&runs, "paid body")))
            .route("/paid-multi", route_get(counted(&runs, "multi body")))
            .route(
                "/paid-post",
                post(move |_: VerifiedPayment, body: Bytes| async move {
                    post_runs.fetch_add(1, Ordering::SeqCst);
                    format!("received {}", String::from_utf8_lossy(&body))
                }),
            )
            .route(
                "/paid-fails",
                route_get(move |_: VerifiedPayment| async move {
                    fail_runs.fetch_add(1, Ordering::SeqCst);
                    (StatusCode::INTERNAL_SERVER_ERROR, "boom")
                }),
            )
            .route("/mixed", route_get(mixed_402))
            .route("/binary", route_get(|| async { vec![0xffu8, 0x00, 0xfe] }))
            .layer(paywall);

        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        let addr: SocketAddr = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        App {
            base: format!("http://{addr}"),
            runs,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn runs(&self) -> u64 {
        self.runs.load(Ordering::SeqCst)
    }
}

/// A 402 offering a Bearer challenge, a Payment challenge and a Basic one.
async fn mixed_402() -> (StatusCode, HeaderMap) {
    let mut headers = HeaderMap::new();
    let payment = challenge_header();
    headers.append(
        "www-authenticate",
        HeaderValue::from_static(r#"Bearer realm="api", scope="read""#),
    );
    headers.append(
        "www-authenticate",
        HeaderValue::from_str(&format!("{payment}, Basic realm=\"x\"")).unwrap(),
    );
    (StatusCode::PAYMENT_REQUIRED, headers)
}

/// A valid challenge issued outside the app (never payable there).
fn challenge_header() -> String {
    challenge().to_header().unwrap()
}

fn challenge() -> mpp_core::challenge::Challenge<'static> {
    let binder = ChallengeBinder::new(Secret::new(*b"a 32-byte secret for decode test").unwrap());
    let request = Token::request("2500", "eur", "acct_decode");
    let expires = Timestamp::from_unix(UnixTime::from_secs(4_102_444_800)).unwrap(); // 2100-01-01
    ChallengeBuilder::new("decode.test", "token", "charge", &request)
        .unwrap()
        .expires(expires)
        .issue(&binder)
        .unwrap()
        .into_owned()
}

/// Runs `mpp ARGS` with no secret in its environment, and `stdin` on its stdin.
fn mpp_with_stdin(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mpp"));
    command
        .args(args)
        .env_remove("MPP_PREIMAGE")
        .env_remove("MPP_TOKEN")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = command.spawn().expect("cannot run mpp");
    if let Some(input) = stdin {
        use std::io::Write;
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn mpp(args: &[&str]) -> Output {
    mpp_with_stdin(args, None)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts the exit status, showing both outputs when it differs.
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

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {}", stdout(o)))
}

const PAY: [&str; 6] = [
    "--method",
    "preimage",
    "--preimage",
    PREIMAGE,
    "--max-amount",
    "1000:usd",
];

fn get(url: &str, extra: &[&str]) -> Output {
    let mut args = vec!["get", url, "--timeout", "20"];
    args.extend(extra);
    mpp(&args)
}

fn paying(url: &str, extra: &[&str]) -> Output {
    let mut args = PAY.to_vec();
    args.extend(extra);
    get(url, &args)
}

#[test]
fn a_paid_get_prints_the_body_and_exits_0() {
    let app = App::start();
    let out = paying(&app.url("/paid"), &[]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "paid body", "the body, as is");
    assert_eq!(app.runs(), 1);

    let out = paying(&app.url("/paid"), &["--json"]);
    assert_exit(&out, 0);
    let v = json(&out);
    assert_eq!(v["status"], 200, "{v}");
    assert_eq!(v["body"], "paid body");
    assert_eq!(v["bodyEncoding"], "utf-8");
    assert_eq!(v["error"], Value::Null);
    assert_eq!(v["exitCode"], 0);
    assert_eq!(v["receipt"]["method"], "preimage");
    assert_eq!(v["receipt"]["status"], "success");
    assert_eq!(v["payment"]["method"], "preimage");
    assert_eq!(v["payment"]["amount"], "1000");
    assert_eq!(v["payment"]["currency"], "usd");
    let id = v["payment"]["challengeId"].as_str().unwrap();
    assert!(!id.is_empty());
    assert_eq!(
        v["receipt"]["challengeId"], id,
        "the receipt names the challenge paid"
    );
    assert!(v["headers"]["payment-receipt"][0].is_string(), "{v}");
    assert_eq!(app.runs(), 2);
}

#[test]
fn a_free_get_pays_nothing_and_a_404_exits_6() {
    let app = App::start();
    let out = get(&app.url("/free"), &["--json"]);
    assert_exit(&out, 0);
    let v = json(&out);
    assert_eq!(v["body"], "free body");
    assert_eq!(v["payment"], Value::Null);
    assert_eq!(v["receipt"], Value::Null);

    // A body that is not UTF-8 is base64 in the JSON report, and as is otherwise.
    let v = json(&get(&app.url("/binary"), &["--json"]));
    assert_eq!(v["body"], "/wD+");
    assert_eq!(v["bodyEncoding"], "base64");
    assert_eq!(get(&app.url("/binary"), &[]).stdout, [0xff, 0x00, 0xfe]);

    let out = get(&app.url("/nowhere"), &[]);
    assert_exit(&out, 6);
    assert!(stderr(&out).contains("404"), "{}", stderr(&out));
}

#[test]
fn a_paid_post_sends_its_body_from_data_or_a_file() {
    let app = App::start();
    // -d makes it a POST; the body is sent again, identical, with the credential.
    let out = paying(&app.url("/paid-post"), &["-d", r#"{"item":1}"#]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), r#"received {"item":1}"#);

    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("mpp-cli-body-{}.bin", std::process::id()));
    std::fs::write(&file, b"from a file\n").unwrap();
    let out = paying(
        &app.url("/paid-post"),
        &["-X", "POST", "--data-file", file.to_str().unwrap()],
    );
    let _ = std::fs::remove_file(&file);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "received from a file\n");

    let url = app.url("/paid-post");
    let mut args = vec!["get", url.as_str(), "--data-file", "-"];
    args.extend(PAY);
    let out = mpp_with_stdin(&args, Some(b"from stdin"));
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "received from stdin");
    assert_eq!(app.runs(), 3);
}

#[test]
fn the_spending_policy_refuses_with_exit_2() {
    let app = App::start();
    // Above the per-request cap.
    let out = get(
        &app.url("/paid"),
        &["--preimage", PREIMAGE, "--max-amount", "999:usd"],
    );
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("above the per-request cap 999"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&out), "", "nothing on stdout");

    // No cap for the challenge's currency (only for another one).
    let out = get(
        &app.url("/paid"),
        &["--preimage", PREIMAGE, "--max-amount", "5000:eur", "--json"],
    );
    assert_exit(&out, 2);
    let v = json(&out);
    assert_eq!(v["status"], 402);
    assert_eq!(v["error"]["kind"], "refused");
    assert_eq!(v["payment"], Value::Null);
    assert!(
        v["error"]["hints"][0]
            .as_str()
            .unwrap()
            .contains("--max-amount AMOUNT:usd"),
        "{v}"
    );

    // No --max-amount at all.
    let out = get(&app.url("/paid"), &["--preimage", PREIMAGE]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("usd"), "{}", stderr(&out));

    // The budget is spent before the cap is reached.
    let out = get(
        &app.url("/paid"),
        &[
            "--preimage",
            PREIMAGE,
            "--max-amount",
            "1000:usd",
            "--budget",
            "500:usd",
        ],
    );
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("budget"), "{}", stderr(&out));

    // No method for the offer.
    let out = get(&app.url("/paid"), &["--max-amount", "1000:usd"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("--method preimage"),
        "{}",
        stderr(&out)
    );

    // The method refuses: this preimage does not hash to the challenge's hash.
    let out = get(
        &app.url("/paid"),
        &["--preimage", "not-the-preimage", "--max-amount", "1000:usd"],
    );
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("payment method failed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(app.runs(), 0, "no handler ran");
}

#[test]
fn a_rejected_payment_exits_3() {
    let app = App::start();
    let out = get(
        &app.url("/paid-multi"),
        &[
            "--method",
            "token",
            "--token",
            "not-the-token",
            "--max-amount",
            "1000:usd",
            "--json",
        ],
    );
    assert_exit(&out, 3);
    let v = json(&out);
    assert_eq!(v["error"]["kind"], "rejected", "{v}");
    assert_eq!(v["status"], 402);
    assert!(
        v["error"]["problem"]["type"]
            .as_str()
            .unwrap()
            .ends_with("verification-failed"),
        "{v}"
    );
    assert_eq!(v["payment"]["method"], "token");
    assert!(stderr(&out).contains("rejected"), "{}", stderr(&out));
    assert!(!stdout(&out).contains("not-the-token"), "{}", stdout(&out));
    assert_eq!(app.runs(), 0);
}

#[test]
fn a_5xx_after_paying_is_an_unknown_outcome_exit_5() {
    let app = App::start();
    let out = paying(&app.url("/paid-fails"), &["--json"]);
    assert_exit(&out, 5);
    let v = json(&out);
    assert_eq!(v["error"]["kind"], "unknown-outcome", "{v}");
    assert_eq!(v["status"], 500);
    assert_eq!(v["payment"]["amount"], "1000");
    assert_eq!(app.runs(), 1, "paid once, not retried");
}

#[test]
fn a_closed_port_is_a_network_error_exit_4() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/paid");
    let out = paying(&url, &[]);
    assert_exit(&out, 4);
    assert!(stderr(&out).contains("network error"), "{}", stderr(&out));

    let out = paying(&url, &["--json"]);
    assert_exit(&out, 4);
    let v = json(&out);
    assert_eq!(v["error"]["kind"], "network");
    assert_eq!(v["status"], Value::Null);

    let out = mpp(&["inspect", &url]);
    assert_exit(&out, 4);
}

#[test]
fn verbose_shows_the_decoded_exchange_but_never_the_secret() {
    let app = App::start();
    let out = paying(&app.url("/paid"), &["-v"]);
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert_eq!(stdout(&out), "paid body", "-v writes to stderr only");
    // The challenges offered (by the probe) and the one chosen, decoded.
    assert!(err.contains("[1] Payment challenge: valid"), "{err}");
    assert!(err.contains("method       preimage"), "{err}");
    assert!(err.contains(r#""amount": "1000""#), "{err}");
    assert!(
        err.contains("chosen: preimage/charge for 1000 usd"),
        "{err}"
    );
    // The credential, with its payload redacted.
    assert!(err.contains("Payment credential: valid"), "{err}");
    assert!(err.contains(r#""preimage": "<redacted>""#), "{err}");
    // The receipt, decoded, its reference redacted.
    assert!(err.contains("Payment receipt: valid"), "{err}");
    assert!(err.contains("reference    <redacted>"), "{err}");
    assert!(!err.contains(PREIMAGE), "the preimage leaked:\n{err}");

    let out = get(
        &app.url("/paid-multi"),
        &["--token", TOKEN, "--max-amount", "1000:usd", "-vv"],
    );
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(err.contains("chosen: token/charge"), "{err}");
    assert!(!err.contains(TOKEN), "the token leaked:\n{err}");

    // A POST is not sent twice: the offers are not probed.
    let out = paying(&app.url("/paid-post"), &["-d", "x", "-v"]);
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("offers: not listed for POST"));
    assert!(!stderr(&out).contains(PREIMAGE));
}

#[test]
fn inspect_lists_every_challenge_without_paying() {
    let app = App::start();
    let out = mpp(&["inspect", &app.url("/paid-multi")]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("402 Payment Required"), "{text}");
    assert!(text.contains("2 challenges offered"), "{text}");
    assert!(text.contains("[1] Payment challenge: valid"), "{text}");
    assert!(text.contains("[2] Payment challenge: valid"), "{text}");
    assert!(text.contains("method       preimage"), "{text}");
    assert!(text.contains("method       token"), "{text}");
    assert!(text.contains("nothing was paid"), "{text}");

    let out = mpp(&["inspect", &app.url("/paid-multi"), "--json"]);
    assert_exit(&out, 0);
    let v = json(&out);
    assert_eq!(v["status"], 402);
    assert_eq!(v["paymentRequired"], true);
    let list = v["challenges"].as_array().unwrap();
    let methods: Vec<&str> = list.iter().map(|c| c["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["preimage", "token"]);
    for c in list {
        assert_eq!(c["valid"], true);
        assert_eq!(c["amount"], "1000");
        assert_eq!(c["currency"], "usd");
        assert_eq!(c["expired"], false);
    }
    assert_eq!(app.runs(), 0, "inspect never pays: the handler never ran");

    // Other schemes are listed too.
    let out = mpp(&["inspect", &app.url("/mixed")]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("[1] Bearer challenge"), "{text}");
    assert!(text.contains("[2] Payment challenge: valid"), "{text}");
    assert!(text.contains("[3] Basic challenge"), "{text}");
    let v = json(&mpp(&["inspect", &app.url("/mixed"), "--json"]));
    let schemes: Vec<&str> = v["challenges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["scheme"].as_str().unwrap())
        .collect();
    assert_eq!(schemes, ["Bearer", "Payment", "Basic"]);

    // A free resource asks for nothing.
    let out = mpp(&["inspect", &app.url("/free")]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("200 OK"));
}

#[test]
fn decode_explains_challenges_credentials_and_receipts() {
    let challenge = challenge();
    let header = challenge.to_header().unwrap();
    let out = mpp(&["decode", &header]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("[1] Payment challenge: valid"), "{text}");
    assert!(text.contains(r#""amount": "2500""#), "{text}");
    assert!(text.contains("realm        decode.test"), "{text}");

    let mut payload = JsonObject::new();
    payload.insert("token".into(), "sekrit-token-value".into());
    let credential =
        Credential::answer(&challenge, payload, Some("did:example:payer".into())).to_header();
    let out = mpp(&["decode", &credential]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.starts_with("Payment credential: valid"), "{text}");
    assert!(
        !text.contains("sekrit") && !text.contains("did:example"),
        "{text}"
    );
    let out = mpp(&[
        "decode",
        "--reveal",
        &format!("Authorization: {credential}"),
    ]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("sekrit-token-value"),
        "{}",
        stdout(&out)
    );

    let receipt = mpp_core::base64::encode(
        br#"{"method":"token","reference":"ref-42","status":"success","timestamp":"2026-01-29T12:00:00Z"}"#,
    );
    let out = mpp(&["decode", &receipt]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.starts_with("Payment receipt: valid"), "{text}");
    assert!(!text.contains("ref-42"), "{text}");
    let out = mpp_with_stdin(
        &["decode", "--reveal", "-"],
        Some(format!("Payment-Receipt: {receipt}\n").as_bytes()),
    );
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("ref-42"), "{}", stdout(&out));

    let out = mpp(&["decode", "--kind", "credential", "Payment !!!"]);
    assert_exit(&out, 1);
    assert!(stdout(&out).contains("invalid"), "{}", stdout(&out));
}

#[test]
fn usage_errors_exit_64() {
    let url = "http://127.0.0.1:9/x";
    let cases: &[(&[&str], &str)] = &[
        (&["get", url, "--method", "preimage"], "--preimage"),
        (&["get", url, "--method", "token"], "--token"),
        (
            &[
                "get",
                url,
                "--method",
                "token",
                "--preimage",
                "p",
                "--token",
                "t",
            ],
            "--method preimage",
        ),
        (&["get", url, "--max-amount", "10.5:usd"], "integer"),
        (&["get", url, "--max-amount", "1e3:usd"], "integer"),
        (&["get", url, "--max-amount", "-5:usd"], "integer"),
        (&["get", url, "--max-amount", "1000"], "AMOUNT:CURRENCY"),
        (&["get", url, "--budget", "abc:usd"], "integer"),
        (&["get", url, "--budget", "10:usd"], "--max-amount"),
        (
            &["get", url, "--max-amount", "1:usd", "--max-amount", "2:USD"],
            "twice",
        ),
        (
            &["get", url, "-d", "a", "--data-file", "b"],
            "cannot be used",
        ),
        (
            &["get", url, "--data-file", "/nonexistent/mpp-body"],
            "--data-file",
        ),
        (&["get", url, "--method", "bitcoin"], "bitcoin"),
        (&["get", url, "-H", "no colon"], "Name: value"),
        (&["get", url, "--timeout", "0"], "timeout"),
        (&["get", url, "--allow-origin", "https://x/path"], "origin"),
        (&["get", "ftp://example.com/"], "scheme"),
        (&["get", "not a url"], "invalid URL"),
        (&["get"], "URL"),
        (&["inspect"], "URL"),
        (&["decode"], "HEADER"),
        (&["frobnicate"], "frobnicate"),
        (&[], "Usage"),
    ];
    for (args, needle) in cases {
        let out = mpp(args);
        assert_exit(&out, 64);
        assert!(
            stderr(&out).contains(needle),
            "mpp {args:?}: stderr lacks {needle:?}:\n{}",
            stderr(&out)
        );
    }

    // --help documents the exit statuses and succeeds.
    for args in [&["--help"][..], &["get", "--help"]] {
        let out = mpp(args);
        assert_exit(&out, 0);
        let text = stdout(&out);
        assert!(text.contains("Exit status:"), "{text}");
        for code in ["  2 ", "  3 ", "  4 ", "  5 ", "  6 ", "  64 "] {
            assert!(text.contains(code), "{code:?} missing:\n{text}");
        }
    }
    let out = mpp(&["get", "--help"]);
    assert!(stdout(&out).contains("Examples:"));
}

#[test]
fn secrets_can_come_from_the_environment() {
    let app = App::start();
    let out = Command::new(env!("CARGO_BIN_EXE_mpp"))
        .args(["get", &app.url("/paid"), "--method", "preimage"])
        .args(["--max-amount", "1000:usd", "--timeout", "20"])
        .env("MPP_PREIMAGE", PREIMAGE)
        .env_remove("MPP_TOKEN")
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "paid body");
}
