//! The paywall's cost per request, in process: issuing a 402, and verifying and
//! settling a paid request end to end through the layer (mock inner service); the
//! same two for a priced JSON-RPC call through `JsonRpcPaywall::admit`.
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
use mpp_core::ParseOptions;
use mpp_core::challenge::Challenge;
use mpp_core::credential::Credential;
use mpp_core::json::JsonObject;
use mpp_core::jsonrpc::{self, Placement};
use mpp_methods::preimage::Preimage;
use mpp_server::jsonrpc::Admission;
use mpp_server::{
    ChargeOffer, JsonRpcPaywall, PaidRoute, PaywallBody, PaywallLayer, PaywallService, PricedCall,
};
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

/// A paywall pricing the JSON-RPC method `paid`, and a request calling it.
fn jsonrpc_paywall() -> (JsonRpcPaywall, JsonObject) {
    let layer = PaywallLayer::builder(
        b"a-benchmark-secret-of-at-least-32-bytes",
        "api.example.com",
    )
    .unwrap()
    .call(PricedCall::method("paid").offer(ChargeOffer::new(
        Arc::new(Preimage),
        Preimage::request("1000", "usd", "acct_1", PREIMAGE),
    )))
    .build()
    .unwrap();
    let request = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "paid", "params": [1]});
    (layer.jsonrpc(), request.as_object().unwrap().clone())
}

/// The request with a credential for a fresh challenge of `paywall`, at the root.
fn paid_request(paywall: &JsonRpcPaywall, request: &JsonObject) -> JsonObject {
    let Admission::Refused(error) = block_on(paywall.admit(request)) else {
        panic!("an unpaid call is refused");
    };
    let required = jsonrpc::read_payment_error(&error, &ParseOptions::STRICT)
        .unwrap()
        .unwrap();
    let mut payload = JsonObject::new();
    payload.insert("preimage".into(), PREIMAGE.into());
    let credential = Credential::answer(&required.challenges[0], payload, None);
    let mut paid = request.clone();
    jsonrpc::attach_credential(&mut paid, &credential, Placement::Root).unwrap();
    paid
}

fn jsonrpc_calls(c: &mut Criterion) {
    let (paywall, request) = jsonrpc_paywall();
    let mut g = c.benchmark_group("json-rpc paywall");
    g.bench_function("refuse an unpaid call with -32042", |b| {
        b.iter(|| {
            let admission = block_on(paywall.admit(black_box(&request)));
            assert!(matches!(admission, Admission::Refused(_)));
            admission
        })
    });
    g.bench_function("verify and settle a paid call", |b| {
        b.iter_batched(
            || {
                let (paywall, request) = jsonrpc_paywall();
                let paid = paid_request(&paywall, &request);
                (paywall, paid)
            },
            |(paywall, paid)| {
                let admission = block_on(paywall.admit(&paid));
                assert!(matches!(admission, Admission::Paid(_)));
                admission
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, paywall, jsonrpc_calls);
criterion_main!(benches);
