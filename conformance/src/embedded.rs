//! The reference server, run in-process on a loopback port: what
//! `mpp-conformance server --embedded` checks (feature `embedded`).

use std::hash::{BuildHasher, Hasher};

use mpp_core::credential::CredentialField;
use mpp_reference_server::{ReferenceConfig, SpawnError, Spawned};

/// The preimage the embedded server's `preimage/charge` offers ask for.
pub const PREIMAGE: &str = "conformance-preimage";

/// Starts the reference application on `127.0.0.1` (a free port), credentials in
/// `field`; it stops when the returned handle is dropped. Must be called within a
/// Tokio runtime.
pub async fn start(field: CredentialField) -> Result<Spawned, SpawnError> {
    let config = ReferenceConfig {
        realm: "conformance.localhost".into(),
        credential_field: field,
        ..ReferenceConfig::new(ephemeral_secret(), PREIMAGE)
    };
    mpp_reference_server::spawn(&config).await
}

/// A secret for one run: nobody outside this process needs to know it, and it
/// should not be guessable, so it comes from the standard library's per-process
/// random hashing keys.
fn ephemeral_secret() -> String {
    let mut secret = String::with_capacity(64);
    for i in 0..4u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(i);
        secret.push_str(&format!("{:016x}", h.finish()));
    }
    secret
}
