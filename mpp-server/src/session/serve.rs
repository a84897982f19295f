//! What the paywall does with a credential that answers a session offer: the action
//! its payload names, applied to the account, decides whether the handler runs.
//!
//! Money is never taken without being credited or owed back: a deposit is claimed
//! ([`Claim`]) before the method verifies it, and when recording it then fails on
//! the server's side the claim is left for the same credential to retry; a top-up
//! that finds its session closed is owed back, in the write that refuses it; every
//! close makes the unspent part owed in the write that closes, and owed refunds are
//! paid by [`settle_refunds`] once each (on close, on a retried close, and by the
//! idle sweep, after a restart too).

use std::sync::Arc;

use mpp_core::intent::session::{
    Funding, Phase, Session, SessionError, SessionEvent, SessionOutput,
};
use mpp_core::json::JsonObject;
use mpp_core::method::{Refund, SessionAction, SessionFailure, SessionMethod, Settlement};
use mpp_core::problem::ProblemType;
use mpp_core::receipt::Receipt;
use mpp_core::server::{Pending, Refusal};
use mpp_core::time::{Clock, UnixTime};

use super::ledger::{Account, LedgerError, SessionLedger, TopUp};
use super::meter::MeteredSession;
use crate::claim::Claim;
use crate::route::SessionOffer;
use crate::store::Store;

/// The longest session id accepted: ids are store keys.
const MAX_SESSION_ID: usize = 256;

/// How long a refund may stay in flight before the sweep reports its outcome as
/// unknown (and stops listing the session): longer than any refund attempt takes.
const STUCK_REFUND_SECS: i64 = 600;

/// What the session paths use of the paywall: the accounts, the store that claims
/// deposits, the clock, and the session methods the routes offer.
pub(crate) struct SessionContext {
    pub(crate) ledger: SessionLedger,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Clock,
    /// The first session offer's method of each name: what refunds the sessions
    /// it opened.
    pub(crate) methods: Vec<Arc<dyn SessionMethod>>,
}

impl SessionContext {
    /// The session method named `name`.
    fn method(&self, name: &str) -> Option<&dyn SessionMethod> {
        self.methods
            .iter()
            .find(|m| m.name() == name)
            .map(|m| m.as_ref())
    }
}

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
    ctx: &SessionContext,
    offer: &SessionOffer,
    pending: &Pending,
) -> Result<Admitted, Refusal> {
    let payload = &pending.credential.payload;
    let action = offer.method.action(payload).map_err(Refusal::from)?;
    if let Some(id) = action.session() {
        check_id(id)?;
    }
    let admission = Admission {
        ctx,
        offer,
        pending,
        now: (ctx.clock)(),
    };
    match action {
        SessionAction::Open => admission.open().await,
        SessionAction::TopUp { session } => admission.top_up(&session).await,
        SessionAction::Use { session } => {
            if !offer.method.owns(&session, payload) {
                return Err(not_owned());
            }
            admission.serve_unit(&session, None).await
        }
        SessionAction::Voucher {
            session,
            cumulative,
        } => {
            let authentic = offer.method.owns(&session, payload);
            let event = SessionEvent::Voucher {
                cumulative,
                authentic,
            };
            let (outcome, _) = admission
                .apply(&session, event)
                .await
                .map_err(|e| admission.ledger_refusal(e))?;
            outcome.map_err(|e| admission.session_refusal(e))?;
            admission.serve_unit(&session, None).await
        }
        SessionAction::Close { session } => {
            if !offer.method.owns(&session, payload) {
                return Err(not_owned());
            }
            admission.close(&session).await
        }
    }
}

/// One session credential being admitted.
struct Admission<'a> {
    ctx: &'a SessionContext,
    offer: &'a SessionOffer,
    pending: &'a Pending,
    now: UnixTime,
}

impl Admission<'_> {
    fn method(&self) -> &dyn SessionMethod {
        self.offer.method.as_ref()
    }

    async fn open(&self) -> Result<Admitted, Refusal> {
        require_fresh(self.pending, self.now)?;
        let claim = Claim::take(self.ctx.store.as_ref(), self.pending).await?;
        let opened = match self.method().open(self.pending.charge()).await {
            Ok(opened) => opened,
            Err(e) => return Err(self.after_claim(&claim, Refusal::from(e)).await),
        };
        check_id(&opened.session).map_err(|_| {
            internal("the method named a session id that cannot be stored").not_retryable()
        })?;
        let session = Session::open(
            opened.funding,
            opened.deposit,
            self.now,
            self.offer.idle_timeout.as_secs(),
        )
        .map_err(|e| Refusal::new(ProblemType::VerificationFailed, e.to_string()))?;
        let account = Account::new(
            session,
            self.method().name(),
            self.offer.currency(),
            &opened.refund_to,
        );
        let ledger = &self.ctx.ledger;
        // Listed before it exists, so that a crash in between cannot leave an open
        // session the idle sweep never sees.
        if let Err(e) = ledger.index(&opened.session).await {
            return Err(self.after_claim(&claim, ledger_error(e)).await);
        }
        match ledger.open(&opened.session, &account).await {
            Ok(true) => {
                tracing::info!(target: "mpp::server", method = %self.method().name(), deposit = %opened.deposit, "session opened");
            }
            // This very credential opened it before its answer was lost.
            Ok(false) if claim.resumed => {}
            Ok(false) => {
                return Err(Refusal::new(
                    ProblemType::VerificationFailed,
                    "this deposit has already opened a session",
                ));
            }
            Err(e) => return Err(self.after_claim(&claim, ledger_error(e)).await),
        }
        if opened.funding == Funding::Vouchers {
            // Nothing is authorised until the first voucher: nothing to serve yet.
            return Ok(Admitted::Answer {
                body: r#"{"status":"open"}"#.into(),
                receipt: self.receipt(&opened.session, &account, JsonObject::new()),
            });
        }
        self.serve_unit(&opened.session, Some(&claim)).await
    }

    async fn top_up(&self, session: &str) -> Result<Admitted, Refusal> {
        require_fresh(self.pending, self.now)?;
        // Refuse before the payment is taken when the session cannot take it.
        match self.ctx.ledger.get(session).await.map_err(ledger_error)? {
            None => return Err(self.failure(SessionFailure::NotFound, "no such session")),
            Some(a) if !self.offers(&a) => return Err(mismatch()),
            Some(a) if a.session.phase() != Phase::Active => {
                return Err(self.failure(SessionFailure::Closed, "the session is closed"));
            }
            Some(_) => {}
        }
        let claim = Claim::take(self.ctx.store.as_ref(), self.pending).await?;
        let amount = match self.method().top_up(self.pending.charge()).await {
            Ok(amount) => amount,
            Err(e) => return Err(self.after_claim(&claim, Refusal::from(e)).await),
        };
        let credit = credit_id(self.pending.credential.challenge.id.as_str());
        // Listed again first: if the session closed and was unlisted meanwhile, the
        // top-up becomes a refund owed that the idle sweep must still find.
        if let Err(e) = self.ctx.ledger.index(session).await {
            return Err(self.after_claim(&claim, ledger_error(e)).await);
        }
        let (outcome, account) = match self
            .ctx
            .ledger
            .top_up(session, credit, amount, self.now)
            .await
        {
            Ok(done) => done,
            // Definitely not credited: the same credential may try again.
            Err(e @ (LedgerError::Store(_) | LedgerError::Contention)) => {
                return Err(self.after_claim(&claim, ledger_error(e)).await);
            }
            Err(e) => {
                tracing::warn!(target: "mpp::server", method = %self.method().name(), amount = %amount, "a paid top-up may not have been credited: {e}");
                return Err(ledger_error(e).not_retryable());
            }
        };
        match outcome {
            TopUp::Credited | TopUp::AlreadyCredited => {
                tracing::info!(target: "mpp::server", method = %self.method().name(), amount = %amount, "session topped up");
                Ok(Admitted::Answer {
                    body: r#"{"status":"ok"}"#.into(),
                    receipt: self.receipt(session, &account, JsonObject::new()),
                })
            }
            TopUp::Owed(e) => {
                // Paid, but the session closed in between: what it paid goes back.
                let ledger = &self.ctx.ledger;
                let account = settle_refunds(ledger, self.method(), session, self.now)
                    .await
                    .unwrap_or(account);
                unindex_if_settled(ledger, session, &account).await;
                let mut refusal = self.session_refusal(e);
                refusal.detail = format!(
                    "the session closed before the top-up was credited; it is refunded ({})",
                    account.refunds.status()
                );
                Err(refusal)
            }
            TopUp::Refused(e) => Err(self.session_refusal(e)),
        }
    }

    async fn close(&self, session: &str) -> Result<Admitted, Refusal> {
        let (outcome, account) = self
            .apply(session, SessionEvent::Close)
            .await
            .map_err(|e| self.ledger_refusal(e))?;
        let settled = settle_refunds(&self.ctx.ledger, self.method(), session, self.now).await;
        let account = settled.unwrap_or(account);
        unindex_if_settled(&self.ctx.ledger, session, &account).await;
        let mut refund = JsonObject::new();
        let refunds = &account.refunds;
        refund.insert("refund".into(), refunds.total().to_string().into());
        refund.insert("refundStatus".into(), refunds.status().into());
        if self.offer.currency() == "sat" {
            // The lightning session draft's name for the refund, as a number.
            let sats = u64::try_from(refunds.total()).unwrap_or(u64::MAX);
            refund.insert("refundSats".into(), sats.into());
        }
        match outcome {
            Ok(SessionOutput::Closed { .. }) => {}
            // Closed before (a retried close, an idle close): refused as every action
            // on a closed session is, once what it owed has been paid; the owner
            // learns what became of the refund.
            Err(e) => {
                let mut refusal = self.session_refusal(e);
                if let Some(specific) = refusal.specific.as_mut() {
                    specific.extensions.extend(refund);
                }
                return Err(refusal);
            }
            Ok(_) => return Err(internal("the session did not close")),
        }
        let mut body = JsonObject::new();
        body.insert("status".into(), "closed".into());
        body.insert("spent".into(), account.session.spent().to_string().into());
        body.extend(refund.clone());
        Ok(Admitted::Answer {
            body: mpp_core::jcs::object_to_string(&body),
            receipt: self.receipt(session, &account, refund),
        })
    }

    /// Debits one unit (or, on a streaming offer, checks that one can be paid) and
    /// lets the handler run. `claim`: the deposit just paid, whose credential may
    /// retry when the debit fails on the server's side.
    async fn serve_unit(&self, session: &str, claim: Option<&Claim>) -> Result<Admitted, Refusal> {
        let unit = self
            .offer
            .unit_price()
            .ok_or_else(|| internal("the offer has no unit price"))?;
        let account = if self.offer.streaming {
            let account = self
                .ctx
                .ledger
                .get(session)
                .await
                .map_err(ledger_error)?
                .ok_or_else(|| self.failure(SessionFailure::NotFound, "no such session"))?;
            if !self.offers(&account) {
                return Err(mismatch());
            }
            if account.session.phase() != Phase::Active {
                return Err(self.session_refusal(SessionError::Closed));
            }
            if account.session.remaining() < unit {
                return Err(self.insufficient(unit, &account, session));
            }
            account
        } else {
            let (outcome, account) =
                match self.apply(session, SessionEvent::Use { cost: unit }).await {
                    Ok(done) => done,
                    Err(e @ (LedgerError::Store(_) | LedgerError::Contention)) => {
                        let refusal = ledger_error(e);
                        return Err(match claim {
                            Some(claim) => self.after_claim(claim, refusal).await,
                            None => refusal,
                        });
                    }
                    Err(e) => {
                        let refusal = self.ledger_refusal(e);
                        // After a deposit, a retry would find its challenge used.
                        return Err(if claim.is_some() {
                            refusal.not_retryable()
                        } else {
                            refusal
                        });
                    }
                };
            match outcome {
                Ok(_) => account,
                Err(SessionError::Insufficient { .. }) => {
                    return Err(self.insufficient(unit, &account, session));
                }
                Err(e) => return Err(self.session_refusal(e)),
            }
        };
        Ok(Admitted::Serve {
            receipt: Box::new(self.receipt(session, &account, JsonObject::new())),
            meter: MeteredSession::new(self.ctx, self.offer, session, unit),
        })
    }

    /// Applies `event` to an account of this offer's method and currency.
    async fn apply(
        &self,
        session: &str,
        event: SessionEvent,
    ) -> Result<(Result<SessionOutput, SessionError>, Account), LedgerError> {
        self.ctx
            .ledger
            .apply_as(
                session,
                self.method().name(),
                self.offer.currency(),
                event,
                self.now,
            )
            .await
    }

    /// Whether this offer may act on `account`: same method, same currency.
    fn offers(&self, account: &Account) -> bool {
        account.is_of(self.method().name(), self.offer.currency())
    }

    /// The refusal of a failure after the claim: an internal one leaves the claim
    /// to the same credential, since nothing was credited.
    async fn after_claim(&self, claim: &Claim, refusal: Refusal) -> Refusal {
        if refusal.problem != ProblemType::InternalPaymentError {
            return refusal;
        }
        claim
            .release_for_retry(self.ctx.store.as_ref(), self.pending, refusal)
            .await
    }

    fn failure(&self, failure: SessionFailure, detail: &str) -> Refusal {
        Refusal::new(failure.core_type(), detail).with_specific(self.method().problem(failure))
    }

    fn session_refusal(&self, e: SessionError) -> Refusal {
        let detail = e.to_string();
        match e {
            SessionError::Closed | SessionError::ClosePending => {
                self.failure(SessionFailure::Closed, &detail)
            }
            SessionError::StaleVoucher { .. } => self.failure(SessionFailure::StaleUpdate, &detail),
            SessionError::Insufficient { .. } => {
                self.failure(SessionFailure::InsufficientValue, &detail)
            }
            SessionError::Overflow => Refusal::new(ProblemType::InvalidPayload, detail),
            _ => Refusal::new(ProblemType::VerificationFailed, detail),
        }
    }

    fn ledger_refusal(&self, e: LedgerError) -> Refusal {
        match e {
            LedgerError::NotFound => self.failure(SessionFailure::NotFound, "no such session"),
            LedgerError::Mismatch => mismatch(),
            e => ledger_error(e),
        }
    }

    fn insufficient(&self, unit: u128, account: &Account, session: &str) -> Refusal {
        let s = &account.session;
        let mut refusal = self.failure(
            SessionFailure::InsufficientValue,
            &format!("a unit costs {unit}, {} is left", s.remaining()),
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

    /// The receipt of a session action: `reference` is the session id.
    fn receipt(&self, session: &str, account: &Account, extra: JsonObject) -> Receipt {
        let mut settlement = Settlement::new(session);
        let s = &account.session;
        let figures = [
            ("authorized", s.authorised()),
            ("spent", s.spent()),
            ("remaining", s.remaining()),
        ];
        for (name, figure) in figures {
            settlement
                .extra
                .insert(name.into(), figure.to_string().into());
        }
        settlement.extra.extend(extra);
        self.pending.receipt(settlement, self.now)
    }
}

/// Pays what `session` owes, if anything, with `method` (the account's own): one
/// attempt per amount owed, which [`SessionLedger::start_refund`] hands to exactly
/// one caller. The account as it is afterwards.
///
pub(crate) async fn settle_refunds(
    ledger: &SessionLedger,
    method: &dyn SessionMethod,
    session: &str,
    now: UnixTime,
) -> Result<Account, LedgerError> {
    let (amount, account) = ledger.start_refund(session, now).await?;
    let Some(amount) = amount else {
        return Ok(account);
    };
    let status = method.refund(&account.refund_to, amount).await;
    match &status {
        Refund::Failed(reason) => {
            tracing::warn!(target: "mpp::server", method = %method.name(), refund = %amount, "session refund failed: {reason}");
        }
        _ => {
            tracing::info!(target: "mpp::server", method = %method.name(), refund = %amount, status = status.as_str(), "session refunded");
        }
    }
    let paid = !matches!(status, Refund::Failed(_));
    ledger
        .finish_refund(session, amount, paid)
        .await
        .inspect_err(|e| {
            // Never tried again: reported for the operator instead.
            tracing::warn!(target: "mpp::server", method = %method.name(), refund = %amount, paid, "a refund's outcome could not be recorded: {e}");
        })
}

/// Takes a closed session off the open list once it owes nothing.
async fn unindex_if_settled(ledger: &SessionLedger, session: &str, account: &Account) {
    if !account.refunds.settled() || !matches!(account.session.phase(), Phase::Closed(_)) {
        return;
    }
    if let Err(e) = ledger.unindex(session).await {
        // Only costs the idle sweep a look at a closed session.
        tracing::warn!(target: "mpp::server", "cannot take a closed session off the open list: {e}");
    }
}

/// Closes idle sessions, pays what closed sessions owe, and unlists those that owe
/// nothing (see [`crate::PaywallLayer::close_idle_sessions`]): how many it closed.
pub(crate) async fn close_idle(ctx: &SessionContext) -> Result<usize, LedgerError> {
    let now = (ctx.clock)();
    let ledger = &ctx.ledger;
    let mut closed_now = 0;
    for (id, account, just_closed) in ledger.close_idle(now).await? {
        closed_now += usize::from(just_closed);
        let Some(method) = ctx.method(&account.method) else {
            // Kept listed and owed: paid once a route offers the method again.
            tracing::warn!(target: "mpp::server", method = %account.method, owed = %account.refunds.owed, "a closed session owes a refund, but no route offers its method");
            continue;
        };
        let account = match settle_refunds(ledger, method, &id, now).await {
            Ok(account) => account,
            Err(_) => continue,
        };
        let r = &account.refunds;
        if r.in_flight > 0 && now.secs().saturating_sub(r.in_flight_since) > STUCK_REFUND_SECS {
            tracing::warn!(target: "mpp::server", method = %account.method, amount = %r.in_flight, "a refund was interrupted and its outcome is unknown; it is not tried again");
            if let Err(e) = ledger.unindex(&id).await {
                tracing::warn!(target: "mpp::server", "cannot take a closed session off the open list: {e}");
            }
            continue;
        }
        unindex_if_settled(ledger, &id, &account).await;
    }
    Ok(closed_now)
}

/// A digest of a top-up's challenge id, which the account remembers so that it
/// credits the top-up once.
fn credit_id(challenge_id: &str) -> [u8; 16] {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(challenge_id.as_bytes());
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    id
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

fn not_owned() -> Refusal {
    // Says nothing of whether the session exists.
    Refusal::new(
        ProblemType::VerificationFailed,
        "the proof does not own the session",
    )
}

fn mismatch() -> Refusal {
    Refusal::new(
        ProblemType::VerificationFailed,
        "the session was opened with another method or currency than this offer's",
    )
}

fn ledger_error(e: LedgerError) -> Refusal {
    tracing::warn!(target: "mpp::server", "session ledger: {e}");
    match e {
        LedgerError::Contention => internal("the session is too busy, try again"),
        _ => internal("session state is unavailable"),
    }
}

fn internal(detail: &str) -> Refusal {
    Refusal::new(ProblemType::InternalPaymentError, detail)
}
