//! `mpp-server`: the reference server of the Payment HTTP authentication scheme, which
//! the conformance suite and the interop tests run against.
//!
//! Routes: `GET /free` (no payment), `GET /paid` (`preimage/charge`, 1000 usd),
//! `POST /paid-post` (the same offer, the body bound by `digest`), `GET /paid-multi`
//! (`preimage/charge` and `token/charge`), `GET /openapi.json` (discovery), and
//! `GET /stats` (how many times a paid handler ran).
//! The `preimage` and `token` methods are test methods, not payments.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use axum::{Json, body::Bytes};
use clap::{Parser, ValueEnum};
use mpp_methods::preimage::Preimage;
use mpp_methods::token::Token;
use mpp_server::{
    Offer, PaidRoute, Paywall, RedisOptions, RedisStore, ServiceInfo, SqliteStore, Store,
    StoreError, VerifiedPayment,
};
use serde_json::{Value, json};

/// The reference server of the "Payment" HTTP authentication scheme.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "The reference server of the \"Payment\" HTTP authentication scheme. Its payment methods are test methods, not payments.",
    after_help = "Example:\n  mpp-server --listen 127.0.0.1:8402 --secret \"$(openssl rand -hex 32)\" --preimage s3cret\n\nIt prints `listening on http://ADDRESS` once it accepts connections."
)]
struct Args {
    /// The address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8402")]
    listen: SocketAddr,
    /// The challenge-binding secret, at least 32 bytes (or set MPP_SECRET).
    #[arg(long, env = "MPP_SECRET", hide_env_values = true)]
    secret: String,
    /// The preimage whose SHA-256 the `preimage/charge` offers ask for.
    #[arg(long)]
    preimage: String,
    /// The token the `token/charge` offer of /paid-multi accepts.
    #[arg(long, default_value = "mppx-interop-token", hide_default_value = true)]
    token: String,
    /// The realm of every challenge.
    #[arg(long, default_value = "mpp-reference.test")]
    realm: String,
    /// How long each challenge stays payable, in seconds.
    #[arg(long, default_value_t = 300)]
    ttl: u64,
    /// Which header field credentials must arrive in.
    #[arg(long, value_enum, default_value_t = Header::Authorization)]
    header: Header,
    /// The SQLite file that records used challenges, so a restart forgets none.
    #[arg(long, default_value = "mpp-server.sqlite3")]
    sqlite: std::path::PathBuf,
    /// Record used challenges in Redis instead (`redis://[[user]:password@]host[:port][/db]`),
    /// to share them between server instances. Overrides --sqlite.
    #[arg(long, env = "MPP_REDIS_URL", hide_env_values = true)]
    redis: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Header {
    Authorization,
    PaymentAuthorization,
}

const AMOUNT: &str = "1000";
const CURRENCY: &str = "usd";
const RECIPIENT: &str = "acct_reference";

fn paid_route(method: http::Method, path: &str, args: &Args) -> PaidRoute {
    let route = PaidRoute::new(method, path).ttl(Duration::from_secs(args.ttl));
    match args.header {
        Header::Authorization => route,
        Header::PaymentAuthorization => route.payment_authorization(),
    }
}

fn store(args: &Args) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match &args.redis {
        Some(url) => Arc::new(RedisStore::connect(url, RedisOptions::default())?),
        None => Arc::new(SqliteStore::open(&args.sqlite)?),
    })
}

fn app(args: &Args, store: Arc<dyn Store>) -> Result<Router, mpp_server::ConfigError> {
    let preimage: Arc<Preimage> = Arc::new(Preimage);
    let token = Arc::new(Token::new(args.token.clone()));
    let preimage_offer = || {
        Offer::charge(
            preimage.clone(),
            Preimage::request(AMOUNT, CURRENCY, RECIPIENT, &args.preimage),
        )
    };
    let paywall = Paywall::builder(args.secret.as_bytes(), &args.realm)?
        .store(store)
        .route(
            paid_route(http::Method::GET, "/paid", args)
                .offer(preimage_offer())
                .description("A paid GET (preimage test method)"),
        )
        .route(
            paid_route(http::Method::POST, "/paid-post", args)
                .offer(preimage_offer())
                .description("A paid POST whose body is bound by digest"),
        )
        .route(
            paid_route(http::Method::GET, "/paid-multi", args)
                .offer(preimage_offer())
                .offer(Offer::charge(
                    token,
                    Token::request(AMOUNT, CURRENCY, RECIPIENT),
                ))
                .description("A paid GET with two offers"),
        )
        .discovery(ServiceInfo {
            title: "mpp reference server".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            categories: vec!["developer-tools".into()],
            ..ServiceInfo::default()
        })
        .build()?;
    // How many times a paid handler ran: what the fault tests compare with the number
    // of successful payments (at most one delivery per settlement).
    let runs = Arc::new(AtomicU64::new(0));
    let counted = |route: &'static str| {
        let runs = runs.clone();
        move |p: VerifiedPayment| async move { paid(route, &p, None, &runs) }
    };
    let stats = {
        let runs = runs.clone();
        move || async move { Json(json!({ "paidHandlerRuns": runs.load(Ordering::SeqCst) })) }
    };
    let post_runs = runs.clone();
    Ok(Router::new()
        .route("/free", get(|| async { Json(json!({ "free": true })) }))
        .route("/stats", get(stats))
        .route("/paid", get(counted("/paid")))
        .route(
            "/paid-post",
            post(move |p: VerifiedPayment, body: Bytes| async move {
                paid("/paid-post", &p, Some(body.len()), &post_runs)
            }),
        )
        .route("/paid-multi", get(counted("/paid-multi")))
        .layer(paywall))
}

fn paid(
    route: &str,
    payment: &VerifiedPayment,
    received: Option<usize>,
    runs: &AtomicU64,
) -> Json<Value> {
    runs.fetch_add(1, Ordering::SeqCst);
    let mut body = json!({ "ok": true, "route": route, "method": payment.receipt.method.as_str() });
    if let Some(n) = received {
        body["received"] = n.into();
    }
    Json(body)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "mpp=info".into()),
        )
        .init();
    let args = Args::parse();
    let store = match store(&args) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("mpp-server: cannot open the store: {e}");
            return ExitCode::from(2);
        }
    };
    let app = match app(&args, store) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("mpp-server: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("mpp-server: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(1);
        }
    };
    let address = listener.local_addr().unwrap_or(args.listen);
    // The one line tools wait for.
    println!("listening on http://{address}");
    let _ = std::io::stdout().flush();
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mpp-server: {e}");
            ExitCode::from(1)
        }
    }
}
