//! Replay: a credential pays once, even when sent concurrently.

use mpp_core::problem::ProblemType;

use super::{Outcome, case, pay_once, payable, refused_as, unpaid, unreachable};
use crate::suite::context::{Ctx, Exchange};
use crate::suite::{Case, Verdict};

const SECTION: &str = "Replay";

/// The section's cases, in running order.
pub(super) const CASES: &[Case] = &[PAID_REPLAY, REPLAY_PROBLEM, PAID_CONCURRENT];

const PAID_REPLAY: Case = case! {
    id: "replay.refused",
    requirement: "core.replay.single-use-proof",
    level: Must,
    pays: true,
    title: "a credential used once is refused the second time",
    run: paid_replay,
};
async fn paid_replay(ctx: &Ctx) -> Outcome {
    let e = replayed(ctx).await?;
    Ok(Verdict::check(
        e.status / 100 != 2 && !e.headers.contains_key("payment-receipt"),
        "the second use refused, without a receipt",
        e.describe(),
    ))
}

const REPLAY_PROBLEM: Case = case! {
    id: "replay.invalid-challenge",
    requirement: "core.errors.invalid-challenge",
    level: Must,
    pays: true,
    title: "the refusal of a used credential is 402 with a fresh challenge and invalid-challenge",
    run: replay_problem,
};
async fn replay_problem(ctx: &Ctx) -> Outcome {
    let e = replayed(ctx).await?;
    Ok(refused_as(&e, ProblemType::InvalidChallenge))
}

const PAID_CONCURRENT: Case = case! {
    id: "replay.concurrent-once",
    requirement: "core.concurrency.once",
    level: Must,
    pays: true,
    title: "twenty simultaneous requests with one credential are served once",
    run: paid_concurrent,
};
async fn paid_concurrent(ctx: &Ctx) -> Outcome {
    let c = payable(ctx).await?;
    let credential = ctx.credential(&c).await.map_err(unpaid)?.to_header();
    let field = Ctx::field(&c);
    let headers = [(field, credential.as_str())];
    let sends = (0..20).map(|_| ctx.get(&headers));
    let results = futures_join_all(sends).await;
    let served = results
        .iter()
        .filter(|r| r.as_ref().is_ok_and(|e| e.status / 100 == 2))
        .count();
    let errors: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    if !errors.is_empty() {
        return Ok(unreachable(errors[0].clone()));
    }
    Ok(Verdict::check(
        served == 1,
        "exactly one request served",
        format!("{served} of 20 served"),
    ))
}

/// Pays, then sends the same credential again; the second answer.
async fn replayed(ctx: &Ctx) -> Result<Exchange, Verdict> {
    let (c, credential, first) = pay_once(ctx).await?;
    if first.status / 100 != 2 {
        return Err(Verdict::NotApplicable(format!(
            "the first payment failed ({})",
            first.describe()
        )));
    }
    ctx.pay_with(&c, &credential).await.map_err(unreachable)
}

/// Runs futures concurrently (every request starts before any is awaited) and
/// collects their outputs in order.
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut pending: Vec<_> = futures.map(|f| Some(Box::pin(f))).collect();
    let mut results: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (slot, result) in pending.iter_mut().zip(results.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        *result = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    results.into_iter().flatten().collect()
}
