//! Model-based property tests of the intent state machines: random sequences of
//! events (several credentials racing for one challenge; clients using, topping up,
//! replaying, reordering and closing one session) are run through the machine and
//! through a plain model of the rules, and every step is checked against both the
//! model and the invariants. A failure prints the seed that reproduces it.

use mpp_core::intent::charge::{ChargeEvent, ChargeOutput, ChargeState};
use mpp_core::intent::session::{
    CloseReason, Funding, Phase, Session, SessionError, SessionEvent, SessionOutput,
};
use mpp_core::problem::ProblemType;
use mpp_core::time::UnixTime;

/// splitmix64: small, fast, and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const SEQUENCES: u64 = 20_000;

// ---- charge

#[test]
fn charge_racing_credentials_never_break_single_use() {
    // req: charge.replay.id-single-use charge.replay.credential-once core.concurrency.once
    for seed in 0..SEQUENCES {
        let mut rng = Rng(seed);
        let expires = UnixTime::from_secs(1_000);
        let mut state = ChargeState::issued(expires);
        let mut now = 900 + rng.below(150) as i64;
        // The claiming request, and whether it has reported its result.
        let mut claimer: Option<(u64, i64)> = None;
        let mut reported = false;
        let (mut verifies, mut grants) = (0, 0);
        let mut trace = Vec::new();
        for step in 0..(4 + rng.below(40)) {
            now += rng.below(20) as i64;
            let at = UnixTime::from_secs(now);
            let request = rng.below(5);
            let event = match rng.below(10) {
                0..=5 => ChargeEvent::Present,
                6 => ChargeEvent::Tick,
                7 | 8 => ChargeEvent::Settled,
                _ => ChargeEvent::Failed(ProblemType::VerificationFailed),
            };
            // Only the claimer reports a result, once; anyone else doing so is a
            // caller bug the machine must refuse without changing state.
            let legitimate_report = claimer.is_some_and(|(r, _)| r == request) && !reported;
            let before = state;
            let result = state.handle(event, at);
            trace.push(format!(
                "{step}: t={now} r{request} {event:?} -> {result:?} {state:?}"
            ));
            let ctx = || format!("seed {seed}:\n{}", trace.join("\n"));
            match (event, result) {
                (ChargeEvent::Present, Ok(ChargeOutput::Verify)) => {
                    verifies += 1;
                    assert!(now < 1_000, "claimed at or after expires\n{}", ctx());
                    assert_eq!(before, ChargeState::issued(expires), "{}", ctx());
                    claimer = Some((request, now));
                }
                (ChargeEvent::Present, Ok(ChargeOutput::Refuse(p))) => {
                    let expected = if claimer.is_some() {
                        ProblemType::InvalidChallenge
                    } else {
                        ProblemType::PaymentExpired
                    };
                    assert_eq!(p, expected, "{}", ctx());
                }
                (ChargeEvent::Settled | ChargeEvent::Failed(_), Err(e)) => {
                    assert!(!legitimate_report, "a legitimate report refused\n{}", ctx());
                    assert_eq!(e.state, before);
                    assert_eq!(state, before, "state changed on an error\n{}", ctx());
                }
                (ChargeEvent::Settled, Ok(ChargeOutput::Grant)) => {
                    assert!(legitimate_report || claimer.is_some(), "{}", ctx());
                    assert_eq!(before, ChargeState::Claimed, "{}", ctx());
                    grants += 1;
                    reported = true;
                }
                (ChargeEvent::Failed(p), Ok(ChargeOutput::Refuse(q))) => {
                    assert_eq!(p, q);
                    assert_eq!(before, ChargeState::Claimed, "{}", ctx());
                    reported = true;
                }
                (ChargeEvent::Tick, Ok(ChargeOutput::None)) => {
                    if now >= 1_000 && before == ChargeState::issued(expires) {
                        assert_eq!(state, ChargeState::Expired, "{}", ctx());
                    } else {
                        assert_eq!(state, before, "{}", ctx());
                    }
                }
                other => panic!("unexpected {other:?}\n{}", ctx()),
            }
            if before.is_terminal() {
                assert_eq!(state, before, "a terminal state changed\n{}", ctx());
            }
            assert!(verifies <= 1 && grants <= 1, "{}", ctx());
        }
    }
}

#[test]
fn a_failed_claim_keeps_the_id_used_and_a_late_settlement_still_counts() {
    // req: charge.verify.expiry
    let expires = UnixTime::from_secs(100);
    let mut id = ChargeState::issued(expires);
    let before = UnixTime::from_secs(99);
    let after = UnixTime::from_secs(150);
    assert_eq!(
        id.handle(ChargeEvent::Present, before),
        Ok(ChargeOutput::Verify)
    );
    // Settlement finishing after `expires` is honoured: the claim was in time.
    assert_eq!(
        id.handle(ChargeEvent::Settled, after),
        Ok(ChargeOutput::Grant)
    );

    let mut id = ChargeState::issued(expires);
    id.handle(ChargeEvent::Present, before).unwrap();
    let failed = ChargeEvent::Failed(ProblemType::VerificationFailed);
    assert_eq!(
        id.handle(failed, before),
        Ok(ChargeOutput::Refuse(ProblemType::VerificationFailed))
    );
    assert_eq!(
        id.handle(ChargeEvent::Present, before),
        Ok(ChargeOutput::Refuse(ProblemType::InvalidChallenge)),
        "a second try with a good proof does not get the failed id back"
    );

    let mut id = ChargeState::issued(expires);
    assert_eq!(
        id.handle(ChargeEvent::Present, UnixTime::from_secs(100)),
        Ok(ChargeOutput::Refuse(ProblemType::PaymentExpired)),
        "expired at exactly `expires` (D8)"
    );
    assert_eq!(id, ChargeState::Expired);
}

// ---- session

/// The rules, written out plainly, to compare the machine with.
#[derive(Debug, Clone)]
struct Model {
    vouchers: bool,
    deposit: u128,
    highest: u128,
    spent: u128,
    closing: bool,
    closed: bool,
    last: i64,
    idle: i64,
}

impl Model {
    fn authorised(&self) -> u128 {
        if self.vouchers {
            self.highest
        } else {
            self.deposit
        }
    }

    fn expect(&mut self, event: SessionEvent, now: i64) -> Result<SessionOutput, SessionError> {
        use SessionEvent::*;
        if self.closed {
            return Err(SessionError::Closed);
        }
        if self.closing && matches!(event, Use { .. } | Voucher { .. } | TopUp { .. }) {
            return Err(SessionError::ClosePending);
        }
        let closed = |m: &mut Model| {
            m.closed = true;
            Ok(SessionOutput::Closed {
                captured: m.spent,
                refund: m.deposit - m.spent,
            })
        };
        match event {
            Use { cost } => {
                let available = self.authorised() - self.spent;
                if cost > available {
                    return Err(SessionError::Insufficient { cost, available });
                }
                self.spent += cost;
                self.last = now;
                Ok(SessionOutput::Debited {
                    spent: self.spent,
                    remaining: self.authorised() - self.spent,
                })
            }
            Voucher {
                cumulative,
                authentic,
            } => {
                if !self.vouchers {
                    Err(SessionError::NotVoucherFunded)
                } else if !authentic {
                    Err(SessionError::ForgedVoucher)
                } else if cumulative < self.highest {
                    Err(SessionError::StaleVoucher {
                        cumulative,
                        highest: self.highest,
                    })
                } else if cumulative > self.deposit {
                    Err(SessionError::VoucherAboveDeposit {
                        cumulative,
                        deposit: self.deposit,
                    })
                } else {
                    let idempotent = cumulative == self.highest;
                    self.highest = cumulative;
                    self.last = now;
                    Ok(SessionOutput::Authorised {
                        authorised: cumulative,
                        idempotent,
                    })
                }
            }
            TopUp { amount: 0 } => Err(SessionError::ZeroAmount),
            TopUp { amount } => {
                self.deposit += amount;
                self.last = now;
                Ok(SessionOutput::ToppedUp {
                    deposit: self.deposit,
                })
            }
            RequestClose => {
                self.closing = true;
                Ok(SessionOutput::CloseRequested)
            }
            Close | ForceClose => closed(self),
            IdleCheck if now - self.last >= self.idle => closed(self),
            IdleCheck => Ok(SessionOutput::StillOpen),
        }
    }
}

fn random_event(rng: &mut Rng, recent_vouchers: &[u128], deposit: u128) -> SessionEvent {
    match rng.below(100) {
        0..=44 => SessionEvent::Use {
            cost: rng.below(40) as u128,
        },
        45..=64 => {
            // New totals, duplicates and reordered (older) ones, and forgeries.
            let cumulative = match (rng.below(3), recent_vouchers.last()) {
                (0, Some(&v)) => v,
                (1, Some(_)) => recent_vouchers[rng.below(recent_vouchers.len() as u64) as usize],
                _ => rng.below(deposit as u64 + 60) as u128,
            };
            SessionEvent::Voucher {
                cumulative,
                authentic: !rng.chance(15),
            }
        }
        65..=79 => SessionEvent::TopUp {
            amount: rng.below(80) as u128,
        },
        80..=85 => SessionEvent::IdleCheck,
        86..=90 => SessionEvent::RequestClose,
        91..=96 => SessionEvent::Close,
        _ => SessionEvent::ForceClose,
    }
}

#[test]
fn session_event_sequences_keep_every_invariant() {
    // req: core.concurrency.once
    for seed in 0..SEQUENCES {
        let mut rng = Rng(seed);
        let vouchers = rng.chance(50);
        let funding = if vouchers {
            Funding::Vouchers
        } else {
            Funding::Prepaid
        };
        let deposit = 1 + rng.below(200) as u128;
        let idle = 30 + rng.below(100) as i64;
        let mut now = 10_000i64;
        let mut session =
            Session::open(funding, deposit, UnixTime::from_secs(now), idle as u64).unwrap();
        let mut model = Model {
            vouchers,
            deposit,
            highest: 0,
            spent: 0,
            closing: false,
            closed: false,
            last: now,
            idle,
        };
        let mut sent_vouchers = Vec::new();
        let mut trace = Vec::new();
        for step in 0..(1 + rng.below(60)) {
            now += rng.below(40) as i64;
            let event = random_event(&mut rng, &sent_vouchers, model.deposit);
            if let SessionEvent::Voucher { cumulative, .. } = event {
                sent_vouchers.push(cumulative);
            }
            let before = session;
            let got = session.handle(event, UnixTime::from_secs(now));
            let want = model.expect(event, now);
            trace.push(format!("{step}: t={now} {event:?} -> {got:?}"));
            let ctx = || format!("seed {seed}:\n{}", trace.join("\n"));
            assert_eq!(got, want, "machine and model disagree\n{}", ctx());
            // Invariants, whatever the model says.
            assert!(session.spent() <= session.authorised(), "{}", ctx());
            assert!(session.authorised() <= session.deposit(), "{}", ctx());
            assert!(session.deposit() >= before.deposit(), "{}", ctx());
            assert!(session.authorised() >= before.authorised(), "{}", ctx());
            assert!(session.spent() >= before.spent(), "{}", ctx());
            if got.is_err() {
                assert_eq!(session, before, "an error changed the session\n{}", ctx());
            }
            if let Phase::Closed(_) = before.phase() {
                assert_eq!(session, before, "a closed session changed\n{}", ctx());
            }
            if let Ok(SessionOutput::Closed { captured, refund }) = got {
                assert_eq!(captured, session.spent(), "{}", ctx());
                assert_eq!(captured + refund, session.deposit(), "{}", ctx());
            }
            // Stale and forged are told apart: only an authentic voucher is stale.
            if let (SessionEvent::Voucher { authentic, .. }, Err(e)) = (event, got) {
                match e {
                    SessionError::StaleVoucher { .. } => assert!(authentic),
                    SessionError::ForgedVoucher => assert!(!authentic),
                    _ => {}
                }
            }
            // The parts round-trip through persistence.
            assert_eq!(Session::from_parts(session.parts()), Some(session));
        }
    }
}

#[test]
fn a_close_racing_a_use_is_decided_by_order_and_loses_nothing() {
    // req: core.concurrency.atomic
    let t = UnixTime::from_secs(0);
    for close_first in [true, false] {
        let mut s = Session::open(Funding::Prepaid, 100, t, 60).unwrap();
        let (close, used) = if close_first {
            let close = s.handle(SessionEvent::Close, t).unwrap();
            (close, s.handle(SessionEvent::Use { cost: 30 }, t))
        } else {
            let used = s.handle(SessionEvent::Use { cost: 30 }, t);
            (s.handle(SessionEvent::Close, t).unwrap(), used)
        };
        let SessionOutput::Closed { captured, refund } = close else {
            panic!("{close:?}");
        };
        assert_eq!(captured + refund, 100);
        if close_first {
            assert_eq!(used, Err(SessionError::Closed));
            assert_eq!((captured, refund), (0, 100));
        } else {
            assert!(used.is_ok());
            assert_eq!((captured, refund), (30, 70));
        }
    }
}

#[test]
fn vouchers_equal_stale_forged_and_over_deposit() {
    let t = UnixTime::from_secs(0);
    let mut s = Session::open(Funding::Vouchers, 100, t, 60).unwrap();
    let voucher = |cumulative, authentic| SessionEvent::Voucher {
        cumulative,
        authentic,
    };
    assert_eq!(
        s.handle(SessionEvent::Use { cost: 1 }, t),
        Err(SessionError::Insufficient {
            cost: 1,
            available: 0
        }),
        "nothing is authorised before the first voucher"
    );
    assert_eq!(
        s.handle(voucher(40, true), t),
        Ok(SessionOutput::Authorised {
            authorised: 40,
            idempotent: false
        })
    );
    assert_eq!(
        s.handle(voucher(40, true), t),
        Ok(SessionOutput::Authorised {
            authorised: 40,
            idempotent: true
        })
    );
    assert_eq!(
        s.handle(voucher(30, true), t),
        Err(SessionError::StaleVoucher {
            cumulative: 30,
            highest: 40
        })
    );
    assert_eq!(
        s.handle(voucher(90, false), t),
        Err(SessionError::ForgedVoucher)
    );
    assert_eq!(
        s.handle(voucher(101, true), t),
        Err(SessionError::VoucherAboveDeposit {
            cumulative: 101,
            deposit: 100
        })
    );
    assert_eq!(s.authorised(), 40);
    let mut prepaid = Session::open(Funding::Prepaid, 10, t, 60).unwrap();
    assert_eq!(
        prepaid.handle(voucher(5, true), t),
        Err(SessionError::NotVoucherFunded)
    );
}

#[test]
fn idle_sessions_close_and_activity_keeps_them_open() {
    let mut s = Session::open(Funding::Prepaid, 10, UnixTime::from_secs(0), 60).unwrap();
    assert_eq!(
        s.handle(SessionEvent::IdleCheck, UnixTime::from_secs(59)),
        Ok(SessionOutput::StillOpen)
    );
    s.handle(SessionEvent::Use { cost: 1 }, UnixTime::from_secs(59))
        .unwrap();
    assert_eq!(
        s.handle(SessionEvent::IdleCheck, UnixTime::from_secs(100)),
        Ok(SessionOutput::StillOpen)
    );
    assert_eq!(
        s.handle(SessionEvent::IdleCheck, UnixTime::from_secs(119)),
        Ok(SessionOutput::Closed {
            captured: 1,
            refund: 9
        })
    );
    assert_eq!(s.phase(), Phase::Closed(CloseReason::Idle));
    assert_eq!(
        s.handle(SessionEvent::TopUp { amount: 5 }, UnixTime::from_secs(120)),
        Err(SessionError::Closed)
    );
}

#[test]
fn persisted_parts_that_break_an_invariant_are_refused() {
    let t = UnixTime::from_secs(0);
    let mut parts = Session::open(Funding::Vouchers, 100, t, 60)
        .unwrap()
        .parts();
    parts.spent = 1; // more than the (zero) authorised
    assert_eq!(Session::from_parts(parts), None);
    let mut parts = Session::open(Funding::Prepaid, 100, t, 60).unwrap().parts();
    parts.authorised = 50; // prepaid: the deposit authorises
    assert_eq!(Session::from_parts(parts), None);
    assert_eq!(
        Session::open(Funding::Prepaid, 0, t, 60),
        Err(SessionError::ZeroAmount)
    );
}
