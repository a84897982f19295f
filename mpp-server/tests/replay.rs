//! Responses kept for `Idempotency-Key` retries, when the paid response is large or
//! streamed: it reaches the client as it is produced, the copy kept is bounded, and
//! a client that goes away mid-response still finds it on its retry.

mod common;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::{Method, Request, Response};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use mpp_core::problem::ProblemType;
use mpp_server::{MAX_REPLAY_BODY, PaywallBody, PaywallService};
use tokio::sync::mpsc;
use tower::{Layer, Service, ServiceExt};

/// A body the test writes to, chunk by chunk.
struct Fed(mpsc::Receiver<Bytes>);

impl Body for Fed {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|c| c.map(|c| Ok(Frame::data(c))))
    }
}

/// A handler answering 200 with a body the test feeds through the sender it leaves
/// in `feed`; counts its calls.
#[derive(Clone, Default)]
struct Streaming {
    feed: Arc<Mutex<Option<mpsc::Sender<Bytes>>>>,
    calls: Arc<Mutex<usize>>,
}

impl Service<Request<PaywallBody>> for Streaming {
    type Response = Response<Fed>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Fed>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<PaywallBody>) -> Self::Future {
        let (tx, rx) = mpsc::channel(4);
        *self.feed.lock().unwrap() = Some(tx);
        *self.calls.lock().unwrap() += 1;
        Box::pin(async move { Ok(Response::new(Fed(rx))) })
    }
}

struct Setup {
    service: PaywallService<Streaming>,
    handler: Streaming,
    harness: Harness,
}

fn setup() -> Setup {
    let clock = test_clock();
    let layer = builder(&clock)
        .route(paid(Method::POST, "/paid-post"))
        .build()
        .unwrap();
    let handler = Streaming::default();
    Setup {
        service: layer.layer(handler.clone()),
        handler,
        harness: Harness::new(layer, &clock),
    }
}

impl Setup {
    fn post(&self, credential: &str) -> Request<http_body_util::Full<Bytes>> {
        request(
            Method::POST,
            "/paid-post",
            &[("authorization", credential), ("idempotency-key", "k1")],
            "{}",
        )
    }

    /// The handler's body writer: the body ends when it is dropped.
    fn feed(&self) -> mpsc::Sender<Bytes> {
        self.handler
            .feed
            .lock()
            .unwrap()
            .take()
            .expect("the handler ran")
    }

    /// Sends a paid request; the response (its head) must come while the handler
    /// is still producing the body.
    async fn paid_response(&self, credential: &str) -> Response<PaywallBody> {
        let response = self.service.clone().oneshot(self.post(credential));
        tokio::time::timeout(Duration::from_secs(5), response)
            .await
            .expect("the response starts before its body is complete")
            .unwrap_or_else(|e: Infallible| match e {})
    }
}

async fn next_data(body: &mut PaywallBody) -> Bytes {
    let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("a chunk arrives as soon as it is produced")
        .expect("the body goes on")
        .expect("the body does not fail");
    frame.into_data().expect("a data frame")
}

#[tokio::test]
async fn a_large_paid_response_streams_at_once_and_is_not_kept_for_replays() {
    let s = setup();
    let challenge = s
        .harness
        .challenge(request(Method::POST, "/paid-post", &[], "{}"))
        .await;
    let value = pay(&challenge);
    let mut response = s.paid_response(&value).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("payment-receipt"));
    let feed = s.feed();
    feed.send(Bytes::from_static(b"first")).await.unwrap();
    assert_eq!(next_data(response.body_mut()).await, "first");
    // Past the limit of what is kept, the body still streams, chunk by chunk.
    let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
    let chunks = MAX_REPLAY_BODY / chunk.len() + 2;
    let mut received = 0;
    for _ in 0..chunks {
        feed.send(chunk.clone()).await.unwrap();
        received += next_data(response.body_mut()).await.len();
    }
    assert_eq!(received, chunks * chunk.len());
    drop(feed);
    assert!(response.body_mut().frame().await.is_none(), "the end");
    // Nothing was kept: the retry is a reuse of the credential, refused.
    s.harness
        .send(s.post(&value))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(*s.handler.calls.lock().unwrap(), 1);
}

#[tokio::test]
async fn a_response_whose_client_went_away_is_still_kept_for_the_retry() {
    // req: core.idempotency.replay
    let s = setup();
    let challenge = s
        .harness
        .challenge(request(Method::POST, "/paid-post", &[], "{}"))
        .await;
    let value = pay(&challenge);
    let mut response = s.paid_response(&value).await;
    let feed = s.feed();
    feed.send(Bytes::from_static(b"part one, ")).await.unwrap();
    assert_eq!(next_data(response.body_mut()).await, "part one, ");
    // The client goes away; the handler finishes anyway.
    drop(response);
    feed.send(Bytes::from_static(b"part two")).await.unwrap();
    drop(feed);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let retry = s.harness.send(s.post(&value)).await;
        if retry.status == 200 {
            retry.assert_paid();
            assert_eq!(retry.body, "part one, part two", "the whole response");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never kept");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(*s.handler.calls.lock().unwrap(), 1);
}
