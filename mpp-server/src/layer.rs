//! The tower middleware: [`PaywallLayer`] wraps any HTTP service in a
//! [`PaywallService`] (which answers unpaid requests to paid routes with 402, and
//! calls the inner service only for paid ones), and
//! runs the idle-session sweep over the state they share.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

pub use crate::body::{BoxError, PaywallBody};
use crate::jsonrpc::JsonRpcPaywall;
use crate::service::Shared;
pub use crate::service::{PaywallService, VerifiedPayment};
use crate::session::{self, SessionLedger};

/// A tower layer that puts a paywall in front of a service. Built by
/// [`crate::PaywallLayer::builder`].
#[derive(Debug, Clone)]
pub struct PaywallLayer {
    shared: Arc<Shared>,
}

impl PaywallLayer {
    pub(crate) fn new(shared: Arc<Shared>) -> PaywallLayer {
        PaywallLayer { shared }
    }

    /// Closes the sessions left unused longer than their offer's idle timeout, and
    /// refunds what they did not spend (one attempt each): how many it closed. Call
    /// it periodically (every few seconds to a minute); it looks at every open
    /// session of every instance sharing the store, so one instance calling it is
    /// enough, and several may.
    pub async fn close_idle_sessions(&self) -> Result<usize, session::LedgerError> {
        session::serve::close_idle(&self.shared.sessions).await
    }

    /// Calls [`close_idle_sessions`](PaywallLayer::close_idle_sessions) every `every`
    /// until this layer and every service made from it are dropped. Spawn it on the
    /// runtime that serves them: `tokio::spawn(layer.sweep_idle_sessions(every))`.
    /// A sweep that fails (the store unreachable, say) is logged and tried again
    /// next time.
    pub fn sweep_idle_sessions(
        &self,
        every: Duration,
    ) -> impl Future<Output = ()> + Send + 'static {
        // Weak, so that the sweeper does not keep a dropped server's state alive.
        let shared = Arc::downgrade(&self.shared);
        async move {
            // A zero period would make `interval` panic.
            let mut ticks = tokio::time::interval(every.max(Duration::from_millis(10)));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                if let Err(e) = session::serve::close_idle(&shared.sessions).await {
                    tracing::warn!(target: "mpp::server", "closing idle sessions failed: {e}");
                }
            }
        }
    }

    /// The JSON-RPC side of this paywall: the calls priced with
    /// [`PaywallBuilder::call`](crate::PaywallBuilder::call), on the same engine,
    /// store and limits.
    pub fn jsonrpc(&self) -> JsonRpcPaywall {
        JsonRpcPaywall::new(self.shared.clone())
    }

    /// The session accounts, for inspection and operations (a forced close, say).
    pub fn sessions(&self) -> &SessionLedger {
        &self.shared.sessions.ledger
    }
}

impl<S> Layer<S> for PaywallLayer {
    type Service = PaywallService<S>;

    fn layer(&self, inner: S) -> PaywallService<S> {
        PaywallService::new(inner, self.shared.clone())
    }
}
