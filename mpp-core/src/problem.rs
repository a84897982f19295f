//! Problem types of the Payment scheme and RFC 9457 problem details bodies.
//!
//! Every payment error response carries `Content-Type: application/problem+json` and a
//! body whose `type` is one of the URIs under [`ProblemType::BASE_URI`]. The Payment
//! scheme adds a `challengeId` member naming the fresh challenge sent alongside.

use alloc::borrow::ToOwned;
use alloc::string::String;
use core::fmt;
use core::fmt::Write as _;

use serde_json::Value;

use crate::error::{ParseError, ParseErrorKind};
use crate::json::{self, JsonObject};

/// The eleven problem types of draft-httpauth-payment-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemType {
    /// 402: the resource requires payment; a challenge is attached.
    PaymentRequired,
    /// 402: the amount paid is below the price.
    PaymentInsufficient,
    /// 402: the challenge or authorization has expired (-01; -00 used `invalid-challenge`).
    PaymentExpired,
    /// 402: the payment proof does not verify.
    VerificationFailed,
    /// 400: the payment method is not accepted.
    MethodUnsupported,
    /// 402: the credential cannot be parsed.
    MalformedCredential,
    /// 402: the challenge id is unknown, does not match its echo, or was already used.
    InvalidChallenge,
    /// 400: the request is malformed in a way unrelated to one credential (several
    /// credentials, for instance). Added in -01.
    BadRequest,
    /// 402: the credential payload does not match the method's schema. Added in -01.
    InvalidPayload,
    /// 500: the server failed while processing a payment. Added in -01.
    InternalPaymentError,
    /// 402: the payer must complete an action (such as 3-D Secure) first. Added in -01.
    PaymentActionRequired,
}

impl ProblemType {
    /// The base URI of the Payment scheme's problem types.
    pub const BASE_URI: &'static str = "https://paymentauth.org/problems/";

    /// All problem types, in the order of the -01 table.
    pub const ALL: [ProblemType; 11] = [
        ProblemType::PaymentRequired,
        ProblemType::PaymentInsufficient,
        ProblemType::PaymentExpired,
        ProblemType::VerificationFailed,
        ProblemType::MethodUnsupported,
        ProblemType::MalformedCredential,
        ProblemType::InvalidChallenge,
        ProblemType::BadRequest,
        ProblemType::InvalidPayload,
        ProblemType::InternalPaymentError,
        ProblemType::PaymentActionRequired,
    ];

    /// The code: the last segment of the type URI (`payment-required`, …).
    pub const fn slug(self) -> &'static str {
        match self {
            ProblemType::PaymentRequired => "payment-required",
            ProblemType::PaymentInsufficient => "payment-insufficient",
            ProblemType::PaymentExpired => "payment-expired",
            ProblemType::VerificationFailed => "verification-failed",
            ProblemType::MethodUnsupported => "method-unsupported",
            ProblemType::MalformedCredential => "malformed-credential",
            ProblemType::InvalidChallenge => "invalid-challenge",
            ProblemType::BadRequest => "bad-request",
            ProblemType::InvalidPayload => "invalid-payload",
            ProblemType::InternalPaymentError => "internal-payment-error",
            ProblemType::PaymentActionRequired => "payment-action-required",
        }
    }

    /// The HTTP status the spec assigns.
    pub const fn status(self) -> u16 {
        match self {
            ProblemType::MethodUnsupported | ProblemType::BadRequest => 400,
            ProblemType::InternalPaymentError => 500,
            _ => 402,
        }
    }

    /// The title published at the type URI.
    pub const fn title(self) -> &'static str {
        match self {
            ProblemType::PaymentRequired => "Payment Required",
            ProblemType::PaymentInsufficient => "Payment Insufficient",
            ProblemType::PaymentExpired => "Payment Expired",
            ProblemType::VerificationFailed => "Verification Failed",
            ProblemType::MethodUnsupported => "Method Unsupported",
            ProblemType::MalformedCredential => "Malformed Credential",
            ProblemType::InvalidChallenge => "Invalid Challenge",
            ProblemType::BadRequest => "Bad Request",
            ProblemType::InvalidPayload => "Invalid Payload",
            ProblemType::InternalPaymentError => "Internal Payment Error",
            ProblemType::PaymentActionRequired => "Payment Action Required",
        }
    }

    /// Whether a response with this problem carries a fresh challenge: every 402 must.
    pub const fn carries_challenge(self) -> bool {
        self.status() == 402
    }

    /// The full type URI.
    pub fn uri(self) -> String {
        let mut s = String::with_capacity(Self::BASE_URI.len() + 24);
        s.push_str(Self::BASE_URI);
        s.push_str(self.slug());
        s
    }

    /// The problem type for a type URI, or for its bare code.
    pub fn from_uri(uri: &str) -> Option<ProblemType> {
        let slug = uri.strip_prefix(Self::BASE_URI).unwrap_or(uri);
        Self::ALL.into_iter().find(|p| p.slug() == slug)
    }
}

impl fmt::Display for ProblemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

/// An RFC 9457 problem details object.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// `type`: a URI; one of [`ProblemType`]'s for the Payment scheme.
    pub type_uri: String,
    /// `title`: a short summary of the problem type.
    pub title: String,
    /// `status`: the HTTP status code.
    pub status: u16,
    /// `detail`: an explanation of this occurrence. Never a secret or a credential.
    pub detail: Option<String>,
    /// `challengeId`: the id of the fresh challenge sent with this response.
    pub challenge_id: Option<String>,
    /// Any other members, kept as received.
    pub extensions: JsonObject,
}

impl Problem {
    /// The problem details for `problem_type`, with its title and status.
    pub fn new(problem_type: ProblemType) -> Self {
        Problem {
            type_uri: problem_type.uri(),
            title: problem_type.title().to_owned(),
            status: problem_type.status(),
            detail: None,
            challenge_id: None,
            extensions: JsonObject::new(),
        }
    }

    /// Sets `detail`.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Sets `challengeId`.
    pub fn with_challenge_id(mut self, id: impl Into<String>) -> Self {
        self.challenge_id = Some(id.into());
        self
    }

    /// The Payment problem type named by `type`, if it is one.
    pub fn problem_type(&self) -> Option<ProblemType> {
        self.type_uri
            .strip_prefix(ProblemType::BASE_URI)
            .and_then(ProblemType::from_uri)
    }

    /// The JSON body (`application/problem+json`), canonical (RFC 8785).
    pub fn to_json(&self) -> String {
        if self.extensions.is_empty() {
            return write_json(
                &self.type_uri,
                &self.title,
                self.status,
                self.detail.as_deref(),
                self.challenge_id.as_deref(),
            );
        }
        let mut obj = self.extensions.clone();
        obj.insert("type".into(), Value::String(self.type_uri.clone()));
        obj.insert("title".into(), Value::String(self.title.clone()));
        obj.insert("status".into(), Value::from(self.status));
        if let Some(d) = &self.detail {
            obj.insert("detail".into(), Value::String(d.clone()));
        }
        if let Some(id) = &self.challenge_id {
            obj.insert("challengeId".into(), Value::String(id.clone()));
        }
        crate::jcs::object_to_string(&obj)
    }

    /// Parses a problem details body. `type` defaults to `about:blank` (RFC 9457 §3.1.1);
    /// `status` must be an integer HTTP status when present.
    pub fn parse(body: &[u8]) -> Result<Problem, ParseError> {
        let mut obj = json::parse_object(body)?;
        let invalid = |field| ParseError::new(ParseErrorKind::InvalidProblem, 0).in_field(field);
        let mut take_string = |name: &'static str| match obj.remove(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(invalid(name)),
        };
        let type_uri = take_string("type")?.unwrap_or_else(|| "about:blank".into());
        let title = take_string("title")?.unwrap_or_default();
        let detail = take_string("detail")?;
        let challenge_id = take_string("challengeId")?;
        let status = match obj.remove("status") {
            None => 0,
            Some(v) => v
                .as_u64()
                .filter(|s| (100..=599).contains(s))
                .ok_or_else(|| invalid("status"))? as u16,
        };
        Ok(Problem {
            type_uri,
            title,
            status,
            detail,
            challenge_id,
            extensions: obj,
        })
    }
}

/// A problem details body without extension members, written directly; its members
/// are in RFC 8785 order, as [`crate::jcs`] would write them.
fn write_json(
    type_uri: &str,
    title: &str,
    status: u16,
    detail: Option<&str>,
    challenge_id: Option<&str>,
) -> String {
    let mut out = String::with_capacity(160);
    out.push('{');
    if let Some(id) = challenge_id {
        out.push_str("\"challengeId\":");
        crate::jcs::write_string(id, &mut out);
        out.push(',');
    }
    if let Some(d) = detail {
        out.push_str("\"detail\":");
        crate::jcs::write_string(d, &mut out);
        out.push(',');
    }
    let _ = write!(out, "\"status\":{status},\"title\":");
    crate::jcs::write_string(title, &mut out);
    out.push_str(",\"type\":");
    crate::jcs::write_string(type_uri, &mut out);
    out.push('}');
    out
}

impl ProblemType {
    /// The `application/problem+json` body for this type, with a `detail` and the id
    /// of the challenge sent alongside; the same bytes as [`Problem::to_json`].
    pub fn to_json(self, detail: Option<&str>, challenge_id: Option<&str>) -> String {
        let mut uri = String::with_capacity(Self::BASE_URI.len() + 24);
        uri.push_str(Self::BASE_URI);
        uri.push_str(self.slug());
        write_json(&uri, self.title(), self.status(), detail, challenge_id)
    }
}

impl From<ProblemType> for Problem {
    fn from(p: ProblemType) -> Self {
        Problem::new(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eleven_types_with_the_statuses_of_draft_01() {
        // req: core.errors.problem-type
        let table: [(&str, u16, &str); 11] = [
            ("payment-required", 402, "Payment Required"),
            ("payment-insufficient", 402, "Payment Insufficient"),
            ("payment-expired", 402, "Payment Expired"),
            ("verification-failed", 402, "Verification Failed"),
            ("method-unsupported", 400, "Method Unsupported"),
            ("malformed-credential", 402, "Malformed Credential"),
            ("invalid-challenge", 402, "Invalid Challenge"),
            ("bad-request", 400, "Bad Request"),
            ("invalid-payload", 402, "Invalid Payload"),
            ("internal-payment-error", 500, "Internal Payment Error"),
            ("payment-action-required", 402, "Payment Action Required"),
        ];
        for (p, (slug, status, title)) in ProblemType::ALL.into_iter().zip(table) {
            assert_eq!((p.slug(), p.status(), p.title()), (slug, status, title));
            assert_eq!(ProblemType::from_uri(&p.uri()), Some(p));
            assert_eq!(
                p.uri(),
                alloc::format!("https://paymentauth.org/problems/{slug}")
            );
        }
        assert_eq!(ProblemType::from_uri("https://example.com/x"), None);
    }

    #[test]
    fn body_round_trips_with_challenge_id_and_extensions() {
        let mut p = Problem::new(ProblemType::VerificationFailed)
            .with_detail("proof rejected")
            .with_challenge_id("abc");
        p.extensions.insert("retryable".into(), Value::Bool(false));
        let body = p.to_json();
        assert_eq!(
            body,
            r#"{"challengeId":"abc","detail":"proof rejected","retryable":false,"status":402,"title":"Verification Failed","type":"https://paymentauth.org/problems/verification-failed"}"#
        );
        let back = Problem::parse(body.as_bytes()).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.problem_type(), Some(ProblemType::VerificationFailed));
    }

    #[test]
    fn direct_writer_matches_the_canonical_serialisation() {
        for p in [
            Problem::new(ProblemType::PaymentRequired),
            Problem::new(ProblemType::BadRequest).with_detail("two \"credentials\"\n"),
            Problem::new(ProblemType::InvalidChallenge)
                .with_detail("é ok")
                .with_challenge_id("id\\1"),
        ] {
            let mut with_extension = p.clone();
            with_extension.extensions.insert("zzz".into(), Value::Null);
            let canonical = with_extension.to_json().replace(",\"zzz\":null", "");
            assert_eq!(p.to_json(), canonical);
            assert_eq!(Problem::parse(p.to_json().as_bytes()).unwrap(), p);
        }
    }

    #[test]
    fn parse_rejects_wrong_member_types() {
        assert_eq!(
            Problem::parse(br#"{"status":"402"}"#).unwrap_err().field(),
            Some("status")
        );
        assert!(Problem::parse(br#"{"type":7}"#).is_err());
        assert!(Problem::parse(b"[]").is_err());
        let blank = Problem::parse(b"{}").unwrap();
        assert_eq!(blank.type_uri, "about:blank");
        assert_eq!(blank.problem_type(), None);
    }
}
