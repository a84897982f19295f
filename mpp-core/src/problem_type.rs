//! The eleven problem types of the Payment scheme: their URIs, titles and statuses.

use alloc::string::String;
use core::fmt;

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
}
