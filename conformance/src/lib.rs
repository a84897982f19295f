//! Conformance tooling for the Payment HTTP authentication scheme: the cross-SDK adapter, the language-neutral vectors and their runner (`mpp-conformance vectors`), header explanations (`mpp-conformance explain`, over `mpp_client::explain`), the black-box server suite (`mpp-conformance server`; with the `embedded` feature, `server --embedded` runs it against the reference server in-process), and its JSON-RPC/MCP counterpart (`mpp-conformance mcp`).

pub mod adapter;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod mcp;
mod status;
pub mod suite;
pub mod vectors;

pub use status::Status;
