//! Intent state machines: what one challenge (charge) or one session (session) may
//! go through, as explicit states and events, without I/O. A server persists the
//! state and applies each event atomically; the machines decide.

pub mod charge;
pub mod session;
