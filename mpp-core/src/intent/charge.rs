//! The charge intent, per challenge id: issued → claimed → settled, or failed, or
//! expired.
//!
//! The machine is the single-use rule of decision D9 made explicit. A credential whose
//! echo passed the binding and route checks *presents* itself; the first one before
//! `expires` claims the id and may go on to verify and settle; every later one is
//! refused, whether the first succeeded or failed. A server keeps this state in its
//! store (an atomic put-if-absent is the `Issued` → `Claimed` transition), so the
//! machine is what the store's records mean, not a second copy of them.
//!
//! ```
//! use mpp_core::intent::charge::{ChargeEvent, ChargeOutput, ChargeState};
//! use mpp_core::problem::ProblemType;
//! use mpp_core::time::UnixTime;
//!
//! let expires = UnixTime::from_secs(1_000);
//! let mut id = ChargeState::issued(expires);
//! let now = UnixTime::from_secs(900);
//! assert_eq!(id.handle(ChargeEvent::Present, now), Ok(ChargeOutput::Verify));
//! // A duplicate while the first is settling, and after it settled.
//! let refused = Ok(ChargeOutput::Refuse(ProblemType::InvalidChallenge));
//! assert_eq!(id.handle(ChargeEvent::Present, now), refused);
//! assert_eq!(id.handle(ChargeEvent::Settled, now), Ok(ChargeOutput::Grant));
//! assert_eq!(id.handle(ChargeEvent::Present, now), refused);
//! ```

use core::fmt;

use crate::problem::ProblemType;
use crate::time::UnixTime;

/// Where one challenge id stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeState {
    /// Issued, payable until `expires`.
    Issued {
        /// When it stops being payable.
        expires: UnixTime,
    },
    /// A credential holds the claim: its proof is being verified and settled.
    Claimed,
    /// Paid: the resource is granted to the credential that claimed the id.
    Settled,
    /// The claiming credential's proof or settlement failed; the id stays used.
    Failed(ProblemType),
    /// Expired before any credential claimed it.
    Expired,
}

/// What happens to a challenge id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeEvent {
    /// A credential for this id arrives (its echo already checked).
    Present,
    /// The method verified the claiming credential's proof and settled it.
    Settled,
    /// The method refused the claiming credential's proof, or settlement failed,
    /// with this problem type.
    Failed(ProblemType),
    /// A clock tick: an unclaimed id whose `expires` has passed becomes `Expired`.
    Tick,
}

/// What the server does after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeOutput {
    /// The credential holds the claim: verify its proof and settle.
    Verify,
    /// Serve the resource, with a receipt.
    Grant,
    /// Refuse the credential with this problem type.
    Refuse(ProblemType),
    /// Nothing to do (a tick that changed nothing, or expired the id).
    None,
}

/// An event that cannot happen in a state: a settlement reported for an id nobody
/// claimed, or reported twice. It reveals a bug in the caller, so the state is left
/// unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidTransition {
    /// The state the event was given in.
    pub state: ChargeState,
    /// The event.
    pub event: ChargeEvent,
}

impl fmt::Display for InvalidTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "charge: {:?} cannot happen in {:?}",
            self.event, self.state
        )
    }
}

impl core::error::Error for InvalidTransition {}

impl ChargeState {
    /// A challenge just issued, payable until `expires` (D8: expired when
    /// `now >= expires`).
    pub const fn issued(expires: UnixTime) -> ChargeState {
        ChargeState::Issued { expires }
    }

    /// Whether the id can never be paid again.
    pub const fn is_terminal(&self) -> bool {
        matches!(
            self,
            ChargeState::Settled | ChargeState::Failed(_) | ChargeState::Expired
        )
    }

    /// Applies `event` at `now` and says what to do.
    pub fn handle(
        &mut self,
        event: ChargeEvent,
        now: UnixTime,
    ) -> Result<ChargeOutput, InvalidTransition> {
        let (next, output) = match (*self, event) {
            (ChargeState::Issued { expires }, ChargeEvent::Present) if now >= expires => (
                ChargeState::Expired,
                ChargeOutput::Refuse(ProblemType::PaymentExpired),
            ),
            (ChargeState::Issued { .. }, ChargeEvent::Present) => {
                (ChargeState::Claimed, ChargeOutput::Verify)
            }
            (ChargeState::Issued { expires }, ChargeEvent::Tick) if now >= expires => {
                (ChargeState::Expired, ChargeOutput::None)
            }
            (state, ChargeEvent::Tick) => (state, ChargeOutput::None),
            // Used ids: a duplicate of the claiming credential, a replay, or another
            // credential for the same id. The claim is never handed over (D9).
            (
                state @ (ChargeState::Claimed | ChargeState::Settled | ChargeState::Failed(_)),
                ChargeEvent::Present,
            ) => (state, ChargeOutput::Refuse(ProblemType::InvalidChallenge)),
            (ChargeState::Expired, ChargeEvent::Present) => (
                ChargeState::Expired,
                ChargeOutput::Refuse(ProblemType::PaymentExpired),
            ),
            // A settlement that began before `expires` is honoured after it: the
            // claim was taken in time.
            (ChargeState::Claimed, ChargeEvent::Settled) => {
                (ChargeState::Settled, ChargeOutput::Grant)
            }
            (ChargeState::Claimed, ChargeEvent::Failed(problem)) => {
                (ChargeState::Failed(problem), ChargeOutput::Refuse(problem))
            }
            (state, event @ (ChargeEvent::Settled | ChargeEvent::Failed(_))) => {
                return Err(InvalidTransition { state, event });
            }
        };
        *self = next;
        Ok(output)
    }
}
