//! Single-use claims of challenge ids (D9), and the one way a claimed challenge
//! is taken up again: by the very same credential, after the server failed with
//! nothing settled or credited.
//!
//! A claim is the value `claimed:<random token>` under [`Pending::claim_key`]: the
//! token makes each attempt's write its own, so a store that lost the answer to
//! its write can recognise it by reading it back. When processing fails on the
//! server's side after the claim (a settlement backend unreachable, a store write
//! lost) and nothing was settled or credited, [`Claim::release_for_retry`] turns
//! the value into `retry:<credential fingerprint>`; a later request carrying the
//! same credential swaps it back to a claim of its own and carries on, while any
//! other credential for that challenge, or a second concurrent retry, is refused.
//! Only then does the answer carry `Retry-After`: a retry the store would refuse
//! is never invited.

use std::time::Duration;

use mpp_core::problem::ProblemType;
use mpp_core::server::{Pending, Refusal};

use crate::store::{Store, random_hex};

const RETRY: &str = "retry:";

/// A challenge id this request holds.
pub(crate) struct Claim {
    key: String,
    value: Vec<u8>,
    ttl: Duration,
    /// Whether an earlier attempt with this credential failed after claiming: what
    /// it wrote may already be there.
    pub(crate) resumed: bool,
}

impl Claim {
    /// Claims `pending`'s challenge, or takes up a claim left for retry by this very
    /// credential. Refused with `invalid-challenge` when the challenge is used, and
    /// with a retryable `internal-payment-error` when the store cannot say.
    pub(crate) async fn take(store: &dyn Store, pending: &Pending) -> Result<Claim, Refusal> {
        let value = claim_value().ok_or_else(|| unavailable("no randomness available"))?;
        let mut claim = Claim {
            key: pending.claim_key(),
            value,
            ttl: Duration::from_secs(pending.claim_ttl_secs()),
            resumed: false,
        };
        match store
            .put_if_absent(&claim.key, &claim.value, claim.ttl)
            .await
        {
            Ok(true) => return Ok(claim),
            Ok(false) => {}
            Err(_) => return Err(unavailable("payment state is unavailable")),
        }
        let stored = store
            .get(&claim.key)
            .await
            .map_err(|_| unavailable("payment state is unavailable"))?;
        let retry = retry_value(pending);
        if stored.as_deref() == Some(retry.as_slice()) {
            // Of concurrent retries, the swap lets exactly one through.
            match store
                .compare_and_swap(&claim.key, &retry, &claim.value, claim.ttl)
                .await
            {
                Ok(true) => {
                    claim.resumed = true;
                    return Ok(claim);
                }
                Ok(false) => {}
                Err(_) => return Err(unavailable("payment state is unavailable")),
            }
        }
        Err(Refusal::new(
            ProblemType::InvalidChallenge,
            "this challenge has already been used",
        ))
    }

    /// Lets the same credential try again, after a failure on the server's side that
    /// settled and credited nothing: `refusal` goes out with `Retry-After` if the
    /// claim was marked, without it (the retry would be refused) if not.
    pub(crate) async fn release_for_retry(
        &self,
        store: &dyn Store,
        pending: &Pending,
        refusal: Refusal,
    ) -> Refusal {
        let marked = store
            .compare_and_swap(&self.key, &self.value, &retry_value(pending), self.ttl)
            .await;
        if marked == Ok(true) {
            refusal
        } else {
            tracing::warn!(target: "mpp::server", "cannot mark a claim for retry: the credential is used up");
            refusal.not_retryable()
        }
    }
}

/// `claimed:` and 32 random hex digits: unique to this attempt.
fn claim_value() -> Option<Vec<u8>> {
    let mut value = b"claimed:".to_vec();
    value.extend_from_slice(&random_hex().ok()?);
    Some(value)
}

fn retry_value(pending: &Pending) -> Vec<u8> {
    format!("{RETRY}{}", pending.fingerprint()).into_bytes()
}

fn unavailable(detail: &str) -> Refusal {
    Refusal::new(ProblemType::InternalPaymentError, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_values_are_unique_tokens() {
        let (a, b) = (claim_value().expect("a"), claim_value().expect("b"));
        assert_ne!(a, b);
        for value in [a, b] {
            let token = value.strip_prefix(b"claimed:").expect("prefix");
            assert_eq!(token.len(), 32);
            assert!(
                token
                    .iter()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            );
        }
    }
}
