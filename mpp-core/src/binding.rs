//! Challenge binding (decision D2): the id is an HMAC-SHA256 tag over the parameters
//! it protects, so a stateless server can tell its own challenges from forged or
//! edited ones.
//!
//! ```text
//! id = base64url-nopad( HMAC-SHA256( secret,
//!        realm | method | intent | request | expires | digest [| header] | opaque ) )
//! ```
//!
//! - Absent optional slots are empty strings, never dropped, so removing `expires`
//!   from an echo changes the tag.
//! - The `header` slot (holding `Payment-Authorization`) is present only when the
//!   challenge selects that field, and sits *before* `opaque`, as the deployed
//!   TypeScript SDK and the cross-SDK vectors do; the -01 prose appends it after
//!   `opaque` (recorded in `spec/ERRATA.md`). Header-less challenges keep the seven
//!   slots of -00.
//! - The `request` slot is the canonical form, base64url(JCS(decoded request)),
//!   recomputed when verifying, because deployed clients re-encode `request`.
//!   `opaque` is bound as its wire text.
//! - No slot may contain `|`, which would let bytes move between slots.
//! - Secrets shorter than [`MIN_SECRET_LEN`] bytes are refused; tags are compared in
//!   constant time; several secrets may be configured so a rotated-out secret keeps
//!   verifying the challenges it issued until they expire.

use alloc::vec::Vec;
use core::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::base64;
use crate::error::{BindingError, Param};
use crate::value::ChallengeId;

/// The shortest secret accepted, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// A challenge-binding secret. Its bytes never appear in `Debug` output.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// A secret of at least [`MIN_SECRET_LEN`] bytes.
    pub fn new(bytes: impl AsRef<[u8]>) -> Result<Secret, BindingError> {
        let bytes = bytes.as_ref();
        if bytes.len() < MIN_SECRET_LEN {
            return Err(BindingError::WeakSecret {
                len: bytes.len(),
                min: MIN_SECRET_LEN,
            });
        }
        Ok(Secret(bytes.to_vec()))
    }

    /// A secret of any length, for conformance harnesses whose vectors use short
    /// test secrets. Never use it to protect payments.
    pub fn new_insecure(bytes: impl AsRef<[u8]>) -> Secret {
        Secret(bytes.as_ref().to_vec())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.0.len())
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        // Best effort: do not leave the key in freed memory.
        self.0.iter_mut().for_each(|b| *b = 0);
        core::hint::black_box(&self.0);
    }
}

/// The slots of the binding input, as wire strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindingInput<'a> {
    /// `realm`.
    pub realm: &'a str,
    /// `method`.
    pub method: &'a str,
    /// `intent`.
    pub intent: &'a str,
    /// `request`, in canonical form (base64url of its JCS serialisation).
    pub request: &'a str,
    /// `expires`, when present.
    pub expires: Option<&'a str>,
    /// `digest`, when present.
    pub digest: Option<&'a str>,
    /// `header`, when present (`Payment-Authorization`).
    pub header: Option<&'a str>,
    /// `opaque`, when present.
    pub opaque: Option<&'a str>,
}

impl<'a> BindingInput<'a> {
    fn slots(&self) -> [(Param, Option<&'a str>); 8] {
        [
            (Param::Realm, Some(self.realm)),
            (Param::Method, Some(self.method)),
            (Param::Intent, Some(self.intent)),
            (Param::Request, Some(self.request)),
            (Param::Expires, Some(self.expires.unwrap_or(""))),
            (Param::Digest, Some(self.digest.unwrap_or(""))),
            // The only optional slot: absent means absent, not empty (D2).
            (Param::Header, self.header),
            (Param::Opaque, Some(self.opaque.unwrap_or(""))),
        ]
    }

    fn check(&self) -> Result<(), BindingError> {
        match self
            .slots()
            .into_iter()
            .find(|(_, v)| v.is_some_and(|v| v.contains('|')))
        {
            Some((param, _)) => Err(BindingError::PipeInField(param)),
            None => Ok(()),
        }
    }
}

/// A computed challenge id: 43 base64url characters, held without allocating.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ComputedId([u8; 43]);

impl ComputedId {
    /// The id text.
    pub fn as_str(&self) -> &str {
        // base64url output is ASCII.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The id as a [`ChallengeId`].
    pub fn to_challenge_id(&self) -> ChallengeId<'static> {
        ChallengeId::from_string(self.as_str().into())
            .unwrap_or_else(|_| unreachable!("a base64url tag is a valid id"))
    }
}

impl fmt::Display for ComputedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ComputedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ComputedId({})", self.as_str())
    }
}

/// Computes and verifies challenge ids with one current secret and any number of
/// previous ones.
#[derive(Clone)]
pub struct ChallengeBinder {
    /// Keyed HMAC states, newest first; cloning one skips re-keying per id.
    keys: Vec<Hmac<Sha256>>,
}

impl fmt::Debug for ChallengeBinder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChallengeBinder(<{} secrets redacted>)", self.keys.len())
    }
}

impl ChallengeBinder {
    /// A binder that issues and verifies with `secret`.
    pub fn new(secret: Secret) -> ChallengeBinder {
        ChallengeBinder {
            keys: alloc::vec![keyed(&secret)],
        }
    }

    /// Also accepts ids made with `previous` (verification only), for rotation.
    pub fn with_previous(mut self, previous: Secret) -> ChallengeBinder {
        self.keys.push(keyed(&previous));
        self
    }

    /// The id of a challenge with these slots, under the current secret.
    pub fn id_for(&self, input: &BindingInput<'_>) -> Result<ComputedId, BindingError> {
        input.check()?;
        Ok(ComputedId(base64::encode_32(&tag(&self.keys[0], input))))
    }

    /// Whether `id` is the tag of these slots under any configured secret. Constant
    /// time in the tag; every secret is tried.
    pub fn verify(&self, input: &BindingInput<'_>, id: &str) -> Result<bool, BindingError> {
        input.check()?;
        let mut matched = subtle::Choice::from(0);
        for key in &self.keys {
            let expected = base64::encode_32(&tag(key, input));
            matched |= expected.as_slice().ct_eq(id.as_bytes());
        }
        Ok(matched.into())
    }
}

fn keyed(secret: &Secret) -> Hmac<Sha256> {
    <Hmac<Sha256> as KeyInit>::new_from_slice(&secret.0)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"))
}

fn tag(key: &Hmac<Sha256>, input: &BindingInput<'_>) -> [u8; 32] {
    let mut mac = key.clone();
    let mut first = true;
    for (_, slot) in input.slots() {
        let Some(slot) = slot else { continue };
        if !first {
            mac.update(b"|");
        }
        first = false;
        mac.update(slot.as_bytes());
    }
    mac.finalize().into_bytes().into()
}
