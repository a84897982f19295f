//! The PostgreSQL store: claims, replayable responses and session accounts in two
//! tables of a database the operator already runs, shared by every server instance
//! that points at it.
//!
//! Every operation is one prepared statement, so one round trip: a claim is an
//! `INSERT … ON CONFLICT DO UPDATE … WHERE` the old row has expired (PostgreSQL
//! locks the conflicting row and re-checks the condition on its latest version, so
//! of concurrent claims exactly one wins, and an expired entry is taken over in the
//! same statement), and a compare-and-swap is one `UPDATE … WHERE value = expected`
//! that also recognises its own earlier write. Expiry is read from the server's
//! clock (`now()`), so instances whose clocks disagree still agree on what is live.
//!
//! A write that went out and lost its answer (the connection broke) is never sent
//! again: the store reads the key back on a fresh connection and answers from what
//! it finds, as the [`Store`] contract says.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use mpp_core::method::BoxFuture;
use tokio::time::timeout;
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, NoTls, Statement};

use super::read_back::{self, unknown};
use super::{Store, StoreError, check_member};

/// The largest value stored: far above the megabyte the paywall keeps for a replay,
/// far below PostgreSQL's own 1 GB limit on a `bytea`.
const MAX_VALUE: usize = 16 * 1024 * 1024;
/// The longest time to live sent, in milliseconds (about 3,000 years): within what
/// an `interval` and a `timestamptz` can hold.
const MAX_TTL_MS: u128 = 100_000_000_000_000;
/// One write in this many also removes up to [`PURGE_BATCH`] expired entries, so
/// that the table does not grow with claims nobody reads again.
const PURGE_EVERY: u64 = 1024;
const PURGE_BATCH: i64 = 1000;

/// Taken for the transaction that creates the tables, so that instances starting
/// together do not race on `CREATE TABLE IF NOT EXISTS` (which is not atomic
/// against itself). The number is arbitrary and only has to be this store's own.
const SCHEMA_LOCK: i64 = 0x6d70_705f_7374_6f72;

const SCHEMA: &str = "\
CREATE TABLE IF NOT EXISTS mpp_store_entries (
    key bytea PRIMARY KEY,
    value bytea NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS mpp_store_members (
    set_name bytea NOT NULL,
    member text NOT NULL,
    PRIMARY KEY (set_name, member)
);";

const PUT_IF_ABSENT: &str = "\
INSERT INTO mpp_store_entries AS e (key, value, expires_at)
VALUES ($1, $2, now() + $3::int8 * interval '1 millisecond')
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at
WHERE e.expires_at <= now()";

const GET: &str = "SELECT value FROM mpp_store_entries WHERE key = $1 AND expires_at > now()";

const PUT: &str = "\
INSERT INTO mpp_store_entries AS e (key, value, expires_at)
VALUES ($1, $2, now() + $3::int8 * interval '1 millisecond')
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at";

// A row already holding `new` (and not `expected`) is matched too and left as it
// is, time to live included: that is a repeat of a swap already done.
const COMPARE_AND_SWAP: &str = "\
UPDATE mpp_store_entries SET
    value = CASE WHEN value = $2 THEN $3 ELSE value END,
    expires_at = CASE WHEN value = $2 THEN now() + $4::int8 * interval '1 millisecond'
                 ELSE expires_at END
WHERE key = $1 AND expires_at > now() AND (value = $2 OR value = $3)";

const ADD_MEMBER: &str = "\
INSERT INTO mpp_store_members (set_name, member) VALUES ($1, $2) ON CONFLICT DO NOTHING";

const REMOVE_MEMBER: &str = "DELETE FROM mpp_store_members WHERE set_name = $1 AND member = $2";

const IS_MEMBER: &str = "SELECT 1 FROM mpp_store_members WHERE set_name = $1 AND member = $2";

const MEMBERS: &str = "SELECT member FROM mpp_store_members WHERE set_name = $1";

// The condition on `expires_at` is checked again on the row as it is when deleted,
// so an entry claimed anew between the scan and the delete stays.
const PURGE: &str = "\
DELETE FROM mpp_store_entries WHERE expires_at <= now() AND ctid = ANY(ARRAY(
    SELECT ctid FROM mpp_store_entries WHERE expires_at <= now() LIMIT $1))";

/// How a [`PostgresStore`] connects and how long it waits.
///
/// An operation waits at most `connect_timeout` for a connection (TCP connect,
/// login, and preparing its statements included), then at most `command_timeout`
/// for the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostgresOptions {
    /// How many connections are kept (at least 1). Concurrent operations share
    /// them: a connection pipelines the statements of every caller using it.
    pub connections: usize,
    /// The longest wait for a connection.
    pub connect_timeout: Duration,
    /// The longest wait for the answer to a statement.
    pub command_timeout: Duration,
}

impl Default for PostgresOptions {
    /// 4 connections, 2 s to connect, 1 s per statement.
    fn default() -> Self {
        PostgresOptions {
            connections: 4,
            connect_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_secs(1),
        }
    }
}

/// A store in PostgreSQL (tables `mpp_store_entries` and `mpp_store_members`,
/// created when missing), shared by every server instance using the same
/// database. Claims are durable as far as the server's commits are.
///
/// Connections are made lazily, kept, and replaced when they break, so the store
/// recovers by itself once PostgreSQL is back; every operation is bounded by the
/// [`PostgresOptions`] timeouts, so a stopped or hung server yields a
/// [`StoreError`], never a hang. Needs a Tokio runtime with I/O and time drivers.
/// Plain TCP (or a Unix socket) only: a URL asking for TLS (`sslmode=require`) is
/// refused.
pub struct PostgresStore {
    config: Config,
    options: PostgresOptions,
    slots: Box<[tokio::sync::Mutex<Option<Arc<Connection>>>]>,
    next: AtomicUsize,
    schema_ready: AtomicBool,
    writes: AtomicU64,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // tokio-postgres' own Debug of the configuration redacts the password.
        f.debug_struct("PostgresStore")
            .field("config", &self.config)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// One open connection and its prepared statements.
struct Connection {
    client: Client,
    put_if_absent: Statement,
    get: Statement,
    put: Statement,
    compare_and_swap: Statement,
    add_member: Statement,
    remove_member: Statement,
    is_member: Statement,
    members: Statement,
    purge: Statement,
}

/// Why a statement has no answer to interpret.
enum NoAnswer {
    /// It did not run, or it is unknowable from here (an error from PostgreSQL, a
    /// timeout): the error stands.
    Failed(StoreError),
    /// The connection broke with the statement possibly sent: it may have run, and
    /// only reading back can tell.
    Lost(StoreError),
}

impl From<NoAnswer> for StoreError {
    fn from(no_answer: NoAnswer) -> StoreError {
        match no_answer {
            NoAnswer::Failed(e) | NoAnswer::Lost(e) => e,
        }
    }
}

/// Whether a statement changes anything, and so whether it may go again.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
}

impl PostgresStore {
    /// A store for the database at `url`, `postgres://user:password@host:port/db`
    /// (or `postgresql://`, with the options tokio-postgres reads from the query
    /// string). Connects lazily: this only reads the URL; see
    /// [`PostgresStore::ping`] to check that the database answers.
    pub fn connect(url: &str, options: PostgresOptions) -> Result<PostgresStore, StoreError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(url_error(
                "expected postgres://user:password@host:port/db".into(),
            ));
        }
        let mut config: Config = url.parse().map_err(|e: tokio_postgres::Error| {
            // Its messages name an option, never a value; anything else is not
            // repeated, as it could hold the password.
            let text = e.to_string();
            url_error(if text.contains("option `") {
                text
            } else {
                "expected postgres://user:password@host:port/db".into()
            })
        })?;
        if config.get_ssl_mode() == SslMode::Require {
            return Err(url_error(
                "TLS (sslmode=require) is not supported: connect over a local network or \
                 a TLS proxy"
                    .into(),
            ));
        }
        // `prefer` would try TLS first and fall back; without a TLS connector it is
        // plain from the start.
        config.ssl_mode(SslMode::Disable);
        config.connect_timeout(options.connect_timeout);
        if config.get_application_name().is_none() {
            config.application_name("mpp-server");
        }
        let slots = (0..options.connections.max(1))
            .map(|_| tokio::sync::Mutex::new(None))
            .collect();
        Ok(PostgresStore {
            config,
            options,
            slots,
            next: AtomicUsize::new(0),
            schema_ready: AtomicBool::new(false),
            writes: AtomicU64::new(0),
        })
    }

    /// Checks that the database answers and holds this store's tables (creating
    /// them when missing), e.g. at start-up or for a health check.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.run(Kind::Read, |c| async move {
            c.client.simple_query("").await.map(|_| ())
        })
        .await
        .map_err(StoreError::from)
    }

    /// A connection of the slot whose turn it is, opened if it has none or its
    /// connection broke.
    async fn connection(&self) -> Result<(usize, Arc<Connection>), StoreError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(StoreError::Unavailable(
                "the PostgreSQL store needs a Tokio runtime".into(),
            ));
        }
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let opened = async {
            let mut slot = self.slots[index].lock().await;
            if let Some(conn) = slot.as_ref().filter(|c| !c.client.is_closed()) {
                return Ok(Arc::clone(conn));
            }
            *slot = None;
            let conn = Arc::new(self.open().await?);
            *slot = Some(Arc::clone(&conn));
            Ok(conn)
        };
        match timeout(self.options.connect_timeout, opened).await {
            Ok(result) => result.map(|conn| (index, conn)),
            Err(_) => Err(StoreError::Timeout("postgres: connect timed out".into())),
        }
    }

    async fn open(&self) -> Result<Connection, StoreError> {
        let (client, connection) = self
            .config
            .connect(NoTls)
            .await
            .map_err(|e| error("connect", &e))?;
        // The connection's I/O runs in a task of its own; it ends when the server
        // goes away, which `Client::is_closed` then reports.
        tokio::spawn(connection);
        if !self.schema_ready.load(Ordering::Acquire) {
            let schema = format!("SELECT pg_advisory_xact_lock({SCHEMA_LOCK}); {SCHEMA}");
            client
                .batch_execute(&schema)
                .await
                .map_err(|e| error("create the tables", &e))?;
            self.schema_ready.store(true, Ordering::Release);
        }
        let prepare = |sql: &'static str| {
            let client = &client;
            async move {
                client
                    .prepare(sql)
                    .await
                    .map_err(|e| error("prepare a statement", &e))
            }
        };
        Ok(Connection {
            put_if_absent: prepare(PUT_IF_ABSENT).await?,
            get: prepare(GET).await?,
            put: prepare(PUT).await?,
            compare_and_swap: prepare(COMPARE_AND_SWAP).await?,
            add_member: prepare(ADD_MEMBER).await?,
            remove_member: prepare(REMOVE_MEMBER).await?,
            is_member: prepare(IS_MEMBER).await?,
            members: prepare(MEMBERS).await?,
            purge: prepare(PURGE).await?,
            client,
        })
    }

    /// Forgets the connection of `index` if it is still `conn`: it broke or timed
    /// out, and the next operation there opens another.
    async fn discard(&self, index: usize, conn: &Arc<Connection>) {
        let mut slot = self.slots[index].lock().await;
        if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, conn)) {
            *slot = None;
        }
    }

    /// Runs one statement within the timeouts. A read whose connection broke goes
    /// once more on a fresh connection; a write never does.
    async fn run<T, F, Fut>(&self, kind: Kind, statement: F) -> Result<T, NoAnswer>
    where
        F: Fn(Arc<Connection>) -> Fut,
        Fut: std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (index, conn) = self.connection().await.map_err(NoAnswer::Failed)?;
            let outcome = timeout(self.options.command_timeout, statement(Arc::clone(&conn))).await;
            let e = match outcome {
                Ok(Ok(answer)) => return Ok(answer),
                Ok(Err(e)) => e,
                Err(_) => {
                    // It may still run; a server too slow to answer this would not
                    // answer a read-back either.
                    self.discard(index, &conn).await;
                    return Err(NoAnswer::Failed(StoreError::Timeout(
                        "postgres: statement timed out".into(),
                    )));
                }
            };
            if e.as_db_error().is_some() && !connection_lost(&e) {
                return Err(NoAnswer::Failed(error("statement", &e)));
            }
            self.discard(index, &conn).await;
            match kind {
                Kind::Read if attempts < 2 => continue,
                Kind::Read => return Err(NoAnswer::Failed(error("statement", &e))),
                Kind::Write => return Err(NoAnswer::Lost(error("statement", &e))),
            }
        }
    }

    /// Now and then, after a write, removes a batch of expired entries, in a task of
    /// its own so that no request waits for it.
    fn maybe_purge(&self) {
        if self.writes.fetch_add(1, Ordering::Relaxed) % PURGE_EVERY != PURGE_EVERY - 1 {
            return;
        }
        // A store used from a runtime and then called outside one has nowhere to
        // run the purge: it waits for a later write.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let Some(conn) = self
            .slots
            .iter()
            .find_map(|slot| slot.try_lock().ok().and_then(|c| c.clone()))
        else {
            return;
        };
        let budget = self.options.command_timeout;
        runtime.spawn(async move {
            // Expired entries are invisible whether or not this runs.
            let _ = timeout(budget, conn.client.execute(&conn.purge, &[&PURGE_BATCH])).await;
        });
    }
}

/// Whether an error means the connection is gone (closed, reset, or the server
/// shutting down), rather than a refusal of this statement.
fn connection_lost(e: &tokio_postgres::Error) -> bool {
    e.is_closed()
        || matches!(
            e.code(),
            Some(c) if *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CRASH_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
        )
}

/// A store error for a tokio-postgres error. Its text names what failed and, from
/// the server, the SQLSTATE and message: never a parameter's value.
fn error(doing: &str, e: &tokio_postgres::Error) -> StoreError {
    let detail = match e.as_db_error() {
        Some(db) => format!("postgres: {doing}: {} ({})", db.message(), db.code().code()),
        None => format!("postgres: {doing}: {e}"),
    };
    if e.as_db_error().is_none() || connection_lost(e) {
        StoreError::Unavailable(detail)
    } else {
        StoreError::Backend {
            detail,
            source: None,
        }
    }
}

fn url_error(what: String) -> StoreError {
    // Never echo the URL: it may hold the password.
    StoreError::Invalid(format!("invalid PostgreSQL URL: {what}"))
}

/// A time to live in milliseconds: rounded up, at least 1, at most [`MAX_TTL_MS`].
fn ttl_ms(ttl: Duration) -> i64 {
    let ms = ttl.as_nanos().div_ceil(1_000_000).clamp(1, MAX_TTL_MS);
    i64::try_from(ms).unwrap_or(i64::MAX)
}

fn check_value(value: &[u8]) -> Result<(), StoreError> {
    if value.len() > MAX_VALUE {
        return Err(StoreError::Invalid(format!(
            "postgres: values are limited to {MAX_VALUE} bytes"
        )));
    }
    Ok(())
}

impl Store for PostgresStore {
    fn put_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            check_value(value)?;
            let ms = ttl_ms(ttl);
            let params: [&(dyn ToSql + Sync); 3] = [&key.as_bytes(), &value, &ms];
            let outcome = self
                .run(Kind::Write, |c| async move {
                    c.client.execute(&c.put_if_absent, &params).await
                })
                .await;
            self.maybe_purge();
            match outcome {
                Ok(rows) => Ok(rows == 1),
                Err(NoAnswer::Failed(e)) => Err(e),
                // Values are unique per writer: the one found tells whose claim it is.
                Err(NoAnswer::Lost(e)) => read_back::claim(self.get(key).await, value, e),
            }
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move {
            let params: [&(dyn ToSql + Sync); 1] = [&key.as_bytes()];
            let row = self
                .run(Kind::Read, |c| async move {
                    c.client.query_opt(&c.get, &params).await
                })
                .await?;
            match row {
                None => Ok(None),
                Some(row) => row
                    .try_get::<_, Vec<u8>>(0)
                    .map(Some)
                    .map_err(|e| StoreError::Corrupt(format!("postgres: a stored value: {e}"))),
            }
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            check_value(value)?;
            let ms = ttl_ms(ttl);
            let params: [&(dyn ToSql + Sync); 3] = [&key.as_bytes(), &value, &ms];
            let outcome = self
                .run(Kind::Write, |c| async move {
                    c.client.execute(&c.put, &params).await
                })
                .await;
            self.maybe_purge();
            match outcome {
                Ok(_) => Ok(()),
                Err(NoAnswer::Failed(e)) => Err(e),
                Err(NoAnswer::Lost(e)) => read_back::holds(self.get(key).await, value, e),
            }
        })
    }

    fn compare_and_swap<'a>(
        &'a self,
        key: &'a str,
        expected: &'a [u8],
        new: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            check_value(new)?;
            let ms = ttl_ms(ttl);
            let params: [&(dyn ToSql + Sync); 4] = [&key.as_bytes(), &expected, &new, &ms];
            let outcome = self
                .run(Kind::Write, |c| async move {
                    c.client.execute(&c.compare_and_swap, &params).await
                })
                .await;
            match outcome {
                Ok(rows) => Ok(rows == 1),
                Err(NoAnswer::Failed(e)) => Err(e),
                Err(NoAnswer::Lost(e)) => {
                    read_back::holds(self.get(key).await, new, e).map(|()| true)
                }
            }
        })
    }

    fn add_member<'a>(
        &'a self,
        set: &'a str,
        member: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            check_member(member)?;
            self.change_member(set, member, true).await
        })
    }

    fn remove_member<'a>(
        &'a self,
        set: &'a str,
        member: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            check_member(member)?;
            self.change_member(set, member, false).await
        })
    }

    fn members<'a>(&'a self, set: &'a str) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        Box::pin(async move {
            let params: [&(dyn ToSql + Sync); 1] = [&set.as_bytes()];
            let rows = self
                .run(Kind::Read, |c| async move {
                    c.client.query(&c.members, &params).await
                })
                .await?;
            rows.iter()
                .map(|row| {
                    row.try_get::<_, String>(0)
                        .map_err(|e| StoreError::Corrupt(format!("postgres: a set member: {e}")))
                })
                .collect()
        })
    }
}

impl PostgresStore {
    async fn change_member(&self, set: &str, member: &str, add: bool) -> Result<bool, StoreError> {
        let params: [&(dyn ToSql + Sync); 2] = [&set.as_bytes(), &member];
        let outcome = self
            .run(Kind::Write, |c| async move {
                let statement = if add { &c.add_member } else { &c.remove_member };
                c.client.execute(statement, &params).await
            })
            .await;
        match outcome {
            Ok(rows) => Ok(rows == 1),
            Err(NoAnswer::Failed(e)) => Err(e),
            // Finding the change made, whoever made it, is done.
            Err(NoAnswer::Lost(e)) => {
                let present = self
                    .run(Kind::Read, |c| async move {
                        c.client.query_opt(&c.is_member, &params).await
                    })
                    .await
                    .map(|row| row.is_some());
                match present {
                    Ok(present) if present == add => Ok(true),
                    _ => Err(unknown(e)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_round_up_and_are_bounded() {
        assert_eq!(ttl_ms(Duration::ZERO), 1);
        assert_eq!(ttl_ms(Duration::from_micros(1500)), 2);
        assert_eq!(ttl_ms(Duration::from_secs(300)), 300_000);
        assert_eq!(ttl_ms(Duration::MAX), 100_000_000_000_000);
    }

    #[test]
    fn urls_are_read_and_bad_ones_refused_without_the_password() {
        let store = PostgresStore::connect(
            "postgres://alice:hunter2@db.example:5433/claims",
            PostgresOptions::default(),
        )
        .expect("a valid URL");
        assert_eq!(store.config.get_user(), Some("alice"));
        assert_eq!(store.config.get_dbname(), Some("claims"));
        assert_eq!(store.config.get_ports(), [5433]);
        assert_eq!(store.config.get_password(), Some(&b"hunter2"[..]));
        let debug = format!("{store:?}");
        assert!(debug.contains("alice"), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");

        for url in [
            "",
            "db.example:5432",
            "mysql://alice:hunter2@h/db",
            "postgres://alice:hunter2@h:port/db",
            "postgres://alice:hunter2@h:99999/db",
            "postgres://alice:hunter2@h/db?sslmode=require",
            "postgres://alice:hunter2@h/db?sslmode=hunter2",
            "postgres://alice:hunter2@h/db?nonsense=1",
        ] {
            let e = PostgresStore::connect(url, PostgresOptions::default()).expect_err(url);
            assert!(matches!(e, StoreError::Invalid(_)), "{url}: {e}");
            assert!(!e.to_string().contains("hunter2"), "{url}: {e}");
        }
    }

    #[test]
    fn without_a_runtime_operations_fail_rather_than_panic() {
        let store =
            PostgresStore::connect("postgres://u@127.0.0.1:1/db", PostgresOptions::default())
                .expect("a valid URL");
        let result = crate::store::tests::block_on(store.get("k"));
        assert!(
            matches!(result, Err(StoreError::Unavailable(_))),
            "{result:?}"
        );
    }
}
