//! Receipts on refusals.

use super::{Outcome, case, first_402};
use crate::suite::context::Ctx;
use crate::suite::{Case, Verdict};

const SECTION: &str = "Receipts";

/// The section's cases, in running order.
pub(super) const CASES: &[Case] = &[NO_RECEIPT_ON_402];

const NO_RECEIPT_ON_402: Case = case! {
    id: "receipt.not-on-errors",
    requirement: "core.receipt.not-on-error",
    level: MustNot,
    title: "a 402 carries no Payment-Receipt",
    run: no_receipt_on_402,
};
async fn no_receipt_on_402(ctx: &Ctx) -> Outcome {
    let e = first_402(ctx).await?;
    Ok(Verdict::check(
        !e.headers.contains_key("payment-receipt"),
        "no Payment-Receipt",
        e.describe(),
    ))
}
