//! The tower middleware: [`PaywallLayer`] wraps any HTTP service in a
//! [`PaywallService`] that answers unpaid requests to paid routes with 402, verifies
//! and settles credentials, and only then calls the inner service.
//!
//! For a request to a paid route it:
//!
//! 1. buffers the body (up to the configured limit; 413 beyond it), because the
//!    challenge binds its digest;
//! 2. asks the engine ([`mpp_core::server::Paywall::evaluate`]) for a verdict;
//! 3. for a credential that passed the stateless checks: replays the stored response
//!    of an `Idempotency-Key` retry; checks the payload's schema; claims the
//!    challenge id in the store (atomic, fail-closed); settles with the method;
//! 4. calls the inner service with a [`VerifiedPayment`] in the request's extensions,
//!    and adds `Payment-Receipt` and `Cache-Control: private` to its 2xx response.
//!
//! The inner service never runs for an unpaid or refused request.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body::Body;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use mpp_core::challenge::Challenge;
use mpp_core::credential::CredentialField;
use mpp_core::problem::{Problem, ProblemType};
use mpp_core::receipt::Receipt;
use mpp_core::server::{Evaluation, OfferTerms, PaymentRequest, Pending, Refusal, Reply};
use mpp_core::time::UnixTime;
use tower_layer::Layer;
use tower_service::Service;

use crate::claim::Claim;
use crate::config::{CompiledRoute, Shared};
use crate::replay;
use crate::session::{self, MeteredSession, serve::Admitted};

/// The error type of bodies the paywall hands on.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The body type of the requests the inner service receives and of the responses
/// the paywall returns.
pub type PaywallBody = UnsyncBoxBody<Bytes, BoxError>;

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

/// A tower layer that puts a paywall in front of a service. Built by
/// [`crate::Paywall::builder`].
#[derive(Debug, Clone)]
pub struct PaywallLayer {
    shared: Arc<Shared>,
}

impl PaywallLayer {
    pub(crate) fn new(shared: Arc<Shared>) -> PaywallLayer {
        PaywallLayer { shared }
    }

    /// Closes the sessions left unused longer than their offer's idle timeout, and
    /// refunds what they did not spend (one attempt each): how many it closed. Call
    /// it periodically (every few seconds to a minute); it looks at every open
    /// session of every instance sharing the store, so one instance calling it is
    /// enough, and several may.
    pub async fn close_idle_sessions(&self) -> Result<usize, session::LedgerError> {
        session::serve::close_idle(&self.shared).await
    }

    /// Calls [`close_idle_sessions`](PaywallLayer::close_idle_sessions) every `every`
    /// until this layer and every service made from it are dropped. Spawn it on the
    /// runtime that serves them: `tokio::spawn(layer.sweep_idle_sessions(every))`.
    /// A sweep that fails (the store unreachable, say) is logged and tried again
    /// next time.
    pub fn sweep_idle_sessions(
        &self,
        every: Duration,
    ) -> impl Future<Output = ()> + Send + 'static {
        // Weak, so that the sweeper does not keep a dropped server's state alive.
        let shared = Arc::downgrade(&self.shared);
        async move {
            // A zero period would make `interval` panic.
            let mut ticks = tokio::time::interval(every.max(Duration::from_millis(10)));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                if let Err(e) = session::serve::close_idle(&shared).await {
                    tracing::warn!(target: "mpp::server", "closing idle sessions failed: {e}");
                }
            }
        }
    }

    /// The session accounts, for inspection and operations (a forced close, say).
    pub fn sessions(&self) -> &session::SessionLedger {
        &self.shared.ledger
    }
}

impl<S> Layer<S> for PaywallLayer {
    type Service = PaywallService<S>;

    fn layer(&self, inner: S) -> PaywallService<S> {
        PaywallService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service [`PaywallLayer`] produces.
#[derive(Debug, Clone)]
pub struct PaywallService<S> {
    inner: S,
    shared: Arc<Shared>,
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
            return Ok(discovery(document.clone()));
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
    let body = match Limited::new(body, shared.max_body).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => {
            return Ok(plain_problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Payload Too Large",
                &format!("the request body exceeds {} bytes", shared.max_body),
            ));
        }
        Err(_) => {
            return Ok(problem_reply(
                &shared,
                route,
                None,
                ProblemType::BadRequest,
                "cannot read the request body",
                client.as_deref(),
            )
            .await);
        }
    };
    let payment = PaymentRequest::from_headers(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query(),
        &parts.headers,
        Some(&body[..]),
    );
    let field = payment.credentials.first().map(|c| c.field);
    let Some(nonce) = nonce() else {
        return Ok(problem_reply(
            &shared,
            route,
            Some(&payment),
            ProblemType::InternalPaymentError,
            "no randomness available",
            client.as_deref(),
        )
        .await);
    };
    let answer = async |refusal: &Refusal| {
        refuse(&shared, route, &payment, refusal, &nonce, client.as_deref()).await
    };
    let pending = match shared
        .engine
        .evaluate(&route.engine, &payment, (shared.clock)())
    {
        Evaluation::Refuse(refusal) => {
            // Every unpaid request lands here: debug level keeps busy servers quiet.
            if refusal.problem == ProblemType::PaymentRequired {
                tracing::debug!(target: "mpp::server", route = %route.paid.path, "payment required");
            } else {
                tracing::info!(
                    target: "mpp::server",
                    route = %route.paid.path,
                    status = refusal.problem.status(),
                    problem = %refusal.problem,
                    "payment refused"
                );
            }
            return Ok(answer(&refusal).await);
        }
        Evaluation::Verify(pending) => pending,
    };
    let refuse_with = async |refusal: Refusal| {
        tracing::info!(target: "mpp::server", route = %route.paid.path, problem = %refusal.problem, "payment refused");
        Ok(answer(&refusal).await)
    };
    if let Some(key) = pending.idempotency_key() {
        match replay::lookup(shared.store.as_ref(), key).await {
            Ok(Some(response)) => {
                tracing::info!(target: "mpp::server", route = %route.paid.path, "idempotent replay");
                return Ok(response);
            }
            Ok(None) => {}
            Err(_) => {
                return refuse_with(Refusal::new(
                    ProblemType::InternalPaymentError,
                    "payment state is unavailable",
                ))
                .await;
            }
        }
    }
    let claim_ttl = Duration::from_secs(pending.claim_ttl_secs());
    if let Some(index) = pending.offer.checked_sub(route.paid.offers.len()) {
        let offer = &route.paid.sessions[index];
        // A stream is not kept for replays; every other answer is, as for a charge.
        let replay_key = pending
            .idempotency_key()
            .filter(|_| !offer.streaming)
            .map(str::to_owned);
        let response = match session::serve::admit(&shared, offer, &pending).await {
            Err(refusal) => return refuse_with(refusal).await,
            Ok(Admitted::Answer { body, receipt }) => {
                let mut response = Response::new(full(body));
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                add_paid_headers(&mut response, pending.paid_headers(&receipt));
                response
            }
            Ok(Admitted::Serve { receipt, meter }) => {
                let paid_headers = pending.paid_headers(&receipt);
                let mut request = Request::from_parts(parts, full(body));
                let mut verified = verified(pending, *receipt);
                verified.session = Some(meter);
                request.extensions_mut().insert(verified);
                let mut response = box_response(call(&mut inner, request).await?);
                if !response.status().is_success() {
                    return Ok(response);
                }
                add_paid_headers(&mut response, paid_headers);
                response
            }
        };
        return Ok(match replay_key {
            // Kept at least five minutes, as the lightning session draft asks of
            // lifecycle results, even when the echo had expired.
            Some(key) => {
                let ttl = claim_ttl.max(Duration::from_secs(300));
                replay::record(shared.store.clone(), key, ttl, response)
            }
            None => response,
        });
    }
    let offer = &route.paid.offers[pending.offer];
    let claim = match Claim::take(shared.store.as_ref(), &pending).await {
        Ok(claim) => claim,
        // Fail closed: an unknown claim state never grants access.
        Err(refusal) => return refuse_with(refusal).await,
    };
    // After the claim: a payload that fails its schema uses the challenge up too (D9).
    if let Err(e) = offer
        .method
        .check_payload(&pending.request, &pending.credential.payload)
    {
        return refuse_with(Refusal::from(e)).await;
    }
    let settlement = match offer.method.settle(pending.charge()).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(target: "mpp::server", route = %route.paid.path, problem = %e.problem_type(), "settlement failed");
            let mut refusal = Refusal::from(e);
            if refusal.problem == ProblemType::InternalPaymentError {
                // No verdict, so nothing settled: the same credential may come again.
                refusal = claim
                    .release_for_retry(shared.store.as_ref(), &pending, refusal)
                    .await;
            }
            return refuse_with(refusal).await;
        }
    };
    let receipt = pending.receipt(settlement, (shared.clock)());
    tracing::info!(target: "mpp::server", route = %route.paid.path, method = %offer.method.name(), "payment settled");
    let paid_headers = pending.paid_headers(&receipt);
    let idempotency_key = pending.idempotency_key().map(str::to_owned);
    let mut request = Request::from_parts(parts, full(body));
    request.extensions_mut().insert(verified(pending, receipt));
    let response = call(&mut inner, request).await?;
    if !response.status().is_success() {
        let mut response = box_response(response);
        if field == Some(CredentialField::PaymentAuthorization) {
            response
                .headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        return Ok(response);
    }
    let mut response = box_response(response);
    add_paid_headers(&mut response, paid_headers);
    if let Some(key) = idempotency_key {
        return Ok(replay::record(
            shared.store.clone(),
            key,
            claim_ttl,
            response,
        ));
    }
    Ok(response)
}

/// Calls the inner service through a boxed future: awaiting `S::Future` directly in
/// `handle` trips a compiler limitation on `Send` with higher-ranked lifetimes.
#[allow(clippy::type_complexity)]
fn call<S, ResBody>(
    inner: &mut S,
    request: Request<PaywallBody>,
) -> Pin<Box<dyn Future<Output = Result<Response<ResBody>, S::Error>> + Send>>
where
    S: Service<Request<PaywallBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
{
    Box::pin(inner.call(request))
}

fn verified(pending: Pending, receipt: Receipt) -> VerifiedPayment {
    VerifiedPayment {
        receipt,
        source: pending.credential.source,
        challenge: pending.credential.challenge,
        session: None,
    }
}

/// Adds the receipt and `Cache-Control: private` to a paid response.
fn add_paid_headers(response: &mut Response<PaywallBody>, headers: Vec<(&'static str, String)>) {
    for (name, value) in headers {
        if let Ok(mut value) = HeaderValue::try_from(value) {
            // Receipts are sensitive (D10): keep them out of header logging.
            value.set_sensitive(name == "payment-receipt");
            response
                .headers_mut()
                .insert(HeaderName::from_static(name), value);
        }
    }
}

fn nonce() -> Option<[u8; 16]> {
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).ok()?;
    Some(nonce)
}

fn box_response<B>(response: Response<B>) -> Response<PaywallBody>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    response.map(boxed)
}

fn boxed<B>(body: B) -> PaywallBody
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    body.map_err(|e| -> BoxError { e.into() }).boxed_unsync()
}

pub(crate) fn full(bytes: impl Into<Bytes>) -> PaywallBody {
    Full::new(bytes.into())
        .map_err(|e: Infallible| match e {})
        .boxed_unsync()
}

/// The HTTP response for an engine reply (402, 400 or 500, always `no-store`).
fn reply_response(reply: Reply) -> Response<PaywallBody> {
    let mut response = Response::new(full(reply.body));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.reserve(reply.headers.len());
    for (name, value) in reply.headers {
        let value = match value {
            std::borrow::Cow::Borrowed(v) => Ok(HeaderValue::from_static(v)),
            std::borrow::Cow::Owned(v) => HeaderValue::try_from(v),
        };
        if let Ok(value) = value {
            headers.append(HeaderName::from_static(name), value);
        }
    }
    response
}

/// A refusal decided before the engine could look at the credential.
async fn problem_reply(
    shared: &Shared,
    route: &CompiledRoute,
    payment: Option<&PaymentRequest<'_>>,
    problem: ProblemType,
    detail: &str,
    client: Option<&str>,
) -> Response<PaywallBody> {
    let empty = PaymentRequest::from_headers::<[(&str, &[u8]); 0], _, _>(
        route.paid.http_method.as_str(),
        &route.paid.path,
        None,
        [],
        None,
    );
    let refusal = Refusal::new(problem, detail);
    let nonce = nonce().unwrap_or_default();
    refuse(
        shared,
        route,
        payment.unwrap_or(&empty),
        &refusal,
        &nonce,
        client,
    )
    .await
}

/// The reply to a refusal; offers whose terms are made per challenge get them from
/// their method first.
async fn refuse(
    shared: &Shared,
    route: &CompiledRoute,
    payment: &PaymentRequest<'_>,
    refusal: &Refusal,
    nonce: &[u8; 16],
    client: Option<&str>,
) -> Response<PaywallBody> {
    let now = (shared.clock)();
    let terms = if refusal.problem.carries_challenge() {
        if route.mints {
            if let Err(wait) = shared.minting.take(client, now) {
                tracing::info!(target: "mpp::server", route = %route.paid.path, "too many challenges minted: 429");
                return too_many(wait);
            }
        }
        issue_terms(route, now).await
    } else {
        Vec::new()
    };
    reply_response(
        shared
            .engine
            .reply(&route.engine, payment, refusal, now, nonce, &terms),
    )
}

/// Fresh terms for each per-challenge offer of `route` (`None` for the others, and
/// for one whose method failed: that offer is left out of the 402). The engine's
/// offers are the charge offers, then the session offers.
async fn issue_terms(route: &CompiledRoute, now: UnixTime) -> Vec<Option<OfferTerms>> {
    let paid = &route.paid;
    let mut terms = Vec::with_capacity(route.engine.offers.len());
    for (i, compiled) in route.engine.offers.iter().enumerate() {
        if !compiled.is_per_challenge() {
            terms.push(None);
            continue;
        }
        let (name, issued) = if let Some(o) = paid.offers.get(i) {
            (o.method.name(), o.method.issue_terms(&o.request, now).await)
        } else {
            let s = &paid.sessions[i - paid.offers.len()];
            (s.method.name(), s.method.issue_terms(&s.request, now).await)
        };
        match issued {
            Ok(t) => terms.push(Some(OfferTerms::new(&t.request, t.not_after))),
            Err(e) => {
                tracing::warn!(target: "mpp::server", route = %paid.path, method = %name, "cannot make the terms of a challenge: {}", e.message());
                terms.push(None);
            }
        }
    }
    terms
}

fn plain_problem(status: StatusCode, title: &str, detail: &str) -> Response<PaywallBody> {
    let mut problem = Problem::new(ProblemType::BadRequest).with_detail(detail);
    problem.type_uri = "about:blank".into();
    problem.title = title.into();
    problem.status = status.as_u16();
    let mut response = Response::new(full(problem.to_json()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// 429: too many challenges whose terms cost something to make; try again in
/// `wait` seconds.
fn too_many(wait: u64) -> Response<PaywallBody> {
    let mut response = plain_problem(
        StatusCode::TOO_MANY_REQUESTS,
        "Too Many Requests",
        "too many payment challenges were asked for; try again later",
    );
    response
        .headers_mut()
        .insert(http::header::RETRY_AFTER, HeaderValue::from(wait));
    response
}

fn discovery(document: Bytes) -> Response<PaywallBody> {
    let mut response = Response::new(full(document));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=300"));
    response
}
