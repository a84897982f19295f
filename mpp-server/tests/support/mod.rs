//! Helpers for tests that run real processes: the reference server, redis-server,
//! and a minimal HTTP client.

pub mod http;
pub mod redis;
pub mod server;
