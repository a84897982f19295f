//! The reference server, run in-process on a loopback port: what
//! `mpp-conformance server --embedded` checks, and what the suite's self-test uses.

use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mpp_core::credential::CredentialField;
use mpp_server::MemoryStore;
use mpp_server::reference::{self, ReferenceConfig};
use tokio::task::JoinHandle;

/// The preimage the embedded server's `preimage/charge` offers ask for.
pub const PREIMAGE: &str = "conformance-preimage";

/// A running embedded reference server; stopped when dropped.
#[derive(Debug)]
pub struct Embedded {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Embedded {
    /// Starts the reference application on `127.0.0.1` (a free port), credentials
    /// in `field`. Must be called within a Tokio runtime.
    pub async fn start(field: CredentialField) -> Result<Embedded, String> {
        let config = ReferenceConfig {
            secret: ephemeral_secret(),
            preimage: PREIMAGE.into(),
            token: "conformance-token".into(),
            realm: "conformance.localhost".into(),
            ttl: Duration::from_secs(300),
            credential_field: field,
            store: Arc::new(MemoryStore::new(100_000)),
            session_idle: Duration::from_secs(300),
        };
        let app = reference::app(&config).map_err(|e| e.to_string())?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("cannot read the listening address: {e}"))?;
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("mpp-conformance: the embedded server stopped: {e}");
            }
        });
        Ok(Embedded { addr, task })
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        self.task.abort();
    }
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
