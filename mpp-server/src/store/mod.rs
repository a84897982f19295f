//! Where a server records what must outlive one request: claimed challenge ids
//! (single use, D9), responses to replay for `Idempotency-Key` retries, and session
//! accounts (updated by compare-and-swap).
//!
//! A store error is never read as "not yet used": the paywall fails closed (500
//! `internal-payment-error`) rather than grant access without a recorded claim.

use std::fmt;
use std::time::Duration;

use mpp_core::method::BoxFuture;

/// A store failure: the backend is unreachable, timed out, or full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store error: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

/// Key-value storage with expiry and an atomic put-if-absent.
///
/// Keys are ASCII; values are opaque bytes. An entry past its time to live is gone:
/// `get` does not see it and `put_if_absent` may take its key.
pub trait Store: Send + Sync + 'static {
    /// Stores `value` under `key` for `ttl` unless a live entry has that key; says
    /// whether it stored. Atomic: of concurrent callers with one key, one wins.
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
    /// `expected`; says whether it did. Atomic: of concurrent swaps from one value,
    /// one wins. What session accounting is built on.
    fn compare_and_swap<'a>(
        &'a self,
        key: &'a str,
        expected: &'a [u8],
        new: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
}

mod memory;
pub use memory::MemoryStore;

#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
pub use redis::{RedisOptions, RedisStore};
