//! Single use under concurrency (D9, spec §1.11): many simultaneous requests
//! carrying one credential produce one settlement and one delivery.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use http::{Method, StatusCode};
use mpp_core::problem::ProblemType;
use mpp_server::{ChargeOffer, PaidRoute};
use tokio::sync::Barrier;

/// Sends `n` copies of `make()` at once from spawned tasks, released together by a
/// barrier, and returns the answers.
async fn race(
    h: &Harness,
    n: usize,
    make: impl Fn() -> http::Request<http_body_util::Full<bytes::Bytes>>,
) -> Vec<Answer> {
    let barrier = Arc::new(Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let h = h.clone();
            let barrier = barrier.clone();
            let request = make();
            tokio::spawn(async move {
                barrier.wait().await;
                h.send(request).await
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(n);
    for task in tasks {
        answers.push(task.await.expect("no task panics"));
    }
    answers
}

/// Checks that exactly one answer is a paid 200 and every other one a 402
/// `invalid-challenge`.
fn assert_one_winner(answers: &[Answer], answered: &mpp_core::challenge::Challenge<'_>) {
    let paid: Vec<_> = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .collect();
    assert_eq!(paid.len(), 1, "exactly one request is served");
    paid[0].assert_paid();
    for answer in answers.iter().filter(|a| a.status != StatusCode::OK) {
        answer.assert_refused(ProblemType::InvalidChallenge, answered);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn thousand_concurrent_uses_of_one_credential_are_served_once() {
    // req: core.concurrency.once charge.replay.credential-once core.caching.challenge-fresh
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    let value = pay(&challenge);
    let answers = race(&h, 1000, || get_paid("/paid", &value)).await;
    assert_eq!(answers.len(), 1000);
    assert_one_winner(&answers, &challenge);
    assert_eq!(h.calls(), 1, "the handler ran exactly once");
    let ids: HashSet<_> = answers
        .iter()
        .filter(|a| a.status != StatusCode::OK)
        .map(|a| a.problem().challenge_id.unwrap())
        .collect();
    assert_eq!(
        ids.len(),
        999,
        "every refusal offers its own fresh challenge"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_uses_during_a_slow_settlement_settle_once() {
    // req: core.concurrency.once core.replay.single-use-proof
    let mut method = Scripted::new(Ok(()));
    method.delay = Some(Duration::from_millis(50));
    let settles = method.settles.clone();
    let clock = test_clock();
    let h = Harness::new(
        builder(&clock)
            .route(
                PaidRoute::new(Method::GET, "/paid")
                    .offer(ChargeOffer::new(Arc::new(method), Scripted::request())),
            )
            .build()
            .unwrap(),
        &clock,
    );
    let challenge = h.challenge(get("/paid")).await;
    let value = credential(&challenge, Scripted::payload());
    let answers = race(&h, 200, || get_paid("/paid", &value)).await;
    assert_one_winner(&answers, &challenge);
    assert_eq!(settles.load(Ordering::SeqCst), 1, "one settlement");
    assert_eq!(h.calls(), 1, "one delivery");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_idempotent_retries_deliver_once() {
    // req: core.concurrency.once core.idempotency.replay
    let h = Harness::standard();
    let body = r#"{"q":"A"}"#;
    let challenge = h
        .challenge(request(Method::POST, "/paid-post", &[], body))
        .await;
    let value = pay(&challenge);
    let answers = race(&h, 300, || {
        request(
            Method::POST,
            "/paid-post",
            &[("authorization", &value), ("idempotency-key", "key-1")],
            body,
        )
    })
    .await;
    assert_eq!(h.calls(), 1, "one delivery, whatever the others got");
    // A retry arriving after the first response was stored gets that response; one
    // arriving while it was in flight finds the id claimed.
    let paid: Vec<_> = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .collect();
    assert!(!paid.is_empty());
    let receipt = paid[0].assert_paid();
    for answer in &paid {
        assert_eq!(answer.assert_paid(), receipt, "one receipt");
        assert_eq!(answer.body, paid[0].body, "one response");
    }
    for answer in answers.iter().filter(|a| a.status != StatusCode::OK) {
        answer.assert_refused(ProblemType::InvalidChallenge, &challenge);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_distinct_credentials_are_all_served() {
    // The control: single use is per challenge, not a global lock.
    let h = Harness::standard();
    let mut values = Vec::new();
    for _ in 0..100 {
        values.push(pay(&h.challenge(get("/paid")).await));
    }
    let values = Arc::new(std::sync::Mutex::new(values));
    let answers = race(&h, 100, || {
        get_paid("/paid", &values.lock().unwrap().pop().unwrap())
    })
    .await;
    for answer in &answers {
        answer.assert_paid();
    }
    assert_eq!(h.calls(), 100);
}
