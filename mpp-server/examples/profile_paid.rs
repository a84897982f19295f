//! Runs N paid requests through the paywall layer in process (memory store,
//! preimage test method, an inner service answering at once), for a profiler:
//!
//!     cargo build --release -p mpp-server --example profile_paid
//!     valgrind --tool=callgrind target/release/examples/profile_paid 2000
//!
//! Each request answers a challenge of its own, fetched by an unpaid request first,
//! so the profile holds both paths: a 402, and a verified, claimed, settled request.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use mpp_core::challenge::Challenge;
use mpp_core::credential::Credential;
use mpp_core::json::JsonObject;
use mpp_methods::preimage::Preimage;
use mpp_server::{ChargeOffer, PaidRoute, PaywallBody, PaywallLayer};
use tower_layer::Layer;
use tower_service::Service;

const PREIMAGE: &str = "profile-preimage";

#[derive(Clone, Copy, Debug)]
struct Inner;

impl Service<Request<PaywallBody>> for Inner {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<PaywallBody>) -> Self::Future {
        std::future::ready(Ok(Response::new(Full::new(Bytes::from_static(b"{}")))))
    }
}

fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn get(authorization: Option<&str>) -> Request<Full<Bytes>> {
    let mut request = Request::get("/paid");
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.body(Full::new(Bytes::new())).unwrap()
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let layer = PaywallLayer::builder(
        b"a-profiling-secret-of-at-least-32-bytes",
        "api.example.com",
    )
    .unwrap()
    .route(
        PaidRoute::new(http::Method::GET, "/paid").offer(ChargeOffer::new(
            Arc::new(Preimage),
            Preimage::request("1000", "usd", "acct_1", PREIMAGE),
        )),
    )
    .build()
    .unwrap();
    let mut service = layer.layer(Inner);
    let mut payload = JsonObject::new();
    payload.insert("preimage".into(), PREIMAGE.into());
    for _ in 0..n {
        let refused = block_on(service.call(get(None))).unwrap();
        let header = refused.headers()["www-authenticate"].as_bytes().to_vec();
        let challenge = Challenge::parse(&header).unwrap().into_owned();
        let credential = Credential::answer(&challenge, payload.clone(), None).to_header();
        let paid = block_on(service.call(get(Some(&credential)))).unwrap();
        assert_eq!(paid.status(), 200);
    }
}
