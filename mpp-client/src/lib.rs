//! A paying HTTP client over mpp-core's client engine, and the `mpp` CLI (filled by the mpp-client issue).
