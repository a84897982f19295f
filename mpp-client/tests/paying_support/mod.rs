//! Fixtures of the `PayingClient` tests: loopback HTTP servers run in the test
//! process (a paywalled app built with mpp-server, and hand-written servers that
//! record every request and answer from a script), hand-made challenges, wallets.

// Not every helper is used by every test.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mpp_client::{ClientOptions, PayingClient};
use mpp_core::binding::{ChallengeBinder, Secret};
use mpp_core::challenge::ChallengeBuilder;
use mpp_core::client::{SpendingPolicy, Wallet};
use mpp_core::json::JsonObject;
use mpp_core::problem::{Problem, ProblemType};
use mpp_core::time::{Timestamp, UnixTime};
use mpp_methods::preimage::{Preimage, PreimagePayer};
use mpp_server::{ChargeOffer, PaidRoute, PaywallLayer, VerifiedPayment};
use tokio::task::JoinHandle;

/// The challenge-binding secret of every test server.
pub const SECRET: &[u8] = b"paying-client-test-secret-of-32+bytes";
/// The realm of every test server.
pub const REALM: &str = "api.example.test";
/// The preimage the wallet reveals and whose hash the servers ask for.
pub const PREIMAGE: &str = "the-paying-client-test-preimage";
/// The price, currency and recipient of the standard offer.
pub const AMOUNT: &str = "1000";
pub const PRICE: u128 = 1000;
pub const CURRENCY: &str = "usd";
pub const RECIPIENT: &str = "acct_1";

/// A server running on 127.0.0.1 in this process; stopped when dropped.
#[derive(Debug)]
pub struct Server {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Server {
    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The origin as `PaymentMade::origin` and `Origin`'s `Display` write it.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `app` on an ephemeral loopback port.
pub async fn serve(app: Router) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Server { addr, task }
}

/// A server that accepts connections, reads nothing, and never answers.
pub async fn silent() -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    Server { addr, task }
}

/// A shared counter.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicUsize>);

impl Counter {
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// What the paywalled app counted.
#[derive(Debug, Clone, Default)]
pub struct AppCounts {
    /// Every request that reached the app (outside the paywall).
    pub requests: Counter,
    /// The paid handlers that ran (inside the paywall).
    pub paid_runs: Counter,
}

/// The reference configuration: mpp-server's paywall, one `preimage/charge` offer
/// per paid route at 1000 usd to `acct_1`.
///
/// - `GET /free`: no payment, answers `free`.
/// - `GET /paid`: answers `paid content`.
/// - `POST /paid-post`: the body bound by `digest`; echoes the body it received.
/// - `GET /paid-pa`: credentials in `Payment-Authorization`; answers the
///   `Authorization` value that reached the handler.
pub fn paywalled_app(counts: &AppCounts) -> Router {
    let offer = || {
        ChargeOffer::new(
            Arc::new(Preimage),
            Preimage::request(AMOUNT, CURRENCY, RECIPIENT, PREIMAGE),
        )
    };
    let paywall = PaywallLayer::builder(SECRET, REALM)
        .unwrap()
        .route(PaidRoute::new(Method::GET, "/paid").offer(offer()))
        .route(PaidRoute::new(Method::POST, "/paid-post").offer(offer()))
        .route(
            PaidRoute::new(Method::GET, "/paid-pa")
                .offer(offer())
                .payment_authorization(),
        )
        .build()
        .unwrap();
    let runs = counts.paid_runs.clone();
    let paid = {
        let runs = runs.clone();
        move |_: VerifiedPayment| async move {
            runs.bump();
            "paid content"
        }
    };
    let paid_post = {
        let runs = runs.clone();
        move |_: VerifiedPayment, body: Bytes| async move {
            runs.bump();
            body
        }
    };
    let paid_pa = move |_: VerifiedPayment, headers: HeaderMap| async move {
        runs.bump();
        headers
            .get("authorization")
            .map(|v| v.as_bytes().to_vec())
            .unwrap_or_default()
    };
    let requests = counts.requests.clone();
    Router::new()
        .route("/free", get(|| async { "free" }))
        .route("/paid", get(paid))
        .route("/paid-post", post(paid_post))
        .route("/paid-pa", get(paid_pa))
        .layer(paywall)
        .layer(axum::middleware::from_fn(
            move |request: Request, next: axum::middleware::Next| {
                let requests = requests.clone();
                async move {
                    requests.bump();
                    next.run(request).await
                }
            },
        ))
}

/// A request as a scripted server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    /// Whether it carries a Payment credential in either field.
    pub fn has_payment_credential(&self) -> bool {
        ["authorization", "payment-authorization"]
            .iter()
            .any(|name| {
                self.headers.get_all(*name).iter().any(|v| {
                    v.as_bytes()
                        .get(..8)
                        .is_some_and(|s| s.eq_ignore_ascii_case(b"payment "))
                })
            })
    }
}

/// Every request a scripted server received, in order.
#[derive(Debug, Clone, Default)]
pub struct Log(Arc<Mutex<Vec<Recorded>>>);

impl Log {
    pub fn all(&self) -> Vec<Recorded> {
        self.0.lock().unwrap().clone()
    }

    pub fn push(&self, request: Recorded) {
        self.0.lock().unwrap().push(request);
    }

    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    pub fn with_credential(&self) -> usize {
        self.all()
            .iter()
            .filter(|r| r.has_payment_credential())
            .count()
    }
}

/// A server that records every request and answers with `respond(request, index)`.
pub async fn scripted<F>(respond: F) -> (Server, Log)
where
    F: Fn(&Recorded, usize) -> Response + Send + Sync + 'static,
{
    let log = Log::default();
    let respond = Arc::new(respond);
    let handler = {
        let log = log.clone();
        move |request: Request| {
            let log = log.clone();
            let respond = respond.clone();
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, 1 << 20)
                    .await
                    .unwrap_or_default();
                let recorded = Recorded {
                    method: parts.method,
                    path: parts.uri.path().to_owned(),
                    headers: parts.headers,
                    body,
                };
                let index = {
                    let mut all = log.0.lock().unwrap();
                    all.push(recorded.clone());
                    all.len() - 1
                };
                respond(&recorded, index)
            }
        }
    };
    let server = serve(Router::new().fallback(handler)).await;
    (server, log)
}

/// The binder of hand-made challenges (the same secret as the paywalled app).
pub fn binder() -> ChallengeBinder {
    ChallengeBinder::new(Secret::new(SECRET).unwrap())
}

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> i64 {
    UnixTime::from(SystemTime::now()).secs()
}

/// The terms of a hand-made challenge.
#[derive(Debug, Clone)]
pub struct Terms {
    pub amount: String,
    pub currency: String,
    pub recipient: String,
    /// Seconds from now to `expires` (negative: already expired); `None`: no `expires`.
    pub expires_in: Option<i64>,
    pub payment_authorization: bool,
}

impl Default for Terms {
    fn default() -> Self {
        Terms {
            amount: AMOUNT.into(),
            currency: CURRENCY.into(),
            recipient: RECIPIENT.into(),
            expires_in: Some(300),
            payment_authorization: false,
        }
    }
}

/// The `request` of a hand-made challenge: a `preimage/charge` the wallet can pay.
pub fn request_of(terms: &Terms) -> JsonObject {
    Preimage::request(&terms.amount, &terms.currency, &terms.recipient, PREIMAGE)
}

/// A `WWW-Authenticate` value with one HMAC-bound `preimage/charge` challenge.
pub fn challenge(terms: &Terms) -> String {
    challenge_with_request(terms, &request_of(terms))
}

/// A `WWW-Authenticate` value with one HMAC-bound challenge for `request`.
pub fn challenge_with_request(terms: &Terms, request: &JsonObject) -> String {
    let mut builder = ChallengeBuilder::new(REALM, "preimage", "charge", request).unwrap();
    if let Some(secs) = terms.expires_in {
        let expires = Timestamp::from_unix(UnixTime::from_secs(now_secs() + secs)).unwrap();
        builder = builder.expires(expires);
    }
    if terms.payment_authorization {
        builder = builder.payment_authorization();
    }
    builder.issue(&binder()).unwrap().to_header().unwrap()
}

/// The standard payable challenge.
pub fn valid_challenge() -> String {
    challenge(&Terms::default())
}

/// A 402 with one `WWW-Authenticate` line per entry of `lines` and, when given, a
/// problem details body.
pub fn payment_required(lines: &[String], problem: Option<&Problem>) -> Response {
    let mut headers = HeaderMap::new();
    for line in lines {
        headers.append(
            WWW_AUTHENTICATE,
            HeaderValue::try_from(line.as_str()).unwrap(),
        );
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let body = match problem {
        Some(p) => {
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            );
            p.to_json()
        }
        None => String::new(),
    };
    (StatusCode::PAYMENT_REQUIRED, headers, body).into_response()
}

/// A problem details body of this type.
pub fn problem(kind: ProblemType, detail: &str) -> Problem {
    Problem::new(kind).with_detail(detail)
}

/// A redirect with this status to `location`.
pub fn redirect(status: StatusCode, location: &str) -> Response {
    (status, [(LOCATION, location.to_owned())]).into_response()
}

/// A plain 200 with `body`.
pub fn ok(body: &'static str) -> Response {
    (StatusCode::OK, body).into_response()
}

/// Pays up to 1000 usd per request, any recipient, no total budget.
pub fn policy() -> SpendingPolicy {
    SpendingPolicy {
        max_per_request: vec![(CURRENCY.into(), PRICE)],
        ..SpendingPolicy::default()
    }
}

/// A wallet with the preimage payer under `policy`.
pub fn wallet(policy: SpendingPolicy) -> Wallet {
    Wallet::new(policy).with_method(Arc::new(PreimagePayer::new(PREIMAGE)), 1000)
}

/// A client with `policy` and a short timeout (tests must not hang).
pub fn client(policy: SpendingPolicy) -> PayingClient {
    client_with(
        policy,
        ClientOptions {
            timeout: Duration::from_secs(10),
            ..ClientOptions::default()
        },
    )
}

pub fn client_with(policy: SpendingPolicy, options: ClientOptions) -> PayingClient {
    PayingClient::with_options(wallet(policy), options).unwrap()
}

/// What the client's wallet has spent, per currency.
pub async fn spent(client: &PayingClient) -> Vec<(String, u128)> {
    client.wallet().lock().await.spent().to_vec()
}

/// The total spent in usd.
pub async fn spent_usd(client: &PayingClient) -> u128 {
    spent(client)
        .await
        .iter()
        .find(|(c, _)| c == CURRENCY)
        .map_or(0, |(_, n)| *n)
}
