//! Problem types of the Payment scheme and RFC 9457 problem details bodies.
//!
//! Every payment error response carries `Content-Type: application/problem+json` and a
//! body whose `type` is one of the URIs under [`ProblemType::BASE_URI`]. The Payment
//! scheme adds a `challengeId` member naming the fresh challenge sent alongside.

use alloc::borrow::ToOwned;
use alloc::string::String;
use core::fmt::Write as _;

use serde_json::Value;

use crate::error::{ParseError, ParseErrorKind};
use crate::json::{self, JsonObject};

pub use crate::problem_type::ProblemType;

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

/// A problem type that refines a core one, such as the session intent's
/// `https://paymentauth.org/problems/session/insufficient-value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecificProblem {
    /// Its absolute URI.
    pub type_uri: String,
    /// Its title.
    pub title: String,
    /// Members the type defines (`required`, `authorized`, …), added to the body.
    pub extensions: JsonObject,
}

impl SpecificProblem {
    /// A type and its title.
    pub fn new(type_uri: impl Into<String>, title: impl Into<String>) -> SpecificProblem {
        SpecificProblem {
            type_uri: type_uri.into(),
            title: title.into(),
            extensions: JsonObject::new(),
        }
    }

    /// Adds the member `name` to the body.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> SpecificProblem {
        self.extensions.insert(name.into(), value.into());
        self
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
