//! Helpers for tests that run the reference server as a real process: starting it,
//! and a minimal HTTP client.

pub mod http;
pub mod server;
