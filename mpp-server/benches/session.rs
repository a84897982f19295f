//! Debiting a session, the hot path of metered APIs: one `SessionLedger::apply` of a
//! one-unit `Use` (read the account, decide, compare-and-swap) on each backend. The
//! Redis case starts its own `redis-server` and is left out when there is none.
//!
//! With the `postgres` feature, also PostgreSQL (a throwaway cluster of its own, with
//! `fsync=off`, so the figure is the round trips and the statements, not the disk):
//! a debit, and a claim (one `put_if_absent` of a fresh key, what every paid request
//! costs the store).
//!
//! Run with `cargo bench -p mpp-server --bench session` (add `--features postgres`
//! for PostgreSQL).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use mpp_core::intent::session::{Funding, Session, SessionEvent};
use mpp_core::time::UnixTime;
use mpp_server::session::{Account, SessionLedger};
use mpp_server::{MemoryStore, RedisOptions, RedisStore, SqliteStore, Store};

fn now() -> UnixTime {
    UnixTime::from_secs(1_800_000_000)
}

/// A ledger on `store` with one session deep enough for any number of debits.
fn ledger(runtime: &tokio::runtime::Runtime, store: Arc<dyn Store>) -> SessionLedger {
    let ledger = SessionLedger::new(store);
    let session = Session::open(Funding::Prepaid, u128::MAX / 2, now(), 300).unwrap();
    let account = Account::new(session, "lightning", "sat", "lnbcrt-return-invoice");
    assert!(runtime.block_on(ledger.open("bench", &account)).unwrap());
    ledger
}

fn debit(c: &mut Criterion, name: &str, runtime: &tokio::runtime::Runtime, ledger: &SessionLedger) {
    c.bench_function(name, |b| {
        b.iter(|| {
            let (outcome, _) = runtime
                .block_on(ledger.apply("bench", SessionEvent::Use { cost: 1 }, now()))
                .unwrap();
            black_box(outcome.unwrap());
        })
    });
}

fn backends(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let memory = ledger(&runtime, Arc::new(MemoryStore::default()));
    debit(c, "session debit/memory", &runtime, &memory);

    let dir = std::env::temp_dir().join(format!("mpp-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = SqliteStore::open(dir.join("sessions.sqlite3")).unwrap();
    let sqlite = ledger(&runtime, Arc::new(sqlite));
    debit(c, "session debit/sqlite", &runtime, &sqlite);
    let _ = std::fs::remove_dir_all(&dir);

    if mpp_test_support::redis::redis_server_available("session debit/redis") {
        let server = mpp_test_support::redis::RedisServer::start(&[]);
        let store = runtime
            .block_on(async { RedisStore::connect(&server.url(), RedisOptions::default()) })
            .unwrap();
        let redis = ledger(&runtime, Arc::new(store));
        debit(c, "session debit/redis", &runtime, &redis);
    }

    #[cfg(feature = "postgres")]
    postgres(c, &runtime);
}

#[cfg(feature = "postgres")]
fn postgres(c: &mut Criterion, runtime: &tokio::runtime::Runtime) {
    use mpp_server::{PostgresOptions, PostgresStore};
    use mpp_test_support::postgres::{PostgresServer, postgres_available};
    use std::time::Duration;

    if !postgres_available("session debit/postgres") {
        return;
    }
    let server = PostgresServer::start();
    let store =
        Arc::new(PostgresStore::connect(&server.url(), PostgresOptions::default()).unwrap());
    runtime.block_on(store.ping()).unwrap();
    let ledger = ledger(runtime, Arc::clone(&store) as Arc<dyn Store>);
    debit(c, "session debit/postgres", runtime, &ledger);

    let mut n = 0u64;
    c.bench_function("claim/postgres", |b| {
        b.iter(|| {
            n += 1;
            let key = format!("mpp:claim:bench-{n}");
            let won = runtime
                .block_on(store.put_if_absent(&key, b"claimed:bench", Duration::from_secs(600)))
                .unwrap();
            assert!(black_box(won));
        })
    });
}

criterion_group!(benches, backends);
criterion_main!(benches);
