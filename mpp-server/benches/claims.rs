//! Durable claims on SQLite, the single-use check of every paid request (D9): one
//! `put_if_absent` of a fresh key, by 1 and by 64 concurrent tasks sharing one store.
//! What is measured is claims per second through commits that reach the disk, so it
//! shows whether concurrent requests share their commits.
//!
//! Run with `cargo bench -p mpp-server --features sqlite --bench claims`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mpp_server::{SqliteStore, Store};

/// Long enough that no claim expires during a run.
const TTL: Duration = Duration::from_secs(3600);

/// Claims `total` fresh keys from `tasks` concurrent tasks; how long it took.
fn claim(
    runtime: &tokio::runtime::Runtime,
    store: &Arc<SqliteStore>,
    next: &Arc<AtomicU64>,
    tasks: u64,
    total: u64,
) -> Duration {
    runtime.block_on(async {
        let start = Instant::now();
        let workers: Vec<_> = (0..tasks)
            .map(|t| {
                let (store, next) = (Arc::clone(store), Arc::clone(next));
                // Spread `total` over the tasks, the first ones taking the remainder.
                let share = total / tasks + u64::from(t < total % tasks);
                tokio::spawn(async move {
                    for _ in 0..share {
                        let key = format!("mpp:claim:{}", next.fetch_add(1, Ordering::Relaxed));
                        assert_eq!(store.put_if_absent(&key, b"claimed", TTL).await, Ok(true));
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.await.unwrap();
        }
        start.elapsed()
    })
}

fn claims(c: &mut Criterion) {
    // As a server runs: a multi-threaded runtime on this machine's cores.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("mpp-bench-claims-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Arc::new(SqliteStore::open(dir.join("claims.sqlite3")).unwrap());
    let next = Arc::new(AtomicU64::new(0));

    let mut group = c.benchmark_group("sqlite claims");
    group.throughput(Throughput::Elements(1));
    for tasks in [1u64, 64] {
        group.bench_function(format!("{tasks} concurrent"), |b| {
            b.iter_custom(|iters| claim(&runtime, &store, &next, tasks, iters))
        });
    }
    group.finish();
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, claims);
criterion_main!(benches);
