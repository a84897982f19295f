//! Responses kept for `Idempotency-Key` retries.
//!
//! A paid response streams to the client as the handler produces it; a copy of it,
//! up to [`MAX_REPLAY_BODY`] bytes of body, is stored once it is complete, so a
//! retry with the same key and credential gets the same answer without paying or
//! running the handler again. A larger body streams on and nothing is stored: its
//! retry is refused like any reuse of the credential. When the client goes away
//! before the end, the rest of a body that still fits is read and stored anyway
//! (for at most [`DRAIN_FOR`]), so that the retry the client will likely make finds
//! it.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use mpp_core::method::BoxFuture;

use crate::body::{BoxError, PaywallBody, full};
use crate::store::{Store, StoreError};

/// The largest response body kept for replays.
pub const MAX_REPLAY_BODY: usize = 1024 * 1024;

/// How long the rest of a response is read after its client went away.
const DRAIN_FOR: Duration = Duration::from_secs(60);

/// The stored response for `key`, if any (a value that does not decode counts as
/// none).
pub(crate) async fn lookup(
    store: &dyn Store,
    key: &str,
) -> Result<Option<Response<PaywallBody>>, StoreError> {
    Ok(store
        .get(key)
        .await?
        .and_then(|stored| StoredResponse::decode(&stored))
        .map(StoredResponse::into_response))
}

/// `response`, whose body is copied as it streams and stored under `key` for `ttl`
/// once complete.
pub(crate) fn record(
    store: Arc<dyn Store>,
    key: String,
    ttl: Duration,
    response: Response<PaywallBody>,
) -> Response<PaywallBody> {
    let (parts, body) = response.into_parts();
    let copy = Kept {
        store,
        key,
        ttl,
        status: parts.status.as_u16(),
        headers: parts
            .headers
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        body: Vec::new(),
    };
    let recording = Recording {
        inner: Some(body),
        copy: Some(copy),
        saving: None,
    };
    Response::from_parts(parts, recording.boxed_unsync())
}

/// What is being kept of one response.
struct Kept {
    store: Arc<dyn Store>,
    key: String,
    ttl: Duration,
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Kept {
    /// Adds `data`; false once the body outgrows the limit (the copy is then dropped).
    fn keep(&mut self, data: &[u8]) -> bool {
        if self.body.len() + data.len() > MAX_REPLAY_BODY {
            return false;
        }
        self.body.extend_from_slice(data);
        true
    }

    async fn save(self) {
        let stored = StoredResponse {
            status: self.status,
            headers: self.headers,
            body: self.body.into(),
        };
        // Losing the copy only costs the retry its replay; the payment stands.
        if let Err(e) = self.store.put(&self.key, &stored.encode(), self.ttl).await {
            tracing::warn!(target: "mpp::server", "cannot keep a response for replays: {e}");
        }
    }
}

/// A body passed through while a copy of it is kept.
struct Recording {
    /// `None` once it ended.
    inner: Option<PaywallBody>,
    /// `None` once it outgrew the limit, failed, or is being saved.
    copy: Option<Kept>,
    saving: Option<BoxFuture<'static, ()>>,
}

impl Body for Recording {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            if let Some(saving) = this.saving.as_mut() {
                // The end of the body is sent once the copy is stored, so a retry
                // made after the response arrived finds it.
                ready!(saving.as_mut().poll(cx));
                this.saving = None;
                return Poll::Ready(None);
            }
            let Some(inner) = this.inner.as_mut() else {
                return Poll::Ready(None);
            };
            match ready!(Pin::new(inner).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let (Some(copy), Some(data)) = (this.copy.as_mut(), frame.data_ref()) {
                        if !copy.keep(data) {
                            this.copy = None;
                        }
                    }
                    return Poll::Ready(Some(Ok(frame)));
                }
                Some(Err(e)) => {
                    this.inner = None;
                    this.copy = None;
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    this.inner = None;
                    match this.copy.take() {
                        Some(copy) => this.saving = Some(Box::pin(copy.save())),
                        None => return Poll::Ready(None),
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_none() && self.saving.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl Drop for Recording {
    /// The client went away: finish the copy in the background if it can still be
    /// kept, so the retry finds it.
    fn drop(&mut self) {
        let saving = self.saving.take();
        let unfinished = self.inner.take().zip(self.copy.take());
        if saving.is_none() && unfinished.is_none() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            if let Some(saving) = saving {
                saving.await;
            }
            if let Some((body, copy)) = unfinished {
                if let Ok(Some(copy)) = tokio::time::timeout(DRAIN_FOR, drain(body, copy)).await {
                    copy.save().await;
                }
            }
        });
    }
}

/// Reads the rest of `body` into `copy`; `None` if it outgrows the limit or fails.
async fn drain(mut body: PaywallBody, mut copy: Kept) -> Option<Kept> {
    while let Some(frame) = body.frame().await {
        if let Some(data) = frame.ok()?.data_ref() {
            if !copy.keep(data) {
                return None;
            }
        }
    }
    Some(copy)
}

/// A response kept for `Idempotency-Key` replays.
struct StoredResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl StoredResponse {
    fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "status": self.status,
            "headers": self.headers,
            "body": mpp_core::base64::encode(&self.body),
        }))
        .unwrap_or_default()
    }

    fn decode(bytes: &[u8]) -> Option<StoredResponse> {
        let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
        let headers = value["headers"]
            .as_array()?
            .iter()
            .filter_map(|pair| Some((pair[0].as_str()?.to_owned(), pair[1].as_str()?.to_owned())))
            .collect();
        Some(StoredResponse {
            status: u16::try_from(value["status"].as_u64()?).ok()?,
            headers,
            body: mpp_core::base64::decode(value["body"].as_str()?)
                .ok()?
                .into(),
        })
    }

    fn into_response(self) -> Response<PaywallBody> {
        let mut response = Response::new(full(self.body));
        *response.status_mut() = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        for (name, value) in self.headers {
            if let (Ok(name), Ok(mut value)) =
                (HeaderName::try_from(name), HeaderValue::try_from(value))
            {
                // Receipts are sensitive on a replay too (D10).
                value.set_sensitive(name == "payment-receipt");
                response.headers_mut().append(name, value);
            }
        }
        response
    }
}
