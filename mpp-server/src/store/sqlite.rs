//! The SQLite store: claims that survive restarts, in one file that several server
//! processes on one host may share.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mpp_core::method::BoxFuture;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::{Store, StoreError, check_member};

/// Expired rows are purged once every this many writes...
const PURGE_EVERY: u64 = 256;
/// ...at most this many at a time, so one call does bounded work. Each write adds at
/// most one row, so purging up to 4 rows per write keeps up with any write rate.
const PURGE_BATCH: i64 = 1024;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_expires_at ON entries (expires_at);
CREATE TABLE IF NOT EXISTS members (
    set_key TEXT NOT NULL,
    member TEXT NOT NULL,
    PRIMARY KEY (set_key, member)
) WITHOUT ROWID;
";

/// Takes the key unless a live entry holds it: one statement, so atomic across the
/// threads and processes that share the file (SQLite's write lock serialises them).
const PUT_IF_ABSENT: &str = "
INSERT INTO entries (key, value, expires_at) VALUES (?1, ?2, ?3)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
WHERE entries.expires_at <= ?4";

const PUT: &str = "
INSERT INTO entries (key, value, expires_at) VALUES (?1, ?2, ?3)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at";

const GET: &str = "SELECT value FROM entries WHERE key = ?1 AND expires_at > ?2";

const SWAP: &str = "
UPDATE entries SET value = ?3, expires_at = ?4
WHERE key = ?1 AND value = ?2 AND expires_at > ?5";

/// Set members live in a table of their own, keyed by set and member: a change
/// touches one row of the primary key's tree, whatever the set's size.
const ADD_MEMBER: &str =
    "INSERT INTO members (set_key, member) VALUES (?1, ?2) ON CONFLICT DO NOTHING";
const REMOVE_MEMBER: &str = "DELETE FROM members WHERE set_key = ?1 AND member = ?2";
const MEMBERS: &str = "SELECT member FROM members WHERE set_key = ?1";

/// Whether a live entry already holds the value a swap writes (a repeated swap).
const HOLDS: &str = "SELECT 1 FROM entries WHERE key = ?1 AND value = ?2 AND expires_at > ?3";

const PURGE: &str = "
DELETE FROM entries WHERE key IN
    (SELECT key FROM entries WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)";

/// A store in one SQLite file: a claim recorded here survives a restart, a crash or
/// a power loss once `put_if_absent` has returned `true` (WAL journal,
/// `synchronous=FULL`), and server processes on one host that open the same file
/// share their claims.
///
/// Expiry uses the system clock (Unix milliseconds). Each operation runs on Tokio's
/// blocking pool (so it needs a Tokio runtime with the time driver, as
/// `#[tokio::main]` gives). One still waiting for its turn after twice the busy
/// timeout is given up, never to run, and fails with a [`StoreError`]; one already
/// running is waited for, since it may commit (each of its statements waits at most
/// the busy timeout for the file). A new database file is created readable by its
/// owner only (on Unix), as stored responses may hold paid content and receipts.
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: Mutex<Db>,
    path: PathBuf,
    busy_timeout: Duration,
}

struct Db {
    conn: Connection,
    writes: u64,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .field("busy_timeout", &self.inner.busy_timeout)
            .finish_non_exhaustive()
    }
}

/// An SQLite error, by fault: a lock held past the busy timeout is a timeout, a
/// damaged file is corrupt data, a file that cannot be opened is unavailable.
fn sql_error(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    let detail = format!("sqlite: {e}");
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Timeout(detail),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StoreError::Corrupt(detail),
        Some(ErrorCode::CannotOpen) => StoreError::Unavailable(detail),
        _ => StoreError::Backend {
            detail,
            source: Some(Arc::new(e)),
        },
    }
}

impl SqliteStore {
    /// How long a statement waits for another connection's lock on the file before
    /// it fails, unless [`SqliteStore::open_with_busy_timeout`] says otherwise.
    pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

    /// Opens the store in the file at `path`, creating the file and its schema if
    /// need be, with the [default busy timeout](Self::DEFAULT_BUSY_TIMEOUT).
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with_busy_timeout(path, SqliteStore::DEFAULT_BUSY_TIMEOUT)
    }

    /// Opens the store in the file at `path`; a statement waits at most
    /// `busy_timeout` for another connection's lock on the file.
    pub fn open_with_busy_timeout(
        path: impl AsRef<Path>,
        busy_timeout: Duration,
    ) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref();
        create_private(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(sql_error)?;
        // First, so that the set-up below waits for other processes too.
        conn.busy_timeout(busy_timeout).map_err(sql_error)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(sql_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Invalid(format!(
                "sqlite: the WAL journal is not available for this file (journal_mode={mode})"
            )));
        }
        // Every commit reaches the disk before it is reported (F_FULLFSYNC on macOS).
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql_error)?;
        conn.pragma_update(None, "fullfsync", "ON")
            .map_err(sql_error)?;
        conn.pragma_update(None, "checkpoint_fullfsync", "ON")
            .map_err(sql_error)?;
        conn.execute_batch(SCHEMA).map_err(sql_error)?;
        let mut db = Db { conn, writes: 0 };
        db.purge(now_ms()?)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                db: Mutex::new(db),
                path: path.to_owned(),
                busy_timeout,
            }),
        })
    }

    /// Runs `op` on the blocking pool with the connection. An operation still
    /// waiting for its turn at the deadline is given up, and never runs; one already
    /// running is waited for, since it may commit: a timeout is reported only for
    /// what cannot happen any more.
    fn run<T, F>(&self, op: F) -> BoxFuture<'_, Result<T, StoreError>>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let handle = tokio::runtime::Handle::try_current().map_err(|_| {
                StoreError::Unavailable("the SQLite store needs a Tokio runtime".into())
            })?;
            // Waiting for this process's earlier operations, then for the file's lock.
            let deadline = inner.busy_timeout.saturating_mul(2);
            let fate = Arc::new(AtomicU8::new(PENDING));
            // A caller that stops waiting (its deadline passed, or it was dropped)
            // takes back an operation that has not started.
            let _give_up = GiveUp(Arc::clone(&fate));
            let start = Arc::clone(&fate);
            let mut task = handle.spawn_blocking(move || {
                let mut db = inner
                    .db
                    .lock()
                    .map_err(|_| StoreError::backend("sqlite store lock poisoned"))?;
                if start
                    .compare_exchange(PENDING, RUNNING, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
                {
                    return Err(StoreError::Timeout(
                        "sqlite store operation given up".into(),
                    ));
                }
                op(&mut db)
            });
            let joined = match tokio::time::timeout(deadline, &mut task).await {
                Ok(joined) => joined,
                Err(_) => {
                    if fate
                        .compare_exchange(PENDING, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                    {
                        return Err(StoreError::Timeout(
                            "sqlite store operation timed out".into(),
                        ));
                    }
                    // Started: its own result is the answer. Each of its statements
                    // waits at most the busy timeout for the file.
                    task.await
                }
            };
            joined.unwrap_or_else(|_| Err(StoreError::backend("sqlite store operation failed")))
        })
    }
}

/// An operation's fate, decided once by a compare-exchange: the blocking pool starts
/// it (`PENDING` → `RUNNING`) or its caller gives it up (`PENDING` → `ABANDONED`).
const PENDING: u8 = 0;
const RUNNING: u8 = 1;
const ABANDONED: u8 = 2;

/// Gives up its operation, if not yet started, when the caller's future ends.
struct GiveUp(Arc<AtomicU8>);

impl Drop for GiveUp {
    fn drop(&mut self) {
        let _ = self
            .0
            .compare_exchange(PENDING, ABANDONED, Ordering::AcqRel, Ordering::Acquire);
    }
}

impl SqliteStore {
    fn change_member(
        &self,
        statement: &'static str,
        set: &str,
        member: &str,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        if let Err(e) = check_member(member) {
            return Box::pin(std::future::ready(Err(e)));
        }
        let (set, member) = (set.to_owned(), member.to_owned());
        self.run(move |db| db.change_member(statement, &set, &member))
    }
}

/// Creates a missing database file readable and writable by its owner only; SQLite
/// gives its WAL and shared-memory files the same permissions.
fn create_private(path: &Path) -> Result<(), StoreError> {
    if path.as_os_str() == ":memory:" {
        // Not a file (and refused below: an in-memory database has no WAL).
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(StoreError::Unavailable(format!(
                    "sqlite: cannot create the database file: {e}"
                )));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The system clock in Unix milliseconds.
fn now_ms() -> Result<i64, StoreError> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .ok_or_else(|| StoreError::Unavailable("the system clock is out of range".into()))
}

/// When an entry written at `now` with `ttl` expires (rounded up to the millisecond).
fn expires_at(now: i64, ttl: Duration) -> i64 {
    let ms = i64::try_from(ttl.as_nanos().div_ceil(1_000_000)).unwrap_or(i64::MAX);
    now.saturating_add(ms)
}

impl Db {
    fn put_if_absent(
        &mut self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = now_ms()?;
        let changed = self
            .conn
            .execute(
                PUT_IF_ABSENT,
                params![key, value, expires_at(now, ttl), now],
            )
            .map_err(sql_error)?;
        self.wrote(now);
        Ok(changed == 1)
    }

    fn put(&mut self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let now = now_ms()?;
        self.conn
            .execute(PUT, params![key, value, expires_at(now, ttl)])
            .map_err(sql_error)?;
        self.wrote(now);
        Ok(())
    }

    fn swap(
        &mut self,
        key: &str,
        expected: &[u8],
        new: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = now_ms()?;
        let changed = self
            .conn
            .execute(SWAP, params![key, expected, new, expires_at(now, ttl), now])
            .map_err(sql_error)?;
        if changed == 1 {
            return Ok(true);
        }
        // Not swapped: done already if the entry holds `new` (left as it is).
        let holds = self
            .conn
            .query_row(HOLDS, params![key, new, now], |_| Ok(()))
            .optional()
            .map_err(sql_error)?;
        Ok(holds.is_some())
    }

    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = now_ms()?;
        self.conn
            .query_row(GET, params![key, now], |row| row.get(0))
            .optional()
            .map_err(sql_error)
    }

    /// Runs `statement` ([`ADD_MEMBER`] or [`REMOVE_MEMBER`]): whether it changed the set.
    fn change_member(
        &mut self,
        statement: &str,
        set: &str,
        member: &str,
    ) -> Result<bool, StoreError> {
        let changed = self
            .conn
            .execute(statement, params![set, member])
            .map_err(sql_error)?;
        Ok(changed == 1)
    }

    fn members(&mut self, set: &str) -> Result<Vec<String>, StoreError> {
        let mut statement = self.conn.prepare(MEMBERS).map_err(sql_error)?;
        let rows = statement
            .query_map(params![set], |row| row.get(0))
            .map_err(sql_error)?;
        rows.collect::<Result<_, _>>().map_err(sql_error)
    }

    /// Counts a write and purges expired rows now and then. A failed purge does not
    /// fail the write: the next one tries again.
    fn wrote(&mut self, now: i64) {
        self.writes = self.writes.wrapping_add(1);
        if self.writes % PURGE_EVERY == 0 {
            let _ = self.purge(now);
        }
    }

    /// Deletes up to [`PURGE_BATCH`] expired rows; says how many.
    fn purge(&mut self, now: i64) -> Result<usize, StoreError> {
        self.conn
            .execute(PURGE, params![now, PURGE_BATCH])
            .map_err(sql_error)
    }
}

impl Store for SqliteStore {
    fn put_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let (key, value) = (key.to_owned(), value.to_vec());
        self.run(move |db| db.put_if_absent(&key, &value, ttl))
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        let key = key.to_owned();
        self.run(move |db| db.get(&key))
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let (key, value) = (key.to_owned(), value.to_vec());
        self.run(move |db| db.put(&key, &value, ttl))
    }

    fn compare_and_swap<'a>(
        &'a self,
        key: &'a str,
        expected: &'a [u8],
        new: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let (key, expected, new) = (key.to_owned(), expected.to_vec(), new.to_vec());
        self.run(move |db| db.swap(&key, &expected, &new, ttl))
    }

    fn add_member<'a>(
        &'a self,
        set: &'a str,
        member: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.change_member(ADD_MEMBER, set, member)
    }

    fn remove_member<'a>(
        &'a self,
        set: &'a str,
        member: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.change_member(REMOVE_MEMBER, set, member)
    }

    fn members<'a>(&'a self, set: &'a str) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        let set = set.to_owned();
        self.run(move |db| db.members(&set))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str) -> TempFile {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let dir = std::env::temp_dir().join(format!(
                "mpp-sqlite-unit-{}-{nanos}-{name}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).expect("temp dir");
            TempFile(dir.join("store.db"))
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            if let Some(dir) = self.0.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    fn db(store: &SqliteStore) -> std::sync::MutexGuard<'_, Db> {
        store.inner.db.lock().expect("lock")
    }

    #[test]
    fn the_file_is_durable_and_private() {
        let file = TempFile::new("pragmas");
        let store = SqliteStore::open(&file.0).expect("open");
        let db = db(&store);
        let pragma = |name: &str| -> String {
            db.conn
                .query_row(&format!("PRAGMA {name}"), [], |row| {
                    row.get::<_, rusqlite::types::Value>(0)
                })
                .map(|v| format!("{v:?}"))
                .expect("pragma")
        };
        assert_eq!(pragma("journal_mode"), r#"Text("wal")"#);
        assert_eq!(pragma("synchronous"), "Integer(2)", "FULL");
        assert_eq!(pragma("busy_timeout"), "Integer(5000)");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file.0)
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn expired_rows_are_purged_in_bounded_batches() {
        let file = TempFile::new("purge");
        let store = SqliteStore::open(&file.0).expect("open");
        let mut db = db(&store);
        let count = |db: &Db| -> i64 {
            db.conn
                .query_row("SELECT count(*) FROM entries", [], |row| row.get(0))
                .expect("count")
        };
        for i in 0..2000 {
            db.put(&format!("old{i}"), b"x", Duration::ZERO)
                .expect("put");
        }
        // 2000 writes: 7 purges ran along the way, each of at most PURGE_BATCH rows.
        assert!(count(&db) < 2000, "purged along the way");
        let before = count(&db);
        let now = now_ms().expect("clock") + 1;
        assert_eq!(
            db.purge(now).expect("purge") as i64,
            before.min(PURGE_BATCH)
        );
        while db.purge(now).expect("purge") > 0 {}
        assert_eq!(count(&db), 0);
        // Live rows stay.
        db.put("live", b"x", Duration::from_secs(60)).expect("put");
        assert_eq!(db.purge(now).expect("purge"), 0);
        assert_eq!(count(&db), 1);
    }

    #[tokio::test]
    async fn a_poisoned_lock_is_an_error() {
        let file = TempFile::new("poison");
        let store = SqliteStore::open(&file.0).expect("open");
        let inner = Arc::clone(&store.inner);
        let _ = std::thread::spawn(move || {
            let _guard = inner.db.lock();
            panic!("poison the lock");
        })
        .join();
        let ttl = Duration::from_secs(60);
        assert!(store.put_if_absent("k", b"v", ttl).await.is_err());
        assert!(store.get("k").await.is_err());
        assert!(store.put("k", b"v", ttl).await.is_err());
    }

    #[test]
    fn without_a_runtime_operations_fail_instead_of_panicking() {
        let file = TempFile::new("noruntime");
        let store = SqliteStore::open(&file.0).expect("open");
        let mut f = std::pin::pin!(store.get("k"));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(r) => assert!(r.is_err()),
            std::task::Poll::Pending => panic!("expected an immediate error"),
        }
    }

    /// Claims queued behind a file locked by another connection: the ones reported
    /// as timed out must never commit later (the client would retry, and find its
    /// own claim refused as used), and the ones reported done must have committed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_operation_reported_timed_out_never_commits() {
        let file = TempFile::new("timeout");
        // A 100 ms busy timeout: each operation is given 200 ms.
        let store = Arc::new(
            SqliteStore::open_with_busy_timeout(&file.0, Duration::from_millis(100)).expect("open"),
        );
        // Another process's connection holds the file's write lock for 600 ms.
        let blocker = Connection::open(&file.0).expect("second connection");
        blocker.execute_batch("BEGIN IMMEDIATE").expect("lock");
        let holder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(600));
            blocker.execute_batch("COMMIT").expect("unlock");
        });
        // Claims arrive faster than a locked file lets them fail, then after it frees.
        let tasks: Vec<_> = (0..30u64)
            .map(|i| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(30 * i)).await;
                    let key = format!("k{i}");
                    let result = store
                        .put_if_absent(&key, b"v", Duration::from_secs(60))
                        .await;
                    (key, result)
                })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.expect("task"));
        }
        holder.join().expect("holder");
        // Every operation handed to the blocking pool holds the store: once the count
        // is back to one, none is left to commit.
        for _ in 0..500 {
            if Arc::strong_count(&store.inner) == 1 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            Arc::strong_count(&store.inner),
            1,
            "operations still running"
        );

        let check = Connection::open(&file.0).expect("check connection");
        let stored = |key: &str| -> bool {
            check
                .query_row(
                    "SELECT count(*) FROM entries WHERE key = ?1",
                    [key],
                    |row| row.get::<_, i64>(0),
                )
                .expect("count")
                == 1
        };
        let mut timeouts = 0;
        for (key, result) in &results {
            match result {
                Ok(true) => assert!(stored(key), "{key} was reported claimed"),
                Ok(false) => panic!("{key}: nobody else claimed it"),
                Err(e) => {
                    timeouts += usize::from(matches!(e, StoreError::Timeout(_)));
                    assert!(
                        !stored(key),
                        "{key} was reported failed ({e}) but committed"
                    );
                }
            }
        }
        assert!(
            timeouts > 0,
            "the contention caused no timeout: {results:?}"
        );
        assert!(
            results.iter().any(|(_, r)| r == &Ok(true)),
            "no claim succeeded: {results:?}"
        );
    }

    /// A caller that stops waiting (a request cancelled by its client) takes back
    /// its operation if it has not started: nothing lands after nobody is told.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_operation_dropped_before_it_started_never_runs() {
        let file = TempFile::new("dropped");
        let store = Arc::new(SqliteStore::open(&file.0).expect("open"));
        let (held_tx, held_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let inner = Arc::clone(&store.inner);
        let holder = std::thread::spawn(move || {
            let _turn = inner.db.lock().expect("lock");
            held_tx.send(()).expect("held");
            let _ = release_rx.recv();
        });
        held_rx.recv().expect("the connection is busy");
        let ttl = Duration::from_secs(60);
        let gave_up = tokio::time::timeout(
            Duration::from_millis(50),
            store.put_if_absent("mpp:claim:dropped", b"v", ttl),
        )
        .await;
        assert!(gave_up.is_err(), "the operation waited for its turn");
        release_tx.send(()).expect("release");
        holder.join().expect("holder");
        for _ in 0..500 {
            if Arc::strong_count(&store.inner) == 1 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(store.get("mpp:claim:dropped").await, Ok(None));
    }

    /// Set members are rows keyed by (set, member): adding one inserts into that
    /// key's tree, and removing one or listing a set searches it, so a change costs
    /// the same whatever the set's size, and a set is listed without scanning others.
    #[test]
    fn set_operations_go_through_the_primary_key() {
        let file = TempFile::new("plans");
        let store = SqliteStore::open(&file.0).expect("open");
        let db = db(&store);
        let key: Vec<(String, i64)> = db
            .conn
            .prepare("SELECT name, pk FROM pragma_table_info('members') ORDER BY pk")
            .expect("table info")
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .expect("columns")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(key, [("set_key".into(), 1), ("member".into(), 2)]);
        for statement in [REMOVE_MEMBER, MEMBERS] {
            let literal = statement.replace("?1", "'set'").replace("?2", "'member'");
            let plan: Vec<String> = db
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {literal}"))
                .expect("explain")
                .query_map([], |row| row.get(3))
                .expect("plan")
                .collect::<Result<_, _>>()
                .expect("rows");
            assert!(
                plan.len() == 1 && plan[0].starts_with("SEARCH members USING PRIMARY KEY"),
                "{statement}: {plan:?}"
            );
        }
    }

    #[test]
    fn debug_shows_no_values() {
        let file = TempFile::new("debug");
        let store = SqliteStore::open(&file.0).expect("open");
        db(&store)
            .put("k", b"secret-value", Duration::from_secs(60))
            .expect("put");
        let debug = format!("{store:?}");
        assert!(debug.contains("SqliteStore"), "{debug}");
        assert!(!debug.contains("secret-value"), "{debug}");
    }
}
