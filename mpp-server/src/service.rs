//! The paywall's tower service: [`PaywallService`] answers unpaid requests to paid
//! routes with 402, verifies and settles credentials, and only then calls the inner
//! service.
//!
//! For a request to a paid route it:
//!
//! 1. buffers the body (up to the configured limit; 413 beyond it), because the
//!    challenge binds its digest;
//! 2. asks the engine ([`mpp_core::server::Paywall::evaluate`]) for a verdict;
//! 3. for a credential that passed the stateless checks: replays the stored response
//!    of an `Idempotency-Key` retry; then takes the path of the offer it answers:
//!    for a charge, checks the payload's schema, claims the challenge id in the
//!    store (atomic, fail-closed) and settles with the method; for a session,
//!    applies the action its payload names to the account;
//! 4. calls the inner service with a [`VerifiedPayment`] in the request's extensions
//!    (or answers a session's top-up or close itself), and adds `Payment-Receipt`
//!    and `Cache-Control: private` to the 2xx response.
//!
//! The inner service never runs for an unpaid or refused request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use mpp_core::challenge::Challenge;
use mpp_core::credential::CredentialField;
use mpp_core::problem::ProblemType;
use mpp_core::receipt::Receipt;
use mpp_core::server::{self, Evaluation, OfferTerms, PaymentRequest, Pending, Refusal};
use mpp_core::time::{Clock, UnixTime};
use tower_service::Service;

use crate::body::{BoxError, PaywallBody, box_response, boxed, full};
use crate::claim::Claim;
use crate::mint::Minting;
use crate::replay;
use crate::respond;
use crate::route::{ChargeOffer, CompiledCall, CompiledRoute, PaidOffer, SessionOffer};
use crate::session::serve::{self, Admitted};
use crate::session::{MeteredSession, SessionContext};
use crate::store::Store;

/// Everything a paywall shares between requests.
pub(crate) struct Shared {
    pub(crate) engine: server::Paywall,
    pub(crate) clock: Clock,
    pub(crate) routes: Vec<CompiledRoute>,
    /// The priced JSON-RPC methods and tools.
    pub(crate) calls: Vec<CompiledCall>,
    /// Claims and responses kept for replays.
    pub(crate) store: Arc<dyn Store>,
    /// What the session paths use.
    pub(crate) sessions: SessionContext,
    pub(crate) max_body: usize,
    pub(crate) minting: Minting,
    /// The serialised discovery document, when `/openapi.json` is served.
    pub(crate) openapi: Option<Bytes>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("realm", &self.engine.realm().as_str())
            .field("routes", &self.routes.len())
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// The paid route for a request. HEAD is guarded by the GET route of its path,
    /// because frameworks (axum among them) answer HEAD with the GET handler.
    fn route(&self, method: &http::Method, path: &str) -> Option<&CompiledRoute> {
        let find = |m: &http::Method| {
            self.routes
                .iter()
                .find(|r| r.http_method == *m && r.path == path)
        };
        find(method).or_else(|| {
            (*method == http::Method::HEAD)
                .then(|| find(&http::Method::GET))
                .flatten()
        })
    }
}

/// What the inner service finds in a paid request's extensions: the settled payment.
#[derive(Clone)]
pub struct VerifiedPayment {
    /// The receipt sent back with the response.
    pub receipt: Receipt,
    /// The challenge the payment answered.
    pub challenge: Challenge<'static>,
    /// The payer, if the credential named one (a DID, usually). Sensitive.
    pub source: Option<String>,
    /// The session that paid, when the route was paid from one: the handler bills
    /// further units or streams through it.
    pub session: Option<MeteredSession>,
}

impl std::fmt::Debug for VerifiedPayment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedPayment")
            .field("receipt", &self.receipt)
            .field("challenge_id", &self.challenge.id.as_str())
            .field("source", &self.source.as_ref().map(|_| "<redacted>"))
            .field("session", &self.session)
            .finish()
    }
}

impl VerifiedPayment {
    pub(crate) fn new(pending: Pending, receipt: Receipt) -> VerifiedPayment {
        VerifiedPayment {
            receipt,
            source: pending.credential.source,
            challenge: pending.credential.challenge,
            session: None,
        }
    }
}

/// The service [`PaywallLayer`](crate::PaywallLayer) produces.
#[derive(Debug, Clone)]
pub struct PaywallService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> PaywallService<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> PaywallService<S> {
        PaywallService { inner, shared }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for PaywallService<S>
where
    S: Service<Request<PaywallBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Body<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<BoxError>,
    ResBody: Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<PaywallBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The instance that was polled ready serves this request.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(handle(self.shared.clone(), inner, request))
    }
}

/// A paid request's verdict.
enum Verdict {
    /// Sent as it is: a refusal, or a replayed response.
    Answer(Response<PaywallBody>),
    /// Paid for.
    Paid(Paid),
}

/// A credential accepted: what answers the request, and what goes with the answer.
struct Paid {
    answer: PaidAnswer,
    /// The receipt and `Cache-Control: private`, for a 2xx answer.
    headers: Vec<(&'static str, String)>,
    /// Where a 2xx answer is kept for `Idempotency-Key` retries, and for how long.
    keep: Option<(String, Duration)>,
    /// Whether an answer other than 2xx is marked `no-store`: every answer to a
    /// credential sent outside `Authorization` must be private or `no-store`, and
    /// only a 2xx gets `private` (with its receipt).
    no_store_on_failure: bool,
}

/// What answers a paid request.
enum PaidAnswer {
    /// The inner service, with the payment in the request's extensions.
    Handler(Box<VerifiedPayment>),
    /// The paywall itself, with this JSON (a session's top-up or close).
    Json(String),
}

/// One request through the paywall: passed on when its route is not paid for,
/// otherwise buffered, judged, and served or refused.
async fn handle<S, ReqBody, ResBody>(
    shared: Arc<Shared>,
    mut inner: S,
    request: Request<ReqBody>,
) -> Result<Response<PaywallBody>, S::Error>
where
    S: Service<Request<PaywallBody>, Response = Response<ResBody>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Body<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<BoxError>,
    ResBody: Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    let path = request.uri().path();
    if request.method() == http::Method::GET && path == "/openapi.json" {
        if let Some(document) = shared.openapi.as_ref() {
            return Ok(respond::discovery(document.clone()));
        }
    }
    let Some(route) = shared.route(request.method(), path) else {
        let request = request.map(boxed);
        return call(&mut inner, request).await.map(box_response);
    };
    let (mut parts, body) = request.into_parts();
    // Credentials are sensitive (D10): whatever logs headers further in must not see them.
    for name in [
        http::header::AUTHORIZATION,
        HeaderName::from_static("payment-authorization"),
    ] {
        if let http::header::Entry::Occupied(mut entry) = parts.headers.entry(name) {
            entry.iter_mut().for_each(|v| v.set_sensitive(true));
        }
    }
    // Who the request is from, where minting a challenge costs something.
    let client = if route.mints {
        shared.minting.client(&parts)
    } else {
        None
    };
    let body = match read_body(&shared, route, body, client.as_deref()).await {
        Ok(body) => body,
        Err(response) => return Ok(response),
    };
    match verdict(&shared, route, &parts, &body, client.as_deref()).await {
        Verdict::Answer(response) => Ok(response),
        Verdict::Paid(paid) => serve(&shared, inner, parts, body, paid).await,
    }
}

/// The request body, buffered (the challenge binds its digest): 413 beyond the
/// limit, 400 when it cannot be read.
async fn read_body<B>(
    shared: &Shared,
    route: &CompiledRoute,
    body: B,
    client: Option<&str>,
) -> Result<Bytes, Response<PaywallBody>>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    match Limited::new(body, shared.max_body).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(respond::plain_problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Payload Too Large",
            &format!("the request body exceeds {} bytes", shared.max_body),
        )),
        Err(_) => {
            let refusal = Refusal::new(ProblemType::BadRequest, "cannot read the request body");
            Err(early_refusal(shared, route, None, &refusal, client).await)
        }
    }
}

/// What the engine, the replay store and the matched offer's path make of a request
/// to `route`.
async fn verdict(
    shared: &Shared,
    route: &CompiledRoute,
    parts: &Parts,
    body: &Bytes,
    client: Option<&str>,
) -> Verdict {
    let payment = PaymentRequest::from_headers(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query(),
        &parts.headers,
        Some(&body[..]),
    );
    let Some(nonce) = nonce() else {
        let refusal = Refusal::new(ProblemType::InternalPaymentError, "no randomness available");
        return Verdict::Answer(
            early_refusal(shared, route, Some(&payment), &refusal, client).await,
        );
    };
    let refuser = Refuser {
        shared,
        route,
        payment: &payment,
        nonce,
        client,
    };
    let pending = match shared
        .engine
        .evaluate(&route.engine, &payment, (shared.clock)())
    {
        Evaluation::Refuse(refusal) => {
            log_refusal(route, &refusal);
            return Verdict::Answer(refuser.answer(&refusal).await);
        }
        Evaluation::Verify(pending) => pending,
    };
    match replayed(shared, route, &pending).await {
        Ok(Some(response)) => return Verdict::Answer(response),
        Ok(None) => {}
        Err(refusal) => return Verdict::Answer(refuser.refuse(refusal).await),
    }
    let field = payment.credentials.first().map(|c| c.field);
    let paid = match route.offer(pending.offer) {
        Some(PaidOffer::Charge(offer)) => charge(shared, route, offer, pending, field).await,
        Some(PaidOffer::Session(offer)) => session(&shared.sessions, offer, pending, field).await,
        None => Err(Refusal::new(
            ProblemType::InternalPaymentError,
            "the credential answers no offer of this route",
        )),
    };
    match paid {
        Ok(paid) => Verdict::Paid(paid),
        Err(refusal) => Verdict::Answer(refuser.refuse(refusal).await),
    }
}

/// Logs the engine's refusal of a request.
pub(crate) fn log_refusal(route: &CompiledRoute, refusal: &Refusal) {
    // Every unpaid request lands here: debug level keeps busy servers quiet.
    if refusal.problem == ProblemType::PaymentRequired {
        tracing::debug!(target: "mpp::server", route = %route.path, "payment required");
    } else {
        tracing::info!(
            target: "mpp::server",
            route = %route.path,
            status = refusal.problem.status(),
            problem = %refusal.problem,
            "payment refused"
        );
    }
}

/// The response kept for an `Idempotency-Key` retry of this credential, if any.
async fn replayed(
    shared: &Shared,
    route: &CompiledRoute,
    pending: &Pending,
) -> Result<Option<Response<PaywallBody>>, Refusal> {
    let Some(key) = pending.idempotency_key() else {
        return Ok(None);
    };
    let kept = replay::lookup(shared.store.as_ref(), key)
        .await
        .map_err(|_| {
            Refusal::new(
                ProblemType::InternalPaymentError,
                "payment state is unavailable",
            )
        })?;
    if kept.is_some() {
        tracing::info!(target: "mpp::server", route = %route.path, "idempotent replay");
    }
    Ok(kept)
}

/// The charge path: claims the challenge, checks the payload, settles.
async fn charge(
    shared: &Shared,
    route: &CompiledRoute,
    offer: &ChargeOffer,
    pending: Pending,
    field: Option<CredentialField>,
) -> Result<Paid, Refusal> {
    let receipt = settle_charge(shared, route, offer, &pending).await?;
    Ok(Paid {
        headers: pending.paid_headers(&receipt),
        keep: pending
            .idempotency_key()
            .map(|key| (key.to_owned(), claim_ttl(&pending))),
        no_store_on_failure: field == Some(CredentialField::PaymentAuthorization),
        answer: PaidAnswer::Handler(Box::new(VerifiedPayment::new(pending, receipt))),
    })
}

/// Claims `pending`'s challenge (atomic, fail-closed), checks its payload and
/// settles it with the offer's method: the receipt, or why not. Shared by every
/// transport.
pub(crate) async fn settle_charge(
    shared: &Shared,
    route: &CompiledRoute,
    offer: &ChargeOffer,
    pending: &Pending,
) -> Result<Receipt, Refusal> {
    // Fail closed: an unknown claim state never grants access.
    let claim = Claim::take(shared.store.as_ref(), pending).await?;
    // After the claim: a payload that fails its schema uses the challenge up too (D9).
    offer
        .method
        .check_payload(&pending.request, &pending.credential.payload)
        .map_err(Refusal::from)?;
    let settlement = match offer.method.settle(pending.charge()).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(target: "mpp::server", route = %route.path, problem = %e.problem_type(), "settlement failed");
            let refusal = Refusal::from(e);
            if refusal.problem != ProblemType::InternalPaymentError {
                return Err(refusal);
            }
            // No verdict, so nothing settled: the same credential may come again.
            return Err(claim
                .release_for_retry(shared.store.as_ref(), pending, refusal)
                .await);
        }
    };
    let receipt = pending.receipt(settlement, (shared.clock)());
    tracing::info!(target: "mpp::server", route = %route.path, method = %offer.method.name(), "payment settled");
    Ok(receipt)
}

/// The session path: applies the action the payload names to the account.
async fn session(
    sessions: &SessionContext,
    offer: &SessionOffer,
    pending: Pending,
    field: Option<CredentialField>,
) -> Result<Paid, Refusal> {
    let no_store_on_failure = field == Some(CredentialField::PaymentAuthorization);
    // A stream is not kept for replays; every other answer is, as for a charge.
    // Kept at least five minutes, as the lightning session draft asks of lifecycle
    // results, even when the echo had expired.
    let keep = pending
        .idempotency_key()
        .filter(|_| !offer.streaming)
        .map(|key| {
            let ttl = claim_ttl(&pending).max(Duration::from_secs(300));
            (key.to_owned(), ttl)
        });
    let (receipt, meter) = match serve::admit(sessions, offer, &pending).await? {
        Admitted::Answer { body, receipt } => {
            return Ok(Paid {
                headers: pending.paid_headers(&receipt),
                answer: PaidAnswer::Json(body),
                keep,
                no_store_on_failure,
            });
        }
        Admitted::Serve { receipt, meter } => (*receipt, meter),
    };
    let headers = pending.paid_headers(&receipt);
    let mut verified = VerifiedPayment::new(pending, receipt);
    verified.session = Some(meter);
    Ok(Paid {
        answer: PaidAnswer::Handler(Box::new(verified)),
        headers,
        keep,
        no_store_on_failure,
    })
}

/// Answers a paid request: runs the handler (or takes the paywall's own answer),
/// and adds the receipt to a 2xx answer and keeps it for replays.
async fn serve<S, ResBody>(
    shared: &Shared,
    mut inner: S,
    parts: Parts,
    body: Bytes,
    paid: Paid,
) -> Result<Response<PaywallBody>, S::Error>
where
    S: Service<Request<PaywallBody>, Response = Response<ResBody>> + Send + 'static,
    S::Future: Send + 'static,
    ResBody: Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    let mut response = match paid.answer {
        PaidAnswer::Json(json) => respond::json(json),
        PaidAnswer::Handler(verified) => {
            let mut request = Request::from_parts(parts, full(body));
            request.extensions_mut().insert(*verified);
            let mut response = box_response(call(&mut inner, request).await?);
            if !response.status().is_success() {
                if paid.no_store_on_failure {
                    response
                        .headers_mut()
                        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                }
                return Ok(response);
            }
            response
        }
    };
    respond::add_paid_headers(&mut response, paid.headers);
    Ok(match paid.keep {
        Some((key, ttl)) => replay::record(shared.store.clone(), key, ttl, response),
        None => response,
    })
}

/// How long the challenge a pending credential answers stays claimed.
fn claim_ttl(pending: &Pending) -> Duration {
    Duration::from_secs(pending.claim_ttl_secs())
}

/// Calls the inner service through a boxed future: awaiting `S::Future` directly in
/// `handle` trips a compiler limitation on `Send` with higher-ranked lifetimes.
#[allow(clippy::type_complexity)]
pub(crate) fn call<S, ResBody>(
    inner: &mut S,
    request: Request<PaywallBody>,
) -> Pin<Box<dyn Future<Output = Result<Response<ResBody>, S::Error>> + Send>>
where
    S: Service<Request<PaywallBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
{
    Box::pin(inner.call(request))
}

pub(crate) fn nonce() -> Option<[u8; 16]> {
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).ok()?;
    Some(nonce)
}

/// Answers every refusal of a request to a paid route, with what the request
/// brought.
struct Refuser<'a, 'p> {
    shared: &'a Shared,
    route: &'a CompiledRoute,
    payment: &'a PaymentRequest<'p>,
    nonce: [u8; 16],
    client: Option<&'a str>,
}

impl Refuser<'_, '_> {
    /// Logs the refusal of a credential the engine accepted, and answers it.
    async fn refuse(&self, refusal: Refusal) -> Response<PaywallBody> {
        tracing::info!(target: "mpp::server", route = %self.route.path, problem = %refusal.problem, "payment refused");
        self.answer(&refusal).await
    }

    /// The reply to a refusal. One that carries challenges (a 402) gets fresh ones:
    /// offers whose terms are made per challenge get them from their method first,
    /// within the mint limit (429 beyond it).
    async fn answer(&self, refusal: &Refusal) -> Response<PaywallBody> {
        let (shared, route) = (self.shared, self.route);
        let now = (shared.clock)();
        let terms = if refusal.problem.carries_challenge() {
            if route.mints {
                if let Err(wait) = shared.minting.take(self.client, now) {
                    tracing::info!(target: "mpp::server", route = %route.path, "too many challenges minted: 429");
                    return respond::too_many(wait);
                }
            }
            issue_terms(route, now).await
        } else {
            Vec::new()
        };
        respond::reply(shared.engine.reply(
            &route.engine,
            self.payment,
            refusal,
            now,
            &self.nonce,
            &terms,
        ))
    }
}

/// A refusal decided before the engine could look at the credential.
async fn early_refusal(
    shared: &Shared,
    route: &CompiledRoute,
    payment: Option<&PaymentRequest<'_>>,
    refusal: &Refusal,
    client: Option<&str>,
) -> Response<PaywallBody> {
    let empty = PaymentRequest::from_headers::<[(&str, &[u8]); 0], _, _>(
        route.http_method.as_str(),
        &route.path,
        None,
        [],
        None,
    );
    let refuser = Refuser {
        shared,
        route,
        payment: payment.unwrap_or(&empty),
        nonce: nonce().unwrap_or_default(),
        client,
    };
    refuser.answer(refusal).await
}

/// Fresh terms for each per-challenge offer of `route` (`None` for the others, and
/// for one whose method failed: that offer is left out of the 402).
pub(crate) async fn issue_terms(route: &CompiledRoute, now: UnixTime) -> Vec<Option<OfferTerms>> {
    let mut terms = Vec::with_capacity(route.offers.len());
    for (offer, compiled) in route.offers.iter().zip(&route.engine.offers) {
        if !compiled.is_per_challenge() {
            terms.push(None);
            continue;
        }
        match offer.issue_terms(now).await {
            Ok(t) => terms.push(Some(OfferTerms::new(&t.request, t.not_after))),
            Err(e) => {
                tracing::warn!(target: "mpp::server", route = %route.path, method = %offer.method_name(), "cannot make the terms of a challenge: {}", e.message());
                terms.push(None);
            }
        }
    }
    terms
}
