//! Session accounts kept in a [`Store`]: each event is applied atomically (read the
//! account, let mpp-core's session machine decide, compare-and-swap the result), so
//! concurrent requests, and several server instances sharing a store, never
//! double-spend, and a server killed between two events resumes from what was
//! recorded.
//!
//! ```
//! # async fn demo() -> Result<(), mpp_server::session::LedgerError> {
//! use std::sync::Arc;
//! use mpp_core::intent::session::{Funding, Session, SessionEvent, SessionOutput};
//! use mpp_core::time::UnixTime;
//! use mpp_server::MemoryStore;
//! use mpp_server::session::{Account, SessionLedger};
//!
//! let ledger = SessionLedger::new(Arc::new(MemoryStore::default()));
//! let now = UnixTime::from_secs(1_000);
//! let session = Session::open(Funding::Prepaid, 100, now, 300).unwrap();
//! ledger.open("s1", &Account::new(session, "lightning", "sat", "lnbcrt1…")).await?;
//! let (outcome, account) = ledger.apply("s1", SessionEvent::Use { cost: 30 }, now).await?;
//! assert_eq!(outcome, Ok(SessionOutput::Debited { spent: 30, remaining: 70 }));
//! assert_eq!(account.session.spent(), 30);
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use mpp_core::intent::session::{
    CloseReason, Funding, Phase, Session, SessionError, SessionEvent, SessionOutput, SessionParts,
};
use mpp_core::time::UnixTime;

use crate::store::{Store, StoreError};

/// How long an account is kept after its last change: closed sessions stay on record
/// so that their ids and proofs are refused, not reopened.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// How many times an event is retried when other instances keep changing the account.
const MAX_ATTEMPTS: usize = 100;

/// How many locks serialise this process's writers, by session id.
const STRIPES: usize = 64;

/// One session's account: the machine's state, what it was opened with, and the
/// refunds the server owes on it.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// The accounting and phase.
    pub session: Session,
    /// The method that opened it: only an offer of this method may use, top up or
    /// close it, and only this method refunds it.
    pub method: String,
    /// The currency of its amounts: only an offer in this currency may use it.
    pub currency: String,
    /// Where the refund goes at close (a return invoice, an address): the method's
    /// business, kept as given.
    pub refund_to: String,
    /// What the server owes back, and what became of it.
    pub refunds: Refunds,
    /// The last top-ups credited (a digest of each one's challenge id), so that one
    /// is never credited twice, even when its claim has expired.
    credits: Vec<[u8; 16]>,
    /// A random id of the write that produced this version, so that a write whose
    /// answer was lost can be recognised.
    write_id: [u8; 16],
}

/// How many credited top-ups an account remembers.
const CREDITS_KEPT: usize = 8;

/// The refunds of a session, in the currency's base units. A close makes the
/// unspent part `owed` in the same write that closes the session (and so does a
/// top-up that arrives after the close); a refunder then moves it to `in_flight`
/// (one refunder wins), calls the method once, and records the outcome. Owed
/// refunds are paid by a retried close, by the idle sweep and after a restart;
/// one left `in_flight` by a crash is never paid twice: it is reported instead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refunds {
    /// Owed, not attempted yet.
    pub owed: u128,
    /// Being paid (or interrupted while being paid: the outcome is unknown).
    pub in_flight: u128,
    /// Paid.
    pub refunded: u128,
    /// Attempted once, and failed (the draft's "one attempt").
    pub failed: u128,
    /// When the amount in flight was taken (Unix seconds; 0 when none is).
    pub in_flight_since: i64,
}

impl Refunds {
    /// Everything refunded or to refund.
    pub fn total(&self) -> u128 {
        self.owed
            .saturating_add(self.in_flight)
            .saturating_add(self.refunded)
            .saturating_add(self.failed)
    }

    /// Whether nothing is left to pay or waiting on a payment's outcome.
    pub fn settled(&self) -> bool {
        self.owed == 0 && self.in_flight == 0
    }

    /// `pending` while something is owed or in flight, else `failed` if an attempt
    /// failed, `succeeded` if something was paid, `skipped` when nothing was owed.
    pub fn status(&self) -> &'static str {
        if !self.settled() {
            "pending"
        } else if self.failed > 0 {
            "failed"
        } else if self.refunded > 0 {
            "succeeded"
        } else {
            "skipped"
        }
    }
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("session", &self.session)
            .field("method", &self.method)
            .field("currency", &self.currency)
            .field("refund_to", &"<redacted>")
            .field("refunds", &self.refunds)
            .finish_non_exhaustive()
    }
}

/// The version byte of the stored form.
const VERSION: u8 = 2;

impl Account {
    /// An account for a session just opened with `method`, in `currency`.
    pub fn new(session: Session, method: &str, currency: &str, refund_to: &str) -> Account {
        Account {
            session,
            method: method.into(),
            currency: currency.into(),
            refund_to: refund_to.into(),
            refunds: Refunds::default(),
            credits: Vec::new(),
            write_id: [0; 16],
        }
    }

    /// Whether it was opened with `method`, in `currency`.
    pub fn is_of(&self, method: &str, currency: &str) -> bool {
        self.method == method && self.currency == currency
    }

    /// Whether the top-up `credit` was credited.
    fn credited(&self, credit: &[u8; 16]) -> bool {
        self.credits.contains(credit)
    }

    fn remember_credit(&mut self, credit: [u8; 16]) {
        if self.credits.len() == CREDITS_KEPT {
            self.credits.remove(0);
        }
        self.credits.push(credit);
    }

    /// The stored form: a version byte, the fixed-size accounting, the remembered
    /// credits, then the three strings with their lengths. Binary, because debits
    /// are the hot path.
    fn encode(&self) -> Vec<u8> {
        let p = self.session.parts();
        let texts = [&self.method, &self.currency, &self.refund_to];
        let text_len: usize = texts.iter().map(|t| 4 + t.len()).sum();
        let mut out = Vec::with_capacity(196 + 16 * self.credits.len() + text_len);
        out.push(VERSION);
        out.push(match p.funding {
            Funding::Prepaid => 0,
            Funding::Vouchers => 1,
        });
        out.push(match p.phase {
            Phase::Active => 0,
            Phase::Closing => 1,
            Phase::Closed(CloseReason::Cooperative) => 2,
            Phase::Closed(CloseReason::Idle) => 3,
            Phase::Closed(CloseReason::Forced) => 4,
        });
        for amount in [p.deposit, p.authorised, p.spent] {
            out.extend_from_slice(&amount.to_be_bytes());
        }
        out.extend_from_slice(&p.last_activity.secs().to_be_bytes());
        out.extend_from_slice(&p.idle_timeout_secs.to_be_bytes());
        out.extend_from_slice(&self.write_id);
        let r = &self.refunds;
        for amount in [r.owed, r.in_flight, r.refunded, r.failed] {
            out.extend_from_slice(&amount.to_be_bytes());
        }
        out.extend_from_slice(&r.in_flight_since.to_be_bytes());
        out.push(self.credits.len() as u8);
        for credit in &self.credits {
            out.extend_from_slice(credit);
        }
        for text in texts {
            out.extend_from_slice(&(text.len() as u32).to_be_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        out
    }

    fn decode(bytes: &[u8]) -> Option<Account> {
        let mut r = Reader(bytes);
        if r.take::<1>()? != [VERSION] {
            return None;
        }
        let funding = match r.take::<1>()?[0] {
            0 => Funding::Prepaid,
            1 => Funding::Vouchers,
            _ => return None,
        };
        let phase = match r.take::<1>()?[0] {
            0 => Phase::Active,
            1 => Phase::Closing,
            2 => Phase::Closed(CloseReason::Cooperative),
            3 => Phase::Closed(CloseReason::Idle),
            4 => Phase::Closed(CloseReason::Forced),
            _ => return None,
        };
        let deposit = u128::from_be_bytes(r.take()?);
        let authorised = u128::from_be_bytes(r.take()?);
        let spent = u128::from_be_bytes(r.take()?);
        let last_activity = UnixTime::from_secs(i64::from_be_bytes(r.take()?));
        let idle_timeout_secs = u64::from_be_bytes(r.take()?);
        let write_id = r.take()?;
        let refunds = Refunds {
            owed: u128::from_be_bytes(r.take()?),
            in_flight: u128::from_be_bytes(r.take()?),
            refunded: u128::from_be_bytes(r.take()?),
            failed: u128::from_be_bytes(r.take()?),
            in_flight_since: i64::from_be_bytes(r.take()?),
        };
        let count = usize::from(r.take::<1>()?[0]);
        if count > CREDITS_KEPT {
            return None;
        }
        let credits = (0..count).map(|_| r.take()).collect::<Option<Vec<_>>>()?;
        let method = r.text()?;
        let currency = r.text()?;
        let refund_to = r.text()?;
        if !r.0.is_empty() {
            return None;
        }
        let session = Session::from_parts(SessionParts {
            funding,
            phase,
            deposit,
            authorised,
            spent,
            last_activity,
            idle_timeout_secs,
        })?;
        Some(Account {
            session,
            method,
            currency,
            refund_to,
            refunds,
            credits,
            write_id,
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }

    fn text(&mut self) -> Option<String> {
        let len = u32::from_be_bytes(self.take()?) as usize;
        let bytes = self.0.get(..len)?;
        self.0 = &self.0[len..];
        String::from_utf8(bytes.to_vec()).ok()
    }
}

/// Why the ledger could not apply an event. The session machine's own refusals
/// (insufficient value, closed, stale voucher…) are not errors: they come back as the
/// event's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LedgerError {
    /// No account has this id.
    NotFound,
    /// The store failed; whether the event was applied is unknown only if
    /// [`LedgerError::Unknown`] is returned instead.
    Store(StoreError),
    /// The write was sent but its answer was lost, and the account was changed
    /// since by someone else: the event may or may not have been applied.
    Unknown(StoreError),
    /// The stored account does not decode (written by something else).
    Corrupt,
    /// Other writers changed the account on every attempt.
    Contention,
    /// The account was opened with another method or currency than the offer that
    /// names it: nothing was applied.
    Mismatch,
}

impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedgerError::NotFound => f.write_str("no such session"),
            LedgerError::Store(e) => write!(f, "session store: {e}"),
            LedgerError::Unknown(e) => write!(f, "session store, outcome unknown: {e}"),
            LedgerError::Corrupt => f.write_str("the stored session does not decode"),
            LedgerError::Contention => f.write_str("the session is too busy, try again"),
            LedgerError::Mismatch => {
                f.write_str("the session was opened with another method or currency")
            }
        }
    }
}

impl std::error::Error for LedgerError {}

/// What became of a top-up ([`SessionLedger::top_up`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(super) enum TopUp {
    /// The deposit grew.
    Credited,
    /// This top-up was credited before (a retry, or a replay): nothing changed.
    AlreadyCredited,
    /// The session can no longer take it (closed, or closing): it is owed back.
    Owed(SessionError),
    /// Refused, nothing changed (a zero amount, an overflow).
    Refused(SessionError),
}

/// Lets the session machine handle `event`; a close makes the unspent part owed.
fn handle(
    account: &mut Account,
    event: SessionEvent,
    now: UnixTime,
) -> Step<Result<SessionOutput, SessionError>> {
    let outcome = account.session.handle(event, now);
    match outcome {
        // Refusals, and an idle check that finds the session in use, change nothing.
        Err(_) | Ok(SessionOutput::StillOpen) => Step::Keep(outcome),
        Ok(SessionOutput::Closed { refund, .. }) => {
            account.refunds.owed = account.refunds.owed.saturating_add(refund);
            Step::Write(outcome)
        }
        Ok(_) => Step::Write(outcome),
    }
}

/// Whether [`SessionLedger::update`] writes the account.
enum Step<T> {
    Write(T),
    Keep(T),
}

/// The session accounts of one server (or of every instance sharing its store).
///
/// Writers in one process queue per session (striped locks) instead of colliding;
/// writers in other processes are told apart by compare-and-swap and retried with a
/// growing, jittered pause.
#[derive(Clone)]
pub struct SessionLedger {
    store: Arc<dyn Store>,
    retention: Duration,
    stripes: Arc<[tokio::sync::Mutex<()>]>,
    /// Woken after every change other than a debit: paused streams wait on it.
    changed: Arc<tokio::sync::Notify>,
    /// Listed ids the last idle sweep found no account for.
    missing: Arc<std::sync::Mutex<Vec<String>>>,
}

impl fmt::Debug for SessionLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLedger")
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

fn key(id: &str) -> String {
    format!("mpp:session:{id}")
}

fn write_id() -> Result<[u8; 16], LedgerError> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id)
        .map_err(|e| LedgerError::Store(StoreError::Unavailable(format!("no randomness: {e}"))))?;
    Ok(id)
}

impl SessionLedger {
    /// Accounts in `store`, kept [`DEFAULT_RETENTION`] after their last change.
    pub fn new(store: Arc<dyn Store>) -> SessionLedger {
        SessionLedger {
            store,
            retention: DEFAULT_RETENTION,
            stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
            changed: Arc::new(tokio::sync::Notify::new()),
            missing: Arc::default(),
        }
    }

    /// Resolves after the next change to any account of this process other than a
    /// debit (a top-up, a close). Changes made by other instances sharing the store
    /// wake nobody here: waiters poll too.
    pub(super) fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.changed.notified()
    }

    fn stripe(&self, id: &str) -> &tokio::sync::Mutex<()> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(id);
        &self.stripes[(hash as usize) % self.stripes.len()]
    }

    /// Keeps accounts `retention` after their last change.
    pub fn with_retention(mut self, retention: Duration) -> SessionLedger {
        self.retention = retention;
        self
    }

    /// Records a new account under `id`; `false` if one exists (the id is taken, even
    /// by a closed session).
    pub async fn open(&self, id: &str, account: &Account) -> Result<bool, LedgerError> {
        let mut account = account.clone();
        account.write_id = write_id()?;
        self.store
            .put_if_absent(&key(id), &account.encode(), self.retention)
            .await
            .map_err(LedgerError::Store)
    }

    /// The account under `id`.
    pub async fn get(&self, id: &str) -> Result<Option<Account>, LedgerError> {
        match self.store.get(&key(id)).await.map_err(LedgerError::Store)? {
            None => Ok(None),
            Some(bytes) => Account::decode(&bytes)
                .map(Some)
                .ok_or(LedgerError::Corrupt),
        }
    }

    /// Applies `event` at `now` to the account under `id`, atomically: the outcome
    /// the machine decided, and the account as it is after the event. A refused event
    /// writes nothing. A close makes the unspent part owed ([`Refunds::owed`]) in the
    /// same write.
    pub async fn apply(
        &self,
        id: &str,
        event: SessionEvent,
        now: UnixTime,
    ) -> Result<(Result<SessionOutput, SessionError>, Account), LedgerError> {
        self.update(id, |account| Ok(handle(account, event, now)))
            .await
    }

    /// As [`apply`](SessionLedger::apply), for an offer of `method` in `currency`:
    /// [`LedgerError::Mismatch`] when the account was opened with another.
    pub(super) async fn apply_as(
        &self,
        id: &str,
        method: &str,
        currency: &str,
        event: SessionEvent,
        now: UnixTime,
    ) -> Result<(Result<SessionOutput, SessionError>, Account), LedgerError> {
        self.update(id, |account| {
            if !account.is_of(method, currency) {
                return Err(LedgerError::Mismatch);
            }
            Ok(handle(account, event, now))
        })
        .await
    }

    /// Credits the top-up `credit` (a digest of its challenge id) of `amount`, once:
    /// a credit already made is reported, not repeated; a top-up the session can no
    /// longer take (it closed meanwhile) becomes a refund owed, in the same write.
    pub(super) async fn top_up(
        &self,
        id: &str,
        credit: [u8; 16],
        amount: u128,
        now: UnixTime,
    ) -> Result<(TopUp, Account), LedgerError> {
        self.update(id, |account| {
            if account.credited(&credit) {
                return Ok(Step::Keep(TopUp::AlreadyCredited));
            }
            match account.session.handle(SessionEvent::TopUp { amount }, now) {
                Ok(_) => {
                    account.remember_credit(credit);
                    Ok(Step::Write(TopUp::Credited))
                }
                Err(e @ (SessionError::Closed | SessionError::ClosePending)) => {
                    let Some(owed) = account.refunds.owed.checked_add(amount) else {
                        return Ok(Step::Keep(TopUp::Refused(SessionError::Overflow)));
                    };
                    account.refunds.owed = owed;
                    account.remember_credit(credit);
                    Ok(Step::Write(TopUp::Owed(e)))
                }
                Err(e) => Ok(Step::Keep(TopUp::Refused(e))),
            }
        })
        .await
    }

    /// Takes what is owed on `id` to refund it now: the amount (moved to
    /// [`Refunds::in_flight`], so no other refunder takes it) and the account, or
    /// `None` when nothing is owed.
    pub(super) async fn start_refund(
        &self,
        id: &str,
        now: UnixTime,
    ) -> Result<(Option<u128>, Account), LedgerError> {
        self.update(id, |account| {
            let r = &mut account.refunds;
            if r.owed == 0 {
                return Ok(Step::Keep(None));
            }
            let amount = r.owed;
            r.in_flight = r.in_flight.saturating_add(amount);
            r.owed = 0;
            r.in_flight_since = now.secs();
            Ok(Step::Write(Some(amount)))
        })
        .await
    }

    /// Records the outcome of refunding `amount` taken by
    /// [`start_refund`](SessionLedger::start_refund).
    pub(super) async fn finish_refund(
        &self,
        id: &str,
        amount: u128,
        paid: bool,
    ) -> Result<Account, LedgerError> {
        self.update(id, |account| {
            let r = &mut account.refunds;
            r.in_flight = r.in_flight.saturating_sub(amount);
            if r.in_flight == 0 {
                r.in_flight_since = 0;
            }
            let outcome = if paid { &mut r.refunded } else { &mut r.failed };
            *outcome = outcome.saturating_add(amount);
            Ok(Step::Write(()))
        })
        .await
        .map(|((), account)| account)
    }

    /// Reads the account under `id`, lets `decide` change it, and writes it back by
    /// compare-and-swap, retrying when another writer came in between. `decide` must
    /// leave the account as it was when it answers [`Step::Keep`].
    async fn update<T>(
        &self,
        id: &str,
        mut decide: impl FnMut(&mut Account) -> Result<Step<T>, LedgerError>,
    ) -> Result<(T, Account), LedgerError> {
        let key = key(id);
        let _turn = self.stripe(id).lock().await;
        let mut pause = Duration::from_micros(500);
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                // Another instance wrote in between: back off so that one of the
                // colliding writers gets through.
                let jitter = u64::from(write_id()?[0]) * pause.as_micros() as u64 / 255;
                tokio::time::sleep(pause + Duration::from_micros(jitter)).await;
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            let old = self
                .store
                .get(&key)
                .await
                .map_err(LedgerError::Store)?
                .ok_or(LedgerError::NotFound)?;
            let mut account = Account::decode(&old).ok_or(LedgerError::Corrupt)?;
            let before = account.session;
            let value = match decide(&mut account)? {
                Step::Keep(value) => return Ok((value, account)),
                Step::Write(value) => value,
            };
            account.write_id = write_id()?;
            let new = account.encode();
            match self
                .store
                .compare_and_swap(&key, &old, &new, self.retention)
                .await
            {
                Ok(true) => {
                    // Paused streams wait for more value: anything but a debit may
                    // bring it.
                    if account.session.spent() == before.spent() {
                        self.changed.notify_waiters();
                    }
                    return Ok((value, account));
                }
                Ok(false) => continue,
                Err(e) => {
                    // The answer may be what was lost: if the account now holds this
                    // very write, it was applied.
                    return match self.store.get(&key).await {
                        Ok(Some(now_stored)) if now_stored == new => Ok((value, account)),
                        Ok(Some(now_stored)) if now_stored == old => Err(LedgerError::Store(e)),
                        _ => Err(LedgerError::Unknown(e)),
                    };
                }
            }
        }
        Err(LedgerError::Contention)
    }

    /// Lists `id` among the open sessions ([`SessionLedger::open_sessions`]).
    pub(super) async fn index(&self, id: &str) -> Result<(), LedgerError> {
        self.store
            .add_member(OPEN_SESSIONS, id)
            .await
            .map(drop)
            .map_err(LedgerError::Store)
    }

    /// Takes `id` off the list of open sessions.
    pub(super) async fn unindex(&self, id: &str) -> Result<(), LedgerError> {
        self.store
            .remove_member(OPEN_SESSIONS, id)
            .await
            .map(drop)
            .map_err(LedgerError::Store)
    }

    /// The sessions listed as open, in every instance sharing the store: what an idle
    /// sweep looks at. Public for tests that check what the list holds.
    #[doc(hidden)]
    pub async fn open_sessions(&self) -> Result<Vec<String>, LedgerError> {
        self.store
            .members(OPEN_SESSIONS)
            .await
            .map_err(LedgerError::Store)
    }

    /// Applies the idle check to every session listed as open, and returns those
    /// listed that are now closed (just now, or earlier with refunds still to pay or
    /// their unlisting not done), each with whether this sweep closed it: the caller
    /// pays what they owe and unlists them. A listed id without an account is dropped
    /// from the list when a second sweep still finds none (the first may have looked
    /// between listing and opening).
    pub(super) async fn close_idle(
        &self,
        now: UnixTime,
    ) -> Result<Vec<(String, Account, bool)>, LedgerError> {
        let mut closed = Vec::new();
        let mut missing = Vec::new();
        for id in self.open_sessions().await? {
            match self.apply(&id, SessionEvent::IdleCheck, now).await {
                Ok((Ok(SessionOutput::Closed { .. }), account)) => {
                    closed.push((id, account, true));
                }
                Ok((Err(_), account)) if matches!(account.session.phase(), Phase::Closed(_)) => {
                    closed.push((id, account, false));
                }
                Ok(_) => {}
                Err(LedgerError::NotFound) => missing.push(id),
                // One unreadable account must not stop the sweep of all the others.
                Err(LedgerError::Corrupt) => {
                    tracing::warn!(target: "mpp::server", "the idle sweep skips a session whose account does not decode");
                }
                Err(e) => return Err(e),
            }
        }
        let seen_before = std::mem::replace(
            &mut *self.missing.lock().unwrap_or_else(|e| e.into_inner()),
            missing.clone(),
        );
        for id in missing.iter().filter(|id| seen_before.contains(id)) {
            self.unindex(id).await?;
        }
        Ok(closed)
    }
}

/// The store set listing the open sessions.
const OPEN_SESSIONS: &str = "mpp:sessions:open";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use mpp_core::method::BoxFuture;

    fn now() -> UnixTime {
        UnixTime::from_secs(1_000)
    }

    fn account(deposit: u128) -> Account {
        let session = Session::open(Funding::Vouchers, deposit, now(), 60).unwrap();
        Account::new(session, "tempo", "usd", "0xrefund")
    }

    #[test]
    fn accounts_round_trip_and_garbage_does_not_decode() {
        let mut a = account(500);
        a.session
            .handle(
                SessionEvent::Voucher {
                    cumulative: 300,
                    authentic: true,
                },
                now(),
            )
            .unwrap();
        a.session
            .handle(SessionEvent::Use { cost: 120 }, now())
            .unwrap();
        a.session.handle(SessionEvent::RequestClose, now()).unwrap();
        a.write_id = [9; 16];
        a.refunds = Refunds {
            owed: 1,
            in_flight: 2,
            refunded: 3,
            failed: 4,
            in_flight_since: 5,
        };
        a.remember_credit([7; 16]);
        let bytes = a.encode();
        assert_eq!(Account::decode(&bytes), Some(a.clone()));
        assert_eq!(
            Account::decode(&bytes[..bytes.len() - 1]),
            None,
            "truncated"
        );
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(Account::decode(&longer), None, "trailing bytes");
        let mut version = bytes.clone();
        version[0] = 1;
        assert_eq!(Account::decode(&version), None, "unknown version");
        // Accounting that breaks an invariant (spent above authorised) is refused.
        let mut overspent = bytes;
        overspent[3 + 32..3 + 48].copy_from_slice(&u128::MAX.to_be_bytes());
        assert_eq!(Account::decode(&overspent), None);
        assert!(!format!("{a:?}").contains("0xrefund"));
    }

    /// A store whose swaps fail in a chosen way.
    #[derive(Debug, Default)]
    struct Lossy {
        memory: MemoryStore,
        /// Apply the swap, then report an error (the answer was lost).
        apply_then_fail: bool,
        /// Before failing, let another writer change the value.
        interfere: bool,
    }

    impl Store for Lossy {
        fn put_if_absent<'a>(
            &'a self,
            key: &'a str,
            value: &'a [u8],
            ttl: Duration,
        ) -> BoxFuture<'a, Result<bool, StoreError>> {
            self.memory.put_if_absent(key, value, ttl)
        }

        fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
            self.memory.get(key)
        }

        fn put<'a>(
            &'a self,
            key: &'a str,
            value: &'a [u8],
            ttl: Duration,
        ) -> BoxFuture<'a, Result<(), StoreError>> {
            self.memory.put(key, value, ttl)
        }

        fn compare_and_swap<'a>(
            &'a self,
            key: &'a str,
            expected: &'a [u8],
            new: &'a [u8],
            ttl: Duration,
        ) -> BoxFuture<'a, Result<bool, StoreError>> {
            Box::pin(async move {
                if self.apply_then_fail {
                    self.memory
                        .compare_and_swap(key, expected, new, ttl)
                        .await?;
                }
                if self.interfere {
                    self.memory.put(key, b"someone else", ttl).await?;
                }
                Err(StoreError::Unavailable("connection reset".into()))
            })
        }
    }

    async fn debit_through(store: Lossy) -> (Result<u128, LedgerError>, Option<Vec<u8>>) {
        let store = Arc::new(store);
        let ledger = SessionLedger::new(store.clone());
        let mut a = account(100);
        a.session
            .handle(
                SessionEvent::Voucher {
                    cumulative: 100,
                    authentic: true,
                },
                now(),
            )
            .unwrap();
        ledger.open("s", &a).await.unwrap();
        let result = ledger
            .apply("s", SessionEvent::Use { cost: 10 }, now())
            .await
            .map(|(_, account)| account.session.spent());
        (result, store.get("mpp:session:s").await.unwrap())
    }

    #[tokio::test]
    async fn a_lost_answer_is_recognised_from_what_was_written() {
        let (result, _) = debit_through(Lossy {
            apply_then_fail: true,
            ..Lossy::default()
        })
        .await;
        assert_eq!(result, Ok(10), "the write landed: the debit stands, once");

        let (result, stored) = debit_through(Lossy::default()).await;
        assert!(matches!(result, Err(LedgerError::Store(_))), "{result:?}");
        let unchanged = Account::decode(&stored.unwrap()).unwrap();
        assert_eq!(unchanged.session.spent(), 0, "nothing was debited");

        let (result, _) = debit_through(Lossy {
            interfere: true,
            ..Lossy::default()
        })
        .await;
        assert!(matches!(result, Err(LedgerError::Unknown(_))), "{result:?}");
    }

    #[test]
    fn opening_and_closing_a_session_costs_the_same_however_many_are_open() {
        // The ledger's open-session index on a store with native sets: listing and
        // unlisting one session moves the same bytes with 10 or 5,000 others open.
        use crate::store::tests::{Counting, block_on};
        use std::sync::atomic::Ordering;
        let cost = |open: usize| {
            let store = std::sync::Arc::new(Counting::new(true));
            let ledger = SessionLedger::new(store.clone());
            for i in 0..open {
                block_on(ledger.index(&format!("session-{i:06}"))).expect("index");
            }
            let before = store.bytes.load(Ordering::Relaxed);
            block_on(ledger.index("probe")).expect("index");
            block_on(ledger.unindex("probe")).expect("unindex");
            store.bytes.load(Ordering::Relaxed) - before
        };
        assert_eq!(cost(10), cost(5_000));
    }
}
