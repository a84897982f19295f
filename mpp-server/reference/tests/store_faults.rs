//! Fault tests with real processes and real stores: a claim survives SIGKILL (SQLite),
//! two instances share claims (Redis, PostgreSQL), and a stopped Redis or PostgreSQL
//! fails closed and recovers.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mpp_core::challenge::Challenge;
use mpp_core::credential::Credential;
use mpp_core::json::JsonObject;
use mpp_core::problem::ProblemType;
use mpp_test_support::postgres::{PostgresServer, postgres_available};
use mpp_test_support::redis::{RedisServer, redis_server_available};
use support::http::{self, Response};
use support::server::{self, state_file};

const SECRET: &str = "store-fault-test-secret-of-32-bytes!";
const PREIMAGE: &str = "store-fault-test-preimage";

/// A fresh challenge from `base`'s `/paid`, answered with the right preimage.
async fn credential(base: &str) -> String {
    let response = http::get(base, "/paid", &[])
        .await
        .expect("the server answers");
    assert_eq!(response.status, 402);
    let header = response.header("www-authenticate").expect("a challenge");
    let challenge = Challenge::parse(header.as_bytes()).expect("a valid challenge");
    let mut payload = JsonObject::new();
    payload.insert("preimage".into(), PREIMAGE.into());
    Credential::answer(&challenge, payload, None).to_header()
}

async fn pay(base: &str, credential: &str) -> Response {
    http::get(base, "/paid", &[("Authorization", credential)])
        .await
        .expect("the server answers")
}

async fn handler_runs(base: &str) -> u64 {
    let response = http::get(base, "/stats", &[])
        .await
        .expect("the server answers");
    let stats: serde_json::Value = serde_json::from_slice(&response.body).expect("JSON stats");
    stats["paidHandlerRuns"].as_u64().expect("a count")
}

#[tokio::test]
async fn a_claim_in_sqlite_survives_sigkill_and_restart() {
    // req: charge.replay.id-single-use
    let state = state_file("sigkill");
    let args = [
        "--secret",
        SECRET,
        "--preimage",
        PREIMAGE,
        "--sqlite",
        state.to_str().unwrap(),
    ];
    let mut first = server::start(&args);
    let credential = credential(&first.base).await;
    let paid = pay(&first.base, &credential).await;
    assert_eq!(
        paid.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&paid.body)
    );
    assert!(paid.header("payment-receipt").is_some());
    // Killed right after the paid request: no chance to flush anything.
    first.kill();

    let second = server::start(&args);
    let replay = pay(&second.base, &credential).await;
    assert_eq!(
        replay.status, 402,
        "a restart must not forget a used challenge"
    );
    assert_eq!(replay.problem_type(), Some(ProblemType::InvalidChallenge));
    assert!(
        replay.header("www-authenticate").is_some(),
        "with a fresh challenge"
    );
    assert!(replay.header("payment-receipt").is_none());
    assert_eq!(
        handler_runs(&second.base).await,
        0,
        "the replay was not served"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_sharing_redis_settle_each_credential_once() {
    // req: core.concurrency.once charge.replay.credential-once
    if !redis_server_available("two_instances_sharing_redis_settle_each_credential_once") {
        return;
    }
    let redis = RedisServer::start(&[]);
    two_instances_settle_each_credential_once("--redis", &redis.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_sharing_postgres_settle_each_credential_once() {
    // req: core.concurrency.once charge.replay.credential-once
    if !postgres_available("two_instances_sharing_postgres_settle_each_credential_once") {
        return;
    }
    let postgres = PostgresServer::start();
    two_instances_settle_each_credential_once("--postgres", &postgres.url()).await;
}

/// Two server instances on one shared store (`flag URL`): 100 credentials, each
/// sent 100 times across both, are each served once.
async fn two_instances_settle_each_credential_once(flag: &str, url: &str) {
    let args = ["--secret", SECRET, "--preimage", PREIMAGE, flag, url];
    let a = server::start(&args);
    let b = server::start(&args);
    let bases = [a.base.clone(), b.base.clone()];

    // 100 distinct credentials, each sent 100 times, split across both instances.
    let mut credentials = Vec::new();
    for i in 0..100 {
        credentials.push(credential(&bases[i % 2]).await);
    }
    let credentials = Arc::new(credentials);
    let in_flight = Arc::new(tokio::sync::Semaphore::new(256));
    let mut tasks = Vec::with_capacity(10_000);
    for i in 0..10_000usize {
        let (credentials, in_flight, base) =
            (credentials.clone(), in_flight.clone(), bases[i % 2].clone());
        tasks.push(tokio::spawn(async move {
            let _permit = in_flight.acquire().await.expect("open semaphore");
            let which = (i / 2) % 100;
            let response = pay(&base, &credentials[which]).await;
            (which, response.status, response.problem_type())
        }));
    }
    let mut successes: HashMap<usize, usize> = HashMap::new();
    for task in tasks {
        let (which, status, problem) = task.await.expect("no task panics");
        match status {
            200 => *successes.entry(which).or_default() += 1,
            402 => assert_eq!(problem, Some(ProblemType::InvalidChallenge)),
            other => panic!("unexpected status {other} ({problem:?})"),
        }
    }
    assert_eq!(successes.len(), 100, "every credential was served");
    assert!(
        successes.values().all(|&n| n == 1),
        "and each exactly once: {successes:?}"
    );
    let runs = handler_runs(&a.base).await + handler_runs(&b.base).await;
    assert_eq!(
        runs, 100,
        "the paid handler ran once per credential across both instances"
    );
}

#[tokio::test]
async fn a_stopped_redis_fails_closed_and_recovers_without_a_restart() {
    // req: core.errors.retry-after
    if !redis_server_available("a_stopped_redis_fails_closed_and_recovers_without_a_restart") {
        return;
    }
    let mut redis = RedisServer::start(&[]);
    let url = redis.url();
    fails_closed_and_recovers("--redis", &url, &mut |up| {
        if up {
            redis.restart();
        } else {
            redis.stop();
        }
    })
    .await;
}

#[tokio::test]
async fn a_stopped_postgres_fails_closed_and_recovers_without_a_restart() {
    // req: core.errors.retry-after
    if !postgres_available("a_stopped_postgres_fails_closed_and_recovers_without_a_restart") {
        return;
    }
    let mut postgres = PostgresServer::start();
    let url = postgres.url();
    fails_closed_and_recovers("--postgres", &url, &mut |up| {
        if up {
            postgres.restart();
        } else {
            postgres.stop();
        }
    })
    .await;
}

/// A server on the store at `flag URL`: with the store stopped (`switch(false)`),
/// a paid request fails closed with 500 and no grant; once it is started again
/// (`switch(true)`), paid requests succeed without restarting the server.
async fn fails_closed_and_recovers(flag: &str, url: &str, switch: &mut dyn FnMut(bool)) {
    let server = server::start(&["--secret", SECRET, "--preimage", PREIMAGE, flag, url]);
    let first = credential(&server.base).await;
    assert_eq!(pay(&server.base, &first).await.status, 200);

    switch(false);
    let during = credential(&server.base).await;
    let started = Instant::now();
    let refused = pay(&server.base, &during).await;
    assert_eq!(refused.status, 500, "no claim, no access");
    assert_eq!(
        refused.problem_type(),
        Some(ProblemType::InternalPaymentError)
    );
    assert!(refused.header("retry-after").is_some());
    assert!(refused.header("payment-receipt").is_none());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "timeouts are bounded: {:?}",
        started.elapsed()
    );
    assert_eq!(
        handler_runs(&server.base).await,
        1,
        "the handler did not run without a claim"
    );

    switch(true);
    // The credential refused while the store was down was never claimed: it pays now.
    let mut recovered = pay(&server.base, &during).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while recovered.status != 200 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        recovered = pay(&server.base, &during).await;
    }
    assert_eq!(
        recovered.status, 200,
        "the store recovers by itself once it is back"
    );
    let fresh = credential(&server.base).await;
    assert_eq!(pay(&server.base, &fresh).await.status, 200);
    assert_eq!(handler_runs(&server.base).await, 3);
}
