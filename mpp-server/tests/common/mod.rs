//! Shared fixtures of the paywall's integration tests: a controllable clock, a mock
//! inner service that records what reached it, stores and methods that fail on
//! demand, request and credential builders, and the assertions every response must
//! pass (D6).

// Each test binary uses a different subset of these helpers.
#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full};
use mpp_core::challenge::Challenge;
use mpp_core::credential::Credential;
use mpp_core::json::{JsonObject, Value};
use mpp_core::method::{BoxFuture, Charge, ChargeMethod, MethodError, Settlement};
use mpp_core::problem::{Problem, ProblemType};
use mpp_core::receipt::Receipt;
use mpp_core::time::{ManualClock, UnixTime};
use mpp_methods::preimage::Preimage;
use mpp_server::layer::BoxError;
use mpp_server::{
    ChargeOffer, MemoryStore, PaidRoute, PaywallBody, PaywallBuilder, PaywallLayer, PaywallService,
    Store, StoreError, VerifiedPayment,
};
use tower::{Layer, Service, ServiceExt};

/// The challenge-binding secret of the paywall under test.
pub const SECRET: &[u8] = b"paywall-test-secret-number-one-32+bytes";
/// Another secret (a foreign server, or the previous secret of a rotation).
pub const OTHER_SECRET: &[u8] = b"paywall-test-secret-number-two-32+bytes";
/// The realm of the paywall under test.
pub const REALM: &str = "api.example.com";
/// The preimage whose hash the `preimage/charge` offers ask for.
pub const PREIMAGE: &str = "the-correct-test-preimage";
/// The price, currency and recipient of the standard offer.
pub const AMOUNT: &str = "1000";
pub const CURRENCY: &str = "usd";
pub const RECIPIENT: &str = "acct_1";
/// The token the `token/charge` offers accept.
pub const TOKEN: &str = "the-correct-test-token";
/// Where the test clock starts: 2027-01-15T08:00:00Z.
pub const T0: i64 = 1_800_000_000;
/// The default challenge lifetime (D8).
pub const TTL: i64 = 300;

/// The tests' clock, standing at [`T0`]; they move it by hand.
pub fn test_clock() -> ManualClock {
    ManualClock::new(UnixTime::from_secs(T0))
}

/// What the inner service saw of one call.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub uri: http::Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub payment: Option<VerifiedPayment>,
}

/// The protected handler: counts its calls, records what it saw, and answers 200
/// with `{"call":N}` (so a replayed response is told apart from a second run).
///
/// A request may steer it: `x-test-status: 500` sets the status, and
/// `x-test-cache-control: …` sets `Cache-Control`.
#[derive(Debug, Clone, Default)]
pub struct Inner {
    state: Arc<InnerState>,
}

#[derive(Debug, Default)]
struct InnerState {
    calls: AtomicUsize,
    seen: Mutex<Vec<Seen>>,
}

impl Inner {
    /// How many times the handler ran.
    pub fn calls(&self) -> usize {
        self.state.calls.load(Ordering::SeqCst)
    }

    /// What each call saw, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }
}

impl Service<Request<PaywallBody>> for Inner {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<PaywallBody>) -> Self::Future {
        let state = self.state.clone();
        Box::pin(async move {
            let n = state.calls.fetch_add(1, Ordering::SeqCst) + 1;
            let (parts, body) = request.into_parts();
            let body = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .expect("the paywall hands on a readable body");
            let status = parts
                .headers
                .get("x-test-status")
                .and_then(|v| v.to_str().ok()?.parse::<u16>().ok())
                .unwrap_or(200);
            let mut response = Response::new(Full::new(Bytes::from(format!("{{\"call\":{n}}}"))));
            *response.status_mut() = StatusCode::from_u16(status).unwrap();
            response.headers_mut().insert(
                CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            if let Some(cc) = parts.headers.get("x-test-cache-control") {
                response.headers_mut().insert(CACHE_CONTROL, cc.clone());
            }
            state.seen.lock().unwrap().push(Seen {
                method: parts.method.clone(),
                uri: parts.uri.clone(),
                headers: parts.headers.clone(),
                body,
                payment: parts.extensions.get::<VerifiedPayment>().cloned(),
            });
            Ok(response)
        })
    }
}

/// A response, buffered, with the test clock's time when it was received.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The test clock when the request was answered.
    pub now: i64,
}

impl Answer {
    /// The first value of `name`, as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("header values are ASCII"))
    }

    /// Every Payment challenge of every `WWW-Authenticate` line; each must parse.
    pub fn challenges(&self) -> Vec<Challenge<'static>> {
        let mut out = Vec::new();
        for line in self.headers.get_all("www-authenticate") {
            for parsed in Challenge::parse_all(line.as_bytes()) {
                let challenge = parsed.unwrap_or_else(|e| {
                    panic!("unparseable challenge {line:?}: {e}");
                });
                out.push(challenge.into_owned());
            }
        }
        out
    }

    /// The problem details body.
    pub fn problem(&self) -> Problem {
        Problem::parse(&self.body).unwrap_or_else(|e| {
            panic!(
                "the body is not problem details ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).expect("UTF-8 body")
    }

    pub fn assert_no_receipt(&self) {
        assert!(
            self.headers.get("payment-receipt").is_none(),
            "an error response ({}) must not carry Payment-Receipt",
            self.status
        );
    }

    pub fn assert_problem(&self, status: u16, expected: impl TypeUri) -> Problem {
        assert_eq!(
            self.status.as_u16(),
            status,
            "status; body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "problem responses are application/problem+json"
        );
        let problem = self.problem();
        assert_eq!(
            problem.type_uri,
            expected.type_uri(),
            "problem type; detail: {:?}",
            problem.detail
        );
        assert_eq!(problem.status, status, "the body's status");
        assert_eq!(
            self.header("cache-control"),
            Some("no-store"),
            "error responses are no-store"
        );
        self.assert_no_receipt();
        problem
    }

    /// A 402 with `expected`: `no-store`, a problem body whose `challengeId` names the
    /// first of at least one parseable, unexpired challenge, and no receipt.
    pub fn assert_402(&self, expected: impl TypeUri) -> Vec<Challenge<'static>> {
        let problem = self.assert_problem(402, expected);
        let challenges = self.challenges();
        assert!(
            !challenges.is_empty(),
            "every 402 carries at least one Payment challenge"
        );
        assert_eq!(
            problem.challenge_id.as_deref(),
            Some(challenges[0].id.as_str()),
            "challengeId names the first fresh challenge"
        );
        for c in &challenges {
            assert!(
                !c.is_expired_at(UnixTime::from_secs(self.now)),
                "a fresh challenge is not expired: {:?}",
                c.expires
            );
        }
        challenges
    }

    /// A 402 with `expected` answering a credential for `answered`: as
    /// [`assert_402`](Self::assert_402), and the fresh challenges are new ones.
    pub fn assert_refused(
        &self,
        expected: impl TypeUri,
        answered: &Challenge<'_>,
    ) -> Vec<Challenge<'static>> {
        let challenges = self.assert_402(expected);
        for c in &challenges {
            assert_ne!(c.id, answered.id, "the challenge offered again is fresh");
        }
        challenges
    }

    /// A 400 or 500 with `expected`, `no-store`, no receipt; a 500 says when to retry.
    pub fn assert_error(&self, status: u16, expected: impl TypeUri) -> Problem {
        let problem = self.assert_problem(status, expected);
        if status == 500 {
            assert!(
                self.header("retry-after").is_some(),
                "an internal payment error carries Retry-After"
            );
        }
        problem
    }

    /// A paid 200: `Cache-Control: private`, a parseable receipt, no challenge.
    pub fn assert_paid(&self) -> Receipt {
        assert_eq!(
            self.status,
            StatusCode::OK,
            "a paid request succeeds; body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.header("cache-control"),
            Some("private"),
            "a response with a receipt is private"
        );
        assert!(
            self.headers.get("www-authenticate").is_none(),
            "a paid response carries no challenge"
        );
        let receipt = self.header("payment-receipt").expect("a Payment-Receipt");
        Receipt::parse(receipt.as_bytes()).expect("the receipt parses")
    }
}

/// A paywall in front of an [`Inner`] handler.
#[derive(Debug, Clone)]
pub struct Harness {
    pub service: PaywallService<Inner>,
    pub inner: Inner,
    pub clock: ManualClock,
}

impl Harness {
    /// `layer` in front of a fresh handler; `clock` is the one the layer reads.
    pub fn new(layer: PaywallLayer, clock: &ManualClock) -> Harness {
        let inner = Inner::default();
        Harness {
            service: layer.layer(inner.clone()),
            inner,
            clock: clock.clone(),
        }
    }

    /// The standard paywall: `GET /paid` and `POST /paid-post`, each one
    /// `preimage/charge` offer of 1000 usd.
    pub fn standard() -> Harness {
        Harness::standard_with_clock(&test_clock())
    }

    /// The standard paywall, reading `clock`.
    pub fn standard_with_clock(clock: &ManualClock) -> Harness {
        let layer = builder(clock)
            .route(paid(Method::GET, "/paid").description("A paid GET"))
            .route(paid(Method::POST, "/paid-post"))
            .build()
            .unwrap();
        Harness::new(layer, clock)
    }

    /// Sends `request` through the paywall and buffers the response.
    pub async fn send<B>(&self, request: Request<B>) -> Answer
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let response = self
            .service
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|e: Infallible| match e {});
        let now = self.clock.now().secs();
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_else(|e| panic!("response body failed: {e}"));
        Answer {
            status: parts.status,
            headers: parts.headers,
            body,
            now,
        }
    }

    /// How many times the handler ran.
    pub fn calls(&self) -> usize {
        self.inner.calls()
    }

    /// Sends an unpaid `request`, checks it gets 402 `payment-required`, and returns
    /// the first challenge.
    pub async fn challenge(&self, request: Request<Full<Bytes>>) -> Challenge<'static> {
        let calls = self.calls();
        let answer = self.send(request).await;
        let challenges = answer.assert_402(ProblemType::PaymentRequired);
        assert_eq!(
            self.calls(),
            calls,
            "an unpaid request never runs the handler"
        );
        challenges.into_iter().next().unwrap()
    }
}

/// A builder with [`SECRET`], [`REALM`] and `clock`.
pub fn builder(clock: &ManualClock) -> PaywallBuilder {
    builder_with(SECRET, REALM, clock)
}

/// A builder with `secret`, `realm` and `clock`.
pub fn builder_with(secret: &[u8], realm: &str, clock: &ManualClock) -> PaywallBuilder {
    PaywallLayer::builder(secret, realm)
        .unwrap()
        .clock(clock.clock())
}

/// The terms of the standard offer.
pub fn preimage_request() -> JsonObject {
    Preimage::request(AMOUNT, CURRENCY, RECIPIENT, PREIMAGE)
}

/// The standard offer: `preimage/charge`, 1000 usd to acct_1.
pub fn preimage_offer() -> ChargeOffer {
    ChargeOffer::new(Arc::new(Preimage), preimage_request())
}

/// A route with the standard offer.
pub fn paid(method: Method, path: &str) -> PaidRoute {
    PaidRoute::new(method, path).offer(preimage_offer())
}

/// A request with these header lines (repeated names make several lines).
pub fn request(
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Request<Full<Bytes>> {
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder
        .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
        .unwrap()
}

/// `GET uri` with no header.
pub fn get(uri: &str) -> Request<Full<Bytes>> {
    request(Method::GET, uri, &[], "")
}

/// `GET uri` with `Authorization: credential`.
pub fn get_paid(uri: &str, credential: &str) -> Request<Full<Bytes>> {
    request(Method::GET, uri, &[("authorization", credential)], "")
}

/// `{"preimage": preimage}`.
pub fn preimage_payload(preimage: &str) -> JsonObject {
    let mut payload = JsonObject::new();
    payload.insert("preimage".into(), preimage.into());
    payload
}

/// `{"token": token}`.
pub fn token_payload(token: &str) -> JsonObject {
    let mut payload = JsonObject::new();
    payload.insert("token".into(), token.into());
    payload
}

/// The credential header value answering `challenge` with `payload`.
pub fn credential(challenge: &Challenge<'_>, payload: JsonObject) -> String {
    Credential::answer(challenge, payload, None).to_header()
}

/// The credential answering `challenge` with the correct preimage.
pub fn pay(challenge: &Challenge<'_>) -> String {
    credential(challenge, preimage_payload(PREIMAGE))
}

/// `Payment <base64url(json)>`, whatever `json` is.
pub fn raw_credential(json: &str) -> String {
    format!("Payment {}", mpp_core::base64::encode(json.as_bytes()))
}

/// A method whose verdict the test scripts: it settles (reference `scripted-ref`)
/// or fails with the given error, after an optional delay, and counts its calls.
#[derive(Debug, Clone)]
pub struct Scripted {
    pub outcome: Result<(), MethodError>,
    pub delay: Option<Duration>,
    pub settles: Arc<AtomicUsize>,
    /// The first this many settlements reach no verdict (`Internal`) first.
    pub internal_first: usize,
}

impl Scripted {
    /// A method that always answers `outcome`.
    pub fn new(outcome: Result<(), MethodError>) -> Scripted {
        Scripted {
            outcome,
            delay: None,
            settles: Arc::default(),
            internal_first: 0,
        }
    }

    /// The terms it is offered with.
    pub fn request() -> JsonObject {
        let mut request = JsonObject::new();
        request.insert("amount".into(), AMOUNT.into());
        request.insert("currency".into(), CURRENCY.into());
        request.insert("recipient".into(), RECIPIENT.into());
        request
    }

    /// A payload it accepts.
    pub fn payload() -> JsonObject {
        let mut payload = JsonObject::new();
        payload.insert("proof".into(), Value::String("anything".into()));
        payload
    }
}

impl ChargeMethod for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }

    fn settle<'a>(&'a self, _: Charge<'a>) -> BoxFuture<'a, Result<Settlement, MethodError>> {
        Box::pin(async move {
            let earlier = self.settles.fetch_add(1, Ordering::SeqCst);
            if let Some(delay) = self.delay {
                tokio::time::sleep(delay).await;
            }
            if earlier < self.internal_first {
                return Err(MethodError::Internal("the backend did not answer".into()));
            }
            self.outcome
                .clone()
                .map(|()| Settlement::new("scripted-ref"))
        })
    }
}

/// A store whose operations fail on demand and otherwise use a [`MemoryStore`].
#[derive(Debug, Default)]
pub struct FlakyStore {
    pub fail_get: bool,
    pub fail_put_if_absent: bool,
    pub fail_put: bool,
    /// Only `compare_and_swap` fails.
    pub fail_swap: bool,
    pub memory: MemoryStore,
    /// How many times each operation was called: get, put_if_absent, put.
    pub counts: [AtomicUsize; 3],
}

impl FlakyStore {
    fn fail<T: Send + 'static>(&self) -> BoxFuture<'_, Result<T, StoreError>> {
        Box::pin(std::future::ready(Err(StoreError::Unavailable(
            "the store is unreachable".into(),
        ))))
    }
}

impl Store for FlakyStore {
    fn put_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.counts[1].fetch_add(1, Ordering::SeqCst);
        if self.fail_put_if_absent {
            return self.fail();
        }
        self.memory.put_if_absent(key, value, ttl)
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        self.counts[0].fetch_add(1, Ordering::SeqCst);
        if self.fail_get {
            return self.fail();
        }
        self.memory.get(key)
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.counts[2].fetch_add(1, Ordering::SeqCst);
        if self.fail_put {
            return self.fail();
        }
        self.memory.put(key, value, ttl)
    }

    fn compare_and_swap<'a>(
        &'a self,
        key: &'a str,
        expected: &'a [u8],
        new: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        if self.fail_put || self.fail_swap {
            return self.fail();
        }
        self.memory.compare_and_swap(key, expected, new, ttl)
    }
}

/// A problem type expected in a response: a core one, or a method's own URI.
pub trait TypeUri {
    /// Its absolute URI.
    fn type_uri(&self) -> String;
}

impl TypeUri for ProblemType {
    fn type_uri(&self) -> String {
        self.uri()
    }
}

impl TypeUri for &str {
    fn type_uri(&self) -> String {
        (*self).to_owned()
    }
}

/// A store operation, for [`Faults`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Get,
    PutIfAbsent,
    Swap,
}

/// How an armed fault fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The operation fails and changes nothing.
    Fail,
    /// The operation is applied, then reported failed (its answer was lost).
    ApplyThenFail,
}

/// A [`MemoryStore`] with faults armed by operation and key prefix: each fires once,
/// on the first matching call after skipping `skip` of them.
#[derive(Debug, Default)]
pub struct Faults {
    pub memory: MemoryStore,
    armed: Mutex<Vec<(Op, String, Fault, usize)>>,
}

impl Faults {
    /// Arms `fault` for the `skip + 1`-th call of `op` on a key starting with `prefix`.
    pub fn arm(&self, op: Op, prefix: &str, fault: Fault, skip: usize) {
        self.armed
            .lock()
            .unwrap()
            .push((op, prefix.to_string(), fault, skip));
    }

    /// The fault that fires on this call, if any.
    fn fires(&self, op: Op, key: &str) -> Option<Fault> {
        let mut armed = self.armed.lock().unwrap();
        let i = armed
            .iter()
            .position(|(o, prefix, _, _)| *o == op && key.starts_with(prefix.as_str()))?;
        if armed[i].3 > 0 {
            armed[i].3 -= 1;
            return None;
        }
        Some(armed.remove(i).2)
    }

    /// Runs `apply` (which does its work when called: the memory store's futures
    /// are ready at once) unless a fault says otherwise.
    async fn run<'a, T>(
        &'a self,
        op: Op,
        key: &str,
        apply: impl FnOnce() -> BoxFuture<'a, Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match self.fires(op, key) {
            None => apply().await,
            Some(Fault::Fail) => Err(StoreError::Unavailable("injected failure".into())),
            Some(Fault::ApplyThenFail) => {
                apply().await?;
                Err(StoreError::Unavailable(
                    "injected: the answer was lost".into(),
                ))
            }
        }
    }
}

impl Store for Faults {
    fn put_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.run(Op::PutIfAbsent, key, move || {
            self.memory.put_if_absent(key, value, ttl)
        }))
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(self.run(Op::Get, key, || self.memory.get(key)))
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.memory.put(key, value, ttl)
    }

    fn compare_and_swap<'a>(
        &'a self,
        key: &'a str,
        expected: &'a [u8],
        new: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.run(Op::Swap, key, move || {
            self.memory.compare_and_swap(key, expected, new, ttl)
        }))
    }
}
