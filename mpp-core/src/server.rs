//! The server engine: what to answer a request for a paid route, decided without I/O.
//!
//! A server drives it in this order for each request to a paid route:
//!
//! 1. [`Paywall::evaluate`] with the request's parts and the current time. It runs
//!    every stateless check, in this order: size caps and finding the Payment
//!    credentials in the header fields → several credentials (400 `bad-request`) →
//!    parsing the one credential (402 `malformed-credential`) → HMAC binding →
//!    route pinning (D7) → body digest → expiry (D8). It returns either
//!    [`Evaluation::Refuse`] or [`Evaluation::Verify`] with a [`Pending`] payment. A
//!    refusal becomes a [`Reply`] through [`Paywall::reply`], given a fresh random
//!    nonce and, for offers whose terms are made per challenge
//!    ([`RouteOffer::per_challenge`]: a fresh invoice each time), the terms the
//!    method made: a 402 with fresh challenges, or a 400 or 500.
//! 2. For a [`Pending`] payment: optionally look up a stored response under
//!    [`Pending::idempotency_key`] (it covers the key and the whole credential);
//!    then claim [`Pending::claim_key`] atomically in a store, for
//!    [`Pending::claim_ttl_secs`] (D9). Already claimed: answer
//!    [`Paywall::reject`] with `invalid-challenge`; store failure: with
//!    `internal-payment-error`. Never proceed without a recorded claim.
//! 3. Let the method check the payload's schema (`invalid-payload`) and settle
//!    ([`crate::method::ChargeMethod::settle`]) on [`Pending::charge`]. On success,
//!    build the receipt with [`Pending::receipt`], run the protected handler, and add
//!    [`Pending::paid_headers`] to a 2xx response. On failure, answer
//!    [`Paywall::reject`] with the error's problem type. The id stays claimed either
//!    way: a challenge is used once, whether its verification succeeds or fails.
//!    The one exception is a failure on the server's side with nothing settled (the
//!    method could not reach a verdict, the store failed after the claim): the
//!    server may mark the claim as retryable by the very same credential
//!    ([`Pending::fingerprint`]) and answer `internal-payment-error` with
//!    `Retry-After`; if it cannot, it answers without `Retry-After`
//!    ([`Refusal::not_retryable`]), since a retry would be refused.
//!
//! Every challenge the engine issues carries `expires` (D8) and an `opaque` that
//! binds the resource (HTTP method and path, and the query if the route says so) and
//! a nonce, so two challenges are never alike and a challenge for `GET /a` never pays
//! for `GET /b` (D7).

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::accept::AcceptPayment;
use crate::binding::{BindingInput, ChallengeBinder};
use crate::challenge::{Challenge, ChallengeBuilder, CredentialField};
use crate::credential::{Credential, FoundCredential, find_credentials};
use crate::digest::{ContentDigest, DigestAlgorithm};
use crate::error::BindingError;
use crate::json::JsonObject;
use crate::method::{Charge, MethodError, Settlement};
use crate::options::ParseOptions;
use crate::problem::{Problem, ProblemType};
use crate::receipt::Receipt;
use crate::time::{Timestamp, UnixTime};
use crate::value::{Base64Json, IntentName, MethodName, Opaque, Realm};
use crate::verify::{self, EchoError};
use crate::{base64, jcs};

/// Kept at its old path; the type is defined with the other problem bodies.
pub use crate::problem::SpecificProblem;

/// How long an issued challenge stays payable when the route does not say (D8).
pub const DEFAULT_TTL_SECS: u64 = 300;

/// How long a claimed id is kept after its challenge expires, to cover clock skew.
pub const CLAIM_GRACE_SECS: u64 = 60;

/// 9999-12-31T23:59:59Z, the last instant RFC 3339 can write.
const LAST_WRITABLE_SECOND: i64 = 253_402_300_799;

/// One way to pay for a route: a method, an intent and the request terms.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteOffer {
    method: MethodName<'static>,
    intent: IntentName<'static>,
    request: JsonObject,
    /// The terms in canonical form, computed once: every challenge carries them, and
    /// every echo is compared with them.
    canonical: String,
    encoded: Base64Json<'static>,
    /// For terms made per challenge: the members an echo must share with `request`.
    pinned: Option<Vec<String>>,
}

impl RouteOffer {
    /// An offer of `request` terms, paid with `method` for `intent`.
    pub fn new(
        method: MethodName<'static>,
        intent: IntentName<'static>,
        request: JsonObject,
    ) -> RouteOffer {
        RouteOffer {
            canonical: jcs::object_to_string(&request),
            encoded: Base64Json::encode(&request),
            method,
            intent,
            request,
            pinned: None,
        }
    }

    /// An offer whose terms are made for each challenge (see [`OfferTerms`]) from the
    /// `template`; an echo must agree with the template on the `pinned` members (a
    /// member absent from both agrees), the rest being bound by the challenge id.
    pub fn per_challenge(
        method: MethodName<'static>,
        intent: IntentName<'static>,
        template: JsonObject,
        pinned: &[&str],
    ) -> RouteOffer {
        let mut offer = RouteOffer::new(method, intent, template);
        offer.pinned = Some(pinned.iter().map(|m| (*m).to_string()).collect());
        offer
    }

    /// Whether its terms are made for each challenge.
    pub fn is_per_challenge(&self) -> bool {
        self.pinned.is_some()
    }

    /// Whether it offers the `session` intent: a session's later requests echo the
    /// challenge the session was opened with, so for such an offer an expired
    /// challenge, or one issued for another resource of the realm, is not refused
    /// here but reported ([`Pending::fresh`]) for the session logic to judge.
    pub fn is_session(&self) -> bool {
        self.intent == "session"
    }

    /// Whether an echo's decoded terms (`canonical`: their JCS text) are this offer's.
    fn accepts(&self, decoded: &JsonObject, canonical: &str) -> bool {
        match &self.pinned {
            None => self.canonical == canonical,
            Some(pinned) => pinned
                .iter()
                .all(|m| decoded.get(m.as_str()) == self.request.get(m.as_str())),
        }
    }

    /// The payment method.
    pub fn method(&self) -> &MethodName<'static> {
        &self.method
    }

    /// The intent.
    pub fn intent(&self) -> &IntentName<'static> {
        &self.intent
    }

    /// The terms: amount, currency, recipient, method details.
    pub fn request(&self) -> &JsonObject {
        &self.request
    }
}

/// What a paid route asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// The offers, in the server's order of preference.
    pub offers: Vec<RouteOffer>,
    /// A human-readable description put in each challenge (display only).
    pub description: Option<String>,
    /// How long each challenge stays payable, in seconds.
    pub ttl_secs: u64,
    /// The field credentials must arrive in (D12).
    pub credential_field: CredentialField,
    /// Whether the query string selects the resource, and so is bound too (D7).
    pub bind_query: bool,
    /// The route's own protection space, when it differs from the paywall's realm.
    pub realm: Option<Realm<'static>>,
}

impl Route {
    /// A route with these offers and the defaults: no description, a five-minute
    /// expiry, credentials in `Authorization`, the path (not the query) bound.
    pub fn new(offers: Vec<RouteOffer>) -> Route {
        Route {
            offers,
            description: None,
            ttl_secs: DEFAULT_TTL_SECS,
            credential_field: CredentialField::Authorization,
            bind_query: false,
            realm: None,
        }
    }
}

/// The parts of an HTTP request the engine looks at.
#[derive(Debug, Clone)]
pub struct PaymentRequest<'a> {
    /// The HTTP method (`GET`, `POST`, …).
    pub http_method: &'a str,
    /// The path.
    pub path: &'a str,
    /// The query string, without `?`.
    pub query: Option<&'a str>,
    /// Every Payment credential of the request ([`find_credentials`]).
    pub credentials: Vec<FoundCredential<'a>>,
    /// The `Accept-Payment` value, if any.
    pub accept_payment: Option<&'a str>,
    /// The `Idempotency-Key` value, if any.
    pub idempotency_key: Option<&'a str>,
    /// The request body, buffered by the caller (bounded), if the request has one.
    pub body: Option<&'a [u8]>,
}

impl<'a> PaymentRequest<'a> {
    /// Reads what the engine needs from a request's header fields (names compared
    /// case-insensitively; values as bytes, as `http::HeaderMap` gives them).
    pub fn from_headers<I, N, V>(
        http_method: &'a str,
        path: &'a str,
        query: Option<&'a str>,
        headers: I,
        body: Option<&'a [u8]>,
    ) -> PaymentRequest<'a>
    where
        I: IntoIterator<Item = (N, &'a V)> + Clone,
        N: AsRef<str>,
        V: AsRef<[u8]> + ?Sized + 'a,
    {
        let text = |name: &str| {
            headers
                .clone()
                .into_iter()
                .find(|(n, _)| n.as_ref().eq_ignore_ascii_case(name))
                .and_then(|(_, v)| core::str::from_utf8(v.as_ref()).ok())
        };
        PaymentRequest {
            http_method,
            path,
            query,
            credentials: find_credentials(headers.clone()),
            accept_payment: text("accept-payment"),
            idempotency_key: text("idempotency-key"),
            body,
        }
    }

    /// The body, when there is a non-empty one (only those are bound).
    fn content(&self) -> Option<&'a [u8]> {
        self.body.filter(|b| !b.is_empty())
    }

    /// The resource a challenge binds: `METHOD path[?query]`.
    fn resource(&self, route: &Route) -> String {
        match (route.bind_query, self.query) {
            (true, Some(q)) => format!("{} {}?{}", self.http_method, self.path, q),
            _ => format!("{} {}", self.http_method, self.path),
        }
    }
}

/// The engine's verdict on a request.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Evaluation {
    /// Refuse: build the reply with [`Paywall::reply`] (or [`Paywall::reject`] when
    /// the route has no per-challenge offer); the protected handler must not run.
    Refuse(Refusal),
    /// The credential passed every stateless check: claim, settle, then serve.
    Verify(Pending),
}

/// A response the engine decided: status, header fields and problem body.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The HTTP status (402, 400 or 500).
    pub status: u16,
    /// The problem type of the body.
    pub problem_type: ProblemType,
    /// Header fields, in order: `WWW-Authenticate` once per fresh challenge (none on
    /// a 400 or 500), then `Cache-Control`, `Content-Type` and maybe `Retry-After`.
    pub headers: Vec<(&'static str, Cow<'static, str>)>,
    /// The `application/problem+json` body.
    pub body: String,
}

/// Why a request is refused, before the reply is built ([`Paywall::reply`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The problem type (its status: 402, 400 or 500).
    pub problem: ProblemType,
    /// The explanation for the problem's `detail`.
    pub detail: String,
    /// A type more specific than `problem` (an intent's or a method's own), sent in
    /// its place with `problem`'s status.
    pub specific: Option<Box<SpecificProblem>>,
    /// For `internal-payment-error`: whether sending the same credential again can
    /// succeed, which `Retry-After` tells the client. True unless
    /// [`Refusal::not_retryable`] says otherwise.
    pub retryable: bool,
}

impl Refusal {
    /// A refusal of type `problem`.
    pub fn new(problem: ProblemType, detail: impl Into<String>) -> Refusal {
        Refusal {
            problem,
            detail: detail.into(),
            specific: None,
            retryable: true,
        }
    }

    /// Says that the same credential sent again would be refused (its challenge is
    /// used up), so an `internal-payment-error` goes out without `Retry-After`.
    pub fn not_retryable(mut self) -> Refusal {
        self.retryable = false;
        self
    }

    /// Reports `specific` instead of the core type (which still decides the status
    /// and whether challenges are sent).
    pub fn with_specific(mut self, specific: SpecificProblem) -> Refusal {
        self.specific = Some(Box::new(specific));
        self
    }
}

impl From<MethodError> for Refusal {
    /// The method's verdict as a refusal: its core type and message, and its own
    /// problem type if it gave one.
    fn from(e: MethodError) -> Refusal {
        let refusal = Refusal::new(e.problem_type(), e.message());
        match e {
            MethodError::Refined(r) => refusal.with_specific(r.problem),
            _ => refusal,
        }
    }
}

/// The terms of one challenge of a per-challenge offer ([`RouteOffer::per_challenge`]),
/// made by the method before the challenges are issued.
#[derive(Debug, Clone, PartialEq)]
pub struct OfferTerms {
    request: Base64Json<'static>,
    not_after: Option<UnixTime>,
}

impl OfferTerms {
    /// `request` terms, for a challenge that expires no later than `not_after`.
    pub fn new(request: &JsonObject, not_after: Option<UnixTime>) -> OfferTerms {
        OfferTerms {
            request: Base64Json::encode(request),
            not_after,
        }
    }
}

/// A payment whose credential passed the stateless checks.
#[derive(Debug)]
pub struct Pending {
    /// The credential.
    pub credential: Credential,
    /// Which of the route's offers it pays.
    pub offer: usize,
    /// The decoded terms of the echo (equal to the offer's).
    pub request: JsonObject,
    /// Whether the echoed challenge is unexpired and was issued for this resource:
    /// always for a charge; for a session offer, what decides whether the challenge
    /// may pay a deposit (open, top-up) or only name the session (use, close).
    pub fresh: bool,
    claim_ttl_secs: u64,
    idempotency_key: Option<String>,
    /// The credential's header value as received, hashed only when a claim must say
    /// which credential made it.
    credential_text: String,
}

impl Pending {
    /// The store key to claim atomically before settling (D9).
    pub fn claim_key(&self) -> String {
        format!("mpp:claim:{}", self.credential.challenge.id)
    }

    /// How long to keep the claim: until the challenge expires, plus a grace period.
    pub fn claim_ttl_secs(&self) -> u64 {
        self.claim_ttl_secs
    }

    /// The store key of the response to replay for a retry with the same
    /// `Idempotency-Key` and the very same credential (both are hashed into it), if
    /// the request is one that may carry it (POST, PUT, PATCH, DELETE) and does.
    pub fn idempotency_key(&self) -> Option<&str> {
        self.idempotency_key.as_deref()
    }

    /// A digest of the credential exactly as received (base64url SHA-256 of its
    /// header value): what a claim marked retryable records, so that only the very
    /// same credential may take it up again.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let digest: [u8; 32] = Sha256::digest(self.credential_text.as_bytes()).into();
        base64::encode(&digest)
    }

    /// The charge to settle.
    pub fn charge(&self) -> Charge<'_> {
        Charge {
            challenge: &self.credential.challenge,
            request: &self.request,
            payload: &self.credential.payload,
            source: self.credential.source.as_deref(),
        }
    }

    /// The receipt for a settled payment: the settlement's reference and members, plus
    /// `challengeId` and `intent`.
    pub fn receipt(&self, settlement: Settlement, now: UnixTime) -> Receipt {
        let challenge = &self.credential.challenge;
        // A clock beyond the years RFC 3339 can write is clamped to them.
        let clamped = UnixTime::from_secs(now.secs().clamp(0, LAST_WRITABLE_SECOND));
        let timestamp = Timestamp::from_unix(clamped)
            .unwrap_or_else(|| unreachable!("every second of 1970–9999 has an RFC 3339 form"));
        let mut receipt = Receipt::new(challenge.method.clone(), timestamp, settlement.reference);
        receipt.extra = settlement.extra;
        receipt
            .extra
            .insert("challengeId".into(), challenge.id.as_str().into());
        receipt
            .extra
            .insert("intent".into(), challenge.intent.as_str().into());
        receipt
    }

    /// The header fields a paid 2xx response carries: the receipt, and
    /// `Cache-Control: private` (D6).
    pub fn paid_headers(&self, receipt: &Receipt) -> Vec<(&'static str, String)> {
        alloc::vec![
            ("payment-receipt", receipt.to_header()),
            ("cache-control", "private".to_string()),
        ]
    }
}

/// A server's payment configuration: its realm and challenge-binding secrets.
#[derive(Debug, Clone)]
pub struct Paywall {
    binder: ChallengeBinder,
    realm: Realm<'static>,
    options: ParseOptions,
}

impl Paywall {
    /// A paywall for `realm` whose challenges are bound with `binder`.
    pub fn new(binder: ChallengeBinder, realm: Realm<'static>) -> Paywall {
        Paywall {
            binder,
            realm,
            options: ParseOptions::STRICT,
        }
    }

    /// The realm of routes that do not set their own.
    pub fn realm(&self) -> &Realm<'static> {
        &self.realm
    }

    fn realm_of<'r>(&'r self, route: &'r Route) -> &'r Realm<'static> {
        route.realm.as_ref().unwrap_or(&self.realm)
    }

    /// Decides what to do with `request` to `route` at `now`.
    pub fn evaluate(
        &self,
        route: &Route,
        request: &PaymentRequest<'_>,
        now: UnixTime,
    ) -> Evaluation {
        let reject =
            |problem: ProblemType, detail: &str| Evaluation::Refuse(Refusal::new(problem, detail));
        let found = match request.credentials.as_slice() {
            [] => {
                return reject(
                    ProblemType::PaymentRequired,
                    "this resource requires payment",
                );
            }
            [found] => *found,
            _ => {
                return reject(
                    ProblemType::BadRequest,
                    "the request carries more than one Payment credential",
                );
            }
        };
        let credential = match Credential::parse_with(found.value, &self.options) {
            Ok(c) => c,
            Err(e) => return reject(ProblemType::MalformedCredential, &format!("{e}")),
        };
        match self.check(route, request, found.field, &credential, now) {
            Ok((offer, decoded, fresh)) => {
                let expires = credential
                    .challenge
                    .expires
                    .as_ref()
                    .map_or(now, Timestamp::unix);
                let remaining =
                    u64::try_from(expires.secs().saturating_sub(now.secs())).unwrap_or(0);
                let idempotent = matches!(request.http_method, "POST" | "PUT" | "PATCH" | "DELETE");
                let idempotency_key = request
                    .idempotency_key
                    .filter(|_| idempotent)
                    .map(|key| replay_key(key, found.value));
                Evaluation::Verify(Pending {
                    credential,
                    offer,
                    request: decoded,
                    fresh,
                    claim_ttl_secs: remaining + CLAIM_GRACE_SECS,
                    idempotency_key,
                    credential_text: String::from_utf8_lossy(found.value).into_owned(),
                })
            }
            Err(e) => reject(e.problem_type(), &format!("{e}")),
        }
    }

    /// The stateless checks after parsing: binding, pinning, body digest, expiry.
    fn check(
        &self,
        route: &Route,
        request: &PaymentRequest<'_>,
        field: CredentialField,
        credential: &Credential,
        now: UnixTime,
    ) -> Result<(usize, JsonObject, bool), CheckError> {
        let echo = &credential.challenge;
        // One decode serves both the id check and the offer match: the id's request
        // slot is base64url of the JCS form (D2), the offer match compares JCS forms.
        let decoded = echo
            .request
            .decode()
            .map_err(|e| CheckError::Echo(EchoError::Malformed(e)))?;
        let canonical = jcs::object_to_string(&decoded);
        let slot = base64::encode(canonical.as_bytes());
        match self.binder.verify(&BindingInput::of(echo, &slot), &echo.id) {
            Ok(true) => {}
            Ok(false) => return Err(CheckError::Echo(EchoError::NotIssuedHere)),
            Err(e) => return Err(CheckError::Echo(EchoError::Binding(e))),
        }
        let offer = route
            .offers
            .iter()
            .position(|o| {
                o.method == echo.method
                    && o.intent == echo.intent
                    && o.accepts(&decoded, &canonical)
            })
            .ok_or(CheckError::NotOffered)?;
        if echo.realm != *self.realm_of(route) {
            return Err(CheckError::NotOffered);
        }
        let resource = echo
            .opaque
            .as_ref()
            .and_then(|o| o.decode().ok())
            .and_then(|o| o.get("route").and_then(|r| r.as_str()).map(str::to_string));
        let session = route.offers[offer].is_session();
        let same_resource = resource.as_deref() == Some(request.resource(route).as_str());
        if !same_resource && !session {
            return Err(CheckError::OtherResource);
        }
        if echo.credential_field != route.credential_field || field != echo.credential_field {
            return Err(CheckError::WrongField(echo.credential_field));
        }
        let digest_ok = match (&echo.digest, request.content()) {
            (None, None) => true,
            (Some(d), Some(body)) => d.matches(body),
            _ => false,
        };
        if !digest_ok {
            return Err(CheckError::OtherBody);
        }
        let unexpired = match verify::check_expiry(echo, now) {
            Ok(()) => true,
            Err(EchoError::Expired) if session => false,
            Err(e) => return Err(CheckError::Echo(e)),
        };
        Ok((offer, decoded, same_resource && unexpired))
    }

    /// A refusal: a 402 with fresh challenges (or a 400/500 without) and a problem
    /// body. Per-challenge offers are left out: use [`Paywall::reply`] with their terms.
    pub fn reject(
        &self,
        route: &Route,
        request: &PaymentRequest<'_>,
        problem: ProblemType,
        detail: &str,
        now: UnixTime,
        nonce: &[u8; 16],
    ) -> Reply {
        let refusal = Refusal::new(problem, detail);
        self.reply(route, request, &refusal, now, nonce, &[])
    }

    /// The reply to `refusal`: a 402 with fresh challenges (or a 400/500 without) and
    /// a problem body. `terms[i]` holds the terms of offer `i` when it is a
    /// per-challenge offer; such an offer without terms is left out.
    pub fn reply(
        &self,
        route: &Route,
        request: &PaymentRequest<'_>,
        refusal: &Refusal,
        now: UnixTime,
        nonce: &[u8; 16],
        terms: &[Option<OfferTerms>],
    ) -> Reply {
        let mut problem = refusal.problem;
        let mut detail = Cow::Borrowed(refusal.detail.as_str());
        let mut headers = Vec::with_capacity(route.offers.len() + 3);
        let mut first_id = None;
        if problem.carries_challenge() {
            let issued = self.issue_each(route, request, now, nonce, terms, |c| {
                first_id.get_or_insert_with(|| c.id.to_string());
                // Issued challenges hold validated values; formatting only fails on
                // a description with control characters, and then that offer is skipped.
                if let Ok(h) = c.to_header() {
                    headers.push(("www-authenticate", Cow::Owned(h)));
                }
            });
            if let Err(e) = issued {
                detail = Cow::Owned(format!("cannot issue a challenge: {e}"));
            }
            // A 402 must never go out without a challenge (spec §1.8).
            if headers.is_empty() {
                problem = ProblemType::InternalPaymentError;
                if issued.is_ok() {
                    detail = Cow::Borrowed("the route offers no way to pay");
                }
            }
        }
        headers.push(("cache-control", Cow::Borrowed("no-store")));
        headers.push(("content-type", Cow::Borrowed("application/problem+json")));
        if problem == ProblemType::InternalPaymentError && refusal.retryable {
            // Transient (a store or a settlement backend was unreachable), and the
            // server said a retry of the credential can succeed.
            headers.push(("retry-after", Cow::Borrowed("1")));
        }
        let challenge_id = if problem.carries_challenge() {
            first_id.as_deref()
        } else {
            None
        };
        let body = match &refusal.specific {
            // A fallback to internal-payment-error above drops the refinement.
            Some(specific) if problem == refusal.problem => {
                let mut p = Problem::new(problem).with_detail(detail);
                p.type_uri.clone_from(&specific.type_uri);
                p.title.clone_from(&specific.title);
                p.challenge_id = challenge_id.map(str::to_string);
                p.extensions.clone_from(&specific.extensions);
                p.to_json()
            }
            _ => problem.to_json(Some(&detail), challenge_id),
        };
        Reply {
            status: problem.status(),
            problem_type: problem,
            headers,
            body,
        }
    }

    /// Fresh challenges for `route`, one per offer, ordered by the request's
    /// `Accept-Payment` (all offers, in the server's order, when it is absent,
    /// malformed or matches none). `terms` as for [`Paywall::reply`].
    pub fn challenges(
        &self,
        route: &Route,
        request: &PaymentRequest<'_>,
        now: UnixTime,
        nonce: &[u8; 16],
        terms: &[Option<OfferTerms>],
    ) -> Result<Vec<Challenge<'static>>, BindingError> {
        let mut out = Vec::with_capacity(route.offers.len());
        self.issue_each(route, request, now, nonce, terms, |c| {
            out.push(c.into_owned())
        })?;
        Ok(out)
    }

    /// Issues the challenges of [`Paywall::challenges`], handing each to `f` without
    /// copying what it borrows from the route.
    fn issue_each(
        &self,
        route: &Route,
        request: &PaymentRequest<'_>,
        now: UnixTime,
        nonce: &[u8; 16],
        terms: &[Option<OfferTerms>],
        mut f: impl FnMut(Challenge<'_>),
    ) -> Result<(), BindingError> {
        let ranked = request
            .accept_payment
            .and_then(|a| AcceptPayment::parse(a).ok())
            .map(|a| {
                a.rank(
                    route
                        .offers
                        .iter()
                        .map(|o| (o.method.as_str(), o.intent.as_str())),
                )
            })
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| (0..route.offers.len()).collect());
        // Whole seconds: D8 emits `…Z` timestamps.
        let expires = now
            .checked_add_secs(route.ttl_secs)
            .and_then(|t| Timestamp::from_unix(UnixTime::from_secs(t.secs())))
            .ok_or(BindingError::TimeOutOfRange)?;
        let opaque = Opaque::encode([
            ("route", request.resource(route).as_str()),
            ("nonce", base64::encode(nonce).as_str()),
        ]);
        let digest = request
            .content()
            .map(|body| ContentDigest::compute(DigestAlgorithm::Sha256, body));
        for i in ranked {
            let offer = &route.offers[i];
            let (request, expires) = if offer.is_per_challenge() {
                let Some(Some(t)) = terms.get(i) else {
                    continue;
                };
                // No later than the terms allow (an invoice's expiry), in whole seconds.
                let expires = match t.not_after {
                    Some(limit) if limit < expires.unix() => {
                        if limit <= now {
                            continue;
                        }
                        Timestamp::from_unix(UnixTime::from_secs(limit.secs()))
                            .ok_or(BindingError::TimeOutOfRange)?
                    }
                    _ => expires.borrowed(),
                };
                (t.request.borrowed(), expires)
            } else {
                (offer.encoded.borrowed(), expires.borrowed())
            };
            let mut b = ChallengeBuilder::from_parts(
                self.realm_of(route).borrowed(),
                offer.method.borrowed(),
                offer.intent.borrowed(),
                request,
            )
            .expires(expires)
            .opaque(opaque.borrowed());
            if let Some(d) = &digest {
                b = b.digest(d.borrowed());
            }
            if let Some(text) = &route.description {
                b = b.description(text.as_str());
            }
            if route.credential_field == CredentialField::PaymentAuthorization {
                b = b.payment_authorization();
            }
            f(b.issue(&self.binder)?);
        }
        Ok(())
    }
}

/// The store key of an idempotent response: a hash of the `Idempotency-Key` and of
/// the whole credential, so only the same key with the very same credential replays.
fn replay_key(key: &str, credential: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update((key.len() as u64).to_be_bytes());
    hash.update(key.as_bytes());
    hash.update(credential);
    let digest: [u8; 32] = hash.finalize().into();
    format!("mpp:idem:{}", base64::encode(&digest))
}

/// Why a credential failed the stateless checks.
#[derive(Debug)]
enum CheckError {
    Echo(EchoError),
    NotOffered,
    OtherResource,
    WrongField(CredentialField),
    OtherBody,
}

impl CheckError {
    fn problem_type(&self) -> ProblemType {
        match self {
            CheckError::Echo(e) => e.problem_type(),
            _ => ProblemType::InvalidChallenge,
        }
    }
}

impl core::fmt::Display for CheckError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CheckError::Echo(e) => e.fmt(f),
            CheckError::NotOffered => {
                f.write_str("challenge was issued for other terms than this route offers")
            }
            CheckError::OtherResource => f.write_str("challenge was issued for another resource"),
            CheckError::WrongField(field) => {
                write!(f, "the credential must be sent in {}", field.name())
            }
            CheckError::OtherBody => f.write_str("challenge was issued for another request body"),
        }
    }
}
