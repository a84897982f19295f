//! The reference server of the Payment HTTP authentication scheme: the application
//! every conformance run and interop test relies on, built on mpp-server's paywall,
//! for the `mpp-server` binary and for tools and tests that embed it ([`app`],
//! [`spawn`]).
//!
//! Routes: `GET /free` (no payment), `GET /paid` (`preimage/charge`, 1000 usd),
//! `POST /paid-post` (the same offer, the body bound by `digest`), `GET /paid-multi`
//! (`preimage/charge` and `token/charge`), `GET /openapi.json` (discovery), and
//! `GET /stats` (how many times a paid handler ran). The `preimage` and `token`
//! methods are test methods, not payments.
//!
//! Lightning, on an in-process test network ([`TestNode`]; test money only):
//! `GET /paid-lightning` (`lightning/charge`, 100 sat), and the [`testnet`] routes
//! that let a client in another process pay (and be refunded) on that network; the
//! [`sessions`] routes, `GET /session/metered` and `GET /session/stream`, paid from
//! `lightning/session` sessions on the same network.
//!
//! MCP and JSON-RPC ([`mcp`]): `/mcp`, MCP tools over Streamable HTTP, `echo` free
//! and `paid_echo`, `paid_weather`, `paid_fail` priced; `/rpc`, plain JSON-RPC 2.0
//! with `echo` free and `paid_echo` priced.
//!
//! Stripe, when configured with a secret key ([`ReferenceConfig::stripe`]):
//! `GET /paid-stripe`, a `stripe/charge` PaymentIntent through the configured API.
//!
//! Tempo, when configured with a node ([`ReferenceConfig::tempo`]): the [`tempo`]
//! routes `GET /paid-tempo`, `GET /paid-tempo-sponsored` and `GET /paid-tempo-proof`,
//! real `tempo/charge` payments (and zero-amount proofs) on the node's chain.

pub mod mcp;
pub mod sessions;
pub mod stripe;
pub mod tempo;
pub mod testnet;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use axum::{Json, body::Bytes};
use mpp_core::credential::CredentialField;
use mpp_methods::lightning::{LightningCharge, LightningNode, TestNode};
use mpp_methods::preimage::Preimage;
use mpp_methods::token::Token;
use mpp_server::{
    ChargeOffer, ConfigError, MemoryStore, MintLimit, MintRate, PaidRoute, PaywallLayer,
    ServiceInfo, Store, VerifiedPayment,
};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// The price of every paid route: 1000 usd to `acct_reference`.
pub const AMOUNT: &str = "1000";
/// The currency of every paid route.
pub const CURRENCY: &str = "usd";
/// The recipient of every paid route.
pub const RECIPIENT: &str = "acct_reference";

/// How the reference server is configured.
#[derive(Clone)]
pub struct ReferenceConfig {
    /// The challenge-binding secret (at least 32 bytes).
    pub secret: String,
    /// The preimage whose SHA-256 the `preimage/charge` offers ask for.
    pub preimage: String,
    /// The token the `token/charge` offer accepts.
    pub token: String,
    /// The realm.
    pub realm: String,
    /// How long each challenge stays payable.
    pub ttl: Duration,
    /// Where credentials must arrive.
    pub credential_field: CredentialField,
    /// Where used challenges and session accounts are recorded.
    pub store: Arc<dyn Store>,
    /// How long a session may stay unused before the server closes it and refunds
    /// what it did not spend.
    pub session_idle: Duration,
    /// Where the Tempo routes are paid; without it they are not served.
    pub tempo: Option<tempo::TempoConfig>,
    /// Where `/paid-stripe` is paid; without it, it is not served.
    pub stripe: Option<stripe::StripeConfig>,
    /// The Lightning node the Lightning routes (`/paid-lightning` and the session
    /// routes) are paid to; without one, an in-process test network, and its
    /// `/testnet/*` routes, stand in.
    pub lightning_node: Option<Arc<dyn LightningNode>>,
}

impl ReferenceConfig {
    /// This secret and preimage, and for the rest what the binary uses by default:
    /// realm `mpp-reference.test`, challenges payable for 300 s, credentials in
    /// `Authorization`, claims and accounts in memory (at most 100,000 live
    /// entries), sessions closed after 300 s unused.
    pub fn new(secret: impl Into<String>, preimage: impl Into<String>) -> ReferenceConfig {
        ReferenceConfig {
            secret: secret.into(),
            preimage: preimage.into(),
            token: "mppx-interop-token".into(),
            realm: "mpp-reference.test".into(),
            ttl: Duration::from_secs(300),
            credential_field: CredentialField::Authorization,
            store: Arc::new(MemoryStore::new(100_000)),
            session_idle: Duration::from_secs(300),
            tempo: None,
            stripe: None,
            lightning_node: None,
        }
    }
}

impl std::fmt::Debug for ReferenceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReferenceConfig")
            .field("realm", &self.realm)
            .field("ttl", &self.ttl)
            .field("credential_field", &self.credential_field)
            .field("session_idle", &self.session_idle)
            .field("tempo", &self.tempo)
            .field("stripe", &self.stripe)
            .field(
                "lightning_node",
                &self.lightning_node.as_ref().map(|n| n.node_id()),
            )
            .finish_non_exhaustive()
    }
}

fn paid_route(config: &ReferenceConfig, method: http::Method, path: &str) -> PaidRoute {
    let route = PaidRoute::new(method, path).ttl(config.ttl);
    match config.credential_field {
        CredentialField::Authorization => route,
        CredentialField::PaymentAuthorization => route.payment_authorization(),
    }
}

/// The price of `/paid-lightning`, in satoshis.
pub const LIGHTNING_PRICE_SAT: u64 = 100;

/// How many invoices each client may have minted by the Lightning routes' 402s: a
/// burst of 60, then 10 a second.
pub const MINT_PER_CLIENT: MintRate = MintRate {
    burst: 60,
    per_second: 10,
};

/// The peer's IP address, when the server was started with connection info
/// (`into_make_service_with_connect_info::<SocketAddr>()`, as the binary is).
fn peer_address(parts: &http::request::Parts) -> Option<String> {
    let info = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()?;
    Some(info.0.ip().to_string())
}

/// The reference application, paywall included.
///
/// Called inside a Tokio runtime, it also spawns the task that closes idle sessions;
/// the task ends once the application is dropped.
pub fn app(config: &ReferenceConfig) -> Result<Router, ConfigError> {
    app_and_tools(config).map(|(router, _)| router)
}

/// [`app`], and its MCP tools on the same paywall (store, claims, `/stats`), for
/// serving them over another transport too (stdio).
pub fn app_and_tools(
    config: &ReferenceConfig,
) -> Result<(Router, mcp::ReferenceTools), ConfigError> {
    let preimage: Arc<Preimage> = Arc::new(Preimage);
    // A real node when one is configured; else the in-process test network, with the
    // wallet that clients in other processes pay from.
    let (node, wallet): (Arc<dyn LightningNode>, Option<Arc<TestNode>>) =
        match &config.lightning_node {
            Some(node) => (node.clone(), None),
            None => {
                let node = Arc::new(TestNode::new());
                let wallet = node
                    .peer(testnet::WALLET_KEY)
                    .unwrap_or_else(|| unreachable!("the wallet key is a valid secret key"));
                (node, Some(Arc::new(wallet)))
            }
        };
    let token = Arc::new(Token::new(config.token.clone()));
    let token_offer =
        || ChargeOffer::new(token.clone(), Token::request(AMOUNT, CURRENCY, RECIPIENT));
    let preimage_offer = || {
        ChargeOffer::new(
            preimage.clone(),
            Preimage::request(AMOUNT, CURRENCY, RECIPIENT, &config.preimage),
        )
    };
    let [metered, streamed] = sessions::paid_routes(node.clone(), config);
    let mut paywall = PaywallLayer::builder(config.secret.as_bytes(), &config.realm)?
        .store(config.store.clone())
        .mint_limit(MintLimit::default().per_client(MINT_PER_CLIENT, peer_address))
        .route(
            paid_route(config, http::Method::GET, "/paid")
                .offer(preimage_offer())
                .description("A paid GET (preimage test method)"),
        )
        .route(
            paid_route(config, http::Method::POST, "/paid-post")
                .offer(preimage_offer())
                .description("A paid POST whose body is bound by digest"),
        )
        .route(
            paid_route(config, http::Method::GET, "/paid-multi")
                .offer(preimage_offer())
                .offer(token_offer())
                .description("A paid GET with two offers"),
        )
        .route(
            paid_route(config, http::Method::GET, "/paid-lightning")
                .offer(ChargeOffer::new(
                    Arc::new(LightningCharge::new(node.clone())),
                    LightningCharge::template(LIGHTNING_PRICE_SAT, Some("a paid GET")),
                ))
                .description("A paid GET (lightning, test network)"),
        )
        .route(metered)
        .route(streamed)
        .discovery(ServiceInfo {
            title: "mpp reference server".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            categories: vec!["developer-tools".into()],
            ..ServiceInfo::default()
        });
    for call in mcp::priced_calls(preimage_offer, token_offer()) {
        paywall = paywall.call(call);
    }
    let mut extra_paths = Vec::new();
    if let Some(tempo) = &config.tempo {
        for (path, route) in tempo::paid_routes(tempo, config.store.clone(), |path| {
            paid_route(config, http::Method::GET, path)
        }) {
            extra_paths.push(path);
            paywall = paywall.route(route);
        }
    }
    if let Some(stripe) = &config.stripe {
        paywall = paywall.route(stripe::paid_route(stripe, |path| {
            paid_route(config, http::Method::GET, path)
        }));
        extra_paths.push("/paid-stripe");
    }
    let paywall = paywall.build()?;
    if tokio::runtime::Handle::try_current().is_ok() {
        let every =
            (config.session_idle / 2).clamp(Duration::from_millis(100), Duration::from_secs(5));
        tokio::spawn(paywall.sweep_idle_sessions(every));
    }
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
    let jsonrpc = paywall.jsonrpc();
    let tools = mcp::ReferenceTools::new(jsonrpc.clone(), runs.clone());
    let mut router = Router::new()
        .route_service("/mcp", tools.clone().streamable_http())
        .route_service("/rpc", mcp::json_rpc(&jsonrpc, runs.clone()));
    for path in extra_paths {
        router = router.route(path, get(counted(path)));
    }
    let router = router
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
        .route("/paid-lightning", get(counted("/paid-lightning")))
        .route("/session/metered", get(sessions::metered))
        .route("/session/stream", get(sessions::stream))
        // Behind the paywall, which serves /openapi.json and lets unpaid paths through.
        .merge(wallet.map(testnet::routes).unwrap_or_default())
        .layer(paywall);
    Ok((router, tools))
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

/// The reference application served on a loopback port of this process, as
/// [`spawn`] started it; stopped when dropped.
#[derive(Debug)]
pub struct Spawned {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Spawned {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDRESS` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Why [`spawn`] could not start the reference server.
#[derive(Debug)]
pub enum SpawnError {
    /// The configuration was refused (a secret too short, say).
    Config(ConfigError),
    /// No loopback port could be listened on.
    Listen(std::io::Error),
}

impl std::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpawnError::Config(e) => e.fmt(f),
            SpawnError::Listen(e) => write!(f, "cannot listen on 127.0.0.1: {e}"),
        }
    }
}

impl std::error::Error for SpawnError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SpawnError::Config(e) => Some(e),
            SpawnError::Listen(e) => Some(e),
        }
    }
}

/// Serves [`app`] on `127.0.0.1` (a free port) in a task of the current Tokio
/// runtime: the reference server in-process, for tools and tests that check it.
///
/// Unlike the binary, it serves without connection info, so the limit on minted
/// invoices sees no peer address.
pub async fn spawn(config: &ReferenceConfig) -> Result<Spawned, SpawnError> {
    let app = app(config).map_err(SpawnError::Config)?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(SpawnError::Listen)?;
    let addr = listener.local_addr().map_err(SpawnError::Listen)?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("the in-process reference server stopped: {e}");
        }
    });
    Ok(Spawned { addr, task })
}
