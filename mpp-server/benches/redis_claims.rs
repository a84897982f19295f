//! Claims per second against a local `redis-server` with 64 requests in flight at
//! once: the load a busy paywall puts on a shared Redis. One iteration is one
//! `put_if_absent` of a fresh key; 64 tasks share the iterations, so the time per
//! iteration is the inverse of the store's throughput under that concurrency.
//!
//! Run with `cargo bench -p mpp-server --features redis --bench redis_claims`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mpp_server::{RedisOptions, RedisStore, Store};

/// Requests in flight at once.
const CONCURRENCY: u64 = 64;

fn claims(c: &mut Criterion) {
    if !mpp_test_support::redis::redis_server_available("redis claims") {
        return;
    }
    let server = mpp_test_support::redis::RedisServer::start(&[]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store = Arc::new(RedisStore::connect(&server.url(), RedisOptions::default()).unwrap());
    runtime.block_on(store.ping()).unwrap();
    // Keys never repeat across iterations, so every claim is won and written.
    let next = Arc::new(AtomicU64::new(0));

    let mut group = c.benchmark_group("redis claims");
    group.throughput(Throughput::Elements(1));
    group.bench_function("64 concurrent", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                let tasks: Vec<_> = (0..CONCURRENCY)
                    .map(|t| {
                        let store = Arc::clone(&store);
                        let next = Arc::clone(&next);
                        // This task's share of the iterations.
                        let share = iters / CONCURRENCY + u64::from(t < iters % CONCURRENCY);
                        tokio::spawn(async move {
                            for _ in 0..share {
                                let key =
                                    format!("mpp:claim:{}", next.fetch_add(1, Ordering::Relaxed));
                                let won = store
                                    .put_if_absent(&key, b"claimed:bench", Duration::from_secs(60))
                                    .await
                                    .unwrap();
                                assert!(won);
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

criterion_group!(benches, claims);
criterion_main!(benches);
