//! Caching of the 402.

use super::{Outcome, cache_control_has, case, first_402};
use crate::suite::context::Ctx;
use crate::suite::{Case, Verdict};

const SECTION: &str = "Caching";

/// The section's cases, in running order.
pub(super) const CASES: &[Case] = &[NO_STORE];

const NO_STORE: Case = case! {
    id: "caching.402-no-store",
    requirement: "core.caching.402-no-store",
    level: Must,
    title: "a 402 carries Cache-Control: no-store",
    run: no_store,
};
async fn no_store(ctx: &Ctx) -> Outcome {
    let e = first_402(ctx).await?;
    Ok(Verdict::check(
        cache_control_has(&e, &["no-store"]),
        "Cache-Control: no-store",
        e.describe(),
    ))
}
