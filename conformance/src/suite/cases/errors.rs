//! Run last: error bodies and statuses, and what every 402 of the run showed.

use http::Method;

use super::{Outcome, case, first_402, unreachable};
use crate::suite::context::Ctx;
use crate::suite::{Case, Verdict};

const SECTION: &str = "Errors";

/// The section's cases, in running order.
pub(super) const CASES: &[Case] = &[
    PROBLEM_DETAILS,
    PROBLEM_TYPE,
    MISSING_NOT_402,
    EVERY_402_CHALLENGED,
];

const PROBLEM_DETAILS: Case = case! {
    id: "errors.problem-details",
    requirement: "core.errors.problem-details",
    level: Should,
    title: "a 402 body is an application/problem+json document",
    run: problem_details,
};
async fn problem_details(ctx: &Ctx) -> Outcome {
    let e = first_402(ctx).await?;
    let json = e.header("content-type").is_some_and(|t| {
        t.to_ascii_lowercase()
            .starts_with("application/problem+json")
    });
    Ok(Verdict::check(
        json && e.problem().is_some(),
        "Content-Type: application/problem+json and an RFC 9457 body",
        format!(
            "Content-Type {:?}, {}",
            e.header("content-type"),
            e.describe()
        ),
    ))
}

const PROBLEM_TYPE: Case = case! {
    id: "errors.problem-type",
    requirement: "core.errors.problem-type",
    level: Should,
    title: "its `type` is one of https://paymentauth.org/problems/",
    run: problem_type,
};
async fn problem_type(ctx: &Ctx) -> Outcome {
    let e = first_402(ctx).await?;
    Ok(match e.problem() {
        Some(p) => Verdict::check(
            e.problem_type().is_some(),
            "a type under https://paymentauth.org/problems/",
            p.type_uri,
        ),
        None => Verdict::NotApplicable("the 402 has no problem-details body".into()),
    })
}

const MISSING_NOT_402: Case = case! {
    id: "errors.missing-not-402",
    requirement: "core.errors.not-payment-barrier",
    level: ShouldNot,
    title: "a resource that does not exist is not answered 402",
    run: missing_not_402,
};
async fn missing_not_402(ctx: &Ctx) -> Verdict {
    let Ok(url) = ctx.target().join("/mpp-conformance-no-such-resource-7f3a") else {
        return Verdict::NotApplicable("cannot build a URL on the target's origin".into());
    };
    match ctx.send(Method::GET, &url, &[], None).await {
        Ok(e) => Verdict::check(e.status != 402, format!("not 402 for {url}"), e.describe()),
        Err(e) => unreachable(e),
    }
}

const EVERY_402_CHALLENGED: Case = case! {
    id: "errors.402-always-challenges",
    requirement: "core.errors.402.with-challenge",
    level: MustNot,
    title: "no 402 of this run went out without a Payment challenge",
    run: every_402_challenged,
};
async fn every_402_challenged(ctx: &Ctx) -> Verdict {
    let seen = ctx.bare_402s();
    Verdict::check(
        seen.is_empty(),
        "every 402 with a valid Payment challenge",
        format!("{} 402(s) without one: {}", seen.len(), seen.join("; ")),
    )
}
