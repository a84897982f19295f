//! The steps of one payment that every paying client here takes, whatever carries
//! its challenges and credentials (HTTP fields, JSON-RPC `_meta`): the wallet
//! chooses under its spending policy, the method pays, and what was reserved goes
//! back to the budget unless money may have moved.

use std::time::SystemTime;

use mpp_core::client::{Choice, Declined, Origin, PayError, Payment, Wallet};
use mpp_core::time::UnixTime;
use tokio::sync::Mutex;

/// The wallet's choice by `choose` (which reserves its cost), logged when it
/// declines; `origin` only names where the challenges came from in the log.
pub(crate) async fn choose(
    wallet: &Mutex<Wallet>,
    origin: &Origin,
    choose: impl FnOnce(&mut Wallet) -> Result<Choice, Declined>,
) -> Result<Choice, Declined> {
    let chosen = choose(&mut *wallet.lock().await);
    if let Err(refusal) = &chosen {
        tracing::info!(target: "mpp::client", origin = %origin, "payment refused: {refusal}");
    }
    chosen
}

/// Has the method of `choice` pay it (as a top-up of its session, with `top_up`).
/// When it fails, the reservation goes back to the wallet, except after
/// [`PayError::OutcomeUnknown`]: money that may have moved stays counted.
pub(crate) async fn pay(
    wallet: &Mutex<Wallet>,
    choice: &Choice,
    top_up: bool,
) -> Result<Payment, PayError> {
    let paid = pay_with_method(wallet, choice, top_up).await;
    if let Err(e) = &paid {
        if !matches!(e, PayError::OutcomeUnknown(_)) {
            wallet.lock().await.release(choice);
        }
    }
    paid
}

async fn pay_with_method(
    wallet: &Mutex<Wallet>,
    choice: &Choice,
    top_up: bool,
) -> Result<Payment, PayError> {
    // The wallet is not locked while a (possibly slow) method pays.
    let method = wallet
        .lock()
        .await
        .methods()
        .get(choice.method)
        .cloned()
        .ok_or_else(|| PayError::NotApplicable("the method is no longer registered".into()))?;
    if !top_up {
        return method.pay(choice).await;
    }
    match method.top_up(choice) {
        Some(paying) => paying.await,
        None => Err(PayError::NotApplicable(format!(
            "no session is open at {} to top up",
            choice.origin
        ))),
    }
}

/// Now, for the wallet's expiry checks.
pub(crate) fn now() -> UnixTime {
    UnixTime::from(SystemTime::now())
}
