//! The `mpp` binary paying `stripe/charge`: a paywall served in this process
//! (mpp-server with `StripeCharge`) settles through the Stripe stand-in, which the
//! binary also mints its Shared Payment Tokens from. It pays once within
//! `--max-amount`, mints nothing over it, reports a declined card as the server's
//! rejection and an unreachable Stripe as a network error, refuses bad keys and
//! options before sending anything, and never shows the secret key.
#![cfg(feature = "cli")]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use mpp_methods::stripe::{StripeApi, StripeCharge, StripeSecretKey, StripeTerms};
use mpp_server::{ChargeOffer, PaidRoute, PaywallLayer, VerifiedPayment};
use mpp_test_support::stripe::{PM_DECLINED, PM_SUCCEEDS, StripeStandIn};
use serde_json::Value;

const SECRET: &[u8] = b"mpp-cli-stripe-test-secret-of-32+bytes";
/// The price: 5.00 usd, in cents.
const PRICE: u128 = 500;
/// The seller's Stripe Business Network profile named by the terms.
const NETWORK: &str = "profile_cli_test";
/// The test helper the payer mints from with a test-mode key.
const MINT: &str = "/v1/test_helpers/shared_payment/granted_tokens";
const INTENTS: &str = "/v1/payment_intents";

/// The paywalled app, on a loopback port, served by its own runtime thread:
/// `GET /paid-stripe` asks 500 usd by `stripe/charge`, settled through `stripe`.
struct Paywall {
    base: String,
    /// How many times the paid handler ran.
    runs: Arc<AtomicU64>,
}

impl Paywall {
    fn start(stripe: &StripeStandIn) -> Paywall {
        let key = StripeSecretKey::new(stripe.secret_key()).unwrap();
        let api = StripeApi::with_base(key, &stripe.base_url(), Duration::from_secs(5)).unwrap();
        let offer = ChargeOffer::new(
            Arc::new(StripeCharge::new(api)),
            StripeTerms::new(PRICE, "usd", NETWORK).to_request(),
        );
        let paywall = PaywallLayer::builder(SECRET, "cli-stripe.test")
            .unwrap()
            .route(PaidRoute::new(http::Method::GET, "/paid-stripe").offer(offer))
            .build()
            .unwrap();
        let runs = Arc::new(AtomicU64::new(0));
        let counted = runs.clone();
        let app = Router::new()
            .route(
                "/paid-stripe",
                get(move |_: VerifiedPayment| async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    "paid by card"
                }),
            )
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
        Paywall {
            base: format!("http://{addr}"),
            runs,
        }
    }

    fn url(&self) -> String {
        format!("{}/paid-stripe", self.base)
    }

    fn runs(&self) -> u64 {
        self.runs.load(Ordering::SeqCst)
    }
}

/// A file holding `text` and a newline, with `mode` permissions (Unix).
fn key_file(name: &str, text: &str, mode: u32) -> PathBuf {
    let path =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}.key", std::process::id()));
    std::fs::write(&path, format!("{text}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = mode;
    path
}

/// Runs `mpp ARGS` with `env` and no other secret or Stripe setting in its
/// environment.
fn mpp(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mpp"));
    command
        .args(args)
        .env_remove("MPP_PREIMAGE")
        .env_remove("MPP_TOKEN")
        .env_remove("MPP_STRIPE_KEY")
        .env_remove("MPP_STRIPE_API")
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

/// Neither output shows `secret`.
#[track_caller]
fn assert_not_shown(o: &Output, secret: &str) {
    for (name, text) in [("stdout", stdout(o)), ("stderr", stderr(o))] {
        assert!(!text.contains(secret), "{name} shows a secret:\n{text}");
    }
}

/// `get URL --stripe-key-file KEY --stripe-payment-method PM --stripe-api API`,
/// then `extra`.
fn get_args(url: &str, key: &str, pm: &str, api: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "get",
        url,
        "--stripe-key-file",
        key,
        "--stripe-payment-method",
        pm,
        "--stripe-api",
        api,
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

fn run(args: &[String], env: &[(&str, &str)]) -> Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    mpp(&args, env)
}

#[test]
fn mpp_get_pays_a_stripe_paywall_once_within_the_cap() {
    let stripe = StripeStandIn::start();
    let paywall = Paywall::start(&stripe);
    let url = paywall.url();
    let api = stripe.base_url();
    let key = key_file("cli-stripe-payer", stripe.secret_key(), 0o600);
    let key = key.to_str().unwrap();

    let out = run(
        &get_args(
            &url,
            key,
            PM_SUCCEEDS,
            &api,
            &["--max-amount", "500:usd", "--json"],
        ),
        &[],
    );
    assert_exit(&out, 0);
    assert_not_shown(&out, stripe.secret_key());
    assert!(
        !stderr(&out).contains("warning"),
        "a 0600 key file is not warned about: {}",
        stderr(&out)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], 200, "{report}");
    assert_eq!(report["body"], "paid by card");
    assert_eq!(report["payment"]["method"], "stripe");
    assert_eq!(report["payment"]["intent"], "charge");
    assert_eq!(report["payment"]["amount"], "500");
    assert_eq!(report["payment"]["currency"], "usd");
    // One token minted, for exactly the challenge; one PaymentIntent, succeeded,
    // which the receipt names.
    let minted = stripe.requests_to(MINT);
    assert_eq!(minted.len(), 1, "{minted:?}");
    assert_eq!(minted[0].param("payment_method"), Some(PM_SUCCEEDS));
    assert_eq!(minted[0].param("usage_limits[max_amount]"), Some("500"));
    assert_eq!(minted[0].param("usage_limits[currency]"), Some("usd"));
    assert_eq!(minted[0].param("seller_details[network_id]"), Some(NETWORK));
    let intents = stripe.payment_intents();
    assert_eq!(intents.len(), 1, "{intents:?}");
    assert_eq!(intents[0]["status"], "succeeded");
    assert_eq!(intents[0]["amount"], 500);
    assert_eq!(intents[0]["currency"], "usd");
    assert_eq!(stripe.charges(), 1);
    assert_eq!(report["receipt"]["reference"], intents[0]["id"], "{report}");
    assert_eq!(paywall.runs(), 1);

    // Over the cap: refused by the spending policy before any token is minted.
    let out = run(
        &get_args(&url, key, PM_SUCCEEDS, &api, &["--max-amount", "499:usd"]),
        &[],
    );
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("nothing was paid"), "{err}");
    assert!(err.contains("above your --max-amount"), "{err}");
    assert_eq!(stripe.requests_to(MINT).len(), 1, "no token minted");
    assert_eq!(stripe.requests_to(INTENTS).len(), 1, "no PaymentIntent");
    assert_eq!(stripe.charges(), 1);
    assert_eq!(paywall.runs(), 1);

    // The key and the API from the environment, with `--method stripe`; `-v` shows
    // the exchange with the token redacted.
    let out = mpp(
        &[
            "get",
            &url,
            "--method",
            "stripe",
            "--stripe-payment-method",
            PM_SUCCEEDS,
            "--max-amount",
            "500:usd",
            "-v",
        ],
        &[
            ("MPP_STRIPE_KEY", stripe.secret_key()),
            ("MPP_STRIPE_API", &api),
        ],
    );
    assert_exit(&out, 0);
    assert_not_shown(&out, stripe.secret_key());
    assert_eq!(stdout(&out), "paid by card");
    let err = stderr(&out);
    assert!(err.contains("methods: stripe"), "{err}");
    assert!(err.contains("chosen: stripe/charge"), "{err}");
    assert_eq!(stripe.charges(), 2);
    let intents = stripe.payment_intents();
    let spt = intents[1]["shared_payment_granted_token"]
        .as_str()
        .expect("the PaymentIntent names its token");
    assert!(!err.contains(spt), "-v shows the token: {err}");
    assert_eq!(paywall.runs(), 2);
}

#[test]
fn a_declined_card_is_the_servers_rejection_and_charges_nothing() {
    let stripe = StripeStandIn::start();
    let paywall = Paywall::start(&stripe);
    let key = key_file("cli-stripe-declined", stripe.secret_key(), 0o600);

    let out = run(
        &get_args(
            &paywall.url(),
            key.to_str().unwrap(),
            PM_DECLINED,
            &stripe.base_url(),
            &["--max-amount", "500:usd", "--json"],
        ),
        &[],
    );
    assert_exit(&out, 3);
    assert_not_shown(&out, stripe.secret_key());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["error"]["kind"], "rejected", "{report}");
    assert_eq!(
        report["error"]["problem"]["type"], "https://paymentauth.org/problems/verification-failed",
        "{report}"
    );
    assert_eq!(stripe.requests_to(MINT).len(), 1);
    assert_eq!(stripe.charges(), 0);
    assert_eq!(paywall.runs(), 0);
}

#[test]
fn an_unreachable_stripe_is_a_network_error_before_anything_is_sent() {
    let stripe = StripeStandIn::start();
    let paywall = Paywall::start(&stripe);
    let key = key_file("cli-stripe-unreachable", stripe.secret_key(), 0o600);

    // A closed port: nothing listens there.
    let out = run(
        &get_args(
            &paywall.url(),
            key.to_str().unwrap(),
            PM_SUCCEEDS,
            "http://127.0.0.1:9",
            &["--max-amount", "500:usd", "--json"],
        ),
        &[],
    );
    assert_exit(&out, 4);
    assert_not_shown(&out, stripe.secret_key());
    let err = stderr(&out);
    assert!(err.contains("cannot reach Stripe's API"), "{err}");
    assert!(err.contains("nothing was paid"), "{err}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["error"]["kind"], "network", "{report}");
    assert!(report["payment"].is_null(), "{report}");
    assert!(stripe.requests().is_empty());
    assert_eq!(paywall.runs(), 0);
}

/// Refusals before any request is sent: exit 64, the key never shown.
#[test]
fn bad_stripe_options_are_refused_clearly() {
    let stripe = StripeStandIn::start();
    let paywall = Paywall::start(&stripe);
    let url = paywall.url();
    let api = stripe.base_url();
    let good = key_file("cli-stripe-good", stripe.secret_key(), 0o600);
    let good = good.to_str().unwrap();
    let cap = ["--max-amount", "500:usd"];
    let refused = |out: &Output, needle: &str| {
        assert_exit(out, 64);
        assert_not_shown(out, stripe.secret_key());
        assert!(stderr(out).contains(needle), "{needle:?}:\n{}", stderr(out));
    };

    // A missing key file.
    let out = run(
        &get_args(&url, "/nonexistent/stripe.key", PM_SUCCEEDS, &api, &cap),
        &[],
    );
    refused(
        &out,
        "cannot read --stripe-key-file /nonexistent/stripe.key",
    );

    // A directory is not a readable key file.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let out = run(
        &get_args(&url, dir.to_str().unwrap(), PM_SUCCEEDS, &api, &cap),
        &[],
    );
    refused(&out, "--stripe-key-file");

    // Files that hold no secret key: refused, their content never shown.
    for (name, text, why) in [
        (
            "cli-stripe-spaced",
            "sk_test_has space SECRETPART9f3e",
            "letters, digits and underscores",
        ),
        (
            "cli-stripe-publishable",
            "pk_test_SECRETPART9f3e",
            "starts with sk_",
        ),
        ("cli-stripe-empty", "", "starts with sk_"),
    ] {
        let file = key_file(name, text, 0o600);
        let out = run(
            &get_args(&url, file.to_str().unwrap(), PM_SUCCEEDS, &api, &cap),
            &[],
        );
        refused(&out, "does not hold a Stripe secret key");
        refused(&out, why);
        assert_not_shown(&out, "SECRETPART9f3e");
    }

    // A malformed key in the environment, and no key at all.
    let args = [
        "get",
        url.as_str(),
        "--method",
        "stripe",
        "--stripe-payment-method",
        PM_SUCCEEDS,
        "--stripe-api",
        api.as_str(),
        "--max-amount",
        "500:usd",
    ];
    let out = mpp(&args, &[("MPP_STRIPE_KEY", "sk_nope_SECRETPART9f3e")]);
    refused(&out, "MPP_STRIPE_KEY");
    assert_not_shown(&out, "SECRETPART9f3e");
    let out = mpp(&args, &[]);
    refused(&out, "--stripe-key-file FILE");

    // No payment method, and a malformed one.
    let out = mpp(
        &[
            "get",
            &url,
            "--stripe-key-file",
            good,
            "--max-amount",
            "500:usd",
        ],
        &[],
    );
    refused(&out, "--stripe-payment-method pm_");
    let out = run(&get_args(&url, good, "card_visa", &api, &cap), &[]);
    refused(&out, "--stripe-payment-method \"card_visa\"");

    // An API base that is not an http(s) URL.
    let out = run(
        &get_args(&url, good, PM_SUCCEEDS, "ftp://stripe", &cap),
        &[],
    );
    refused(&out, "--stripe-api \"ftp://stripe\"");
    let out = mpp(
        &[
            "get",
            &url,
            "--stripe-key-file",
            good,
            "--stripe-payment-method",
            PM_SUCCEEDS,
            "--max-amount",
            "500:usd",
        ],
        &[("MPP_STRIPE_API", "not a url")],
    );
    refused(&out, "MPP_STRIPE_API");

    // A stripe flag with other methods chosen explicitly.
    let out = mpp(
        &[
            "get",
            &url,
            "--method",
            "preimage",
            "--preimage",
            "x",
            "--stripe-api",
            &api,
            "--max-amount",
            "1:usd",
        ],
        &[],
    );
    refused(&out, "--method stripe");

    assert!(stripe.requests().is_empty(), "{:?}", stripe.requests());
    assert_eq!(paywall.runs(), 0);

    // A key file others can read is warned about, and still used.
    #[cfg(unix)]
    {
        let open = key_file("cli-stripe-open", stripe.secret_key(), 0o644);
        let out = run(
            &get_args(&url, open.to_str().unwrap(), PM_SUCCEEDS, &api, &cap),
            &[],
        );
        assert_exit(&out, 0);
        assert_not_shown(&out, stripe.secret_key());
        let err = stderr(&out);
        assert!(
            err.contains("warning: --stripe-key-file") && err.contains("chmod 600"),
            "{err}"
        );
        assert_eq!(stripe.charges(), 1);
    }
}

#[test]
fn an_unpaid_stripe_offer_hints_at_the_stripe_flags() {
    let stripe = StripeStandIn::start();
    let paywall = Paywall::start(&stripe);
    let out = mpp(
        &[
            "get",
            &paywall.url(),
            "--preimage",
            "x",
            "--max-amount",
            "500:usd",
        ],
        &[],
    );
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("needs --stripe-key-file FILE --stripe-payment-method pm_"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn help_documents_the_stripe_flags() {
    let out = mpp(&["get", "--help"], &[]);
    assert_exit(&out, 0);
    let help = stdout(&out);
    for flag in [
        "Paying with Stripe",
        "--stripe-key-file",
        "--stripe-payment-method",
        "--stripe-api",
        "MPP_STRIPE_KEY",
        "MPP_STRIPE_API",
        "pm_card_visa --max-amount 500:usd",
    ] {
        assert!(
            help.contains(flag),
            "{flag} missing from `mpp get --help`:\n{help}"
        );
    }
}
