//! Where a server records what must outlive one request: claimed challenge ids
//! (single use, D9), responses to replay for `Idempotency-Key` retries, session
//! accounts (updated by compare-and-swap), and the set of open sessions.
//!
//! A store error is never read as "not yet used": the paywall fails closed (500
//! `internal-payment-error`) rather than grant access without a recorded claim.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use mpp_core::method::BoxFuture;

/// Why a store could not answer, by fault. Whatever the variant, an error means
/// "not done" or "unknown", never "done" (see [What an answer
/// means](Store#what-an-answer-means)). No variant carries a secret: no password,
/// no stored value.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend cannot be reached or used (connection refused or broken, no
    /// Tokio runtime, no randomness): the operation did not run, or, for a write
    /// whose answer was lost, see [`StoreError::OutcomeUnknown`].
    Unavailable(String),
    /// No answer in time. An SQLite operation reported so never runs later; a
    /// Redis command that timed out may still run.
    Timeout(String),
    /// A write went out whole, its answer was lost, and reading back could not
    /// tell whether it took effect.
    OutcomeUnknown(String),
    /// What the backend holds or answered cannot be read: a malformed reply, a
    /// damaged database file.
    Corrupt(String),
    /// Other writers changed the entry on every attempt: nothing was written.
    Conflict(String),
    /// Refused before reaching the backend: a malformed set member, a value too
    /// large, a time to live out of range, an unusable URL or file.
    Invalid(String),
    /// The backend failed the operation with an error of its own (an SQLite
    /// error, a Redis error reply, a full memory store).
    Backend {
        /// What failed.
        detail: String,
        /// The backend's error, when it has a type of its own.
        source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    },
}

impl StoreError {
    /// The description, without the kind.
    pub(crate) fn detail(&self) -> &str {
        match self {
            StoreError::Unavailable(d)
            | StoreError::Timeout(d)
            | StoreError::OutcomeUnknown(d)
            | StoreError::Corrupt(d)
            | StoreError::Conflict(d)
            | StoreError::Invalid(d)
            | StoreError::Backend { detail: d, .. } => d,
        }
    }

    /// A backend failure with no error type of its own.
    pub(crate) fn backend(detail: impl Into<String>) -> StoreError {
        StoreError::Backend {
            detail: detail.into(),
            source: None,
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            StoreError::Unavailable(_) => "store unavailable",
            StoreError::Timeout(_) => "store timed out",
            StoreError::OutcomeUnknown(_) => "store write outcome unknown",
            StoreError::Corrupt(_) => "store data unreadable",
            StoreError::Conflict(_) => "store write conflict",
            StoreError::Invalid(_) => "store request refused",
            StoreError::Backend { .. } => "store error",
        };
        write!(f, "{kind}: {}", self.detail())
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Backend {
                source: Some(source),
                ..
            } => Some(source.as_ref()),
            _ => None,
        }
    }
}

/// Errors are equal when they are of one kind with one detail (a backend's source
/// error is not compared: its text is in the detail).
impl PartialEq for StoreError {
    fn eq(&self, other: &StoreError) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
            && self.detail() == other.detail()
    }
}

impl Eq for StoreError {}

/// Key-value storage with expiry and an atomic put-if-absent.
///
/// Keys are ASCII; values are opaque bytes. An entry past its time to live is gone:
/// `get` does not see it and `put_if_absent` may take its key.
///
/// # What an answer means
///
/// Money decisions are taken on these answers, so every backend keeps to one rule:
/// an error means "not done" or "unknown", never "done". A backend never reports an
/// error or a timeout for an operation it knows took effect, nor `false` for one
/// that may still take effect.
///
/// A backend that talks to a server over a network must not send a write again
/// once it went out whole: if the answer is lost (the connection fails before it
/// arrives), the write may have run, and running it twice would turn a claim won
/// into a claim refused, or a swap done into a swap refused (and the session ledger
/// would then apply the event a second time). It reads back instead, on a fresh
/// connection, and answers from what it finds:
///
/// - [`put_if_absent`](Store::put_if_absent): `value` found under the key is
///   `Ok(true)`; another value is `Ok(false)`; no value is an error (it may never
///   have run, or may still run).
/// - [`compare_and_swap`](Store::compare_and_swap): `new` found under the key is
///   `Ok(true)`; anything else is an error.
/// - [`put`](Store::put): `value` found is `Ok(())`; anything else is an error.
/// - The set operations: the member found in (for an add) or out of (for a
///   removal) the set is `Ok(true)`; otherwise an error.
///
/// A command that timed out may still run later, so a timeout is an error, never a
/// `false`.
///
/// Telling one's own write from another's by its bytes is sound only if no other
/// writer stores the same bytes: callers make the values of `put_if_absent` and of
/// `compare_and_swap` unique per write, e.g. with a random token (the paywall claims
/// a challenge with `claimed:<random token>`; the session ledger writes a random id
/// into every version of an account).
pub trait Store: Send + Sync + 'static {
    /// Stores `value` under `key` for `ttl` unless a live entry has that key; says
    /// whether it stored. Atomic: of concurrent callers with one key, one wins.
    /// `value` should be unique to this caller (see [What an answer
    /// means](Store#what-an-answer-means)).
    fn put_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// The live value under `key`.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>>;

    /// Stores `value` under `key` for `ttl`, replacing any entry.
    fn put<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Replaces the live value under `key` with `new`, for `ttl`, if it is exactly
    /// `expected`; says whether the key now holds `new` through this swap. Atomic:
    /// of concurrent swaps from one value, one wins. What session accounting is
    /// built on.
    ///
    /// Idempotent: a live value already equal to `new` (and not to `expected`) is
    /// `true` too, and is left as it is, with the time to live of the write that
    /// stored it; so a swap repeated, or one whose answer was lost, is recognised as
    /// done rather than refused. This is why `new` must be unique to the write.
    fn compare_and_swap<'a>(
        &'a self,
        key: &'a str,
        expected: &'a [u8],
        new: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Adds `member` to the set named `set` (sets have no expiry); `true` if it was
    /// not there. After a lost answer (see [What an answer
    /// means](Store#what-an-answer-means)), finding the member there is `true`: the
    /// change is done, whoever made it.
    ///
    /// Members are 1 to 1024 visible ASCII characters (no space, no control
    /// character); anything else is refused with an error. A set's name is a key of
    /// its own: use one no entry uses (Redis keeps both in one namespace).
    ///
    /// The default implementation spreads the set over 64 entries
    /// (`<set>:<bucket>`, each kept ten years after its last change), each
    /// rewritten whole by compare-and-swap: a change reads and writes about 1/64 of
    /// the set, O(set size / 64), so opening and closing sessions costs more as
    /// more are open. The stores of this crate keep native sets instead, where a
    /// change costs the same whatever the set's size.
    fn add_member<'a>(
        &'a self,
        set: &'a str,
        member: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(bucketed::change(self, set, member, true))
    }

    /// Removes `member` from `set`; `true` if it was there. After a lost answer,
    /// finding the member gone is `true`. Refuses a malformed member as
    /// [`add_member`](Store::add_member) does; the default implementation costs the
    /// same.
    fn remove_member<'a>(
        &'a self,
        set: &'a str,
        member: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(bucketed::change(self, set, member, false))
    }

    /// Every member of `set`, each once, in no particular order (none for a set
    /// never written).
    fn members<'a>(&'a self, set: &'a str) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        Box::pin(bucketed::members(self, set))
    }
}

/// The longest set member accepted.
const MAX_MEMBER: usize = 1024;

/// Refuses what cannot be a set member: members are what the default implementation
/// writes one per line, and session ids are visible ASCII.
/// How a write whose answer was lost settles from what a read then finds (E27): the
/// write is never sent again. Shared by the stores whose connection can drop
/// between a write and its reply.
#[cfg(any(feature = "redis", feature = "postgres"))]
pub(crate) mod read_back {
    use super::StoreError;

    /// An outcome nobody can tell, carrying the lost write's detail.
    pub(crate) fn unknown(lost: StoreError) -> StoreError {
        StoreError::OutcomeUnknown(lost.detail().to_owned())
    }

    /// A claim of `value`: ours if the key holds it, lost to another if it holds
    /// something else, unknown otherwise.
    pub(crate) fn claim(
        found: Result<Option<Vec<u8>>, StoreError>,
        value: &[u8],
        lost: StoreError,
    ) -> Result<bool, StoreError> {
        match found {
            Ok(Some(found)) if found == value => Ok(true),
            Ok(Some(_)) => Ok(false),
            Ok(None) | Err(_) => Err(unknown(lost)),
        }
    }

    /// A put of `value`, or a swap to it: done if the key holds it, unknown otherwise.
    pub(crate) fn holds(
        found: Result<Option<Vec<u8>>, StoreError>,
        value: &[u8],
        lost: StoreError,
    ) -> Result<(), StoreError> {
        match found {
            Ok(Some(found)) if found == value => Ok(()),
            _ => Err(unknown(lost)),
        }
    }
}

pub(crate) fn check_member(member: &str) -> Result<(), StoreError> {
    if member.is_empty()
        || member.len() > MAX_MEMBER
        || !member.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(StoreError::Invalid(format!(
            "a set member is 1 to {MAX_MEMBER} visible ASCII characters"
        )));
    }
    Ok(())
}

/// 32 random hex digits.
pub(crate) fn random_hex() -> Result<[u8; 32], StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::Unavailable(format!("no randomness: {e}")))?;
    let mut hex = [0u8; 32];
    for (i, byte) in bytes.into_iter().enumerate() {
        hex[2 * i] = b"0123456789abcdef"[usize::from(byte >> 4)];
        hex[2 * i + 1] = b"0123456789abcdef"[usize::from(byte & 0xf)];
    }
    Ok(hex)
}

/// The default set operations, over the key-value ones: a set is spread over
/// [`BUCKETS`](bucketed::BUCKETS) entries by a hash of the member, one member per
/// line. (The session ledger kept its open-session index this way, under the same
/// keys, before stores had sets.)
mod bucketed {
    use super::{Store, StoreError, check_member, random_hex};
    use std::time::Duration;

    /// How many entries a set is spread over, so that a change rewrites a small part.
    pub(super) const BUCKETS: u32 = 64;

    /// How long a bucket is kept after its last change: sets do not expire, and a
    /// decade is as good as never.
    const KEEP: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

    /// How many times a change is retried when other writers keep changing its bucket.
    const MAX_ATTEMPTS: usize = 100;

    fn bucket_key(set: &str, bucket: u32) -> String {
        format!("{set}:{bucket}")
    }

    /// A bucket stable across processes and builds (FNV-1a).
    fn bucket(member: &str) -> u32 {
        let hash = member.bytes().fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        hash % BUCKETS
    }

    /// The members listed in a bucket. The first line of a bucket is the random id
    /// of the write that produced it (it has a space, so no member looks like it):
    /// it makes every version unique, as compare-and-swap asks.
    fn entries(list: &[u8]) -> impl Iterator<Item = &str> {
        list.split(|&b| b == b'\n')
            .filter_map(|e| std::str::from_utf8(e).ok())
            .filter(|e| check_member(e).is_ok())
    }

    pub(super) async fn change<S: Store + ?Sized>(
        store: &S,
        set: &str,
        member: &str,
        add: bool,
    ) -> Result<bool, StoreError> {
        check_member(member)?;
        let key = bucket_key(set, bucket(member));
        for _ in 0..MAX_ATTEMPTS {
            let old = store.get(&key).await?;
            let listed = old
                .as_deref()
                .is_some_and(|list| entries(list).any(|e| e == member));
            if listed == add {
                return Ok(false);
            }
            let mut new = b"write ".to_vec();
            new.extend_from_slice(&random_hex()?);
            new.push(b'\n');
            for entry in old.as_deref().map(entries).into_iter().flatten() {
                if entry != member {
                    new.extend_from_slice(entry.as_bytes());
                    new.push(b'\n');
                }
            }
            if add {
                new.extend_from_slice(member.as_bytes());
                new.push(b'\n');
            }
            let written = match &old {
                Some(old) => store.compare_and_swap(&key, old, &new, KEEP).await?,
                None => store.put_if_absent(&key, &new, KEEP).await?,
            };
            if written {
                return Ok(true);
            }
        }
        Err(StoreError::Conflict(
            "set: other writers changed the set on every attempt".into(),
        ))
    }

    pub(super) async fn members<S: Store + ?Sized>(
        store: &S,
        set: &str,
    ) -> Result<Vec<String>, StoreError> {
        let mut members = Vec::new();
        for bucket in 0..BUCKETS {
            if let Some(list) = store.get(&bucket_key(set, bucket)).await? {
                members.extend(entries(&list).map(str::to_owned));
            }
        }
        Ok(members)
    }
}

mod memory;
pub use memory::MemoryStore;
mod references;
pub use references::{DEFAULT_REFERENCE_TTL, StoreReferences};

#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
pub use redis::{RedisOptions, RedisStore};

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresOptions, PostgresStore};

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A memory store that counts the bytes moved through it, with its native sets
    /// or the default ones (then built on its counted key-value operations).
    #[derive(Debug)]
    pub(crate) struct Counting {
        memory: MemoryStore,
        native_sets: bool,
        pub(crate) bytes: AtomicUsize,
    }

    impl Counting {
        pub(crate) fn new(native_sets: bool) -> Counting {
            Counting {
                memory: MemoryStore::default(),
                native_sets,
                bytes: AtomicUsize::new(0),
            }
        }

        fn count(&self, bytes: usize) {
            self.bytes.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    impl Store for Counting {
        fn put_if_absent<'a>(
            &'a self,
            key: &'a str,
            value: &'a [u8],
            ttl: Duration,
        ) -> BoxFuture<'a, Result<bool, StoreError>> {
            self.count(key.len() + value.len());
            self.memory.put_if_absent(key, value, ttl)
        }

        fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
            Box::pin(async move {
                let value = self.memory.get(key).await?;
                self.count(key.len() + value.as_ref().map_or(0, Vec::len));
                Ok(value)
            })
        }

        fn put<'a>(
            &'a self,
            key: &'a str,
            value: &'a [u8],
            ttl: Duration,
        ) -> BoxFuture<'a, Result<(), StoreError>> {
            self.count(key.len() + value.len());
            self.memory.put(key, value, ttl)
        }

        fn compare_and_swap<'a>(
            &'a self,
            key: &'a str,
            expected: &'a [u8],
            new: &'a [u8],
            ttl: Duration,
        ) -> BoxFuture<'a, Result<bool, StoreError>> {
            self.count(key.len() + expected.len() + new.len());
            self.memory.compare_and_swap(key, expected, new, ttl)
        }

        fn add_member<'a>(
            &'a self,
            set: &'a str,
            member: &'a str,
        ) -> BoxFuture<'a, Result<bool, StoreError>> {
            if !self.native_sets {
                return Box::pin(bucketed::change(self, set, member, true));
            }
            self.count(set.len() + member.len());
            self.memory.add_member(set, member)
        }

        fn remove_member<'a>(
            &'a self,
            set: &'a str,
            member: &'a str,
        ) -> BoxFuture<'a, Result<bool, StoreError>> {
            if !self.native_sets {
                return Box::pin(bucketed::change(self, set, member, false));
            }
            self.count(set.len() + member.len());
            self.memory.remove_member(set, member)
        }

        fn members<'a>(&'a self, set: &'a str) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
            if !self.native_sets {
                return Box::pin(bucketed::members(self, set));
            }
            Box::pin(async move {
                let members = self.memory.members(set).await?;
                self.count(set.len() + members.iter().map(String::len).sum::<usize>());
                Ok(members)
            })
        }
    }

    pub(crate) fn block_on<F: std::future::Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    /// The bytes moved by adding and then removing one member of a set of `size`.
    fn change_cost(native_sets: bool, size: usize) -> usize {
        let store = Counting::new(native_sets);
        for i in 0..size {
            let member = format!("session-{i:06}");
            assert_eq!(block_on(store.add_member("set", &member)), Ok(true));
        }
        let before = store.bytes.load(Ordering::Relaxed);
        assert_eq!(block_on(store.add_member("set", "probe")), Ok(true));
        assert_eq!(block_on(store.remove_member("set", "probe")), Ok(true));
        store.bytes.load(Ordering::Relaxed) - before
    }

    #[test]
    fn a_default_set_change_moves_a_sixty_fourth_of_the_set() {
        // The documented cost of the default implementation: a change reads and
        // rewrites one bucket, about 1/64 of the members (15 bytes each here).
        let small = change_cost(false, 64);
        let large = change_cost(false, 6_400);
        let bucket = 6_400 / 64 * 15;
        assert!(large > 2 * bucket, "{large} bytes moved");
        assert!(large < 8 * bucket + small, "{large} bytes moved");
    }

    #[test]
    fn default_sets_refuse_malformed_members_without_writing() {
        let store = Counting::new(false);
        for bad in ["", "two words", "line\nbreak", "\u{e9}"] {
            assert!(block_on(store.add_member("set", bad)).is_err(), "{bad:?}");
        }
        assert_eq!(store.bytes.load(Ordering::Relaxed), 0);
        assert_eq!(block_on(store.members("set")), Ok(vec![]));
    }

    #[test]
    fn default_sets_read_buckets_written_before_they_had_a_write_line() {
        // The session ledger's own index, before stores had sets: one id per line.
        let store = Counting::new(false);
        let legacy = "mpp:sessions:open";
        let ttl = Duration::from_secs(60);
        for member in ["s1", "s2"] {
            let key = format!("{legacy}:{}", bucketed_bucket(member));
            let mut list = block_on(store.get(&key)).expect("get").unwrap_or_default();
            list.extend_from_slice(format!("{member}\n").as_bytes());
            block_on(store.put(&key, &list, ttl)).expect("put");
        }
        let mut members = block_on(store.members(legacy)).expect("members");
        members.sort();
        assert_eq!(members, ["s1", "s2"]);
        assert_eq!(block_on(store.remove_member(legacy, "s1")), Ok(true));
        assert_eq!(block_on(store.members(legacy)), Ok(vec!["s2".to_owned()]));
    }

    /// The ledger's bucket for an id (FNV-1a modulo 64), computed independently.
    fn bucketed_bucket(member: &str) -> u32 {
        let mut hash: u32 = 0x811c_9dc5;
        for byte in member.bytes() {
            hash ^= u32::from(byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
        hash % 64
    }
}
