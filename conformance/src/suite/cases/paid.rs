//! The paid path: a payment is granted, with a receipt, and privately cached.

use mpp_core::challenge::Challenge;
use mpp_core::credential::CredentialField;
use mpp_core::receipt::Receipt;

use super::{Outcome, cache_control_has, case, pay_once, payable, unpaid, unreachable};
use crate::suite::context::{Ctx, Exchange};
use crate::suite::{Case, Verdict};

const SECTION: &str = "Paid requests";

/// The section's cases, in running order.
pub(super) const CASES: &[Case] = &[
    PAID_GRANTED,
    PAID_RECEIPT,
    PAID_RECEIPT_VALID,
    PAID_PRIVATE,
    PAID_OTHER_FIELD,
];

const PAID_GRANTED: Case = case! {
    id: "paid.granted",
    requirement: "core.errors.granted",
    level: Must,
    pays: true,
    title: "a valid credential is served (2xx)",
    run: paid_granted,
};
async fn paid_granted(ctx: &Ctx) -> Outcome {
    let (_, _, e) = pay_once(ctx).await?;
    Ok(Verdict::check(e.status / 100 == 2, "2xx", e.describe()))
}

const PAID_RECEIPT: Case = case! {
    id: "paid.receipt",
    requirement: "core.receipt.on-success",
    level: Should,
    pays: true,
    title: "the paid response carries a Payment-Receipt",
    run: paid_receipt,
};
async fn paid_receipt(ctx: &Ctx) -> Outcome {
    let (_, e) = paid_response(ctx).await?;
    Ok(Verdict::check(
        e.headers.contains_key("payment-receipt"),
        "a Payment-Receipt",
        e.describe(),
    ))
}

const PAID_RECEIPT_VALID: Case = case! {
    id: "paid.receipt-valid",
    requirement: "core.receipt.status-success",
    level: Must,
    pays: true,
    title: "a Payment-Receipt is valid: status success, the method paid, an RFC 3339 timestamp",
    run: paid_receipt_valid,
};
async fn paid_receipt_valid(ctx: &Ctx) -> Outcome {
    let (c, e) = paid_response(ctx).await?;
    let Some(raw) = e.headers.get("payment-receipt") else {
        return Ok(Verdict::NotApplicable(
            "the paid response has no receipt".into(),
        ));
    };
    Ok(match Receipt::parse(raw.as_bytes()) {
        Ok(r) => Verdict::check(
            r.method == c.method,
            format!("a receipt for method {}", c.method),
            format!("a receipt for method {}", r.method),
        ),
        Err(err) => Verdict::fail("a valid receipt with status success", err.to_string()),
    })
}

const PAID_PRIVATE: Case = case! {
    id: "paid.cache-private",
    requirement: "core.caching.receipt-private",
    level: Must,
    pays: true,
    title: "a response carrying a receipt has Cache-Control: private",
    run: paid_private,
};
async fn paid_private(ctx: &Ctx) -> Outcome {
    let (_, e) = paid_response(ctx).await?;
    if !e.headers.contains_key("payment-receipt") {
        return Ok(Verdict::NotApplicable(format!(
            "the paid response has no receipt ({})",
            e.describe()
        )));
    }
    Ok(Verdict::check(
        cache_control_has(&e, &["private"]),
        "Cache-Control: private",
        e.describe(),
    ))
}

const PAID_OTHER_FIELD: Case = case! {
    id: "paid.other-field-not-shared",
    requirement: "core.caching.other-field",
    level: Must,
    pays: true,
    title: "a response to a credential in Payment-Authorization is private or no-store",
    run: paid_other_field,
};
async fn paid_other_field(ctx: &Ctx) -> Outcome {
    let c = payable(ctx).await?;
    if c.credential_field != CredentialField::PaymentAuthorization {
        return Ok(Verdict::NotApplicable(
            "the challenge selects Authorization".into(),
        ));
    }
    let credential = ctx.credential(&c).await.map_err(unpaid)?.to_header();
    Ok(match ctx.pay_with(&c, &credential).await {
        Ok(e) => Verdict::check(
            cache_control_has(&e, &["private", "no-store"]),
            "Cache-Control: private or no-store",
            e.describe(),
        ),
        Err(e) => unreachable(e),
    })
}

/// A paid response, or a verdict when paying did not succeed.
async fn paid_response(ctx: &Ctx) -> Result<(Challenge<'static>, Exchange), Verdict> {
    let (c, _, e) = pay_once(ctx).await?;
    if e.status / 100 != 2 {
        return Err(Verdict::NotApplicable(format!(
            "the payment was not accepted ({})",
            e.describe()
        )));
    }
    Ok((c, e))
}
