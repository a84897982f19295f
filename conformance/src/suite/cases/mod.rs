//! The cases, one file per section. Each case is an `async fn(&Ctx)` with its id,
//! requirement and level declared beside it ([`case!`]); [`all`] lists the sections
//! in running order.

mod accept;
mod binding;
mod caching;
mod challenge;
mod credential;
mod digest;
mod errors;
mod paid;
mod receipt;
mod replay;
mod security;

use mpp_core::challenge::Challenge;
use mpp_core::credential::Credential;
use mpp_core::problem::ProblemType;
use mpp_core::value::Base64Json;

use super::context::{Ctx, Exchange};
use super::{Case, Verdict};

/// Declares a case beside its body: its id, the requirement it checks and that
/// requirement's level (a [`spec::Level`] variant: `Must`, `MustNot`, `Should`,
/// `ShouldNot`), `pays: true` when it needs a payment, its title, and `run`, the
/// body. The section is the `SECTION` of the file the case is declared in.
macro_rules! case {
    (
        id: $id:literal,
        requirement: $requirement:literal,
        level: $level:ident,
        $(pays: $pays:literal,)?
        title: $title:literal,
        run: $run:ident $(,)?
    ) => {
        $crate::suite::Case {
            id: $id,
            section: SECTION,
            requirement: $requirement,
            level: spec::Level::$level,
            pays: case!(@pays $($pays)?),
            title: $title,
            run: |ctx| Box::pin(async move { $crate::suite::cases::Finish::verdict($run(ctx).await) }),
        }
    };
    (@pays) => { false };
    (@pays $pays:literal) => { $pays };
}
use case;

/// What a case body that can stop early returns: `Err` holds the verdict it stopped
/// with (through `?`), `Ok` the one it reached at the end.
type Outcome = Result<Verdict, Verdict>;

impl Verdict {
    /// `Ok(())` on a pass; otherwise the verdict, for `?` to return.
    fn passed(self) -> Result<(), Verdict> {
        match self {
            Verdict::Pass => Ok(()),
            other => Err(other),
        }
    }
}

/// What a case body returns: a [`Verdict`] or an [`Outcome`].
trait Finish {
    fn verdict(self) -> Verdict;
}

impl Finish for Verdict {
    fn verdict(self) -> Verdict {
        self
    }
}

impl Finish for Outcome {
    fn verdict(self) -> Verdict {
        self.unwrap_or_else(|early| early)
    }
}

/// Every case, in running order.
pub(super) fn all() -> Vec<Case> {
    [
        challenge::CASES,
        caching::CASES,
        receipt::CASES,
        credential::CASES,
        binding::CASES,
        accept::CASES,
        paid::CASES,
        replay::CASES,
        digest::CASES,
        security::CASES,
        errors::CASES,
    ]
    .concat()
}

fn unreachable(e: String) -> Verdict {
    Verdict::fail("the server to answer", e)
}

/// The suite's payer could not pay the server's challenge (its terms, or the chain).
fn unpaid(e: String) -> Verdict {
    Verdict::fail("the suite to pay the challenge", e)
}

/// Checks what every refusal must be: 402 with a fresh valid challenge and no receipt.
fn refused(exchange: &Exchange) -> Verdict {
    let fresh = !exchange.valid_challenges().is_empty();
    Verdict::check(
        exchange.status == 402 && fresh && !exchange.headers.contains_key("payment-receipt"),
        "402 with a fresh Payment challenge and no Payment-Receipt",
        exchange.describe(),
    )
}

/// A refusal ([`refused`]) with this problem type.
fn refused_as(exchange: &Exchange, problem: ProblemType) -> Verdict {
    let verdict = refused(exchange);
    if verdict != Verdict::Pass {
        return verdict;
    }
    Verdict::check(
        exchange.problem_type() == Some(problem),
        format!(
            "402 with a fresh challenge and problem type {}",
            problem.uri()
        ),
        exchange.describe(),
    )
}

/// A refusal of a tampered echo: conclusive when the proof was valid (then any
/// refusal shows the tampering was caught); without a valid proof only an
/// `invalid-challenge` (or `payment-expired`) shows it.
fn refused_tampered(ctx: &Ctx, challenge: &Challenge<'_>, exchange: &Exchange) -> Verdict {
    if exchange.status / 100 == 2 {
        return Verdict::fail("the tampered echo to be refused", exchange.describe());
    }
    let verdict = refused(exchange);
    if verdict != Verdict::Pass || ctx.can_pay(challenge) {
        return verdict;
    }
    match exchange.problem_type() {
        Some(ProblemType::InvalidChallenge | ProblemType::PaymentExpired) => Verdict::Pass,
        _ => Verdict::NotApplicable(format!(
            "refused ({}), but without a valid proof the reason is unclear; run with --pay",
            exchange.describe()
        )),
    }
}

async fn first_402(ctx: &Ctx) -> Result<Exchange, Verdict> {
    let exchange = ctx.get(&[]).await.map_err(unreachable)?;
    if exchange.status != 402 {
        return Err(Verdict::NotApplicable(format!(
            "the target did not answer 402 ({})",
            exchange.describe()
        )));
    }
    Ok(exchange)
}

async fn challenge(ctx: &Ctx) -> Result<Challenge<'static>, Verdict> {
    ctx.fresh_challenge()
        .await
        .map_err(|e| Verdict::NotApplicable(format!("no fresh challenge: {e}")))
}

/// Sends the echo of `challenge` after `edit`, with the suite's payload.
async fn send_edited(
    ctx: &Ctx,
    challenge: &Challenge<'static>,
    edit: impl FnOnce(&mut Credential),
) -> Result<Exchange, Verdict> {
    let mut credential = ctx.credential(challenge).await.map_err(unpaid)?;
    edit(&mut credential);
    ctx.pay_with(challenge, &credential.to_header())
        .await
        .map_err(unreachable)
}

fn edit_request(credential: &mut Credential, f: impl FnOnce(&mut mpp_core::json::JsonObject)) {
    if let Ok(mut request) = credential.challenge.request.decode() {
        f(&mut request);
        credential.challenge.request = Base64Json::encode(&request);
    }
}

fn cache_control_has(e: &Exchange, any_of: &[&str]) -> bool {
    e.headers
        .get_all("cache-control")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|d| {
            any_of
                .iter()
                .any(|want| d.trim().eq_ignore_ascii_case(want))
        })
}

async fn payable(ctx: &Ctx) -> Result<Challenge<'static>, Verdict> {
    let c = challenge(ctx).await?;
    if ctx.can_pay(&c) {
        Ok(c)
    } else {
        Err(Verdict::NotApplicable(format!(
            "the target offers no challenge the suite can pay (first: {})",
            c.method
        )))
    }
}

async fn pay_once(ctx: &Ctx) -> Result<(Challenge<'static>, String, Exchange), Verdict> {
    let c = payable(ctx).await?;
    let credential = ctx.credential(&c).await.map_err(unpaid)?.to_header();
    let e = ctx.pay_with(&c, &credential).await.map_err(unreachable)?;
    Ok((c, credential, e))
}
