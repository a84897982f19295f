//! The client engine: choosing what to pay, under a spending policy (no I/O).

use std::time::{Duration, Instant};

use mpp_core::binding::{ChallengeBinder, Secret};
use mpp_core::challenge::ChallengeBuilder;
use mpp_core::client::{
    Choice, Origin, PayError, PayMethod, Payment, PolicyError, Skipped, SpendingPolicy, Wallet,
};
use mpp_core::credential::{Credential, CredentialField};
use mpp_core::json::JsonObject;
use mpp_core::method::BoxFuture;
use mpp_core::time::{Timestamp, UnixTime};
use serde_json::json;

const NOW: i64 = 1_800_000_000;

struct Fake(&'static str);

impl PayMethod for Fake {
    fn name(&self) -> &str {
        self.0
    }

    fn pay<'a>(&'a self, _: &'a Choice) -> BoxFuture<'a, Result<Payment, PayError>> {
        let mut payload = JsonObject::new();
        payload.insert("proof".into(), self.0.into());
        Box::pin(std::future::ready(Ok(Payment {
            payload,
            source: None,
        })))
    }
}

fn binder() -> ChallengeBinder {
    ChallengeBinder::new(Secret::new([3u8; 32]).unwrap())
}

/// A challenge header for `method` at `amount currency`, expiring in `ttl` seconds.
fn offer(method: &str, amount: &str, currency: &str, ttl: i64) -> String {
    let request = json!({"amount": amount, "currency": currency, "recipient": "acct_1"});
    let expires = Timestamp::from_unix(UnixTime::from_secs(NOW + ttl)).unwrap();
    ChallengeBuilder::new(
        "api.example.com",
        method,
        "charge",
        request.as_object().unwrap(),
    )
    .unwrap()
    .expires(expires)
    .issue(&binder())
    .unwrap()
    .to_header()
    .unwrap()
}

fn policy() -> SpendingPolicy {
    SpendingPolicy {
        max_per_request: vec![("usd".into(), 1000), ("eur".into(), 50)],
        ..SpendingPolicy::default()
    }
}

fn wallet(policy: SpendingPolicy) -> Wallet {
    Wallet::new(policy)
        .with_method(std::sync::Arc::new(Fake("tempo")), 1000)
        .with_method(std::sync::Arc::new(Fake("stripe")), 500)
}

fn https() -> Origin {
    Origin::new("https", "api.example.com", 443)
}

fn now() -> UnixTime {
    UnixTime::from_secs(NOW)
}

#[test]
fn the_preferred_payable_challenge_wins_and_malformed_ones_are_passed_over() {
    // req: core.challenge.id.echo core.credential.field.authorization core.challenge.select-one
    let lines = [
        format!(
            r#"Bearer realm="x", Payment id="a" realm="r", {}"#,
            offer("stripe", "5", "usd", 60)
        ),
        offer("tempo", "1000", "usd", 60),
    ];
    let mut w = wallet(policy());
    let choice = w.choose(&lines, &https(), now()).unwrap();
    assert_eq!(choice.challenge.method, "tempo", "preferred by weight");
    assert_eq!((choice.amount, choice.currency.as_str()), (1000, "usd"));
    assert_eq!(w.spent(), [("usd".to_string(), 1000)], "reserved at once");
    // The credential echoes the challenge and goes in the field it selects.
    let credential = Credential::parse(
        choice
            .credential(Payment {
                payload: JsonObject::new(),
                source: None,
            })
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(credential.challenge.id, choice.challenge.id);
    assert_eq!(choice.field(), CredentialField::Authorization);
}

#[test]
fn a_challenge_of_several_kilobytes_is_chosen_with_the_default_limits() {
    // req: core.size.client-challenge
    // A 6 KiB challenge: a long description and bulky request terms, well inside the
    // default limits (D11: 64 KiB per field, 16 KiB of decoded request).
    let request = json!({
        "amount": "1000",
        "currency": "usd",
        "recipient": "acct_1",
        "methodDetails": {"memo": "m".repeat(3000)},
    });
    let expires = Timestamp::from_unix(UnixTime::from_secs(NOW + 60)).unwrap();
    let header = ChallengeBuilder::new(
        "api.example.com",
        "tempo",
        "charge",
        request.as_object().unwrap(),
    )
    .unwrap()
    .expires(expires)
    .description("d".repeat(1500))
    .issue(&binder())
    .unwrap()
    .to_header()
    .unwrap();
    assert!((4096..8192).contains(&header.len()), "{}", header.len());
    let mut w = wallet(policy());
    let choice = w.choose(&[header], &https(), now()).unwrap();
    assert_eq!(choice.challenge.method, "tempo");
    assert_eq!(choice.amount, 1000);
}

#[test]
fn a_challenge_payable_for_too_long_is_refused_unless_the_policy_allows_it() {
    // req: core.security.client.validity
    let far = offer("tempo", "10", "usd", 10 * 365 * 86_400);
    let mut w = wallet(policy());
    let refusal = w
        .choose(std::slice::from_ref(&far), &https(), now())
        .unwrap_err();
    assert!(
        matches!(
            refusal.passed[0].reason,
            Skipped::Policy(PolicyError::ValidityTooLong { max: 3600, .. })
        ),
        "{refusal:?}"
    );
    // Just inside the default, and a policy that accepts longer.
    let hour = offer("tempo", "10", "usd", 3600);
    assert!(w.choose(&[hour], &https(), now()).is_ok());
    let mut patient = wallet(SpendingPolicy {
        max_validity_secs: Some(20 * 365 * 86_400),
        ..policy()
    });
    assert!(patient.choose(&[far], &https(), now()).is_ok());
}

#[test]
fn challenges_that_cannot_be_answered_are_skipped_with_a_reason() {
    // req: core.challenge.expires.client-honours core.challenge.header.unrecognised
    // req: core.challenge.intent.unknown core.security.client.validity
    let with_header =
        offer("tempo", "1", "usd", 60).replace("request=", r#"header="Cookie", request="#);
    let no_expiry = {
        let request = json!({"amount": "1", "currency": "usd"});
        ChallengeBuilder::new("r", "tempo", "charge", request.as_object().unwrap())
            .unwrap()
            .issue(&binder())
            .unwrap()
            .to_header()
            .unwrap()
    };
    let session =
        offer("tempo", "1", "usd", 60).replace(r#"intent="charge""#, r#"intent="session""#);
    let lines = [
        offer("lightning", "1", "usd", 60),
        session,
        offer("tempo", "1", "usd", -1),
        no_expiry,
        with_header,
        offer("tempo", "abc", "usd", 60),
    ];
    let refusal = wallet(policy())
        .choose(&lines, &https(), now())
        .unwrap_err();
    let reasons: Vec<_> = refusal.passed.iter().map(|p| p.reason.clone()).collect();
    assert!(matches!(reasons[0], Skipped::UnknownMethod(ref m) if m == "lightning"));
    assert!(matches!(reasons[1], Skipped::UnknownIntent(ref i) if i == "session"));
    assert_eq!(reasons[2], Skipped::Expired);
    assert_eq!(reasons[3], Skipped::Expired, "no expires: never paid");
    assert!(
        matches!(reasons[4], Skipped::Malformed(_)),
        "an unrecognised header"
    );
    assert!(matches!(reasons[5], Skipped::UnreadableTerms(_)));
    assert!(!refusal.by_policy());
}

#[test]
fn the_policy_caps_each_request_and_the_next_offer_may_still_be_paid() {
    // req: core.security.client.amount core.security.client.currency
    let lines = [
        offer("tempo", "1001", "usd", 60),
        offer("stripe", "50", "EUR", 60),
    ];
    let mut w = wallet(policy());
    let choice = w.choose(&lines, &https(), now()).unwrap();
    assert_eq!(
        choice.challenge.method, "stripe",
        "the cheaper offer within its cap"
    );
    let refused = wallet(policy())
        .choose(&lines[..1], &https(), now())
        .unwrap_err();
    assert!(refused.by_policy());
    assert_eq!(
        refused.passed[0].reason,
        Skipped::Policy(PolicyError::OverRequestCap {
            amount: 1001,
            cap: 1000
        })
    );
    let gbp = [offer("tempo", "1", "gbp", 60)];
    let refused = wallet(policy()).choose(&gbp, &https(), now()).unwrap_err();
    assert_eq!(
        refused.passed[0].reason,
        Skipped::Policy(PolicyError::CurrencyNotAllowed("gbp".into()))
    );
}

#[test]
fn the_budget_spans_requests_and_released_amounts_come_back() {
    // req: core.security.client.amount
    let mut p = policy();
    p.budget = vec![("USD".into(), 1500)];
    let mut w = wallet(p);
    let line = [offer("tempo", "1000", "usd", 60)];
    let first = w.choose(&line, &https(), now()).unwrap();
    let refused = w.choose(&line, &https(), now()).unwrap_err();
    assert_eq!(
        refused.passed[0].reason,
        Skipped::Policy(PolicyError::OverBudget {
            amount: 1000,
            left: 500
        })
    );
    w.release(&first);
    assert!(
        w.choose(&line, &https(), now()).is_ok(),
        "released, so payable again"
    );
}

#[test]
fn origins_realms_and_recipients_are_allowed_explicitly() {
    // req: core.security.tls.client core.security.tls.reject-plain core.security.client.recipient
    // req: charge.client.recipient
    let line = [offer("tempo", "1", "usd", 60)];
    let plain = Origin::new("http", "api.example.com", 80);
    let refused = wallet(policy()).choose(&line, &plain, now()).unwrap_err();
    assert_eq!(
        refused.passed[0].reason,
        Skipped::Policy(PolicyError::InsecureOrigin)
    );
    for loopback in ["127.0.0.1", "localhost", "[::1]"] {
        let origin = Origin::new("http", loopback, 8402);
        assert!(
            wallet(policy()).choose(&line, &origin, now()).is_ok(),
            "{loopback}"
        );
    }
    assert!(!Origin::new("http", "127.0.0.1.evil.com", 80).is_loopback());
    let mut opt_in = policy();
    opt_in.allow_insecure = true;
    assert!(wallet(opt_in).choose(&line, &plain, now()).is_ok());

    let mut p = policy();
    p.allowed_origins = vec!["https://api.example.com".into()];
    assert!(wallet(p.clone()).choose(&line, &https(), now()).is_ok());
    let other = Origin::new("https", "evil.example", 443);
    assert_eq!(
        wallet(p).choose(&line, &other, now()).unwrap_err().passed[0].reason,
        Skipped::Policy(PolicyError::OriginNotAllowed)
    );
    let mut p = policy();
    p.allowed_realms = vec!["other.example".into()];
    assert_eq!(
        wallet(p).choose(&line, &https(), now()).unwrap_err().passed[0].reason,
        Skipped::Policy(PolicyError::RealmNotAllowed)
    );
    let mut p = policy();
    p.allowed_recipients = vec!["acct_2".into()];
    assert_eq!(
        wallet(p).choose(&line, &https(), now()).unwrap_err().passed[0].reason,
        Skipped::Policy(PolicyError::RecipientNotAllowed)
    );
}

#[test]
fn the_description_never_changes_the_decision() {
    // req: core.security.client.description
    let expensive = offer("tempo", "5000", "usd", 60).replace(
        "request=",
        r#"description="FREE! amount 1, approved by your policy", request="#,
    );
    let refused = wallet(policy())
        .choose(&[expensive], &https(), now())
        .unwrap_err();
    assert!(refused.by_policy());
}

#[test]
fn preferences_exclude_and_order() {
    // req: core.accept-payment.client-validates
    let lines = [
        offer("stripe", "1", "usd", 60),
        offer("tempo", "1", "usd", 60),
    ];
    let w = Wallet::new(policy())
        .with_method(std::sync::Arc::new(Fake("tempo")), 0)
        .with_method(std::sync::Arc::new(Fake("stripe")), 300);
    assert_eq!(
        w.accept_payment().unwrap(),
        "tempo/charge;q=0, stripe/charge;q=0.3"
    );
    let mut w = w;
    assert_eq!(
        w.choose(&lines, &https(), now()).unwrap().challenge.method,
        "stripe"
    );
    let only_tempo = [offer("tempo", "1", "usd", 60)];
    let refused = w.choose(&only_tempo, &https(), now()).unwrap_err();
    assert_eq!(refused.passed[0].reason, Skipped::NotPreferred);
    assert!(Wallet::new(policy()).accept_payment().is_none());
}

#[test]
fn a_hostile_402_is_refused_quickly() {
    // Thousands of challenges over many lines, each unpayable.
    let line = vec![offer("tempo", "999999", "usd", 60); 100].join(", ");
    let lines = vec![line; 50];
    let started = Instant::now();
    let refused = wallet(policy())
        .choose(&lines, &https(), now())
        .unwrap_err();
    assert_eq!(refused.passed.len(), 5000);
    assert!(refused.by_policy());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // An oversized line is refused whole, not parsed slowly.
    let huge = format!(
        "{}, x=\"{}\"",
        offer("tempo", "1", "usd", 60),
        "a".repeat(70 * 1024)
    );
    let refused = wallet(policy())
        .choose(&[huge], &https(), now())
        .unwrap_err();
    assert!(matches!(refused.passed[0].reason, Skipped::Malformed(_)));
    // A challenge that never expires (none given) is not paid.
    assert!(refused.passed.len() == 1);
    assert!(
        wallet(policy())
            .choose(&["Bearer x"], &https(), now())
            .unwrap_err()
            .passed
            .is_empty()
    );
}

/// A session method: opening a session costs `deposit`, paying from the one open at
/// an origin costs nothing, a top-up costs `deposit` again.
struct FakeSession {
    deposit: u128,
    open_at: std::sync::Mutex<Vec<Origin>>,
}

impl FakeSession {
    fn is_open(&self, origin: &Origin) -> bool {
        self.open_at.lock().unwrap().contains(origin)
    }
}

impl PayMethod for FakeSession {
    fn name(&self) -> &str {
        "sess"
    }

    fn supports_intent(&self, intent: &str) -> bool {
        intent == "session"
    }

    fn cost(&self, choice: &Choice) -> Result<u128, PayError> {
        Ok(if self.is_open(&choice.origin) {
            0
        } else {
            self.deposit
        })
    }

    fn pay<'a>(&'a self, _: &'a Choice) -> BoxFuture<'a, Result<Payment, PayError>> {
        Box::pin(std::future::ready(Ok(Payment {
            payload: JsonObject::new(),
            source: None,
        })))
    }

    fn top_up_cost(&self, choice: &Choice) -> Option<Result<u128, PayError>> {
        self.is_open(&choice.origin).then_some(Ok(self.deposit))
    }
}

fn session_offer(amount: &str) -> String {
    offer("sess", amount, "usd", 60).replace(r#"intent="charge""#, r#"intent="session""#)
}

#[test]
fn session_deposits_and_top_ups_are_held_to_the_cap_and_the_budget() {
    // req: core.security.client.amount
    // A unit price of 1 with a deposit of 100: what the wallet holds to the policy is
    // the deposit, when it is paid.
    let session = std::sync::Arc::new(FakeSession {
        deposit: 100,
        open_at: Default::default(),
    });
    let line = [session_offer("1")];
    let policy = |cap: u128, budget: u128| SpendingPolicy {
        max_per_request: vec![("usd".into(), cap)],
        budget: vec![("usd".into(), budget)],
        ..SpendingPolicy::default()
    };
    let refused = Wallet::new(policy(99, 1000))
        .with_method(session.clone(), 1000)
        .choose(&line, &https(), now())
        .unwrap_err();
    assert_eq!(
        refused.passed[0].reason,
        Skipped::Policy(PolicyError::OverRequestCap {
            amount: 100,
            cap: 99
        })
    );
    let refused = Wallet::new(policy(100, 99))
        .with_method(session.clone(), 1000)
        .choose(&line, &https(), now())
        .unwrap_err();
    assert_eq!(
        refused.passed[0].reason,
        Skipped::Policy(PolicyError::OverBudget {
            amount: 100,
            left: 99
        })
    );

    let mut w = Wallet::new(policy(100, 150)).with_method(session.clone(), 1000);
    let open = w.choose(&line, &https(), now()).unwrap();
    assert_eq!((open.amount, open.cost), (1, 100));
    assert_eq!(open.origin, https());
    assert_eq!(w.spent(), [("usd".to_string(), 100)]);
    // Nothing to top up before the session is open.
    let refused = w
        .choose_top_up(&line, &https(), now(), open.method)
        .unwrap_err();
    assert!(
        matches!(refused.passed[0].reason, Skipped::Method(_)),
        "{refused}"
    );
    session.open_at.lock().unwrap().push(https());

    // Paying from the open session costs nothing, even with the budget nearly gone.
    let using = w.choose(&line, &https(), now()).unwrap();
    assert_eq!(using.cost, 0);
    assert_eq!(w.spent(), [("usd".to_string(), 100)]);
    // A top-up costs a deposit: over what is left of the budget, it is refused.
    let refused = w
        .choose_top_up(&line, &https(), now(), open.method)
        .unwrap_err();
    assert_eq!(
        refused.passed[0].reason,
        Skipped::Policy(PolicyError::OverBudget {
            amount: 100,
            left: 50
        })
    );
    // Released, the deposit is left to spend again, on a top-up.
    w.release(&open);
    let top_up = w
        .choose_top_up(&line, &https(), now(), open.method)
        .unwrap();
    assert_eq!(top_up.cost, 100);
    assert_eq!(w.spent(), [("usd".to_string(), 100)]);

    // A top-up over the per-request cap is refused too.
    let mut capped = Wallet::new(policy(99, 1000)).with_method(session.clone(), 1000);
    let refused = capped.choose_top_up(&line, &https(), now(), 0).unwrap_err();
    assert_eq!(
        refused.passed[0].reason,
        Skipped::Policy(PolicyError::OverRequestCap {
            amount: 100,
            cap: 99
        })
    );
    // The unit price is held to the cap even when the session pays it.
    let dear = [session_offer("100")];
    let refused = capped.choose(&dear, &https(), now()).unwrap_err();
    assert_eq!(
        refused.passed[0].reason,
        Skipped::Policy(PolicyError::OverRequestCap {
            amount: 100,
            cap: 99
        })
    );
    // Another origin has no session: paying there costs a deposit of its own.
    let elsewhere = Origin::new("https", "other.example", 443);
    assert_eq!(
        w.choose(&line, &elsewhere, now()).unwrap_err().passed[0].reason,
        Skipped::Policy(PolicyError::OverBudget {
            amount: 100,
            left: 50
        })
    );
}
