//! The paywall's cost per request, in process: issuing a 402, and verifying and
//! settling a paid request end to end through the layer (mock inner service).
//!
//! Run with `cargo bench -p mpp-server`.

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body_util::Full;
use mpp_core::challenge::Challenge;
use mpp_core::credential::Credential;
use mpp_core::json::JsonObject;
use mpp_methods::preimage::Preimage;
use mpp_server::{ChargeOffer, PaidRoute, PaywallBody, PaywallLayer, PaywallService};
use tower_layer::Layer;
use tower_service::Service;

const PREIMAGE: &str = "benchmark-preimage";

/// The inner service: 200 with a short body.
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
        std::future::ready(Ok(Response::new(Full::new(Bytes::from_static(
            b"{\"ok\":true}",
        )))))
    }
}

/// Runs a future that never waits on I/O (the memory store, the test method and the
/// inner service are all immediate).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn service() -> PaywallService<Inner> {
    let layer = PaywallLayer::builder(
        b"a-benchmark-secret-of-at-least-32-bytes",
        "api.example.com",
    )
    .unwrap()
    .route(
        PaidRoute::new(http::Method::GET, "/paid")
            .offer(ChargeOffer::new(
                Arc::new(Preimage),
                Preimage::request("1000", "usd", "acct_1", PREIMAGE),
            ))
            .description("A paid call"),
    )
    .build()
    .unwrap();
    layer.layer(Inner)
}

fn get(authorization: Option<&str>) -> Request<Full<Bytes>> {
    let mut request = Request::get("/paid");
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.body(Full::new(Bytes::new())).unwrap()
}

fn fresh_credential(service: &mut PaywallService<Inner>) -> String {
    let response = block_on(service.call(get(None))).unwrap();
    let header = response.headers()["www-authenticate"].as_bytes().to_vec();
    let challenge = Challenge::parse(&header).unwrap().into_owned();
    let mut payload = JsonObject::new();
    payload.insert("preimage".into(), PREIMAGE.into());
    Credential::answer(&challenge, payload, None).to_header()
}

fn paywall(c: &mut Criterion) {
    let mut svc = service();
    let mut g = c.benchmark_group("paywall layer");
    g.bench_function("issue a 402", |b| {
        b.iter(|| {
            let response = block_on(svc.call(black_box(get(None)))).unwrap();
            assert_eq!(response.status(), 402);
            response
        })
    });
    g.bench_function("verify and settle a paid request", |b| {
        b.iter_batched(
            || {
                let credential = fresh_credential(&mut service());
                (service(), credential)
            },
            |(mut svc, credential)| {
                let response = block_on(svc.call(get(Some(&credential)))).unwrap();
                assert_eq!(response.status(), 200);
                response
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, paywall);
criterion_main!(benches);
