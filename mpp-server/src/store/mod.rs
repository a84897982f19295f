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
}

/// A value to claim a key with, unique to this claim: `claimed:` and 32 random hex
/// digits, so that a claim whose answer was lost is recognised as one's own (see
/// [What an answer means](Store#what-an-answer-means)).
pub(crate) fn claim_value() -> Result<Vec<u8>, StoreError> {
    let mut token = [0u8; 16];
    getrandom::fill(&mut token).map_err(|e| StoreError(format!("no randomness: {e}")))?;
    let mut value = b"claimed:".to_vec();
    for byte in token {
        for digit in [byte >> 4, byte & 0xf] {
            value.push(b"0123456789abcdef"[usize::from(digit)]);
        }
    }
    Ok(value)
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
