//! `Payment-Receipt`: the base64url JSON a server returns with a paid 2xx response.
//!
//! The core members are `status` (always `"success"`: failures are 402 problems,
//! never receipts), `method`, `timestamp` (RFC 3339) and `reference`. Methods add
//! their own members (`challengeId`, `chainId`, `spent`, …); they are kept, in
//! [`Receipt::extra`], through parse and format. Receipts are sensitive: `Debug`
//! output shows the method and time only.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde_json::Value;

use crate::error::{ParseError, ParseErrorKind};
use crate::json::{self, JsonObject};
use crate::options::ParseOptions;
use crate::time::Timestamp;
use crate::value::MethodName;
use crate::{base64, grammar, jcs};

/// The members this type interprets; everything else goes to `extra`.
const CORE_MEMBERS: [&str; 4] = ["status", "method", "timestamp", "reference"];

/// A successful payment's receipt.
#[derive(Clone, PartialEq)]
pub struct Receipt {
    /// The payment method that settled.
    pub method: MethodName<'static>,
    /// When the payment settled.
    pub timestamp: Timestamp<'static>,
    /// The method's reference: a transaction hash, a payment intent id, …
    pub reference: String,
    /// Method-specific members, as received. Core member names are ignored here
    /// when formatting.
    pub extra: JsonObject,
}

impl fmt::Debug for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receipt")
            .field("method", &self.method.as_str())
            .field("timestamp", &self.timestamp.as_str())
            .field("reference", &"<redacted>")
            .field("extra", &"<redacted>")
            .finish()
    }
}

impl Receipt {
    /// A receipt with no method-specific members.
    pub fn new(
        method: MethodName<'static>,
        timestamp: Timestamp<'static>,
        reference: impl Into<String>,
    ) -> Receipt {
        Receipt {
            method,
            timestamp,
            reference: reference.into(),
            extra: JsonObject::new(),
        }
    }

    /// Parses a `Payment-Receipt` value with the strict defaults.
    pub fn parse(value: &[u8]) -> Result<Receipt, ParseError> {
        Self::parse_with(value, &ParseOptions::STRICT)
    }

    /// Parses a `Payment-Receipt` value (base64url JSON, surrounding whitespace
    /// allowed).
    pub fn parse_with(value: &[u8], options: &ParseOptions) -> Result<Receipt, ParseError> {
        if value.len() > options.max_field_len {
            return Err(ParseError::new(
                ParseErrorKind::TooLarge {
                    limit: options.max_field_len,
                },
                options.max_field_len,
            ));
        }
        let (at, text) = grammar::trim_ows(value);
        if text.is_empty() {
            return Err(ParseError::new(ParseErrorKind::Empty, at));
        }
        let mut bytes = Vec::new();
        base64::decode_into(text, options.base64_alphabet(), &mut bytes)
            .map_err(|e| e.shifted(at))?;
        let object = json::parse_object(&bytes).map_err(|e| ParseError::new(e.kind(), at))?;
        Self::from_json(object).map_err(|e| e.shifted(at))
    }

    /// Reads a decoded receipt object. Error offsets are 0; field names say where.
    pub fn from_json(mut object: JsonObject) -> Result<Receipt, ParseError> {
        let mut take = |field: &'static str| match object.remove(field) {
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(ParseError::new(ParseErrorKind::InvalidField, 0).in_field(field)),
            None => Err(ParseError::new(ParseErrorKind::MissingField, 0).in_field(field)),
        };
        let in_field = |field| move |e: ParseError| ParseError::new(e.kind(), 0).in_field(field);
        if take("status")? != "success" {
            return Err(ParseError::new(ParseErrorKind::ReceiptStatus, 0).in_field("status"));
        }
        let method = MethodName::from_string(take("method")?).map_err(in_field("method"))?;
        let timestamp =
            Timestamp::from_string(take("timestamp")?).map_err(in_field("timestamp"))?;
        let reference = take("reference")?;
        Ok(Receipt {
            method,
            timestamp,
            reference,
            extra: object,
        })
    }

    /// The receipt as a JSON object.
    pub fn to_json(&self) -> JsonObject {
        let mut object: JsonObject = self
            .extra
            .iter()
            .filter(|(k, _)| !CORE_MEMBERS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        object.insert("status".into(), "success".into());
        object.insert("method".into(), self.method.as_str().into());
        object.insert("timestamp".into(), self.timestamp.as_str().into());
        object.insert("reference".into(), self.reference.as_str().into());
        object
    }

    /// The `Payment-Receipt` value: base64url of the JCS serialisation.
    pub fn to_header(&self) -> String {
        base64::encode(jcs::object_to_string(&self.to_json()).as_bytes())
    }
}
