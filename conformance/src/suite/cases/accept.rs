//! Accept-Payment: what the client's ranges exclude and how they order the offers.

use super::{Outcome, case, first_402, unreachable};
use crate::suite::context::Ctx;
use crate::suite::{Case, Verdict};

const SECTION: &str = "Accept-Payment";

/// The section's cases, in running order.
pub(super) const CASES: &[Case] = &[ACCEPT_Q0, ACCEPT_ORDER];

const ACCEPT_Q0: Case = case! {
    id: "accept.q0-excludes",
    requirement: "core.accept-payment.filter",
    level: Should,
    title: "a method given q=0 is not offered",
    run: accept_q0,
};
async fn accept_q0(ctx: &Ctx) -> Outcome {
    let (first, _) = two_methods(ctx).await?;
    let header = format!("{first}/*;q=0, */*");
    let offered = offered_methods(ctx, &header).await?;
    Ok(Verdict::check(
        !offered.contains(&first) && !offered.is_empty(),
        format!("no {first} challenge for Accept-Payment: {header}"),
        format!("offered {offered:?}"),
    ))
}

const ACCEPT_ORDER: Case = case! {
    id: "accept.order",
    requirement: "core.accept-payment.order",
    level: Should,
    title: "challenges come in the client's order of preference",
    run: accept_order,
};
async fn accept_order(ctx: &Ctx) -> Outcome {
    let (first, second) = two_methods(ctx).await?;
    let header = format!("{second}/*, {first}/*;q=0.5");
    let offered = offered_methods(ctx, &header).await?;
    Ok(Verdict::check(
        offered.first() == Some(&second),
        format!("{second} first for Accept-Payment: {header}"),
        format!("offered {offered:?}"),
    ))
}

/// The two first distinct methods offered, if there are two.
async fn two_methods(ctx: &Ctx) -> Result<(String, String), Verdict> {
    let e = first_402(ctx).await?;
    let mut methods: Vec<String> = Vec::new();
    for c in e.valid_challenges() {
        if !methods.contains(&c.method.to_string()) {
            methods.push(c.method.to_string());
        }
    }
    match methods.as_slice() {
        [a, b, ..] => Ok((a.clone(), b.clone())),
        _ => Err(Verdict::NotApplicable(
            "the target offers one method only".into(),
        )),
    }
}

/// The methods of the valid challenges a 402 offers when asked with this
/// `Accept-Payment`, in the server's order.
async fn offered_methods(ctx: &Ctx, accept_payment: &str) -> Result<Vec<String>, Verdict> {
    let e = ctx
        .get(&[("accept-payment", accept_payment)])
        .await
        .map_err(unreachable)?;
    Ok(e.valid_challenges()
        .iter()
        .map(|c| c.method.to_string())
        .collect())
}
