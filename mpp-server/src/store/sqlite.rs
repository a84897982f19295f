//! The SQLite store: claims that survive restarts, in one file that several server
//! processes on one host may share, with the writes of concurrent requests grouped
//! into one transaction and one fsync.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mpp_core::method::BoxFuture;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::oneshot;

use super::{Store, StoreError, check_member};

/// Expired rows are purged once every this many writes...
const PURGE_EVERY: u64 = 256;
/// ...at most this many at a time, so one call does bounded work. Each write adds at
/// most one row, so purging up to 4 rows per write keeps up with any write rate.
const PURGE_BATCH: i64 = 1024;

/// The most writes one transaction holds: a bound on how long a batch keeps the
/// file's write lock, and on how many callers one failed commit answers with an error.
const MAX_BATCH: usize = 512;

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
/// Writes (claims, puts, swaps, set changes) are committed in groups. A write that
/// finds no commit under way starts one at once on Tokio's blocking pool, so a lone
/// request waits for nothing but its own commit; writes that arrive while a commit
/// is under way queue up, and the next commit takes all of them, in order, inside
/// one `BEGIN IMMEDIATE … COMMIT`. Each caller is answered only once the commit
/// holding its write is on disk. Concurrent requests thus share one fsync, and each
/// write keeps the meaning it has alone. If the transaction fails, every write in
/// it fails with an error: nothing of it was recorded. Reads use a connection of
/// their own on the blocking pool, and see every write already answered.
///
/// Expiry uses the system clock (Unix milliseconds). Operations need a Tokio
/// runtime with the time driver, as `#[tokio::main]` gives. A write still waiting
/// for its turn after twice the busy timeout is given up, never to run, and fails
/// with a [`StoreError`]; one already taken into a transaction is waited for, since
/// it may commit (the transaction waits at most the busy timeout for the file). A
/// new database file is created readable by its owner only (on Unix), as stored
/// responses may hold paid content and receipts.
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// Writes waiting for the next commit, and whether a commit is under way.
    queue: Mutex<Queue>,
    /// The write connection, used by one committer at a time (see [`Queue::leading`]).
    writer: Mutex<Writer>,
    /// How many transactions have been committed or tried.
    batches: AtomicU64,
    reader: Mutex<Connection>,
    path: PathBuf,
    busy_timeout: Duration,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .field("busy_timeout", &self.inner.busy_timeout)
            .field("transactions", &self.inner.batches.load(Ordering::Relaxed))
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

/// A connection to the file with the settings every connection of the store has:
/// waits `busy_timeout` for other connections' locks, WAL journal, and commits that
/// reach the disk before they are reported.
fn connect(path: &Path, busy_timeout: Duration) -> Result<Connection, StoreError> {
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
    Ok(conn)
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

    /// Opens the store in the file at `path`; a transaction or read waits at most
    /// `busy_timeout` for another connection's lock on the file.
    pub fn open_with_busy_timeout(
        path: impl AsRef<Path>,
        busy_timeout: Duration,
    ) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref();
        create_private(path)?;
        let conn = connect(path, busy_timeout)?;
        conn.execute_batch(SCHEMA).map_err(sql_error)?;
        let mut writer = Writer {
            db: Db { conn },
            since_purge: 0,
        };
        writer.db.purge(now_ms()?)?;
        let reader = connect(path, busy_timeout)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                queue: Mutex::new(Queue::default()),
                writer: Mutex::new(writer),
                batches: AtomicU64::new(0),
                reader: Mutex::new(reader),
                path: path.to_owned(),
                busy_timeout,
            }),
        })
    }

    /// Runs `read` on the blocking pool with the read connection. Reads change
    /// nothing, so one past its deadline is reported as timed out whether or not it
    /// ran.
    fn read<T, F>(&self, read: F) -> BoxFuture<'_, Result<T, StoreError>>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let handle = runtime()?;
            let deadline = inner.busy_timeout.saturating_mul(2);
            let task = handle.spawn_blocking(move || {
                let conn = inner
                    .reader
                    .lock()
                    .map_err(|_| StoreError::backend("sqlite store lock poisoned"))?;
                read(&conn)
            });
            match tokio::time::timeout(deadline, task).await {
                Ok(joined) => {
                    joined.unwrap_or_else(|_| Err(StoreError::backend("sqlite store read failed")))
                }
                Err(_) => Err(StoreError::Timeout("sqlite store read timed out".into())),
            }
        })
    }

    /// Queues `write`, starts a commit on the blocking pool if none is under way,
    /// and waits for the commit that holds the write. A write still queued at the
    /// deadline, or when the caller stops waiting, is given up and never runs; one
    /// taken into a transaction is waited for, since it may commit: a timeout is
    /// reported only for what cannot happen any more.
    fn write(&self, write: Write) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(async move {
            let handle = runtime()?;
            let fate = Arc::new(AtomicU8::new(PENDING));
            let _give_up = GiveUp(Arc::clone(&fate));
            let (reply, mut answer) = oneshot::channel();
            let job = Job {
                write,
                fate: Arc::clone(&fate),
                reply,
            };
            let lead = {
                let mut queue = self
                    .inner
                    .queue
                    .lock()
                    .map_err(|_| StoreError::backend("sqlite store queue lock poisoned"))?;
                queue.jobs.push(job);
                !std::mem::replace(&mut queue.leading, true)
            };
            if lead {
                let leader = Leader {
                    inner: Arc::clone(&self.inner),
                    finished: false,
                };
                // Detached: the commit goes on, and answers the others it took, even
                // if this caller stops waiting. Never on this thread through
                // `block_in_place`, which panics when this runtime was entered from
                // another's `block_on` or a `LocalSet`: a claim must never panic.
                drop(handle.spawn_blocking(move || {
                    let mut leader = leader;
                    leader.run();
                }));
            }
            // Waiting for the transactions before this one, then for the file's lock.
            let deadline = self.inner.busy_timeout.saturating_mul(2);
            let answered = match tokio::time::timeout(deadline, &mut answer).await {
                Ok(answered) => answered,
                Err(_) => {
                    if fate
                        .compare_exchange(PENDING, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                    {
                        return Err(StoreError::Timeout(
                            "sqlite store operation timed out".into(),
                        ));
                    }
                    // Taken: the transaction's outcome is the answer. It waits at most
                    // the busy timeout for the file.
                    answer.await
                }
            };
            answered.unwrap_or_else(|_| {
                Err(StoreError::backend(
                    "the sqlite store's writer stopped before answering",
                ))
            })
        })
    }

    fn change_member(
        &self,
        add: bool,
        set: &str,
        member: &str,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        if let Err(e) = check_member(member) {
            return Box::pin(std::future::ready(Err(e)));
        }
        let (set, member) = (set.to_owned(), member.to_owned());
        self.write(Write::Member { add, set, member })
    }
}

/// The current Tokio runtime, which the store's timers and blocking reads need.
fn runtime() -> Result<tokio::runtime::Handle, StoreError> {
    tokio::runtime::Handle::try_current()
        .map_err(|_| StoreError::Unavailable("the SQLite store needs a Tokio runtime".into()))
}

/// A write's fate, decided once by a compare-exchange: the writer takes it into a
/// transaction (`PENDING` → `RUNNING`) or its caller gives it up (`PENDING` →
/// `ABANDONED`).
const PENDING: u8 = 0;
const RUNNING: u8 = 1;
const ABANDONED: u8 = 2;

/// Gives up its write, if not yet taken, when the caller's future ends.
struct GiveUp(Arc<AtomicU8>);

impl Drop for GiveUp {
    fn drop(&mut self) {
        let _ = self
            .0
            .compare_exchange(PENDING, ABANDONED, Ordering::AcqRel, Ordering::Acquire);
    }
}

/// A write, as the writer thread runs it.
enum Write {
    PutIfAbsent {
        key: String,
        value: Vec<u8>,
        ttl: Duration,
    },
    Put {
        key: String,
        value: Vec<u8>,
        ttl: Duration,
    },
    Swap {
        key: String,
        expected: Vec<u8>,
        new: Vec<u8>,
        ttl: Duration,
    },
    Member {
        add: bool,
        set: String,
        member: String,
    },
}

/// A queued write and where its answer goes (`true` for a `put`, which has none).
struct Job {
    write: Write,
    fate: Arc<AtomicU8>,
    reply: oneshot::Sender<Result<bool, StoreError>>,
}

/// Writes waiting for a commit.
#[derive(Default)]
struct Queue {
    jobs: Vec<Job>,
    /// Whether a committer is at work: it takes the jobs queued here until none is
    /// left, and only then clears this, under the same lock as the callers who
    /// push jobs. So a queued job always has a committer to take it, and only one
    /// committer uses the write connection at a time.
    leading: bool,
}

/// The write connection, and the writes since expired rows were last purged.
struct Writer {
    db: Db,
    since_purge: u64,
}

/// The committer that a write finding none under way starts on the blocking pool.
struct Leader {
    inner: Arc<Inner>,
    /// Whether it ran until the queue was empty and handed the role back.
    finished: bool,
}

impl Leader {
    /// Commits what is queued, a transaction at a time, until nothing is: each
    /// caller is answered after the commit that holds its write.
    fn run(&mut self) {
        let inner = Arc::clone(&self.inner);
        // Poisoned only by a panic in an earlier commit; the connection is still
        // sound (a transaction left open is rolled back before the next).
        let mut writer = inner.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut batch = Vec::new();
        loop {
            {
                let Ok(mut queue) = inner.queue.lock() else {
                    // Nothing can be queued or handed back any more; what this
                    // committer took is answered, the rest fail as their callers
                    // find the lock poisoned.
                    return;
                };
                if queue.jobs.is_empty() {
                    queue.leading = false;
                    self.finished = true;
                    return;
                }
                if queue.jobs.len() <= MAX_BATCH {
                    std::mem::swap(&mut batch, &mut queue.jobs);
                } else {
                    batch.extend(queue.jobs.drain(..MAX_BATCH));
                }
            }
            // Only writes whose callers still wait; the others never run.
            batch.retain(|job| {
                job.fate
                    .compare_exchange(PENDING, RUNNING, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            });
            if batch.is_empty() {
                continue;
            }
            let answers = writer.db.commit(batch.iter().map(|job| &job.write));
            inner.batches.fetch_add(1, Ordering::Relaxed);
            let written = batch.len() as u64;
            for (job, answer) in batch.drain(..).zip(answers) {
                // A caller gone since cannot be told; its write stands or not as for any.
                let _ = job.reply.send(answer);
            }
            writer.wrote(written);
        }
    }
}

impl Drop for Leader {
    /// A committer that never ran (the runtime shutting down) or panicked: the
    /// writes still queued fail at once, never to run, and the next write starts a
    /// committer again.
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let stranded = match self.inner.queue.lock() {
            Ok(mut queue) => {
                queue.leading = false;
                std::mem::take(&mut queue.jobs)
            }
            Err(_) => return,
        };
        // Dropping a job's reply answers its caller with an error.
        drop(stranded);
    }
}

impl Writer {
    /// Counts writes and purges expired rows once every [`PURGE_EVERY`], in a
    /// transaction of its own after the callers are answered. A failed purge fails
    /// nothing: the next one tries again.
    fn wrote(&mut self, writes: u64) {
        self.since_purge += writes;
        if self.since_purge >= PURGE_EVERY {
            self.since_purge = 0;
            if let Ok(now) = now_ms() {
                let _ = self.db.purge(now);
            }
        }
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

/// The write connection.
struct Db {
    conn: Connection,
}

impl Db {
    /// Runs `writes` in order in one transaction; each one's answer, all errors if
    /// the transaction did not commit. A write that fails alone (its statement
    /// undone, the transaction still open) fails alone; one whose failure ends the
    /// transaction fails the writes before it too, since they are undone with it.
    fn commit<'a>(
        &mut self,
        writes: impl ExactSizeIterator<Item = &'a Write>,
    ) -> Vec<Result<bool, StoreError>> {
        let count = writes.len();
        let all = |e: StoreError| vec![Err(e); count];
        if !self.conn.is_autocommit() {
            // Left open by a committer that panicked: none of it was reported.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        if count == 1 {
            // A lone write needs no explicit transaction (BEGIN and COMMIT are two
            // statements more): its statement commits by itself, and a swap that
            // did not apply only reads afterwards whether the entry already holds
            // the new value, which is true or not at that read whatever ran between.
            return writes.map(|write| self.apply(write)).collect();
        }
        if let Err(e) = self.conn.execute_batch("BEGIN IMMEDIATE") {
            return all(sql_error(e));
        }
        let mut answers = Vec::with_capacity(count);
        for write in writes {
            let answer = self.apply(write);
            if let Err(e) = &answer {
                if self.conn.is_autocommit() {
                    return all(e.clone());
                }
            }
            answers.push(answer);
        }
        match self.conn.execute_batch("COMMIT") {
            Ok(()) => answers,
            Err(e) => {
                if !self.conn.is_autocommit() {
                    let _ = self.conn.execute_batch("ROLLBACK");
                }
                all(sql_error(e))
            }
        }
    }

    fn apply(&mut self, write: &Write) -> Result<bool, StoreError> {
        match write {
            Write::PutIfAbsent { key, value, ttl } => self.put_if_absent(key, value, *ttl),
            Write::Put { key, value, ttl } => self.put(key, value, *ttl).map(|()| true),
            Write::Swap {
                key,
                expected,
                new,
                ttl,
            } => self.swap(key, expected, new, *ttl),
            Write::Member { add, set, member } => {
                let statement = if *add { ADD_MEMBER } else { REMOVE_MEMBER };
                self.change_member(statement, set, member)
            }
        }
    }

    fn put_if_absent(
        &mut self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = now_ms()?;
        let changed = self
            .conn
            .prepare(PUT_IF_ABSENT)
            .and_then(|mut s| s.execute(params![key, value, expires_at(now, ttl), now]))
            .map_err(sql_error)?;
        Ok(changed == 1)
    }

    fn put(&mut self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let now = now_ms()?;
        self.conn
            .prepare(PUT)
            .and_then(|mut s| s.execute(params![key, value, expires_at(now, ttl)]))
            .map_err(sql_error)?;
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
            .prepare(SWAP)
            .and_then(|mut s| s.execute(params![key, expected, new, expires_at(now, ttl), now]))
            .map_err(sql_error)?;
        if changed == 1 {
            return Ok(true);
        }
        // Not swapped: done already if the entry holds `new` (left as it is).
        let holds = self
            .conn
            .prepare(HOLDS)
            .and_then(|mut s| s.query_row(params![key, new, now], |_| Ok(())).optional())
            .map_err(sql_error)?;
        Ok(holds.is_some())
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
            .prepare(statement)
            .and_then(|mut s| s.execute(params![set, member]))
            .map_err(sql_error)?;
        Ok(changed == 1)
    }

    /// Deletes up to [`PURGE_BATCH`] expired rows; says how many.
    fn purge(&mut self, now: i64) -> Result<usize, StoreError> {
        self.conn
            .execute(PURGE, params![now, PURGE_BATCH])
            .map_err(sql_error)
    }
}

fn get(conn: &Connection, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let now = now_ms()?;
    conn.prepare(GET)
        .and_then(|mut s| s.query_row(params![key, now], |row| row.get(0)).optional())
        .map_err(sql_error)
}

fn members(conn: &Connection, set: &str) -> Result<Vec<String>, StoreError> {
    let mut statement = conn.prepare(MEMBERS).map_err(sql_error)?;
    let rows = statement
        .query_map(params![set], |row| row.get(0))
        .map_err(sql_error)?;
    rows.collect::<Result<_, _>>().map_err(sql_error)
}

impl Store for SqliteStore {
    fn put_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.write(Write::PutIfAbsent {
            key: key.to_owned(),
            value: value.to_vec(),
            ttl,
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        let key = key.to_owned();
        self.read(move |conn| get(conn, &key))
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let write = self.write(Write::Put {
            key: key.to_owned(),
            value: value.to_vec(),
            ttl,
        });
        Box::pin(async move { write.await.map(|_| ()) })
    }

    fn compare_and_swap<'a>(
        &'a self,
        key: &'a str,
        expected: &'a [u8],
        new: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.write(Write::Swap {
            key: key.to_owned(),
            expected: expected.to_vec(),
            new: new.to_vec(),
            ttl,
        })
    }

    fn add_member<'a>(
        &'a self,
        set: &'a str,
        member: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.change_member(true, set, member)
    }

    fn remove_member<'a>(
        &'a self,
        set: &'a str,
        member: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.change_member(false, set, member)
    }

    fn members<'a>(&'a self, set: &'a str) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        let set = set.to_owned();
        self.read(move |conn| members(conn, &set))
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

    const TTL: Duration = Duration::from_secs(60);

    /// Whether a row holds `key`, read by a connection of its own (what a restarted
    /// server would find).
    fn stored(file: &TempFile, key: &str) -> bool {
        Connection::open(&file.0)
            .expect("check connection")
            .query_row(
                "SELECT count(*) FROM entries WHERE key = ?1",
                [key],
                |row| row.get::<_, i64>(0),
            )
            .expect("count")
            == 1
    }

    #[test]
    fn the_file_is_durable_and_private() {
        let file = TempFile::new("pragmas");
        let _store = SqliteStore::open(&file.0).expect("open");
        // The settings every connection of the store gets.
        let conn = connect(&file.0, SqliteStore::DEFAULT_BUSY_TIMEOUT).expect("connect");
        let pragma = |name: &str| -> String {
            conn.query_row(&format!("PRAGMA {name}"), [], |row| {
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

    #[tokio::test]
    async fn expired_rows_are_purged_in_bounded_batches() {
        let file = TempFile::new("purge");
        let store = SqliteStore::open(&file.0).expect("open");
        let count = |conn: &Connection| -> i64 {
            conn.query_row("SELECT count(*) FROM entries", [], |row| row.get(0))
                .expect("count")
        };
        for i in 0..2000 {
            store
                .put(&format!("old{i}"), b"x", Duration::ZERO)
                .await
                .expect("put");
        }
        let mut db = Db {
            conn: connect(&file.0, SqliteStore::DEFAULT_BUSY_TIMEOUT).expect("connect"),
        };
        // 2000 writes: 7 purges ran along the way, each of at most PURGE_BATCH rows.
        assert!(count(&db.conn) < 2000, "purged along the way");
        let before = count(&db.conn);
        let now = now_ms().expect("clock") + 1;
        assert_eq!(
            db.purge(now).expect("purge") as i64,
            before.min(PURGE_BATCH)
        );
        while db.purge(now).expect("purge") > 0 {}
        assert_eq!(count(&db.conn), 0);
        // Live rows stay.
        store.put("live", b"x", TTL).await.expect("put");
        assert_eq!(db.purge(now).expect("purge"), 0);
        assert_eq!(count(&db.conn), 1);
    }

    #[tokio::test]
    async fn a_poisoned_read_lock_is_an_error() {
        let file = TempFile::new("poison");
        let store = SqliteStore::open(&file.0).expect("open");
        let inner = Arc::clone(&store.inner);
        let _ = std::thread::spawn(move || {
            let _guard = inner.reader.lock();
            panic!("poison the lock");
        })
        .join();
        assert!(store.get("k").await.is_err());
        assert!(store.members("s").await.is_err());
        // Writes do not use it.
        assert_eq!(store.put_if_absent("k", b"v", TTL).await, Ok(true));
    }

    #[test]
    fn without_a_runtime_operations_fail_instead_of_panicking() {
        let file = TempFile::new("noruntime");
        let store = SqliteStore::open(&file.0).expect("open");
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut read = std::pin::pin!(store.get("k"));
        assert!(matches!(
            read.as_mut().poll(&mut cx),
            std::task::Poll::Ready(Err(_))
        ));
        let mut write = std::pin::pin!(store.put_if_absent("k", b"v", TTL));
        assert!(matches!(
            write.as_mut().poll(&mut cx),
            std::task::Poll::Ready(Err(_))
        ));
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
                    let result = store.put_if_absent(&key, b"v", TTL).await;
                    (key, result)
                })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.expect("task"));
        }
        holder.join().expect("holder");
        // A write queued behind all of them: once it is answered, the writer has
        // taken or skipped every one before it, and nothing of theirs is left to land.
        assert_eq!(store.put_if_absent("last", b"v", TTL).await, Ok(true));

        let mut timeouts = 0;
        for (key, result) in &results {
            match result {
                Ok(true) => assert!(stored(&file, key), "{key} was reported claimed"),
                Ok(false) => panic!("{key}: nobody else claimed it"),
                Err(e) => {
                    timeouts += usize::from(matches!(e, StoreError::Timeout(_)));
                    assert!(
                        !stored(&file, key),
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
    /// its write if no transaction has taken it: nothing lands after nobody is told.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_operation_dropped_before_it_started_never_runs() {
        let file = TempFile::new("dropped");
        let store = Arc::new(SqliteStore::open(&file.0).expect("open"));
        // The writer is kept busy: its transaction waits for another connection's lock.
        let blocker = Connection::open(&file.0).expect("second connection");
        blocker.execute_batch("BEGIN IMMEDIATE").expect("lock");
        let first = tokio::spawn({
            let store = Arc::clone(&store);
            async move { store.put_if_absent("mpp:claim:first", b"v", TTL).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let gave_up = tokio::time::timeout(
            Duration::from_millis(50),
            store.put_if_absent("mpp:claim:dropped", b"v", TTL),
        )
        .await;
        assert!(gave_up.is_err(), "the operation waited for its turn");
        blocker.execute_batch("COMMIT").expect("unlock");
        assert_eq!(first.await.expect("task"), Ok(true));
        assert_eq!(store.put_if_absent("last", b"v", TTL).await, Ok(true));
        assert_eq!(store.get("mpp:claim:dropped").await, Ok(None));
        assert!(!stored(&file, "mpp:claim:dropped"));
    }

    /// Concurrent claims share transactions, and each is answered with its own
    /// outcome: of two claims of one key in one batch, the first wins.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_commits() {
        let file = TempFile::new("group");
        let store = Arc::new(SqliteStore::open(&file.0).expect("open"));
        let claims: Vec<_> = (0..256)
            .map(|i| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let key = format!("mpp:claim:{}", i / 2);
                    store
                        .put_if_absent(&key, format!("{i}").as_bytes(), TTL)
                        .await
                })
            })
            .collect();
        let mut won = 0;
        for claim in claims {
            won += usize::from(claim.await.expect("task").expect("a claim"));
        }
        assert_eq!(won, 128, "each key claimed once");
        let batches = store.inner.batches.load(Ordering::Relaxed);
        assert!(batches < 128, "256 claims took {batches} transactions");
        for key in 0..128 {
            assert!(stored(&file, &format!("mpp:claim:{key}")));
        }
    }

    /// Writes in one transaction with a failing one: a failure that undoes only its
    /// own statement fails that write alone; one that undoes the whole transaction
    /// fails every write in it, and none is recorded.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_transaction_fails_every_write_in_it() {
        let file = TempFile::new("rollback");
        let store = Arc::new(SqliteStore::open(&file.0).expect("open"));
        let blocker = Connection::open(&file.0).expect("second connection");
        // Real SQLite failures, on chosen keys: one statement aborted, or the whole
        // transaction rolled back.
        blocker
            .execute_batch(
                "CREATE TRIGGER fail_one BEFORE INSERT ON entries WHEN NEW.key = 'abort'
                 BEGIN SELECT RAISE(ABORT, 'refused'); END;
                 CREATE TRIGGER fail_all BEFORE INSERT ON entries WHEN NEW.key = 'rollback'
                 BEGIN SELECT RAISE(ROLLBACK, 'rolled back'); END;",
            )
            .expect("triggers");
        for (failing, alone) in [("abort", true), ("rollback", false)] {
            let before = store.inner.batches.load(Ordering::Relaxed);
            // The writer waits for the lock with a first write, while the next ones
            // queue behind it, to make one batch.
            blocker.execute_batch("BEGIN IMMEDIATE").expect("lock");
            let spawn = |key: String| {
                let store = Arc::clone(&store);
                tokio::spawn(async move { store.put_if_absent(&key, b"v", TTL).await })
            };
            let first = spawn(format!("{failing}-first"));
            tokio::time::sleep(Duration::from_millis(100)).await;
            let batch = [
                spawn(format!("{failing}-before")),
                spawn(failing.to_owned()),
                spawn(format!("{failing}-after")),
            ];
            tokio::time::sleep(Duration::from_millis(100)).await;
            blocker.execute_batch("COMMIT").expect("unlock");
            assert_eq!(first.await.expect("task"), Ok(true));
            let mut answers = Vec::new();
            for write in batch {
                answers.push(write.await.expect("task"));
            }
            assert_eq!(
                store.inner.batches.load(Ordering::Relaxed),
                before + 2,
                "the three writes were one batch"
            );
            assert!(stored(&file, &format!("{failing}-first")));
            assert!(answers[1].is_err(), "{answers:?}");
            assert!(!stored(&file, failing));
            for (answer, key) in [(&answers[0], "before"), (&answers[2], "after")] {
                let key = format!("{failing}-{key}");
                if alone {
                    assert_eq!(answer, &Ok(true), "{key}");
                    assert!(stored(&file, &key), "{key}");
                } else {
                    assert!(answer.is_err(), "{key}: {answer:?}");
                    assert!(!stored(&file, &key), "{key} was recorded");
                }
            }
        }
        // The writer goes on after a failed transaction.
        assert_eq!(store.put_if_absent("next", b"v", TTL).await, Ok(true));
    }

    /// Set members are rows keyed by (set, member): adding one inserts into that
    /// key's tree, and removing one or listing a set searches it, so a change costs
    /// the same whatever the set's size, and a set is listed without scanning others.
    #[test]
    fn set_operations_go_through_the_primary_key() {
        let file = TempFile::new("plans");
        let _store = SqliteStore::open(&file.0).expect("open");
        let conn = connect(&file.0, SqliteStore::DEFAULT_BUSY_TIMEOUT).expect("connect");
        let key: Vec<(String, i64)> = conn
            .prepare("SELECT name, pk FROM pragma_table_info('members') ORDER BY pk")
            .expect("table info")
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .expect("columns")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(key, [("set_key".into(), 1), ("member".into(), 2)]);
        for statement in [REMOVE_MEMBER, MEMBERS] {
            let literal = statement.replace("?1", "'set'").replace("?2", "'member'");
            let plan: Vec<String> = conn
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

    #[tokio::test]
    async fn debug_shows_no_values() {
        let file = TempFile::new("debug");
        let store = SqliteStore::open(&file.0).expect("open");
        store.put("k", b"secret-value", TTL).await.expect("put");
        let debug = format!("{store:?}");
        assert!(debug.contains("SqliteStore"), "{debug}");
        assert!(!debug.contains("secret-value"), "{debug}");
    }
}
