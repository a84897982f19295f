//! The reference server's session routes, paid with `lightning/session` on the test
//! network: a metered route billed per request and a stream billed per event.
//!
//! | route | billed | answer |
//! |---|---|---|
//! | `GET /session/metered` | one unit per request | `{"ok": true, "route", "session"}` |
//! | `GET /session/stream?chunks=N&delayMs=M` | one unit per event | Server-Sent Events: `N` messages `{"chunk": i}` (default 10, at most 10,000), `M` ms apart (default 0, at most 10,000), then `payment-receipt` |
//!
//! Both offer the same terms, so a session opened on one pays on the other. A unit
//! costs [`UNIT_SAT`] satoshis; the deposit is [`DEPOSIT_SAT`].

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::Query;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_core::Stream;
use mpp_core::json::JsonObject;
use mpp_methods::lightning::{LightningNode, LightningSession};
use mpp_server::{PaidRoute, SessionOffer, VerifiedPayment};
use serde_json::json;

use crate::{ReferenceConfig, paid_route};

/// The price of one unit (a metered request, or one event of a stream), in satoshis.
pub const UNIT_SAT: u64 = 2;
/// The deposit a session opens with, in satoshis: 20 units.
pub const DEPOSIT_SAT: u64 = 40;
/// The most events one stream may ask for.
const MAX_CHUNKS: u64 = 10_000;
/// The longest pause between events one stream may ask for.
const MAX_DELAY_MS: u64 = 10_000;

/// The terms both routes offer.
fn terms(idle: Duration) -> JsonObject {
    let mut terms = LightningSession::template(UNIT_SAT, Some("reference session (test network)"));
    terms.insert("unitType".into(), "request".into());
    terms.insert(
        "idleTimeout".into(),
        idle.as_secs().max(1).to_string().into(),
    );
    terms
}

/// The paid routes, for the paywall: sessions on `node`, closed after the
/// configured idle time.
pub(super) fn paid_routes(
    node: Arc<dyn LightningNode>,
    config: &ReferenceConfig,
) -> [PaidRoute; 2] {
    let idle = config.session_idle;
    let method = Arc::new(LightningSession::new(node).deposit(DEPOSIT_SAT));
    let offer = SessionOffer::new(method, terms(idle)).idle_timeout(idle);
    let route = |path| paid_route(config, http::Method::GET, path);
    [
        route("/session/metered")
            .session(offer.clone())
            .description(
                "A metered route: each request is paid from a session (lightning, test network)",
            ),
        route("/session/stream")
            .session(offer.streaming())
            .description("Server-Sent Events, each paid from a session (lightning, test network)"),
    ]
}

/// `GET /session/metered`.
pub(super) async fn metered(payment: VerifiedPayment) -> Json<serde_json::Value> {
    Json(json!({
        "ok": true,
        "route": "/session/metered",
        "session": payment.receipt.reference.as_str(),
    }))
}

/// `GET /session/stream`.
pub(super) async fn stream(
    payment: VerifiedPayment,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let number = |name: &str, default: u64, max: u64| match query.get(name) {
        None => Ok(default),
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| format!("`{name}` must be a whole number from 0 to {max}")),
    };
    let (chunks, delay_ms) = match (
        number("chunks", 10, MAX_CHUNKS),
        number("delayMs", 0, MAX_DELAY_MS),
    ) {
        (Ok(c), Ok(d)) => (c, d),
        // Refused before anything is billed: a streaming route debits per event.
        (Err(message), _) | (_, Err(message)) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": "invalid-request", "message": message })),
            )
                .into_response();
        }
    };
    let Some(session) = payment.session else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let events = Chunks {
        next: 1,
        last: chunks,
        delay: Duration::from_millis(delay_ms),
        sleep: None,
    };
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::new(session.sse(events)),
    )
        .into_response()
}

/// `{"chunk": i}` for `i` in `next..=last`, `delay` apart.
struct Chunks {
    next: u64,
    last: u64,
    delay: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Stream for Chunks {
    type Item = String;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<String>> {
        if self.next > self.last {
            return Poll::Ready(None);
        }
        if self.next > 1 && !self.delay.is_zero() {
            let delay = self.delay;
            let sleep = self
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(delay)));
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.sleep = None;
        }
        let chunk = self.next;
        self.next += 1;
        Poll::Ready(Some(json!({ "chunk": chunk }).to_string()))
    }
}
