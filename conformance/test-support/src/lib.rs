//! Helpers the workspace's tests share: servers run as child processes and found by
//! the `listening on URL` line they print ([`process`]), the mppx interop harness
//! ([`mppx`]), a throwaway `redis-server` ([`redis`]) and PostgreSQL cluster
//! ([`postgres`]), the check of a crate's module layers ([`layering`]),
//! property-test strategies for JSON
//! ([`strategies`]), a real Tempo chain on loopback ([`tempo`]), and stand-ins of
//! Stripe's API ([`stripe`]) and of LND's and Core Lightning's REST APIs ([`lnd`],
//! [`cln`], sharing [`lightning`]).
//!
//! These are test fixtures: they panic, with what went wrong, when the process they
//! drive does not behave.

pub mod cln;
pub mod layering;
pub mod lightning;
pub mod lnd;
pub mod mppx;
pub mod postgres;
pub mod process;
pub mod redis;
pub mod strategies;
pub mod stripe;
pub mod tempo;

/// Whether the tests run under CI (`CI` set): there, a test whose tooling is
/// missing fails rather than skipping.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some()
}
