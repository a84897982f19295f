//! Conformance tooling for the Payment HTTP authentication scheme: the cross-SDK adapter, the language-neutral vectors and their runner (`mpp-conformance vectors`), header explanations (`mpp-conformance explain`, over `mpp_client::explain`), and the black-box server suite (`mpp-conformance server`; with the `embedded` feature, `server --embedded` runs it against the reference server in-process).

pub mod adapter;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod suite;
pub mod vectors;

/// The system clock, for the tools that run against the real world.
pub fn system_now() -> mpp_core::time::UnixTime {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    mpp_core::time::UnixTime::from_secs(i64::try_from(secs).unwrap_or(i64::MAX))
}
