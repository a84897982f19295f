//! The `session` intent over HTTP: a client funds a deposit once, then each request
//! (or each chunk of a stream) is paid from it.
//!
//! A route offers sessions with [`PaidRoute::session`](crate::PaidRoute::session) and
//! a [`SessionOffer`](crate::SessionOffer) naming a
//! [`SessionMethod`](mpp_core::method::SessionMethod) and the price of one unit. The
//! paywall then answers each credential by the action its payload names:
//!
//! | action | echo | effect | answer |
//! |---|---|---|---|
//! | open | a fresh challenge for this resource, used once | the method verifies the deposit; the account is recorded | the handler's response, one unit debited |
//! | use (bearer) | any challenge the server issued for the offer | the method checks the proof owns the session; one unit is debited | the handler's response |
//! | voucher | as use | the cumulative authorisation is accepted (stale ones refused), one unit is debited | the handler's response |
//! | top-up | as open | the method verifies the payment; the deposit grows | 200 `{"status":"ok"}` |
//! | close | as use | the account closes; the method refunds what was not spent | 200 `{"status":"closed", …}` |
//!
//! Every answer carries a `Payment-Receipt` whose `reference` is the session id,
//! with `intent`, `spent` and `remaining` (and `refund`, `refundStatus` at close).
//! A request the session cannot pay for gets 402 `session/insufficient-value` with
//! fresh challenges, with which the client tops up.
//!
//! On a [streaming offer](crate::SessionOffer::streaming) the request itself is not
//! debited: the handler streams Server-Sent Events through [`MeteredSession::sse`],
//! which debits one unit before each event, pauses with a `payment-need-topup` event
//! when the session runs dry, resumes after a top-up, gives up with `session-timeout`
//! after the hold timeout, and ends with a `payment-receipt` event.
//!
//! Accounts live in the paywall's store ([`SessionLedger`]): every change is atomic,
//! so concurrent requests and several instances sharing a store never spend the
//! same value twice, and a restarted server carries on from what was recorded.
//! Sessions left idle longer than their offer's idle timeout are closed and refunded
//! by [`PaywallLayer::close_idle_sessions`](crate::PaywallLayer::close_idle_sessions),
//! which the application calls periodically, or has called by a task it spawns with
//! [`PaywallLayer::sweep_idle_sessions`](crate::PaywallLayer::sweep_idle_sessions).

mod ledger;
mod meter;
pub(crate) mod serve;

pub use ledger::{Account, DEFAULT_RETENTION, LedgerError, Refunds, SessionLedger};
pub use meter::{MeteredBody, MeteredSession};
pub(crate) use serve::SessionContext;
