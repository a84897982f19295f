//! A scripted session method for the tests: plain proofs, recorded refunds.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use mpp_core::intent::session::Funding;
use mpp_core::json::{JsonObject, Value};
use mpp_core::method::{
    BoxFuture, Charge, MethodError, Opened, Refund, SessionAction, SessionMethod,
};
use tokio::sync::Notify;

/// The price of a unit, and the deposit each open or top-up pays: three units.
pub(crate) const UNIT: u128 = 10;
pub(crate) const DEPOSIT: u128 = 30;

/// A session method whose proofs are plain: the payload's `key` owns session
/// `s-<key>`; a deposit pays the terms' `deposit`. It records refunds and counts
/// the deposits it verified.
#[derive(Debug)]
pub(crate) struct Toy {
    name: &'static str,
    pub(crate) refunds: Mutex<Vec<(String, u128)>>,
    pub(crate) deposits: AtomicUsize,
    /// When set, a top-up's verification says it started, then waits for the
    /// second notification.
    top_up_gate: Mutex<Option<(Arc<Notify>, Arc<Notify>)>>,
}

impl Default for Toy {
    fn default() -> Toy {
        Toy::named("toy")
    }
}

impl Toy {
    pub(crate) fn named(name: &'static str) -> Toy {
        Toy {
            name,
            refunds: Mutex::default(),
            deposits: AtomicUsize::default(),
            top_up_gate: Mutex::default(),
        }
    }

    /// Holds the next top-up's verification: the first notification fires once it
    /// started; it goes on after the second is notified.
    pub(crate) fn hold_top_up(&self) -> (Arc<Notify>, Arc<Notify>) {
        let gate = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        *self.top_up_gate.lock().unwrap() = Some(gate.clone());
        gate
    }
}

fn text<'a>(payload: &'a JsonObject, name: &str) -> Result<&'a str, MethodError> {
    payload
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| MethodError::InvalidPayload(format!("`{name}` is required")))
}

fn session_of(payload: &JsonObject) -> Result<String, MethodError> {
    text(payload, "sessionId").map(str::to_string)
}

impl SessionMethod for Toy {
    fn name(&self) -> &str {
        self.name
    }

    fn action(&self, payload: &JsonObject) -> Result<SessionAction, MethodError> {
        Ok(match text(payload, "action")? {
            "open" => SessionAction::Open,
            "use" => SessionAction::Use {
                session: session_of(payload)?,
            },
            "topUp" => SessionAction::TopUp {
                session: session_of(payload)?,
            },
            "voucher" => SessionAction::Voucher {
                session: session_of(payload)?,
                cumulative: text(payload, "cumulative")?
                    .parse()
                    .map_err(|_| MethodError::InvalidPayload("bad cumulative".into()))?,
            },
            "close" => SessionAction::Close {
                session: session_of(payload)?,
            },
            _ => return Err(MethodError::InvalidPayload("unknown action".into())),
        })
    }

    fn open<'a>(&'a self, charge: Charge<'a>) -> BoxFuture<'a, Result<Opened, MethodError>> {
        Box::pin(async move {
            let key = text(charge.payload, "key")?;
            self.deposits.fetch_add(1, Ordering::SeqCst);
            let vouchers = charge.payload.get("vouchers") == Some(&Value::Bool(true));
            Ok(Opened {
                session: format!("s-{key}"),
                funding: if vouchers {
                    Funding::Vouchers
                } else {
                    Funding::Prepaid
                },
                deposit: deposit_of(charge.request),
                refund_to: text(charge.payload, "refundTo").unwrap_or("wallet").into(),
            })
        })
    }

    fn top_up<'a>(&'a self, charge: Charge<'a>) -> BoxFuture<'a, Result<u128, MethodError>> {
        Box::pin(async move {
            let gate = self.top_up_gate.lock().unwrap().take();
            if let Some((started, go_on)) = gate {
                started.notify_one();
                go_on.notified().await;
            }
            self.deposits.fetch_add(1, Ordering::SeqCst);
            Ok(deposit_of(charge.request))
        })
    }

    fn owns(&self, session: &str, payload: &JsonObject) -> bool {
        text(payload, "key").is_ok_and(|key| session == format!("s-{key}"))
    }

    fn refund<'a>(&'a self, refund_to: &'a str, amount: u128) -> BoxFuture<'a, Refund> {
        Box::pin(async move {
            if refund_to == "unpayable" {
                return Refund::Failed("no route to the refund address".into());
            }
            self.refunds
                .lock()
                .unwrap()
                .push((refund_to.to_string(), amount));
            Refund::Succeeded
        })
    }
}

pub(crate) fn deposit_of(request: &JsonObject) -> u128 {
    request["deposit"].as_str().unwrap().parse().unwrap()
}

pub(crate) fn terms() -> JsonObject {
    terms_in("usd")
}

pub(crate) fn terms_in(currency: &str) -> JsonObject {
    let mut request = JsonObject::new();
    request.insert("amount".into(), UNIT.to_string().into());
    request.insert("currency".into(), currency.into());
    request.insert("deposit".into(), DEPOSIT.to_string().into());
    request
}

pub(crate) fn payload(action: &str, key: &str) -> JsonObject {
    let mut payload = JsonObject::new();
    payload.insert("action".into(), action.into());
    payload.insert("key".into(), key.into());
    if action != "open" {
        payload.insert("sessionId".into(), format!("s-{key}").into());
    }
    payload
}
