//! `accept-payment`, `problem-types` and `charge-transitions`.

use mpp_core::accept::AcceptPayment;
use mpp_core::base64;
use mpp_core::json::JsonObject;
use mpp_core::problem::ProblemType;
use mpp_core::time::UnixTime;
use mpp_core::value::{Base64Json, Opaque};
use serde_json::{Value, json};

use super::challenge::SECRET;
use super::values::{self, layout};
use super::{Case, Cases, Mark};
use crate::rng::Rng;

const METHODS: [&str; 5] = ["tempo", "stripe", "lightning", "solana", "card"];
const INTENTS: [&str; 2] = ["charge", "session"];
const WEIGHTS: [(&str, u16); 11] = [
    ("1", 1000),
    ("1.0", 1000),
    ("1.000", 1000),
    ("0.8", 800),
    ("0.5", 500),
    ("0.50", 500),
    ("0.25", 250),
    ("0.125", 125),
    ("0.001", 1),
    ("0", 0),
    ("0.0", 0),
];

/// A range: method (None for `*`), intent (None for `*`), weight in thousandths, text.
type Range = (Option<&'static str>, Option<&'static str>, u16, String);

fn specificity(r: &Range) -> u8 {
    2 * u8::from(r.0.is_some()) + u8::from(r.1.is_some())
}

fn matches(r: &Range, offer: (&str, &str)) -> bool {
    r.0.is_none_or(|m| m == offer.0) && r.1.is_none_or(|i| i == offer.1)
}

/// The offers kept, best first, by the draft's rules; `None` when the ranges leave
/// the outcome to a choice the draft does not make (a method range and an intent
/// range both deciding one offer, or two equally specific ranges).
fn model_rank(ranges: &[Range], offers: &[(&'static str, &'static str)]) -> Option<Vec<usize>> {
    let mut kept = Vec::new();
    for (i, offer) in offers.iter().enumerate() {
        let matching: Vec<&Range> = ranges.iter().filter(|r| matches(r, *offer)).collect();
        let Some(best) = matching.iter().map(|r| specificity(r)).max() else {
            continue;
        };
        let top: Vec<&&Range> = matching.iter().filter(|r| specificity(r) == best).collect();
        if top.len() > 1 {
            return None;
        }
        let method_vs_intent = best == 2 && matching.iter().any(|r| specificity(r) == 1);
        if method_vs_intent {
            return None;
        }
        let weight = top[0].2;
        if weight > 0 {
            kept.push((weight, i));
        }
    }
    kept.sort_by_key(|&(w, _)| std::cmp::Reverse(w));
    Some(kept.into_iter().map(|(_, i)| i).collect())
}

fn offers_json(offers: &[(&str, &str)]) -> Value {
    Value::Array(
        offers
            .iter()
            .map(|(m, i)| json!({ "method": m, "intent": i }))
            .collect(),
    )
}

/// `accept-payment`.
pub(crate) fn accept_payment(cases: &mut Cases, rng: &mut Rng) {
    let op = "accept.rank";
    let reqs = [
        "core.grammar.accept-payment",
        "core.accept-payment.filter",
        "core.accept-payment.order",
        "core.accept-payment.ties",
        "core.accept-payment.specific",
    ];
    let mut n = 0;
    while n < 10 {
        let mut pairs: Vec<(&'static str, &'static str)> = METHODS
            .iter()
            .flat_map(|m| INTENTS.iter().map(move |i| (*m, *i)))
            .collect();
        rng.shuffle(&mut pairs);
        let offers = pairs[..rng.range(2, 5) as usize].to_vec();
        let mut ranges: Vec<Range> = Vec::new();
        for _ in 0..rng.range(1, 4) {
            let method = rng.chance(65).then(|| rng.pick(&METHODS));
            let intent = rng.chance(45).then(|| rng.pick(&INTENTS));
            let (weight_text, weight) = if rng.chance(35) {
                ("", 1000)
            } else {
                rng.pick(&WEIGHTS)
            };
            let mut text = format!("{}/{}", method.unwrap_or("*"), intent.unwrap_or("*"));
            if !weight_text.is_empty() {
                let sep = rng.pick(&[";", ";", " ;", "; ", " ; "]);
                let q = if rng.chance(15) { "Q" } else { "q" };
                text.push_str(&format!("{sep}{q}={weight_text}"));
            }
            ranges.push((method, intent, weight, text));
        }
        let Some(expected) = model_rank(&ranges, &offers) else {
            continue;
        };
        let header = ranges
            .iter()
            .map(|r| r.3.as_str())
            .collect::<Vec<_>>()
            .join(rng.pick(&[", ", ",", " , ", ", , "]));
        let parsed =
            AcceptPayment::parse(&header).unwrap_or_else(|e| unreachable!("{header}: {e}"));
        assert_eq!(parsed.rank(offers.iter().copied()), expected, "{header}");
        n += 1;
        let kept: Vec<(&str, &str)> = expected.iter().map(|&i| offers[i]).collect();
        cases.add(case! { id: format!("generated.{n:03}"), description: format!("generated preferences {n}: offers with q above 0 kept, best first, ties in the server's order"), reqs: &reqs, op, input: json!({ "header": header, "offers": offers_json(&offers) }), value: json!({ "offers": offers_json(&kept) }) });
    }

    let offers3 = [
        ("stripe", "charge"),
        ("solana", "charge"),
        ("tempo", "charge"),
    ];
    let ask = |header: &str, offers: &[(&str, &str)]| json!({ "header": header, "offers": offers_json(offers) });
    let kept = |offers: &[(&str, &str)]| json!({ "offers": offers_json(offers) });
    let hand = [
        case! { id: "hand.method-ranges", description: "method ranges with weights; an offer no range matches is dropped", input: ask("tempo/*, solana/*;q=0.6, */session;q=0.3", &offers3), value: kept(&[("tempo", "charge"), ("solana", "charge")]), reqs: &["core.accept-payment.filter", "core.accept-payment.order"] },
        case! { id: "hand.q-zero", description: "q=0 refuses what the range matches", input: ask("*/*, stripe/*;q=0", &offers3), value: kept(&[("solana", "charge"), ("tempo", "charge")]), reqs: &["core.accept-payment.filter"] },
        case! { id: "hand.exact-over-method", description: "an exact range decides over a method range, even one with q=0", input: ask("tempo/*;q=0, tempo/charge;q=0.5", &[("tempo", "session"), ("tempo", "charge")]), value: kept(&[("tempo", "charge")]), reqs: &["core.accept-payment.specific"] },
        case! { id: "hand.method-over-any", description: "a method range decides over */*", input: ask("*/*;q=0.9, stripe/*;q=0.1", &offers3), value: kept(&[("solana", "charge"), ("tempo", "charge"), ("stripe", "charge")]), reqs: &["core.accept-payment.specific", "core.accept-payment.order"] },
        case! { id: "hand.ties", description: "equal weights keep the server's order", input: ask("*/*", &offers3), value: kept(&offers3), reqs: &["core.accept-payment.ties"] },
        case! { id: "hand.nothing-matches", description: "no offer matches: none is kept (the server may then ignore the header)", input: ask("lightning/*", &offers3), value: kept(&[]), reqs: &["core.accept-payment.filter"] },
        case! { id: "hand.whitespace", description: "whitespace around ; and , and empty list elements", input: ask(" tempo/charge ; q=0.5 , ,stripe/charge", &offers3), value: kept(&[("stripe", "charge"), ("tempo", "charge")]), reqs: &["core.grammar.accept-payment"] },
        case! { id: "hand.upper-q", description: "the q of a weight in upper case", input: ask("tempo/charge;Q=0.5, solana/charge;q=0.75", &offers3), value: kept(&[("solana", "charge"), ("tempo", "charge")]), reqs: &["core.grammar.accept-payment"] },
    ];
    for case in hand {
        // The hand-written expectation must be mpp-core's ranking.
        let header = case.input["header"].as_str().unwrap_or_default();
        let offers: Vec<(&str, &str)> = (case.input["offers"].as_array().into_iter().flatten())
            .map(|o| {
                (
                    o["method"].as_str().unwrap_or_default(),
                    o["intent"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        let parsed = AcceptPayment::parse(header).unwrap_or_else(|e| unreachable!("{header}: {e}"));
        let ranked: Vec<(&str, &str)> = parsed
            .rank(offers.iter().copied())
            .into_iter()
            .map(|i| offers[i])
            .collect();
        assert_eq!(Some(kept(&ranked)), case.value, "{header}");
        cases.add(Case { op, ..case });
    }
    for (name, header, class, what) in [
        ("empty", "", "empty", "an empty value"),
        ("only-commas", " , ,", "empty", "only empty list elements"),
        (
            "no-slash",
            "tempo",
            "invalid-payment-range",
            "a method without /intent",
        ),
        (
            "uppercase-method",
            "Tempo/charge",
            "invalid-payment-range",
            "an upper-case method",
        ),
        (
            "other-parameter",
            "tempo/charge;level=1",
            "invalid-payment-range",
            "a parameter other than q",
        ),
        (
            "missing-semicolon",
            "tempo/charge q=0.5",
            "invalid-payment-range",
            "a weight without ;",
        ),
        (
            "weight-above-one",
            "tempo/charge;q=1.5",
            "invalid-weight",
            "a weight above 1",
        ),
        (
            "four-decimals",
            "tempo/charge;q=0.1234",
            "invalid-weight",
            "a weight with four decimals",
        ),
        (
            "empty-weight",
            "tempo/charge;q=",
            "invalid-weight",
            "q= with no value",
        ),
    ] {
        cases.add(case! { id: format!("error.{name}"), description: format!("malformed: {what}"), reqs: &["core.grammar.accept-payment"], op, input: json!({ "header": header, "offers": offers_json(&offers3) }), error: "parse_error", class, field: "header" });
    }
}

/// `problem-types`.
pub(crate) fn problem_types(cases: &mut Cases) {
    for p in ProblemType::ALL {
        let mut reqs = vec!["core.errors.problem-type"];
        reqs.push(match p {
            ProblemType::PaymentRequired => "core.errors.402.payment-required",
            ProblemType::MalformedCredential => "core.errors.malformed-credential",
            ProblemType::InvalidChallenge => "core.errors.invalid-challenge",
            ProblemType::PaymentExpired => "core.errors.payment-expired",
            ProblemType::VerificationFailed => "core.errors.verification-failed",
            ProblemType::BadRequest => "core.credential.several.reject",
            _ => "core.errors.problem-details",
        });
        let v = cases.add(case! { id: p.slug(), description: format!("{}: its type URI, title and status {}", p.slug(), p.status()), reqs, op: "problem.describe", input: json!({ "slug": p.slug() }), value: json!({ "type": p.uri(), "title": p.title(), "status": p.status() }) });
        if p == ProblemType::PaymentExpired {
            v.decision("E2");
        }
    }
    for (name, slug, what) in [
        ("unknown-slug", "payment-failed", "a slug no draft defines"),
        ("wrong-case", "Payment-Expired", "a slug in the wrong case"),
        (
            "full-uri",
            "https://paymentauth.org/problems/payment-expired",
            "a type URI where the slug is asked for",
        ),
    ] {
        cases.add(case! { id: format!("error.{name}"), description: format!("not found: {what}"), reqs: &["core.errors.problem-type"], op: "problem.describe", input: json!({ "slug": slug }), error: "not_found" });
    }
}

/// The issued challenge of a sequence.
struct Terms {
    secret: String,
    realm: String,
    method: String,
    intent: String,
    request: JsonObject,
    /// When the challenge was issued, and when it expires (Unix seconds).
    issued: i64,
    expires: i64,
    description: Option<String>,
}

impl Terms {
    fn input(&self, steps: Vec<Value>) -> Value {
        let mut input = json!({
            "secretKey": self.secret,
            "realm": self.realm,
            "method": self.method,
            "intent": self.intent,
            "request": Value::Object(self.request.clone()),
            "expires": rfc3339(self.expires),
            "steps": steps,
        });
        if let Some(d) = &self.description {
            input["description"] = d.clone().into();
        }
        input
    }
}

fn rfc3339(secs: i64) -> String {
    UnixTime::from_secs(secs)
        .to_rfc3339()
        .unwrap_or_else(|| unreachable!("writable year"))
}

/// What a step presents, and the rules' verdict on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The echo as issued.
    Exact,
    /// The echo with `description` changed or dropped (not bound).
    Description,
    /// `request` in another JSON layout with the same terms (D2).
    ReEncoded,
    /// A bound field changed: the HMAC no longer matches, or the terms differ.
    Tampered,
    /// An echo that cannot be read as a credential.
    Malformed,
}

fn step(now: i64, proof: bool) -> Value {
    json!({ "now": rfc3339(now), "proof": if proof { "valid" } else { "invalid" } })
}

/// A tampered echo: the changed members and the requirement the refusal meets.
fn tamper(rng: &mut Rng, t: &Terms) -> (Value, &'static str, &'static str) {
    match rng.below(9) {
        0 => {
            let mut r = t.request.clone();
            let amount = r["amount"]
                .as_str()
                .and_then(|a| a.parse::<u64>().ok())
                .unwrap_or(0);
            r.insert("amount".into(), (amount + 1).to_string().into());
            (
                json!({ "request": Base64Json::encode(&r).as_str() }),
                "charge.verify.amount",
                "the amount raised by one",
            )
        }
        1 => {
            let mut r = t.request.clone();
            r.insert("recipient".into(), "acct_attacker".into());
            (
                json!({ "request": Base64Json::encode(&r).as_str() }),
                "charge.verify.recipient",
                "another recipient",
            )
        }
        2 => (
            json!({ "realm": "other.example.com" }),
            "core.binding.echo-mismatch",
            "another realm",
        ),
        3 => (
            json!({ "method": if t.method == "stripe" { "tempo" } else { "stripe" } }),
            "core.binding.echo-mismatch",
            "another method",
        ),
        4 => (
            json!({ "intent": "session" }),
            "core.binding.echo-mismatch",
            "another intent",
        ),
        5 => (
            json!({ "id": base64::encode(&rng.bytes(32)) }),
            "core.binding.verify",
            "a forged id",
        ),
        6 => (
            json!({ "expires": rfc3339(t.expires + 3600) }),
            "core.binding.echo-mismatch",
            "expires an hour later",
        ),
        7 => (
            json!({ "header": "Payment-Authorization" }),
            "core.binding.header.bound",
            "a header parameter added",
        ),
        _ => (
            json!({ "opaque": Opaque::encode([("route", "GET /other")]).as_str() }),
            "core.binding.opaque.bound",
            "an opaque added",
        ),
    }
}

fn malformed(rng: &mut Rng) -> (Option<Value>, Option<&'static str>, &'static str) {
    match rng.below(5) {
        0 => (Some(json!({ "method": "Tempo" })), None, "method Tempo"),
        1 => (
            Some(json!({ "expires": "tomorrow" })),
            None,
            "expires that is not RFC 3339",
        ),
        2 => (
            Some(json!({ "request": "%%%" })),
            None,
            "request that is not base64url",
        ),
        3 => (Some(json!({ "id": "" })), None, "an empty id"),
        _ => (None, Some("id"), "no id"),
    }
}

/// `charge-transitions`.
pub(crate) fn charge_transitions(cases: &mut Cases, rng: &mut Rng) {
    let op = "charge.sequence";
    for n in 1..=8 {
        let issued = values::instant(rng);
        let ttl = rng.range(60, 600);
        let terms = Terms {
            secret: values::text(rng, 32, 40, "!#$%&*+-./:;<=>?@^_~", false),
            realm: values::realm(rng, false),
            method: values::method(rng, false),
            intent: "charge".into(),
            request: values::request(rng),
            issued,
            expires: issued + ttl,
            description: rng.chance(30).then(|| values::description(rng, true)),
        };
        let mut now = issued + rng.range(0, 5);
        let mut claimed = false;
        let mut failed_before_claim = false;
        let mut decisions: Vec<&str> = Vec::new();
        let mut reqs = vec!["core.errors.granted", "charge.verify.challenge"];
        let mut steps = Vec::new();
        let mut outcomes = Vec::new();
        let mut story = Vec::new();
        let count = rng.range(1, 5);
        for i in 0..count {
            let last = i + 1 == count;
            // Expiry only at the end, and only while unclaimed: a credential that is
            // both used and expired, or both tampered and expired, has no single
            // verdict in the draft.
            if last && !claimed && rng.chance(25) {
                let at = if rng.chance(50) {
                    terms.expires
                } else {
                    terms.expires + rng.range(1, 3600)
                };
                steps.push(step(at, true));
                outcomes.push("payment_expired");
                reqs.extend(["charge.verify.expiry", "core.errors.payment-expired"]);
                if at == terms.expires {
                    decisions.push("D8");
                    story.push("presented at its expiry instant");
                } else {
                    story.push("presented after it expired");
                }
                break;
            }
            now = (now + rng.range(0, 20)).min(terms.expires - 1);
            let kind = match rng.below(10) {
                0..=3 => Kind::Exact,
                4 => Kind::Description,
                5 => Kind::ReEncoded,
                6 | 7 => Kind::Tampered,
                _ => Kind::Malformed,
            };
            let proof = rng.chance(75);
            let mut s = step(now, proof);
            let verdict = match kind {
                Kind::Tampered => {
                    let (set, req, what) = tamper(rng, &terms);
                    s["set"] = set;
                    reqs.push(req);
                    reqs.push("core.errors.invalid-challenge");
                    story.push(what);
                    "invalid_challenge"
                }
                Kind::Malformed => {
                    let (set, remove, what) = malformed(rng);
                    if let Some(set) = set {
                        s["set"] = set;
                    }
                    if let Some(r) = remove {
                        s["remove"] = json!([r]);
                    }
                    reqs.push("core.errors.malformed-credential");
                    story.push(what);
                    "malformed_credential"
                }
                Kind::Exact | Kind::Description | Kind::ReEncoded => {
                    match kind {
                        Kind::Description => {
                            if terms.description.is_some() && rng.chance(50) {
                                s["remove"] = json!(["description"]);
                                story.push("description dropped");
                            } else {
                                s["set"] = json!({ "description": "changed by the client" });
                                story.push("description changed");
                            }
                            reqs.push("core.challenge.description.not-verified");
                        }
                        Kind::ReEncoded => {
                            let mut text = String::new();
                            layout(rng, &Value::Object(terms.request.clone()), &mut text);
                            let wire = base64::encode(text.as_bytes());
                            // Only an unused challenge shows D2: a used one is refused anyway.
                            if !claimed && wire != Base64Json::encode(&terms.request).as_str() {
                                decisions.push("D2");
                            }
                            s["set"] = json!({ "request": wire });
                            story.push("request re-encoded");
                        }
                        _ => story.push(if proof {
                            "the echo as issued"
                        } else {
                            "the echo as issued, a bad proof"
                        }),
                    }
                    if claimed {
                        reqs.extend([
                            "core.replay.single-use-proof",
                            "charge.replay.id-single-use",
                            "charge.replay.credential-once",
                            "core.errors.invalid-challenge",
                        ]);
                        if failed_before_claim {
                            decisions.push("D9");
                        }
                        "invalid_challenge"
                    } else {
                        claimed = true;
                        if proof {
                            "granted"
                        } else {
                            failed_before_claim = true;
                            reqs.extend(["core.errors.verification-failed", "charge.verify.proof"]);
                            "verification_failed"
                        }
                    }
                }
            };
            if !proof && kind != Kind::Exact {
                story.push("with a bad proof");
            }
            steps.push(s);
            outcomes.push(verdict);
        }
        let decision = ["D9", "D8", "D2"]
            .into_iter()
            .find(|d| decisions.contains(d));
        let v = cases.add(case! { id: format!("generated.{n:03}"), description: format!("generated sequence {n}: {}", story.join("; ")), reqs, op, input: terms.input(steps), value: json!({ "outcomes": outcomes }) });
        if let Some(d) = decision {
            v.decision(d);
        }
    }
    hand_transitions(cases);
}

fn hand_transitions(cases: &mut Cases) {
    let op = "charge.sequence";
    let mut request = JsonObject::new();
    request.insert("amount".into(), "1000".into());
    request.insert("currency".into(), "usd".into());
    request.insert("recipient".into(), "acct_123".into());
    let issued = 1_769_688_000; // 2026-01-29T12:00:00Z
    let terms = Terms {
        secret: SECRET.into(),
        realm: "api.example.com".into(),
        method: "tempo".into(),
        intent: "charge".into(),
        request: request.clone(),
        issued,
        expires: issued + 300,
        description: Some("One call".into()),
    };
    let at = |secs: i64| terms.issued + secs;
    let with = |mut s: Value, key: &str, value: Value| {
        s[key] = value;
        s
    };
    let mut other = request.clone();
    other.insert("amount".into(), "1".into());
    let cheaper = Base64Json::encode(&other).as_str().to_owned();
    let reordered =
        base64::encode(br#"{ "recipient": "acct_123", "amount": "1000", "currency": "usd" }"#);
    let outcomes = |verdicts: &[&str]| json!({ "outcomes": verdicts });
    let list = [
        case! { id: "hand.pay-once", description: "the echo as issued with a valid proof is granted", input: terms.input(vec![step(at(10), true)]), value: outcomes(&["granted"]), reqs: &["core.errors.granted", "charge.verify.challenge"] },
        case! { id: "hand.replay", description: "the same credential a second time is refused as used", input: terms.input(vec![step(at(10), true), step(at(11), true)]), value: outcomes(&["granted", "invalid_challenge"]), reqs: &["core.replay.single-use-proof", "charge.replay.id-single-use", "charge.replay.credential-once", "core.errors.invalid-challenge"] },
        case! { id: "hand.failed-proof-uses-the-challenge", description: "a bad proof uses the challenge up: a good proof after it is refused", input: terms.input(vec![step(at(10), false), step(at(20), true)]), value: outcomes(&["verification_failed", "invalid_challenge"]), reqs: &["core.errors.verification-failed", "core.replay.single-use-proof", "charge.replay.id-single-use"], decision: "D9" },
        case! { id: "hand.failed-proof-twice", description: "a second bad proof is refused as used, not verified again", input: terms.input(vec![step(at(10), false), step(at(20), false)]), value: outcomes(&["verification_failed", "invalid_challenge"]), reqs: &["core.errors.verification-failed", "charge.replay.id-single-use"], decision: "D9" },
        case! { id: "hand.before-expiry", description: "one second before expires is still in time", input: terms.input(vec![step(at(299), true)]), value: outcomes(&["granted"]), reqs: &["charge.verify.expiry"], decision: "D8" },
        case! { id: "hand.at-expiry", description: "at the instant expires names the challenge has expired", input: terms.input(vec![step(at(300), true)]), value: outcomes(&["payment_expired"]), reqs: &["charge.verify.expiry", "core.errors.payment-expired"], decision: "D8" },
        case! { id: "hand.after-expiry", description: "a day after expiry", input: terms.input(vec![step(at(86_400), true)]), value: outcomes(&["payment_expired"]), reqs: &["charge.verify.expiry", "core.errors.payment-expired"], decision: "E2" },
        case! { id: "hand.tampered-does-not-use", description: "a tampered echo is refused without using the challenge; the genuine one is then granted", input: terms.input(vec![with(step(at(10), true), "set", json!({ "request": cheaper })), step(at(20), true)]), value: outcomes(&["invalid_challenge", "granted"]), reqs: &["core.binding.echo-mismatch", "charge.verify.amount", "core.errors.invalid-challenge"], decision: "D9" },
        case! { id: "hand.malformed-does-not-use", description: "a malformed credential is refused without using the challenge", input: terms.input(vec![with(step(at(10), true), "set", json!({ "method": "Tempo" })), step(at(20), true)]), value: outcomes(&["malformed_credential", "granted"]), reqs: &["core.errors.malformed-credential"], decision: "D9" },
        case! { id: "hand.amount-lowered", description: "the amount lowered in the echoed request", input: terms.input(vec![with(step(at(10), true), "set", json!({ "request": cheaper }))]), value: outcomes(&["invalid_challenge"]), reqs: &["charge.verify.amount", "core.binding.echo-mismatch"] },
        case! { id: "hand.expires-extended", description: "expires moved an hour later", input: terms.input(vec![with(step(at(10), true), "set", json!({ "expires": rfc3339(terms.expires + 3600) }))]), value: outcomes(&["invalid_challenge"]), reqs: &["core.binding.echo-mismatch"] },
        case! { id: "hand.expires-dropped", description: "expires left out of the echo", input: terms.input(vec![with(step(at(10), true), "remove", json!(["expires"]))]), value: outcomes(&["invalid_challenge"]), reqs: &["core.binding.echo-mismatch"] },
        case! { id: "hand.expires-same-instant", description: "expires rewritten as the same instant with +00:00: the text is bound", input: terms.input(vec![with(step(at(10), true), "set", json!({ "expires": rfc3339(terms.expires).replace('Z', "+00:00") }))]), value: outcomes(&["invalid_challenge"]), reqs: &["core.binding.echo-mismatch"], decision: "D2" },
        case! { id: "hand.header-added", description: "a header parameter the challenge did not have", input: terms.input(vec![with(step(at(10), true), "set", json!({ "header": "Payment-Authorization" }))]), value: outcomes(&["invalid_challenge"]), reqs: &["core.binding.header.bound", "core.credential.header.echo"] },
        case! { id: "hand.id-forged", description: "an id the server never issued", input: terms.input(vec![with(step(at(10), true), "set", json!({ "id": "x7Tg2pLqRwYz0aBcDeFgHiJkLmNoPqRsTuVwXyZ0123" }))]), value: outcomes(&["invalid_challenge"]), reqs: &["core.binding.verify", "charge.verify.challenge"] },
        case! { id: "hand.realm-changed", description: "another realm", input: terms.input(vec![with(step(at(10), true), "set", json!({ "realm": "api.example.org" }))]), value: outcomes(&["invalid_challenge"]), reqs: &["core.binding.echo-mismatch"] },
        case! { id: "hand.description-changed", description: "description is not bound: a changed one does not matter", input: terms.input(vec![with(step(at(10), true), "set", json!({ "description": "Something else" }))]), value: outcomes(&["granted"]), reqs: &["core.challenge.description.not-verified"] },
        case! { id: "hand.description-dropped", description: "description left out of the echo does not matter", input: terms.input(vec![with(step(at(10), true), "remove", json!(["description"]))]), value: outcomes(&["granted"]), reqs: &["core.challenge.description.not-verified"] },
        case! { id: "hand.request-re-encoded", description: "request re-encoded by the client with the same terms is accepted", input: terms.input(vec![with(step(at(10), true), "set", json!({ "request": reordered }))]), value: outcomes(&["granted"]), reqs: &["core.binding.verify"], decision: "D2" },
        case! { id: "hand.id-missing", description: "an echo without id cannot be read", input: terms.input(vec![with(step(at(10), true), "remove", json!(["id"]))]), value: outcomes(&["malformed_credential"]), reqs: &["core.errors.malformed-credential", "core.credential.structure"] },
        case! { id: "hand.expires-unreadable", description: "an echoed expires that is not RFC 3339", input: terms.input(vec![with(step(at(10), true), "set", json!({ "expires": "tomorrow" }))]), value: outcomes(&["malformed_credential"]), reqs: &["core.errors.malformed-credential"] },
        case! { id: "hand.request-unreadable", description: "an echoed request that is not base64url", input: terms.input(vec![with(step(at(10), true), "set", json!({ "request": "%%%" }))]), value: outcomes(&["malformed_credential"]), reqs: &["core.errors.malformed-credential"] },
        case! { id: "hand.realm-not-string", description: "an echoed realm that is a number", input: terms.input(vec![with(step(at(10), true), "set", json!({ "realm": 42 }))]), value: outcomes(&["malformed_credential"]), reqs: &["core.errors.malformed-credential"] },
    ];
    for case in list {
        cases.add(Case { op, ..case });
    }
}
