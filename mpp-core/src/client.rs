//! The client engine: which challenge of a 402 to answer, and whether the spending
//! policy allows paying it, decided without I/O.
//!
//! A client drives it in this order:
//!
//! 1. Send the request with [`Wallet::accept_payment`] as `Accept-Payment`.
//! 2. On a 402, [`Wallet::choose`] with every `WWW-Authenticate` field line, the
//!    request's [`Origin`] and the current time. It parses every Payment challenge
//!    (other schemes are ignored), drops those it cannot or must not answer
//!    (malformed, an unknown method or intent, a `header` it does not recognise,
//!    expired, no `expires` at all, terms it cannot read), ranks the rest by the
//!    wallet's preferences (the server's order among equals), and returns the first
//!    one the [`SpendingPolicy`] allows, already reserved against the budget — or a
//!    [`Declined`] that says why each challenge was passed over.
//!    What a challenge costs is the method's to say ([`PayMethod::cost`]): a charge
//!    costs its `amount`; a session costs the deposit that opens it, or nothing when
//!    it is paid from the session already open at that origin.
//! 3. Have the method produce the payload ([`PayMethod::pay`]) and send
//!    [`Choice::credential`] in [`Choice::field`]. If paying failed before anything
//!    was spent, hand the cost back with [`Wallet::release`].
//!
//! A session that ran dry is topped up the same way: [`Wallet::choose_top_up`] picks
//! and reserves a challenge of the session's method, at what
//! [`PayMethod::top_up_cost`] says, and [`PayMethod::top_up`] pays it.
//!
//! `description` is never read: a server's words cannot move a client to pay.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use serde_json::Value;

use crate::accept::{AcceptPayment, PaymentRange, Weight};
use crate::challenge::{Challenge, CredentialField};
use crate::credential::Credential;
use crate::error::ParseError;
use crate::json::JsonObject;
use crate::method::BoxFuture;
use crate::time::UnixTime;
use crate::value::{Amount, IntentName, MethodName};

/// What a method hands back for a challenge it paid: the credential's payload and,
/// optionally, the payer's identity.
#[derive(Clone, PartialEq)]
pub struct Payment {
    /// The credential's `payload`.
    pub payload: JsonObject,
    /// The credential's `source` (a DID is recommended).
    pub source: Option<String>,
}

impl fmt::Debug for Payment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Payment(<redacted>)")
    }
}

/// Why a method could not pay, by where the fault lies. Each carries a message for
/// people, which must not contain a secret; `Display` shows the message alone.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PayError {
    /// The challenge's terms cannot be paid as offered: unreadable, expired, for
    /// another network, asking more than the method allows, or not matching what the
    /// payer holds. Nothing was paid.
    Terms(String),
    /// The wallet, node or payment backend failed, or answered something the method
    /// cannot accept (a preimage of another invoice, say).
    Backend(String),
    /// The method does not pay this here: another intent, no session open at this
    /// origin, a method no longer registered. Nothing was paid.
    NotApplicable(String),
    /// The payment backend (a token service, a node) could not be reached before
    /// anything was sent: nothing was paid, and trying later may work.
    Unreachable(String),
    /// The payment was sent and its outcome is unknown: a transaction broadcast
    /// with no receipt yet, a node that stopped answering mid-payment. The money may
    /// have moved, so the wallet keeps counting it against the budget; the message
    /// names what to look up (a transaction hash, say).
    OutcomeUnknown(String),
}

impl PayError {
    /// The message, without the class.
    pub fn message(&self) -> &str {
        match self {
            PayError::Terms(m)
            | PayError::Backend(m)
            | PayError::NotApplicable(m)
            | PayError::Unreachable(m)
            | PayError::OutcomeUnknown(m) => m,
        }
    }
}

impl fmt::Display for PayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl core::error::Error for PayError {}

/// The client half of a payment method.
pub trait PayMethod: Send + Sync {
    /// The method identifier it pays with.
    fn name(&self) -> &str;

    /// Whether it can pay challenges of this intent. The default: `charge` only.
    fn supports_intent(&self, intent: &str) -> bool {
        intent == "charge"
    }

    /// What paying `choice` would take from the wallet, in base units of
    /// `choice.currency`: the wallet holds it to the spending policy and reserves it
    /// before [`pay`](PayMethod::pay) is called. The default is the challenge's
    /// `amount`, what a charge costs. An error means the method would not pay this
    /// challenge at all; the wallet passes it over with the reason. It reads the
    /// method's own state only, without I/O.
    fn cost(&self, choice: &Choice) -> Result<u128, PayError> {
        Ok(choice.amount)
    }

    /// Pays `choice` and returns the payload that proves it, spending at most
    /// `choice.cost`, what [`cost`](PayMethod::cost) said and the wallet reserved.
    /// When that no longer suffices (another task changed what `cost` read), it
    /// fails without paying anything.
    fn pay<'a>(&'a self, choice: &'a Choice) -> BoxFuture<'a, Result<Payment, PayError>>;

    /// For a method that holds sessions: what topping up the session open at
    /// `choice.origin` with `choice`, a fresh challenge of the server, would take
    /// from the wallet; an error if it would not pay it. `None` (the default) when it
    /// holds no session there.
    fn top_up_cost(&self, _choice: &Choice) -> Option<Result<u128, PayError>> {
        None
    }

    /// For a method that holds sessions: pays `choice` as a top-up of the session
    /// open at `choice.origin`, spending at most `choice.cost`, when the server said
    /// the session ran dry. `None` (the default) when it holds no session there.
    fn top_up<'a>(
        &'a self,
        _choice: &'a Choice,
    ) -> Option<BoxFuture<'a, Result<Payment, PayError>>> {
        None
    }

    /// For a method that holds sessions: drops the one open at `origin`, because the
    /// server no longer accepts it (closed, for idleness say, or unknown), so that
    /// the next payment there opens a new one. Whether a session was dropped; the
    /// default holds none.
    fn forget_session(&self, _origin: &Origin) -> bool {
        false
    }
}

/// The origin a request went to: scheme, host and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// `https` or `http`.
    pub scheme: String,
    /// The host, lowercase (an IPv6 address without brackets).
    pub host: String,
    /// The port.
    pub port: u16,
}

impl Origin {
    /// An origin; the scheme and host are lowercased.
    pub fn new(scheme: &str, host: &str, port: u16) -> Origin {
        Origin {
            scheme: scheme.to_ascii_lowercase(),
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_ascii_lowercase(),
            port,
        }
    }

    /// Whether the origin is this machine (`localhost`, 127.0.0.0/8, `::1`), where
    /// plain HTTP cannot be observed by anyone else.
    pub fn is_loopback(&self) -> bool {
        let h = self.host.as_str();
        h == "localhost"
            || h.ends_with(".localhost")
            || h == "::1"
            || (h.starts_with("127.")
                && h.split('.').count() == 4
                && h.split('.').all(|p| p.parse::<u8>().is_ok()))
    }

    /// Whether requests to it are protected by TLS.
    pub fn is_tls(&self) -> bool {
        self.scheme == "https"
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}://[{}]:{}", self.scheme, self.host, self.port)
        } else {
            write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
        }
    }
}

/// What a client is willing to pay. Everything not allowed is refused: a currency
/// without a cap cannot be paid in at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpendingPolicy {
    /// The most one request may cost, per currency (compared case-insensitively),
    /// in the currency's base units: what one payment takes from the wallet (a
    /// charge's amount, a session's deposit or top-up) and what one request draws
    /// from a session (its unit price).
    pub max_per_request: Vec<(String, u128)>,
    /// The most all payments together may take from the wallet, per currency:
    /// charges, session deposits and top-ups. A currency not listed here has no
    /// total limit beyond its per-request cap.
    pub budget: Vec<(String, u128)>,
    /// The origins that may be paid (`https://api.example.com:443`); empty: any.
    /// Either way a session's secret only ever goes to the origin the session was
    /// opened at: a session method answers a challenge from the session open at the
    /// origin that sent it, never from another's.
    pub allowed_origins: Vec<String>,
    /// The realms that may be paid; empty: any.
    pub allowed_realms: Vec<String>,
    /// The recipients that may be paid; empty: any. When not empty, a challenge
    /// that names no recipient is refused too.
    pub allowed_recipients: Vec<String>,
    /// Pay origins without TLS that are not loopback. Off: the spec forbids sending
    /// credentials over plain HTTP (§1.12); loopback is allowed for local testing.
    pub allow_insecure: bool,
    /// The longest a challenge may stay payable, in seconds from now;
    /// `None`: [`DEFAULT_MAX_VALIDITY_SECS`]. A credential for a challenge that
    /// "never expires" could be redeemed long after the client stopped expecting it.
    pub max_validity_secs: Option<u64>,
}

/// How long a challenge may stay payable when the policy does not say: one hour,
/// twelve times the five minutes servers issue by default.
pub const DEFAULT_MAX_VALIDITY_SECS: u64 = 3600;

/// Why the policy, or the wallet, refused a challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// The origin has no TLS and is not loopback.
    InsecureOrigin,
    /// The origin is not in the allowed list.
    OriginNotAllowed,
    /// The realm is not in the allowed list.
    RealmNotAllowed,
    /// The recipient is not in the allowed list (or there is none).
    RecipientNotAllowed,
    /// The policy has no cap for this currency.
    CurrencyNotAllowed(String),
    /// The cost, or the unit price of a session, is above the per-request cap.
    OverRequestCap {
        /// The larger of the two.
        amount: u128,
        /// The cap.
        cap: u128,
    },
    /// The challenge stays payable for longer than the policy accepts.
    ValidityTooLong {
        /// Seconds from now until the challenge expires.
        secs: u64,
        /// The longest the policy accepts.
        max: u64,
    },
    /// Paying would exceed the total budget.
    OverBudget {
        /// What paying would take from the wallet.
        amount: u128,
        /// What is left of the budget.
        left: u128,
    },
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::InsecureOrigin => f.write_str("the origin has no TLS and is not loopback"),
            PolicyError::OriginNotAllowed => f.write_str("the origin is not allowed"),
            PolicyError::RealmNotAllowed => f.write_str("the realm is not allowed"),
            PolicyError::RecipientNotAllowed => f.write_str("the recipient is not allowed"),
            PolicyError::CurrencyNotAllowed(c) => {
                write!(f, "no spending cap allows currency {c:?}")
            }
            PolicyError::OverRequestCap { amount, cap } => {
                write!(f, "amount {amount} is above the per-request cap {cap}")
            }
            PolicyError::ValidityTooLong { secs, max } => write!(
                f,
                "the challenge stays payable for {secs} s, longer than the {max} s allowed"
            ),
            PolicyError::OverBudget { amount, left } => {
                write!(
                    f,
                    "amount {amount} is above what is left of the budget ({left})"
                )
            }
        }
    }
}

/// Why one challenge was passed over.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Skipped {
    /// It does not parse.
    Malformed(ParseError),
    /// No registered method pays with it.
    UnknownMethod(String),
    /// The method cannot pay this intent.
    UnknownIntent(String),
    /// It has expired (or has no `expires`, so it might be paid after it stopped
    /// being valid).
    Expired,
    /// Its `request` has no readable `amount` and `currency`.
    UnreadableTerms(String),
    /// The wallet's preferences exclude it (`q=0`).
    NotPreferred,
    /// The method would not pay it (its own limits, a session open elsewhere, no
    /// session to top up).
    Method(PayError),
    /// The spending policy refuses it.
    Policy(PolicyError),
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skipped::Malformed(e) => write!(f, "malformed challenge: {e}"),
            Skipped::UnknownMethod(m) => write!(f, "no method to pay {m:?}"),
            Skipped::UnknownIntent(i) => write!(f, "cannot pay intent {i:?}"),
            Skipped::Expired => f.write_str("expired (or no expiry)"),
            Skipped::UnreadableTerms(why) => write!(f, "unreadable terms: {why}"),
            Skipped::NotPreferred => f.write_str("excluded by the client's preferences"),
            Skipped::Method(e) => write!(f, "the method would not pay it: {e}"),
            Skipped::Policy(e) => write!(f, "refused by the spending policy: {e}"),
        }
    }
}

/// A challenge the engine looked at: which one (method/intent, when known) and why
/// it was not chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passed {
    /// `method/intent`, or `?` for a challenge that did not parse.
    pub offer: String,
    /// Why it was passed over.
    pub reason: Skipped,
}

/// The wallet declined every challenge: none could be paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declined {
    /// Every Payment challenge seen, and why it was not chosen. Empty when the 402
    /// had no Payment challenge at all.
    pub passed: Vec<Passed>,
}

impl Declined {
    /// Whether the spending policy (rather than the challenges themselves) stopped
    /// the payment: at least one challenge was payable but for the policy.
    pub fn by_policy(&self) -> bool {
        self.passed
            .iter()
            .any(|p| matches!(p.reason, Skipped::Policy(_)))
    }
}

impl fmt::Display for Declined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.passed.is_empty() {
            return f.write_str("the 402 carries no Payment challenge");
        }
        f.write_str("no challenge can be paid:")?;
        for p in &self.passed {
            write!(f, " [{}: {}]", p.offer, p.reason)?;
        }
        Ok(())
    }
}

impl core::error::Error for Declined {}

/// The challenge to pay, its terms, where it came from, and what paying it costs.
#[derive(Debug, Clone)]
pub struct Choice {
    /// The challenge.
    pub challenge: Challenge<'static>,
    /// Its decoded `request`.
    pub request: JsonObject,
    /// The challenge's `amount`, in base units.
    pub amount: u128,
    /// The currency, as the challenge writes it.
    pub currency: String,
    /// Which registered method pays it.
    pub method: usize,
    /// The origin that answered 402 with it: the only one its credential goes to.
    pub origin: Origin,
    /// What paying it takes from the wallet, in base units: the method's
    /// [`cost`](PayMethod::cost) (or [`top_up_cost`](PayMethod::top_up_cost)),
    /// already reserved against the budget when the wallet returns the choice.
    pub cost: u128,
}

impl Choice {
    /// The credential's header value for `payment`.
    pub fn credential(&self, payment: Payment) -> String {
        Credential::answer(&self.challenge, payment.payload, payment.source).to_header()
    }

    /// The header field the credential goes in (D12).
    pub fn field(&self) -> CredentialField {
        self.challenge.credential_field
    }
}

/// A client's payment methods, preferences, spending policy and running total.
///
/// Not thread-safe by itself; clients that pay from several tasks keep it behind a
/// lock, so that choosing and reserving happen together.
pub struct Wallet {
    methods: Vec<Arc<dyn PayMethod>>,
    preferences: Vec<(String, Weight)>,
    policy: SpendingPolicy,
    spent: Vec<(String, u128)>,
}

impl fmt::Debug for Wallet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wallet")
            .field(
                "methods",
                &self.methods.iter().map(|m| m.name()).collect::<Vec<_>>(),
            )
            .field("preferences", &self.preferences)
            .field("policy", &self.policy)
            .field("spent", &self.spent)
            .finish()
    }
}

impl Wallet {
    /// A wallet with this policy and no method yet.
    pub fn new(policy: SpendingPolicy) -> Wallet {
        Wallet {
            methods: Vec::new(),
            preferences: Vec::new(),
            policy,
            spent: Vec::new(),
        }
    }

    /// Registers a method with a preference weight in thousandths (1000 = most
    /// preferred, 0 = never used).
    pub fn with_method(mut self, method: Arc<dyn PayMethod>, weight: u16) -> Wallet {
        let weight = Weight::new(weight).unwrap_or(Weight::ONE);
        self.preferences.push((method.name().to_owned(), weight));
        self.methods.push(method);
        self
    }

    /// The methods, in registration order.
    pub fn methods(&self) -> &[Arc<dyn PayMethod>] {
        &self.methods
    }

    /// The policy.
    pub fn policy(&self) -> &SpendingPolicy {
        &self.policy
    }

    /// What has been spent so far, per currency (lowercase).
    pub fn spent(&self) -> &[(String, u128)] {
        &self.spent
    }

    /// The `Accept-Payment` value announcing the registered methods and their
    /// weights, or `None` without methods.
    pub fn accept_payment(&self) -> Option<String> {
        let ranges: Vec<PaymentRange<'static>> = self
            .preferences
            .iter()
            .filter_map(|(name, weight)| {
                Some(PaymentRange {
                    method: Some(MethodName::from_string(name.clone()).ok()?),
                    intent: Some(IntentName::new("charge").ok()?.into_owned()),
                    weight: *weight,
                })
            })
            .collect();
        (!ranges.is_empty()).then(|| AcceptPayment { ranges }.to_string())
    }

    /// Chooses the challenge to pay among every `WWW-Authenticate` line of a 402
    /// from `origin`, and reserves what paying it costs against the budget.
    pub fn choose<'l, I, V>(
        &mut self,
        lines: I,
        origin: &Origin,
        now: UnixTime,
    ) -> Result<Choice, Declined>
    where
        I: IntoIterator<Item = &'l V>,
        V: AsRef<[u8]> + ?Sized + 'l,
    {
        self.choose_for(lines, origin, now, None)
    }

    /// Chooses a challenge of a 402 from `origin` that tops up the session the method
    /// registered at index `method` holds there, and reserves the top-up against the
    /// budget: the same rules as [`Wallet::choose`], at the method's
    /// [`top_up_cost`](PayMethod::top_up_cost); other methods' challenges are passed
    /// over.
    pub fn choose_top_up<'l, I, V>(
        &mut self,
        lines: I,
        origin: &Origin,
        now: UnixTime,
        method: usize,
    ) -> Result<Choice, Declined>
    where
        I: IntoIterator<Item = &'l V>,
        V: AsRef<[u8]> + ?Sized + 'l,
    {
        self.choose_for(lines, origin, now, Some(method))
    }

    /// [`Wallet::choose`], or with `top_up`, [`Wallet::choose_top_up`] for that method.
    fn choose_for<'l, I, V>(
        &mut self,
        lines: I,
        origin: &Origin,
        now: UnixTime,
        top_up: Option<usize>,
    ) -> Result<Choice, Declined>
    where
        I: IntoIterator<Item = &'l V>,
        V: AsRef<[u8]> + ?Sized + 'l,
    {
        let mut passed = Vec::new();
        let mut candidates = Vec::new();
        for (position, parsed) in
            Challenge::parse_fields(lines, crate::options::ParseOptions::STRICT).enumerate()
        {
            let challenge = match parsed {
                Ok(c) => c.into_owned(),
                Err(e) => {
                    passed.push(Passed {
                        offer: "?".into(),
                        reason: Skipped::Malformed(e),
                    });
                    continue;
                }
            };
            let offer = format!("{}/{}", challenge.method, challenge.intent);
            match self.candidate(challenge, origin, now) {
                Ok(c) => candidates.push((position, c)),
                Err(reason) => passed.push(Passed { offer, reason }),
            }
        }
        // Best weight first; the server's order among equals (a stable sort).
        candidates.sort_by_key(|(position, c)| {
            (core::cmp::Reverse(self.preferences[c.method].1), *position)
        });
        for (_, mut candidate) in candidates {
            let offer = format!(
                "{}/{}",
                candidate.challenge.method, candidate.challenge.intent
            );
            if self.preferences[candidate.method].1 == Weight::ZERO {
                passed.push(Passed {
                    offer,
                    reason: Skipped::NotPreferred,
                });
                continue;
            }
            let decided = self
                .allow(&candidate, origin)
                .map_err(Skipped::Policy)
                .and_then(|cap| {
                    candidate.cost = self.cost(&candidate, top_up).map_err(Skipped::Method)?;
                    self.afford(&candidate, cap).map_err(Skipped::Policy)
                });
            match decided {
                Ok(()) => {
                    self.reserve(&candidate.currency, candidate.cost);
                    return Ok(candidate);
                }
                Err(reason) => passed.push(Passed { offer, reason }),
            }
        }
        Err(Declined { passed })
    }

    /// Gives back what [`Wallet::choose`] or [`Wallet::choose_top_up`] reserved for
    /// `choice` (its cost), when it was not spent.
    pub fn release(&mut self, choice: &Choice) {
        let key = choice.currency.to_ascii_lowercase();
        if let Some((_, spent)) = self.spent.iter_mut().find(|(c, _)| *c == key) {
            *spent = spent.saturating_sub(choice.cost);
        }
    }

    fn candidate(
        &self,
        challenge: Challenge<'static>,
        origin: &Origin,
        now: UnixTime,
    ) -> Result<Choice, Skipped> {
        let method = self
            .methods
            .iter()
            .position(|m| m.name() == challenge.method.as_str())
            .ok_or_else(|| Skipped::UnknownMethod(challenge.method.to_string()))?;
        if !self.methods[method].supports_intent(&challenge.intent) {
            return Err(Skipped::UnknownIntent(challenge.intent.to_string()));
        }
        // A challenge without `expires` might be paid after it stopped being valid.
        let Some(expires) = challenge
            .expires
            .as_ref()
            .filter(|_| !challenge.is_expired_at(now))
        else {
            return Err(Skipped::Expired);
        };
        let secs = u64::try_from(expires.unix().secs().saturating_sub(now.secs())).unwrap_or(0);
        let max = self
            .policy
            .max_validity_secs
            .unwrap_or(DEFAULT_MAX_VALIDITY_SECS);
        if secs > max {
            return Err(Skipped::Policy(PolicyError::ValidityTooLong { secs, max }));
        }
        let request = challenge
            .request
            .decode()
            .map_err(|e| Skipped::UnreadableTerms(format!("{e}")))?;
        let amount = match request.get("amount") {
            Some(Value::String(a)) => Amount::new(a)
                .ok()
                .and_then(|a| a.to_u128())
                .ok_or_else(|| Skipped::UnreadableTerms(format!("amount {a:?}")))?,
            _ => return Err(Skipped::UnreadableTerms("no amount".into())),
        };
        let currency = match request.get("currency") {
            Some(Value::String(c)) if !c.is_empty() => c.clone(),
            _ => return Err(Skipped::UnreadableTerms("no currency".into())),
        };
        Ok(Choice {
            challenge,
            request,
            amount,
            currency,
            method,
            origin: origin.clone(),
            // Set once the policy allows the challenge: the method says.
            cost: 0,
        })
    }

    /// What the method says paying `c` costs: to pay it, or with `top_up`, to top up
    /// that method's session with it.
    fn cost(&self, c: &Choice, top_up: Option<usize>) -> Result<u128, PayError> {
        let method = &self.methods[c.method];
        match top_up {
            None => method.cost(c),
            Some(m) if m == c.method => method.top_up_cost(c).unwrap_or_else(|| {
                Err(PayError::NotApplicable(
                    "no session is open at this origin".into(),
                ))
            }),
            Some(_) => Err(PayError::NotApplicable(
                "a top-up is paid with the session's own method".into(),
            )),
        }
    }

    /// The policy's rules about where, whom and in what currency a challenge pays;
    /// the per-request cap for that currency if they hold.
    fn allow(&self, c: &Choice, origin: &Origin) -> Result<u128, PolicyError> {
        let p = &self.policy;
        if !origin.is_tls() && !origin.is_loopback() && !p.allow_insecure {
            return Err(PolicyError::InsecureOrigin);
        }
        let origin_text = origin.to_string();
        if !p.allowed_origins.is_empty()
            && !p
                .allowed_origins
                .iter()
                .any(|o| same_origin(o, &origin_text))
        {
            return Err(PolicyError::OriginNotAllowed);
        }
        if !p.allowed_realms.is_empty()
            && !p
                .allowed_realms
                .iter()
                .any(|r| *r == c.challenge.realm.as_str())
        {
            return Err(PolicyError::RealmNotAllowed);
        }
        if !p.allowed_recipients.is_empty() {
            let recipient = c.request.get("recipient").and_then(Value::as_str);
            if !recipient.is_some_and(|r| p.allowed_recipients.iter().any(|a| a == r)) {
                return Err(PolicyError::RecipientNotAllowed);
            }
        }
        limit(&p.max_per_request, &c.currency)
            .ok_or_else(|| PolicyError::CurrencyNotAllowed(c.currency.clone()))
    }

    /// The policy's rules about how much: the per-request cap holds the cost and the
    /// price (a session's unit may cost more than paying from it takes), the budget
    /// the cost.
    fn afford(&self, c: &Choice, cap: u128) -> Result<(), PolicyError> {
        let asked = c.cost.max(c.amount);
        if asked > cap {
            return Err(PolicyError::OverRequestCap { amount: asked, cap });
        }
        if let Some(budget) = limit(&self.policy.budget, &c.currency) {
            let spent = limit(&self.spent, &c.currency).unwrap_or(0);
            let left = budget.saturating_sub(spent);
            if c.cost > left {
                return Err(PolicyError::OverBudget {
                    amount: c.cost,
                    left,
                });
            }
        }
        Ok(())
    }

    fn reserve(&mut self, currency: &str, amount: u128) {
        let key = currency.to_ascii_lowercase();
        match self.spent.iter_mut().find(|(c, _)| *c == key) {
            Some((_, spent)) => *spent = spent.saturating_add(amount),
            None => self.spent.push((key, amount)),
        }
    }
}

/// The limit for `currency` in a list of per-currency limits (case-insensitive).
fn limit(limits: &[(String, u128)], currency: &str) -> Option<u128> {
    limits
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(currency))
        .map(|(_, l)| *l)
}

/// Whether an allowed-origin entry (`https://host`, `https://host:port`) names
/// `origin` (written `scheme://host:port`).
fn same_origin(allowed: &str, origin: &str) -> bool {
    let allowed = allowed.trim_end_matches('/').to_ascii_lowercase();
    if allowed == origin {
        return true;
    }
    // Without a port, the scheme's default port is meant.
    let with_default = if allowed.starts_with("https://") {
        format!("{allowed}:443")
    } else if allowed.starts_with("http://") {
        format!("{allowed}:80")
    } else {
        return false;
    };
    with_default == origin
}
