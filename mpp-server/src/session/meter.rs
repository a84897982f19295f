//! The handler's side of a session: debit units, and stream Server-Sent Events that
//! are paid for one at a time.

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use http_body::{Body, Frame};
use mpp_core::intent::session::{SessionError, SessionEvent, SessionOutput};
use mpp_core::json::{JsonObject, Value};
use mpp_core::time::{Clock, Timestamp, UnixTime};

use super::ledger::{LedgerError, SessionLedger};
use super::serve::SessionContext;
use crate::route::SessionOffer;

/// How often a paused stream looks at the account, for top-ups made through another
/// server instance (those made here wake it at once).
const POLL_EVERY: Duration = Duration::from_millis(250);

/// A paid request's session, found in [`VerifiedPayment::session`](crate::VerifiedPayment):
/// what the handler needs to bill further units, or to stream.
#[derive(Clone)]
pub struct MeteredSession {
    ledger: SessionLedger,
    clock: Clock,
    id: String,
    method: String,
    unit: u128,
    hold_timeout: Duration,
}

impl fmt::Debug for MeteredSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeteredSession")
            .field("method", &self.method)
            .field("unit", &self.unit)
            .finish_non_exhaustive()
    }
}

impl MeteredSession {
    pub(crate) fn new(ctx: &SessionContext, offer: &SessionOffer, id: &str, unit: u128) -> Self {
        MeteredSession {
            ledger: ctx.ledger.clone(),
            clock: ctx.clock.clone(),
            id: id.into(),
            method: offer.method.name().into(),
            unit,
            hold_timeout: offer.hold_timeout,
        }
    }

    /// The session id (the receipt's `reference`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The price of one unit.
    pub fn unit_price(&self) -> u128 {
        self.unit
    }

    /// Debits one unit: `Ok((spent, remaining))`, or the session's refusal
    /// (insufficient value, closed). Debit before delivering what it pays for.
    pub async fn debit(&self) -> Result<Result<(u128, u128), SessionError>, LedgerError> {
        let (outcome, _) = self
            .ledger
            .apply(
                &self.id,
                SessionEvent::Use { cost: self.unit },
                (self.clock)(),
            )
            .await?;
        Ok(outcome.map(|out| match out {
            SessionOutput::Debited { spent, remaining } => (spent, remaining),
            _ => unreachable!("a use either debits or fails"),
        }))
    }

    /// A `text/event-stream` body that sends each item of `events` as one SSE
    /// message (`data:` lines), debiting one unit before each.
    ///
    /// When the session cannot pay for the next message it sends
    /// `event: payment-need-topup` (`{"sessionId", "balanceSpent", "balanceRequired"}`)
    /// and waits, holding the message, until a top-up covers it; after the offer's
    /// hold timeout it sends `event: session-timeout` (same data) and ends. When
    /// `events` ends, or the session is closed meanwhile, it sends
    /// `event: payment-receipt` with the stream's `spent` and `units`, then ends.
    /// Payment events are never billed.
    pub fn sse<S>(self, events: S) -> MeteredBody
    where
        S: Stream<Item = String> + Send + 'static,
    {
        let stream = SseStream {
            meter: self,
            events: Box::pin(events),
            held: None,
            paused: false,
            spent: 0,
            units: 0,
            done: false,
        };
        MeteredBody {
            next: Some(Box::pin(stream.next())),
        }
    }
}

/// The body [`MeteredSession::sse`] returns.
pub struct MeteredBody {
    next: Option<NextFrame>,
}

/// The computation of the next bytes of a stream, and of the stream after them.
type NextFrame = Pin<Box<dyn Future<Output = Option<(Bytes, SseStream)>> + Send>>;

impl fmt::Debug for MeteredBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeteredBody").finish_non_exhaustive()
    }
}

impl Body for MeteredBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let Some(next) = self.next.as_mut() else {
            return Poll::Ready(None);
        };
        match next.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                self.next = None;
                Poll::Ready(None)
            }
            Poll::Ready(Some((bytes, stream))) => {
                self.next = Some(Box::pin(stream.next()));
                Poll::Ready(Some(Ok(Frame::data(bytes))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.next.is_none()
    }
}

struct SseStream {
    meter: MeteredSession,
    events: Pin<Box<dyn Stream<Item = String> + Send>>,
    /// The message waiting for value.
    held: Option<String>,
    /// Whether `payment-need-topup` was sent for the held message.
    paused: bool,
    spent: u128,
    units: u64,
    done: bool,
}

impl SseStream {
    /// The next bytes to send, and the stream to continue with.
    async fn next(mut self) -> Option<(Bytes, SseStream)> {
        if self.done {
            return None;
        }
        let message = match self.held.take() {
            Some(m) => m,
            None => match poll_fn(|cx| self.events.as_mut().poll_next(cx)).await {
                Some(m) => m,
                None => return Some(self.finish()),
            },
        };
        let deadline = tokio::time::Instant::now() + self.meter.hold_timeout;
        let ledger = self.meter.ledger.clone();
        loop {
            // Registered before the attempt, so that a top-up right after it wakes us.
            let changed = ledger.changed();
            let now = (self.meter.clock)();
            let outcome = ledger
                .apply(
                    &self.meter.id,
                    SessionEvent::Use {
                        cost: self.meter.unit,
                    },
                    now,
                )
                .await;
            match outcome {
                Ok((Ok(_), _)) => {
                    self.paused = false;
                    self.spent += self.meter.unit;
                    self.units += 1;
                    return Some((data_message(&message), self));
                }
                Ok((Err(SessionError::Insufficient { .. }), account)) => {
                    if !self.paused {
                        self.paused = true;
                        self.held = Some(message);
                        let data = self.starved(account.session.spent());
                        return Some((event("payment-need-topup", &data), self));
                    }
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    if left.is_zero() {
                        self.done = true;
                        let data = self.starved(account.session.spent());
                        return Some((event("session-timeout", &data), self));
                    }
                    let _ = tokio::time::timeout(left.min(POLL_EVERY), changed).await;
                }
                // Closed meanwhile (by the client, or idle): stop, with the receipt.
                Ok((Err(_), _)) => return Some(self.finish()),
                Err(e) => {
                    tracing::warn!(target: "mpp::server", "metered stream stopped: {e}");
                    return Some(self.finish());
                }
            }
        }
    }

    fn starved(&self, balance_spent: u128) -> JsonObject {
        let mut data = JsonObject::new();
        data.insert("sessionId".into(), self.meter.id.clone().into());
        data.insert("balanceSpent".into(), number(balance_spent));
        data.insert("balanceRequired".into(), number(self.meter.unit));
        data
    }

    fn finish(mut self) -> (Bytes, SseStream) {
        self.done = true;
        let now = (self.meter.clock)();
        let timestamp = Timestamp::from_unix(UnixTime::from_secs(now.secs().max(0)))
            .map(|t| t.to_string())
            .unwrap_or_default();
        let mut data = JsonObject::new();
        data.insert("method".into(), self.meter.method.clone().into());
        data.insert("intent".into(), "session".into());
        data.insert("reference".into(), self.meter.id.clone().into());
        data.insert("status".into(), "success".into());
        data.insert("timestamp".into(), timestamp.into());
        data.insert("spent".into(), number(self.spent));
        data.insert("units".into(), self.units.into());
        (event("payment-receipt", &data), self)
    }
}

/// An amount as a JSON number, as the lightning session draft writes them in events.
fn number(amount: u128) -> Value {
    u64::try_from(amount).map_or_else(|_| amount.to_string().into(), Value::from)
}

fn event(name: &str, data: &JsonObject) -> Bytes {
    format!(
        "event: {name}\ndata: {}\n\n",
        mpp_core::jcs::object_to_string(data)
    )
    .into()
}

/// One SSE message; each line of `text` becomes a `data:` line.
fn data_message(text: &str) -> Bytes {
    let mut out = String::with_capacity(text.len() + 8);
    for line in text.split('\n') {
        out.push_str("data: ");
        out.push_str(line.strip_suffix('\r').unwrap_or(line));
        out.push('\n');
    }
    out.push('\n');
    out.into()
}
