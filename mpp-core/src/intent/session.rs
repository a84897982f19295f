//! The session intent, per session: open, use, top up, close.
//!
//! A session is a metered relationship: the client funds a deposit once, then each
//! billable unit (a request, a chunk of a stream) is debited from it, until the
//! client tops it up or the session closes and the unspent part is refunded. The
//! machine holds the accounting and enforces the invariants the session draft
//! requires (`session.accounting.*` in the requirement registry):
//!
//! - value delivered never exceeds value authorised: `spent <= authorised <= deposit`;
//! - `deposit`, `authorised` and `spent` only grow;
//! - with vouchers, each authorisation states a *cumulative* total: an equal total is
//!   an idempotent success, a lower one from the payer is *stale*, told apart from a
//!   *forged* one (whose proof does not verify);
//! - a closed session accepts nothing, and keeps its record so that replays are
//!   refused; closing captures exactly what was spent and refunds the rest.
//!
//! A server persists the whole [`Session`] value and applies each event atomically
//! (read, [`Session::handle`], compare-and-swap), so concurrent requests are
//! serialised by the store and the invariants hold across server instances.
//!
//! ```
//! use mpp_core::intent::session::{Funding, Session, SessionError, SessionEvent, SessionOutput};
//! use mpp_core::time::UnixTime;
//!
//! let t = UnixTime::from_secs(1_000);
//! let mut s = Session::open(Funding::Prepaid, 100, t, 300).unwrap();
//! assert_eq!(
//!     s.handle(SessionEvent::Use { cost: 60 }, t),
//!     Ok(SessionOutput::Debited { spent: 60, remaining: 40 })
//! );
//! assert_eq!(
//!     s.handle(SessionEvent::Use { cost: 60 }, t),
//!     Err(SessionError::Insufficient { cost: 60, available: 40 })
//! );
//! assert_eq!(s.handle(SessionEvent::TopUp { amount: 50 }, t), Ok(SessionOutput::ToppedUp { deposit: 150 }));
//! assert_eq!(
//!     s.handle(SessionEvent::Close, t),
//!     Ok(SessionOutput::Closed { captured: 60, refund: 90 })
//! );
//! assert_eq!(s.handle(SessionEvent::Use { cost: 1 }, t), Err(SessionError::Closed));
//! ```

use core::fmt;

use crate::time::UnixTime;

/// What authorises spending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Funding {
    /// The deposit itself: the payer proved it once (a bearer session, e.g. the
    /// preimage of a paid deposit invoice), and every unit is drawn from it.
    Prepaid,
    /// Cumulative signed authorisations (vouchers), each at most the deposit: the
    /// server may spend up to the highest accepted total.
    Vouchers,
}

/// Why a session closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client, or the server on its request, closed it.
    Cooperative,
    /// No activity for longer than the idle timeout.
    Idle,
    /// Closed unilaterally (a forced withdrawal, an operator's decision).
    Forced,
}

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Open: units are debited and authorisations accepted.
    Active,
    /// The client asked to close: no new service or authorisation, only the close.
    Closing,
    /// Closed for good; the record stays so that replays are refused.
    Closed(CloseReason),
}

/// What happens to a session. Amounts are in the currency's base units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEvent {
    /// Debit one billable unit of `cost` before serving it.
    Use {
        /// Its price.
        cost: u128,
    },
    /// A cumulative authorisation of `cumulative` in total. `authentic` is the
    /// method's verdict on its proof (signature, preimage), made before this event.
    Voucher {
        /// The total it authorises since the session opened.
        cumulative: u128,
        /// Whether its proof verifies.
        authentic: bool,
    },
    /// More deposit, whose payment the method verified.
    TopUp {
        /// The amount added.
        amount: u128,
    },
    /// The client asks to close: nothing more is served or authorised.
    RequestClose,
    /// Close now, cooperatively: capture what was spent, refund the rest.
    Close,
    /// The server's idle timer: close if nothing happened for the idle timeout.
    IdleCheck,
    /// Close unilaterally.
    ForceClose,
}

/// What the server does after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionOutput {
    /// Serve the unit: it is paid for.
    Debited {
        /// The total spent so far.
        spent: u128,
        /// What is left to spend.
        remaining: u128,
    },
    /// The voucher is accepted.
    Authorised {
        /// The highest accepted total.
        authorised: u128,
        /// It repeated the highest total (a retry): nothing changed.
        idempotent: bool,
    },
    /// The deposit grew.
    ToppedUp {
        /// The deposit now.
        deposit: u128,
    },
    /// Closing is pending.
    CloseRequested,
    /// The session closed: settle `captured` and refund `refund` (they add up to the
    /// deposit).
    Closed {
        /// What the payee keeps: exactly what was spent.
        captured: u128,
        /// What goes back to the payer.
        refund: u128,
    },
    /// An idle check that found the session in use.
    StillOpen,
}

/// Why an event was refused. The session is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionError {
    /// The session is closed: it accepts nothing.
    Closed,
    /// Closing is pending: no new service or authorisation.
    ClosePending,
    /// The unit costs more than what is left: top up (or send a higher voucher).
    Insufficient {
        /// The unit's price.
        cost: u128,
        /// What is left.
        available: u128,
    },
    /// An authentic voucher for less than the highest accepted total: an old one,
    /// delivered late or replayed. Nothing is lost; the session goes on.
    StaleVoucher {
        /// Its total.
        cumulative: u128,
        /// The highest accepted total.
        highest: u128,
    },
    /// A voucher whose proof does not verify.
    ForgedVoucher,
    /// A voucher for more than the deposit covers.
    VoucherAboveDeposit {
        /// Its total.
        cumulative: u128,
        /// The deposit.
        deposit: u128,
    },
    /// A voucher for a prepaid session, which has none.
    NotVoucherFunded,
    /// A deposit or top-up of zero.
    ZeroAmount,
    /// An amount that would overflow the accounting.
    Overflow,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Closed => f.write_str("the session is closed"),
            SessionError::ClosePending => f.write_str("the session is closing"),
            SessionError::Insufficient { cost, available } => {
                write!(f, "the unit costs {cost}, {available} is left")
            }
            SessionError::StaleVoucher {
                cumulative,
                highest,
            } => write!(
                f,
                "stale voucher: {cumulative} is below the accepted {highest}"
            ),
            SessionError::ForgedVoucher => f.write_str("the voucher's proof does not verify"),
            SessionError::VoucherAboveDeposit {
                cumulative,
                deposit,
            } => write!(
                f,
                "the voucher's {cumulative} exceeds the deposit {deposit}"
            ),
            SessionError::NotVoucherFunded => f.write_str("this session takes no vouchers"),
            SessionError::ZeroAmount => f.write_str("the amount is zero"),
            SessionError::Overflow => f.write_str("the amount overflows the accounting"),
        }
    }
}

impl core::error::Error for SessionError {}

/// One session's accounting and phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    funding: Funding,
    phase: Phase,
    deposit: u128,
    authorised: u128,
    spent: u128,
    last_activity: UnixTime,
    idle_timeout_secs: u64,
}

impl Session {
    /// A session opened at `now` with a verified `deposit`, closed by
    /// [`SessionEvent::IdleCheck`] after `idle_timeout_secs` without activity.
    pub fn open(
        funding: Funding,
        deposit: u128,
        now: UnixTime,
        idle_timeout_secs: u64,
    ) -> Result<Session, SessionError> {
        if deposit == 0 {
            return Err(SessionError::ZeroAmount);
        }
        Ok(Session {
            funding,
            phase: Phase::Active,
            deposit,
            authorised: match funding {
                Funding::Prepaid => deposit,
                Funding::Vouchers => 0,
            },
            spent: 0,
            last_activity: now,
            idle_timeout_secs,
        })
    }

    /// A session from its persisted parts, checked against the invariants.
    pub fn from_parts(parts: SessionParts) -> Option<Session> {
        let authorised_ok = match parts.funding {
            Funding::Prepaid => parts.authorised == parts.deposit,
            Funding::Vouchers => parts.authorised <= parts.deposit,
        };
        (authorised_ok && parts.spent <= parts.authorised).then_some(Session {
            funding: parts.funding,
            phase: parts.phase,
            deposit: parts.deposit,
            authorised: parts.authorised,
            spent: parts.spent,
            last_activity: parts.last_activity,
            idle_timeout_secs: parts.idle_timeout_secs,
        })
    }

    /// The parts to persist.
    pub fn parts(&self) -> SessionParts {
        SessionParts {
            funding: self.funding,
            phase: self.phase,
            deposit: self.deposit,
            authorised: self.authorised,
            spent: self.spent,
            last_activity: self.last_activity,
            idle_timeout_secs: self.idle_timeout_secs,
        }
    }

    /// Where it stands.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// What authorises spending.
    pub fn funding(&self) -> Funding {
        self.funding
    }

    /// The deposit, top-ups included.
    pub fn deposit(&self) -> u128 {
        self.deposit
    }

    /// What may be spent in total: the deposit, or the highest accepted voucher.
    pub fn authorised(&self) -> u128 {
        self.authorised
    }

    /// What was spent.
    pub fn spent(&self) -> u128 {
        self.spent
    }

    /// What is left to spend.
    pub fn remaining(&self) -> u128 {
        self.authorised - self.spent
    }

    /// The last open, use, voucher or top-up.
    pub fn last_activity(&self) -> UnixTime {
        self.last_activity
    }

    /// Applies `event` at `now`. On an error nothing changes.
    pub fn handle(
        &mut self,
        event: SessionEvent,
        now: UnixTime,
    ) -> Result<SessionOutput, SessionError> {
        match self.phase {
            Phase::Closed(_) => return Err(SessionError::Closed),
            Phase::Closing
                if matches!(
                    event,
                    SessionEvent::Use { .. }
                        | SessionEvent::Voucher { .. }
                        | SessionEvent::TopUp { .. }
                ) =>
            {
                return Err(SessionError::ClosePending);
            }
            _ => {}
        }
        match event {
            SessionEvent::Use { cost } => {
                let available = self.remaining();
                if cost > available {
                    return Err(SessionError::Insufficient { cost, available });
                }
                self.spent += cost;
                self.last_activity = now;
                Ok(SessionOutput::Debited {
                    spent: self.spent,
                    remaining: self.remaining(),
                })
            }
            SessionEvent::Voucher {
                cumulative,
                authentic,
            } => {
                if self.funding != Funding::Vouchers {
                    return Err(SessionError::NotVoucherFunded);
                }
                // Authenticity first: a forged voucher learns nothing about the
                // accepted total.
                if !authentic {
                    return Err(SessionError::ForgedVoucher);
                }
                if cumulative < self.authorised {
                    return Err(SessionError::StaleVoucher {
                        cumulative,
                        highest: self.authorised,
                    });
                }
                if cumulative > self.deposit {
                    return Err(SessionError::VoucherAboveDeposit {
                        cumulative,
                        deposit: self.deposit,
                    });
                }
                let idempotent = cumulative == self.authorised;
                self.authorised = cumulative;
                self.last_activity = now;
                Ok(SessionOutput::Authorised {
                    authorised: cumulative,
                    idempotent,
                })
            }
            SessionEvent::TopUp { amount } => {
                if amount == 0 {
                    return Err(SessionError::ZeroAmount);
                }
                let deposit = self
                    .deposit
                    .checked_add(amount)
                    .ok_or(SessionError::Overflow)?;
                self.deposit = deposit;
                if self.funding == Funding::Prepaid {
                    self.authorised = deposit;
                }
                self.last_activity = now;
                Ok(SessionOutput::ToppedUp { deposit })
            }
            SessionEvent::RequestClose => {
                self.phase = Phase::Closing;
                Ok(SessionOutput::CloseRequested)
            }
            SessionEvent::Close => Ok(self.close(CloseReason::Cooperative)),
            SessionEvent::ForceClose => Ok(self.close(CloseReason::Forced)),
            SessionEvent::IdleCheck => {
                let idle = now.secs().saturating_sub(self.last_activity.secs());
                if u64::try_from(idle).is_ok_and(|idle| idle >= self.idle_timeout_secs) {
                    Ok(self.close(CloseReason::Idle))
                } else {
                    Ok(SessionOutput::StillOpen)
                }
            }
        }
    }

    fn close(&mut self, reason: CloseReason) -> SessionOutput {
        self.phase = Phase::Closed(reason);
        SessionOutput::Closed {
            captured: self.spent,
            refund: self.deposit - self.spent,
        }
    }
}

/// A session's persisted form (see [`Session::parts`] and [`Session::from_parts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionParts {
    /// What authorises spending.
    pub funding: Funding,
    /// Where it stands.
    pub phase: Phase,
    /// The deposit, top-ups included.
    pub deposit: u128,
    /// The deposit (prepaid) or the highest accepted voucher.
    pub authorised: u128,
    /// What was spent.
    pub spent: u128,
    /// The last open, use, voucher or top-up.
    pub last_activity: UnixTime,
    /// How long it may stay idle.
    pub idle_timeout_secs: u64,
}
