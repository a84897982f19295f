//! What the paywall does with a credential that answers a session offer: the action
//! its payload names, applied to the account, decides whether the handler runs.

use mpp_core::intent::session::{
    Funding, Phase, Session, SessionError, SessionEvent, SessionOutput,
};
use mpp_core::json::{JsonObject, Value};
use mpp_core::method::{Refund, SessionAction, SessionFailure, Settlement};
use mpp_core::problem::ProblemType;
use mpp_core::receipt::Receipt;
use mpp_core::server::{Pending, Refusal};
use mpp_core::time::UnixTime;

use super::ledger::{Account, LedgerError};
use super::meter::MeteredSession;
use crate::config::{SessionOffer, Shared};

/// The longest session id accepted: ids are store keys.
const MAX_SESSION_ID: usize = 256;

/// A credential the session accepted.
pub(crate) enum Admitted {
    /// A lifecycle operation (top-up, close), answered without the handler: 200 with
    /// this JSON body and receipt.
    Answer {
        /// The JSON body.
        body: String,
        /// The receipt.
        receipt: Receipt,
    },
    /// Serve the request from the session.
    Serve {
        /// The receipt.
        receipt: Box<Receipt>,
        /// The handler's handle on the session.
        meter: MeteredSession,
    },
}

/// Applies the action of `pending`'s payload for `offer`.
pub(crate) async fn admit(
    shared: &Shared,
    offer: &SessionOffer,
    pending: &Pending,
) -> Result<Admitted, Refusal> {
    let method = &offer.method;
    let payload = &pending.credential.payload;
    let action = method.action(payload).map_err(Refusal::from)?;
    if let Some(id) = action.session() {
        check_id(id)?;
    }
    let now = (shared.clock)();
    let failure = |failure: SessionFailure, detail: String| {
        Refusal::new(failure.core_type(), detail).with_specific(method.problem(failure))
    };
    match action {
        SessionAction::Open => {
            require_fresh(pending, now)?;
            claim(shared, pending).await?;
            let opened = method.open(pending.charge()).await.map_err(Refusal::from)?;
            check_id(&opened.session)
                .map_err(|_| internal("the method named a session id that cannot be stored"))?;
            let session = Session::open(
                opened.funding,
                opened.deposit,
                now,
                offer.idle_timeout.as_secs(),
            )
            .map_err(|e| Refusal::new(ProblemType::VerificationFailed, e.to_string()))?;
            let account = Account::new(session, method.name(), &opened.refund_to);
            // Listed before it exists, so that a crash in between cannot leave an
            // open session the idle sweep never sees.
            shared.ledger.index(&opened.session).await.map_err(ledger)?;
            match shared.ledger.open(&opened.session, &account).await {
                Ok(true) => {}
                Ok(false) => {
                    return Err(Refusal::new(
                        ProblemType::VerificationFailed,
                        "this deposit has already opened a session",
                    ));
                }
                Err(e) => return Err(ledger(e)),
            }
            tracing::info!(target: "mpp::server", method = %method.name(), deposit = %opened.deposit, "session opened");
            if opened.funding == Funding::Vouchers {
                // Nothing is authorised until the first voucher: nothing to serve yet.
                return Ok(Admitted::Answer {
                    body: r#"{"status":"open"}"#.into(),
                    receipt: receipt(pending, &opened.session, &account, now, JsonObject::new()),
                });
            }
            serve_unit(shared, offer, pending, &opened.session, now, failure).await
        }
        SessionAction::TopUp { session } => {
            require_fresh(pending, now)?;
            // Refuse before the payment is taken when the session cannot take it.
            match shared.ledger.get(&session).await.map_err(ledger)? {
                None => return Err(failure(SessionFailure::NotFound, "no such session".into())),
                Some(a) if a.session.phase() != Phase::Active => {
                    return Err(failure(
                        SessionFailure::Closed,
                        "the session is closed".into(),
                    ));
                }
                Some(_) => {}
            }
            claim(shared, pending).await?;
            let amount = method
                .top_up(pending.charge())
                .await
                .map_err(Refusal::from)?;
            let (outcome, account) = shared
                .ledger
                .apply(&session, SessionEvent::TopUp { amount }, now)
                .await
                .map_err(ledger)?;
            match outcome {
                Ok(_) => {
                    tracing::info!(target: "mpp::server", method = %method.name(), amount = %amount, "session topped up");
                    let receipt = receipt(pending, &session, &account, now, JsonObject::new());
                    Ok(Admitted::Answer {
                        body: r#"{"status":"ok"}"#.into(),
                        receipt,
                    })
                }
                Err(e) => {
                    // Paid, but the session closed in between: the operator must know.
                    tracing::warn!(target: "mpp::server", method = %method.name(), amount = %amount, "a top-up was paid for a session that closed meanwhile");
                    Err(session_refusal(e, &failure))
                }
            }
        }
        SessionAction::Use { session } => {
            if !method.owns(&session, payload) {
                return Err(not_owned());
            }
            serve_unit(shared, offer, pending, &session, now, failure).await
        }
        SessionAction::Voucher {
            session,
            cumulative,
        } => {
            let authentic = method.owns(&session, payload);
            let (outcome, _) = shared
                .ledger
                .apply(
                    &session,
                    SessionEvent::Voucher {
                        cumulative,
                        authentic,
                    },
                    now,
                )
                .await
                .map_err(|e| not_found_or(e, &failure))?;
            outcome.map_err(|e| session_refusal(e, &failure))?;
            serve_unit(shared, offer, pending, &session, now, failure).await
        }
        SessionAction::Close { session } => {
            if !method.owns(&session, payload) {
                return Err(not_owned());
            }
            let (outcome, account) = shared
                .ledger
                .apply(&session, SessionEvent::Close, now)
                .await
                .map_err(|e| not_found_or(e, &failure))?;
            let SessionOutput::Closed { refund, .. } =
                outcome.map_err(|e| session_refusal(e, &failure))?
            else {
                return Err(internal("the session did not close"));
            };
            let refund_status = settle_close(shared, offer, &session, &account, refund).await;
            let mut extra = JsonObject::new();
            extra.insert("refund".into(), refund.to_string().into());
            extra.insert("refundStatus".into(), refund_status.as_str().into());
            let mut body = JsonObject::new();
            body.insert("status".into(), "closed".into());
            body.insert("spent".into(), account.session.spent().to_string().into());
            body.extend(extra.clone());
            if offer.request.get("currency").and_then(Value::as_str) == Some("sat") {
                // The lightning session draft's name for the refund, as a number.
                let sats = Value::from(u64::try_from(refund).unwrap_or(u64::MAX));
                body.insert("refundSats".into(), sats.clone());
                extra.insert("refundSats".into(), sats);
            }
            Ok(Admitted::Answer {
                body: mpp_core::jcs::object_to_string(&body),
                receipt: receipt(pending, &session, &account, now, extra),
            })
        }
    }
}

/// Debits one unit (or, on a streaming offer, checks that one can be paid) and lets
/// the handler run.
async fn serve_unit(
    shared: &Shared,
    offer: &SessionOffer,
    pending: &Pending,
    session: &str,
    now: UnixTime,
    failure: impl Fn(SessionFailure, String) -> Refusal,
) -> Result<Admitted, Refusal> {
    let unit = offer
        .unit_price()
        .ok_or_else(|| internal("the offer has no unit price"))?;
    let account = if offer.streaming {
        let account = shared
            .ledger
            .get(session)
            .await
            .map_err(ledger)?
            .ok_or_else(|| failure(SessionFailure::NotFound, "no such session".into()))?;
        if account.session.phase() != Phase::Active {
            return Err(session_refusal(SessionError::Closed, &failure));
        }
        if account.session.remaining() < unit {
            return Err(insufficient(unit, &account, session, &failure));
        }
        account
    } else {
        let (outcome, account) = shared
            .ledger
            .apply(session, SessionEvent::Use { cost: unit }, now)
            .await
            .map_err(|e| not_found_or(e, &failure))?;
        match outcome {
            Ok(_) => account,
            Err(SessionError::Insufficient { .. }) => {
                return Err(insufficient(unit, &account, session, &failure));
            }
            Err(e) => return Err(session_refusal(e, &failure)),
        }
    };
    Ok(Admitted::Serve {
        receipt: Box::new(receipt(pending, session, &account, now, JsonObject::new())),
        meter: MeteredSession::new(shared, offer, session, unit),
    })
}

/// Closes the books of a closed session: off the open list, refund paid once.
pub(crate) async fn settle_close(
    shared: &Shared,
    offer: &SessionOffer,
    session: &str,
    account: &Account,
    refund: u128,
) -> Refund {
    if let Err(e) = shared.ledger.unindex(session).await {
        // Only costs the idle sweep a look at a closed session.
        tracing::warn!(target: "mpp::server", "cannot take a closed session off the open list: {e}");
    }
    let status = if refund == 0 {
        Refund::Skipped
    } else {
        offer.method.refund(&account.refund_to, refund).await
    };
    match &status {
        Refund::Failed(reason) => {
            tracing::warn!(target: "mpp::server", method = %offer.method.name(), refund = %refund, "session refund failed: {reason}");
        }
        _ => {
            tracing::info!(target: "mpp::server", method = %offer.method.name(), refund = %refund, status = status.as_str(), "session closed");
        }
    }
    status
}

/// Closes idle sessions (see [`crate::PaywallLayer::close_idle_sessions`]).
pub(crate) async fn close_idle(shared: &Shared) -> Result<usize, LedgerError> {
    let closed = shared.ledger.close_idle((shared.clock)()).await?;
    let count = closed.len();
    for (id, account, refund) in closed {
        let offer = shared
            .routes
            .iter()
            .flat_map(|r| &r.paid.sessions)
            .find(|o| o.method.name() == account.method);
        match offer {
            Some(offer) => {
                settle_close(shared, offer, &id, &account, refund).await;
            }
            None => {
                tracing::warn!(target: "mpp::server", method = %account.method, refund = %refund, "an idle session closed, but no route offers its method: not refunded");
                let _ = shared.ledger.unindex(&id).await;
            }
        }
    }
    Ok(count)
}

/// The receipt of a session action: `reference` is the session id.
fn receipt(
    pending: &Pending,
    session: &str,
    account: &Account,
    now: UnixTime,
    extra: JsonObject,
) -> Receipt {
    let mut settlement = Settlement::new(session);
    let s = &account.session;
    settlement
        .extra
        .insert("authorized".into(), s.authorised().to_string().into());
    settlement
        .extra
        .insert("spent".into(), s.spent().to_string().into());
    settlement
        .extra
        .insert("remaining".into(), s.remaining().to_string().into());
    settlement.extra.extend(extra);
    pending.receipt(settlement, now)
}

/// A payment of a deposit must answer a challenge issued for this resource, unexpired.
fn require_fresh(pending: &Pending, now: UnixTime) -> Result<(), Refusal> {
    if pending.fresh {
        return Ok(());
    }
    let expired = pending
        .credential
        .challenge
        .expires
        .as_ref()
        .is_some_and(|e| e.unix() <= now);
    Err(if expired {
        Refusal::new(ProblemType::PaymentExpired, "the challenge has expired")
    } else {
        Refusal::new(
            ProblemType::InvalidChallenge,
            "a deposit must answer a challenge issued for this resource",
        )
    })
}

/// Claims the challenge for a deposit: one payment per challenge (D9).
async fn claim(shared: &Shared, pending: &Pending) -> Result<(), Refusal> {
    let ttl = std::time::Duration::from_secs(pending.claim_ttl_secs());
    match shared
        .store
        .put_if_absent(&pending.claim_key(), b"claimed", ttl)
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err(Refusal::new(
            ProblemType::InvalidChallenge,
            "this challenge has already been used",
        )),
        Err(_) => Err(internal("payment state is unavailable")),
    }
}

fn check_id(id: &str) -> Result<(), Refusal> {
    let ok =
        !id.is_empty() && id.len() <= MAX_SESSION_ID && id.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(Refusal::new(
            ProblemType::InvalidPayload,
            format!("a session id is 1 to {MAX_SESSION_ID} visible ASCII characters"),
        ))
    }
}

fn insufficient(
    unit: u128,
    account: &Account,
    session: &str,
    failure: &impl Fn(SessionFailure, String) -> Refusal,
) -> Refusal {
    let s = &account.session;
    let mut refusal = failure(
        SessionFailure::InsufficientValue,
        format!("a unit costs {unit}, {} is left", s.remaining()),
    );
    if let Some(specific) = refusal.specific.as_mut() {
        let members = [
            ("reference", session.to_string()),
            ("required", unit.to_string()),
            ("authorized", s.authorised().to_string()),
            ("spent", s.spent().to_string()),
        ];
        for (name, value) in members {
            specific.extensions.insert(name.into(), value.into());
        }
    }
    refusal
}

fn session_refusal(
    e: SessionError,
    failure: &impl Fn(SessionFailure, String) -> Refusal,
) -> Refusal {
    let detail = e.to_string();
    match e {
        SessionError::Closed | SessionError::ClosePending => {
            failure(SessionFailure::Closed, detail)
        }
        SessionError::StaleVoucher { .. } => failure(SessionFailure::StaleUpdate, detail),
        SessionError::Insufficient { .. } => failure(SessionFailure::InsufficientValue, detail),
        SessionError::ForgedVoucher
        | SessionError::VoucherAboveDeposit { .. }
        | SessionError::NotVoucherFunded
        | SessionError::ZeroAmount => Refusal::new(ProblemType::VerificationFailed, detail),
        SessionError::Overflow => Refusal::new(ProblemType::InvalidPayload, detail),
        _ => Refusal::new(ProblemType::VerificationFailed, detail),
    }
}

fn not_found_or(e: LedgerError, failure: &impl Fn(SessionFailure, String) -> Refusal) -> Refusal {
    match e {
        LedgerError::NotFound => failure(SessionFailure::NotFound, "no such session".into()),
        e => ledger(e),
    }
}

fn not_owned() -> Refusal {
    // Says nothing of whether the session exists.
    Refusal::new(
        ProblemType::VerificationFailed,
        "the proof does not own the session",
    )
}

fn ledger(e: LedgerError) -> Refusal {
    tracing::warn!(target: "mpp::server", "session ledger: {e}");
    match e {
        LedgerError::Contention => Refusal::new(
            ProblemType::InternalPaymentError,
            "the session is too busy, try again",
        ),
        _ => internal("session state is unavailable"),
    }
}

fn internal(detail: &str) -> Refusal {
    Refusal::new(ProblemType::InternalPaymentError, detail)
}
