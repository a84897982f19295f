//! Where the paywall reads the time: the system clock, or one a test controls.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use mpp_core::time::UnixTime;

/// Where the paywall reads the time.
pub type Clock = Arc<dyn Fn() -> UnixTime + Send + Sync>;

/// The system clock.
pub fn system_clock() -> UnixTime {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    UnixTime::new(
        i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        since.subsec_nanos(),
    )
    .unwrap_or(UnixTime::from_secs(0))
}
