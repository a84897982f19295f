//! Spent payment references (transaction hashes and the like) kept in a [`Store`], so
//! that every instance sharing the store refuses a payment that already paid another
//! challenge.

use std::sync::Arc;
use std::time::Duration;

use mpp_core::method::{BoxFuture, UsedReferences};

use super::Store;

/// How long a reference stays recorded unless configured otherwise: 400 days. A
/// challenge lives minutes; the record outlives any challenge the payment could be
/// presented for, and costs one small entry per payment.
pub const DEFAULT_REFERENCE_TTL: Duration = Duration::from_secs(400 * 24 * 3600);

/// [`UsedReferences`] over a [`Store`]: the reference `r` paying challenge `c` is the
/// entry `mpp:reference:<r>` holding `c`, written if absent.
///
/// The entry's value is the challenge id, not a token unique to the write as the
/// store's contract asks: here the same bytes written twice mean the same fact (the
/// same credential retried), which is exactly what a lost answer must be read as.
#[derive(Clone)]
pub struct StoreReferences {
    store: Arc<dyn Store>,
    ttl: Duration,
}

impl std::fmt::Debug for StoreReferences {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreReferences")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl StoreReferences {
    /// References recorded in `store` for [`DEFAULT_REFERENCE_TTL`].
    pub fn new(store: Arc<dyn Store>) -> StoreReferences {
        StoreReferences {
            store,
            ttl: DEFAULT_REFERENCE_TTL,
        }
    }

    /// Keeps each reference for `ttl` instead.
    pub fn ttl(mut self, ttl: Duration) -> StoreReferences {
        self.ttl = ttl;
        self
    }
}

impl UsedReferences for StoreReferences {
    fn claim<'a>(
        &'a self,
        reference: &'a str,
        challenge_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            let key = format!("mpp:reference:{reference}");
            let written = self
                .store
                .put_if_absent(&key, challenge_id.as_bytes(), self.ttl)
                .await
                .map_err(|e| e.to_string())?;
            if written {
                return Ok(true);
            }
            let holder = self.store.get(&key).await.map_err(|e| e.to_string())?;
            Ok(holder.as_deref() == Some(challenge_id.as_bytes()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use crate::store::tests::block_on;

    #[test]
    fn a_reference_pays_one_challenge_and_its_retries() {
        let references = StoreReferences::new(Arc::new(MemoryStore::default()));
        let claim = |r, c| block_on(references.claim(r, c)).unwrap();
        assert!(claim("0xaa", "ch_1"));
        assert!(claim("0xaa", "ch_1"), "the same challenge retrying");
        assert!(!claim("0xaa", "ch_2"));
        assert!(claim("0xbb", "ch_2"));
    }
}
