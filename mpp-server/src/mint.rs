//! Limits on minting terms that cost the server something to make.
//!
//! A route whose method makes fresh terms for every challenge (a Lightning invoice
//! per 402) turns each anonymous request into work and state on the payment backend:
//! a node stores every invoice it issues until it expires. [`MintLimit`] bounds how
//! many such 402s are issued, in all and per client, with token buckets; beyond it
//! the paywall answers `429 Too Many Requests` with `Retry-After` and mints nothing.
//! Routes with fixed terms cost nothing to answer and are never limited.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use mpp_core::time::UnixTime;

/// A token bucket's size and refill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MintRate {
    /// How many may be minted at once.
    pub burst: u32,
    /// How many more may be minted each second after that.
    pub per_second: u32,
}

/// Who a request comes from, for the per-client limit: a peer address, a forwarded
/// address set by a trusted proxy, an API key. `None` counts only against the limit
/// of all clients.
pub type ClientKey = Arc<dyn Fn(&http::request::Parts) -> Option<String> + Send + Sync>;

/// How many per-challenge terms the paywall mints, in all and per client.
///
/// The default limits all clients together to a burst of 1,000 and 200 a second, and
/// has no per-client limit (a paywall cannot tell clients apart by itself: give it a
/// [`ClientKey`] with [`MintLimit::per_client`]).
#[derive(Clone)]
pub struct MintLimit {
    /// The limit of all clients together; `None`: unlimited.
    pub global: Option<MintRate>,
    /// The limit of each client, and how clients are told apart.
    pub per_client: Option<(MintRate, ClientKey)>,
}

impl fmt::Debug for MintLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintLimit")
            .field("global", &self.global)
            .field(
                "per_client",
                &self.per_client.as_ref().map(|(rate, _)| rate),
            )
            .finish()
    }
}

impl Default for MintLimit {
    fn default() -> Self {
        MintLimit {
            global: Some(MintRate {
                burst: 1_000,
                per_second: 200,
            }),
            per_client: None,
        }
    }
}

impl MintLimit {
    /// No limit at all.
    pub fn unlimited() -> MintLimit {
        MintLimit {
            global: None,
            per_client: None,
        }
    }

    /// Also limits each client, told apart by `key`.
    pub fn per_client(
        mut self,
        rate: MintRate,
        key: impl Fn(&http::request::Parts) -> Option<String> + Send + Sync + 'static,
    ) -> MintLimit {
        self.per_client = Some((rate, Arc::new(key)));
        self
    }
}

/// The most clients tracked at once; beyond it, clients whose bucket is full again
/// are forgotten, and if none is, a new client is refused (fail closed).
const MAX_CLIENTS: usize = 100_000;

/// The buckets of a [`MintLimit`].
pub(crate) struct Minting {
    limit: MintLimit,
    global: Mutex<Bucket>,
    clients: Mutex<HashMap<String, Bucket>>,
}

impl fmt::Debug for Minting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.limit.fmt(f)
    }
}

impl Minting {
    pub(crate) fn new(limit: MintLimit) -> Minting {
        Minting {
            global: Mutex::new(Bucket::full(limit.global)),
            clients: Mutex::default(),
            limit,
        }
    }

    /// The client of a request, when the per-client limit needs to know it.
    pub(crate) fn client(&self, parts: &http::request::Parts) -> Option<String> {
        self.limit
            .per_client
            .as_ref()
            .and_then(|(_, key)| key(parts))
    }

    /// Takes one mint for `client` at `now`: `Err(seconds)` to wait when over a
    /// limit (nothing is taken then).
    pub(crate) fn take(&self, client: Option<&str>, now: UnixTime) -> Result<(), u64> {
        let now_ms = millis(now);
        let mut global = self.global.lock().unwrap_or_else(PoisonError::into_inner);
        global.refill(self.limit.global, now_ms);
        global.check(self.limit.global)?;
        if let (Some((rate, _)), Some(client)) = (&self.limit.per_client, client) {
            let rate = Some(*rate);
            let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
            if !clients.contains_key(client) && clients.len() >= MAX_CLIENTS {
                clients.retain(|_, bucket| {
                    bucket.refill(rate, now_ms);
                    !bucket.is_full(rate)
                });
                if clients.len() >= MAX_CLIENTS {
                    return Err(1);
                }
            }
            let bucket = clients
                .entry(client.to_owned())
                .or_insert_with(|| Bucket::full(rate));
            bucket.refill(rate, now_ms);
            bucket.check(rate)?;
            bucket.spend();
        }
        global.spend();
        Ok(())
    }
}

/// Tokens in thousandths, so that refills need no floating point.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    milli: u64,
    at_ms: i64,
}

const ONE: u64 = 1_000;

impl Bucket {
    fn full(rate: Option<MintRate>) -> Bucket {
        Bucket {
            milli: rate.map_or(0, |r| u64::from(r.burst) * ONE),
            at_ms: i64::MIN,
        }
    }

    fn refill(&mut self, rate: Option<MintRate>, now_ms: i64) {
        let Some(rate) = rate else { return };
        let elapsed = if self.at_ms == i64::MIN {
            0
        } else {
            u64::try_from(now_ms.saturating_sub(self.at_ms)).unwrap_or(0)
        };
        // A thousandth of a token per millisecond for each token per second.
        let added = elapsed.saturating_mul(u64::from(rate.per_second));
        self.milli = self
            .milli
            .saturating_add(added)
            .min(u64::from(rate.burst) * ONE);
        self.at_ms = now_ms;
    }

    fn is_full(&self, rate: Option<MintRate>) -> bool {
        rate.is_none_or(|r| self.milli >= u64::from(r.burst) * ONE)
    }

    /// `Err(seconds)` until one token is there.
    fn check(&self, rate: Option<MintRate>) -> Result<(), u64> {
        let Some(rate) = rate else { return Ok(()) };
        if self.milli >= ONE {
            return Ok(());
        }
        let per_second = u64::from(rate.per_second) * ONE;
        Err(match per_second {
            0 => 60,
            p => (ONE - self.milli).div_ceil(p).max(1),
        })
    }

    fn spend(&mut self) {
        self.milli = self.milli.saturating_sub(ONE);
    }
}

fn millis(t: UnixTime) -> i64 {
    t.secs()
        .saturating_mul(1000)
        .saturating_add(i64::from(t.nanos() / 1_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> UnixTime {
        UnixTime::new(
            ms.div_euclid(1000),
            (ms.rem_euclid(1000) * 1_000_000) as u32,
        )
        .unwrap()
    }

    #[test]
    fn buckets_allow_the_burst_then_the_rate() {
        let rate = MintRate {
            burst: 3,
            per_second: 2,
        };
        let minting = Minting::new(MintLimit {
            global: Some(rate),
            per_client: None,
        });
        for _ in 0..3 {
            assert_eq!(minting.take(None, at(0)), Ok(()));
        }
        assert_eq!(minting.take(None, at(0)), Err(1));
        assert_eq!(minting.take(None, at(499)), Err(1), "half a second: 0.998");
        assert_eq!(minting.take(None, at(500)), Ok(()));
        assert_eq!(minting.take(None, at(500)), Err(1));
        // Idle for long: back to the burst, never above it.
        for _ in 0..3 {
            assert_eq!(minting.take(None, at(60_000)), Ok(()));
        }
        assert!(minting.take(None, at(60_000)).is_err());
    }

    #[test]
    fn each_client_has_its_own_bucket_within_the_global_one() {
        let minting = Minting::new(
            MintLimit {
                global: Some(MintRate {
                    burst: 5,
                    per_second: 0,
                }),
                per_client: None,
            }
            .per_client(
                MintRate {
                    burst: 2,
                    per_second: 1,
                },
                |_| None,
            ),
        );
        assert_eq!(minting.take(Some("a"), at(0)), Ok(()));
        assert_eq!(minting.take(Some("a"), at(0)), Ok(()));
        assert_eq!(minting.take(Some("a"), at(0)), Err(1));
        assert_eq!(minting.take(Some("b"), at(0)), Ok(()));
        assert_eq!(minting.take(Some("b"), at(0)), Ok(()));
        // A refusal by the client's bucket took nothing from the global one.
        assert_eq!(minting.take(None, at(0)), Ok(()));
        // The global burst is spent, and it does not refill.
        assert_eq!(minting.take(Some("c"), at(0)), Err(60));
    }
}
