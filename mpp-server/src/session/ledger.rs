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
//! ledger.open("s1", &Account::new(session, "lightning", "lnbcrt1…")).await?;
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

/// One session's account: the machine's state and what the method needs at close.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// The accounting and phase.
    pub session: Session,
    /// The method that opened it.
    pub method: String,
    /// Where the refund goes at close (a return invoice, an address): the method's
    /// business, kept as given.
    pub refund_to: String,
    /// A random id of the write that produced this version, so that a write whose
    /// answer was lost can be recognised.
    write_id: [u8; 16],
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("session", &self.session)
            .field("method", &self.method)
            .field("refund_to", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Account {
    /// An account for a session just opened with `method`.
    pub fn new(session: Session, method: &str, refund_to: &str) -> Account {
        Account {
            session,
            method: method.into(),
            refund_to: refund_to.into(),
            write_id: [0; 16],
        }
    }

    /// The stored form: a version byte, the fixed-size accounting, then the two
    /// strings with their lengths. Binary, because debits are the hot path.
    fn encode(&self) -> Vec<u8> {
        let p = self.session.parts();
        let mut out = Vec::with_capacity(110 + self.method.len() + self.refund_to.len());
        out.push(1);
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
        for text in [&self.method, &self.refund_to] {
            out.extend_from_slice(&(text.len() as u32).to_be_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        out
    }

    fn decode(bytes: &[u8]) -> Option<Account> {
        let mut r = Reader(bytes);
        if r.take::<1>()? != [1] {
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
        let method = r.text()?;
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
            refund_to,
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
}

impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedgerError::NotFound => f.write_str("no such session"),
            LedgerError::Store(e) => write!(f, "session store: {e}"),
            LedgerError::Unknown(e) => write!(f, "session store, outcome unknown: {e}"),
            LedgerError::Corrupt => f.write_str("the stored session does not decode"),
            LedgerError::Contention => f.write_str("the session is too busy, try again"),
        }
    }
}

impl std::error::Error for LedgerError {}

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
        .map_err(|e| LedgerError::Store(StoreError(format!("no randomness: {e}"))))?;
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
    pub fn changed(&self) -> tokio::sync::futures::Notified<'_> {
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
    /// writes nothing.
    pub async fn apply(
        &self,
        id: &str,
        event: SessionEvent,
        now: UnixTime,
    ) -> Result<(Result<SessionOutput, SessionError>, Account), LedgerError> {
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
            let outcome = account.session.handle(event, now);
            // Refusals, and an idle check that finds the session in use, change nothing.
            if matches!(outcome, Err(_) | Ok(SessionOutput::StillOpen)) {
                return Ok((outcome, account));
            }
            account.write_id = write_id()?;
            let new = account.encode();
            match self
                .store
                .compare_and_swap(&key, &old, &new, self.retention)
                .await
            {
                Ok(true) => {
                    if !matches!(event, SessionEvent::Use { .. }) {
                        self.changed.notify_waiters();
                    }
                    return Ok((outcome, account));
                }
                Ok(false) => continue,
                Err(e) => {
                    // The answer may be what was lost: if the account now holds this
                    // very write, it was applied.
                    return match self.store.get(&key).await {
                        Ok(Some(now_stored)) if now_stored == new => Ok((outcome, account)),
                        Ok(Some(now_stored)) if now_stored == old => Err(LedgerError::Store(e)),
                        _ => Err(LedgerError::Unknown(e)),
                    };
                }
            }
        }
        Err(LedgerError::Contention)
    }

    /// Lists `id` among the open sessions ([`SessionLedger::open_sessions`]).
    pub async fn index(&self, id: &str) -> Result<(), LedgerError> {
        self.store
            .add_member(OPEN_SESSIONS, id)
            .await
            .map(drop)
            .map_err(LedgerError::Store)
    }

    /// Takes `id` off the list of open sessions.
    pub async fn unindex(&self, id: &str) -> Result<(), LedgerError> {
        self.store
            .remove_member(OPEN_SESSIONS, id)
            .await
            .map(drop)
            .map_err(LedgerError::Store)
    }

    /// The sessions listed as open, in every instance sharing the store: what an idle
    /// sweep looks at.
    pub async fn open_sessions(&self) -> Result<Vec<String>, LedgerError> {
        self.store
            .members(OPEN_SESSIONS)
            .await
            .map_err(LedgerError::Store)
    }

    /// Applies the idle check to every open session: those it closed, with what they
    /// did not spend (to refund), still listed until [`SessionLedger::unindex`].
    /// A listed id without an account is dropped from the list when a second sweep
    /// still finds none (the first may have looked between listing and opening).
    pub async fn close_idle(
        &self,
        now: UnixTime,
    ) -> Result<Vec<(String, Account, u128)>, LedgerError> {
        let mut closed = Vec::new();
        let mut missing = Vec::new();
        for id in self.open_sessions().await? {
            match self.apply(&id, SessionEvent::IdleCheck, now).await {
                Ok((Ok(SessionOutput::Closed { refund, .. }), account)) => {
                    closed.push((id, account, refund));
                }
                Ok((Ok(_), _)) => {}
                // Closed by someone whose unlisting did not happen.
                Ok((Err(_), _)) => self.unindex(&id).await?,
                Err(LedgerError::NotFound) => missing.push(id),
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
        Account::new(session, "tempo", "0xrefund")
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
        version[0] = 2;
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
                Err(StoreError("connection reset".into()))
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
}
