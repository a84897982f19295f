//! A tower/axum paywall over mpp-core's server engine (filled by the mpp-server issue).
