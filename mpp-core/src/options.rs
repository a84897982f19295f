//! The limits and leniency switches a parser is given.

use crate::base64;

/// Limits and leniency switches for parsing received headers.
///
/// The defaults are the strict behaviour this crate recommends. Each `bool` is a
/// documented deviation from the grammar that some deployed peer needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// The longest field value accepted, in bytes (D11: 64 KiB).
    pub max_field_len: usize,
    /// The longest decoded `request` accepted, in bytes (D11: 16 KiB).
    pub max_request_len: usize,
    /// The most extension (unknown) parameters one challenge may carry. Bounding
    /// them keeps duplicate detection linear without allocating.
    pub max_extensions: usize,
    /// Accept the standard base64 alphabet (`+`, `/`) where base64url is required,
    /// as some deployed servers send it in `request`. Off: `+` and `/` are errors.
    pub standard_base64: bool,
    /// Read an unescaped `"` inside `description` the way the cross-SDK vector
    /// `unescaped_quotes_in_description` does: the value ends at that quote and the
    /// rest, up to the next parameter, is skipped. Off: it is a syntax error.
    pub legacy_unescaped_quotes: bool,
}

impl ParseOptions {
    /// The strict defaults.
    pub const STRICT: ParseOptions = ParseOptions {
        max_field_len: 64 * 1024,
        max_request_len: 16 * 1024,
        max_extensions: 32,
        standard_base64: false,
        legacy_unescaped_quotes: false,
    };

    pub(crate) fn base64_alphabet(&self) -> base64::Alphabet {
        if self.standard_base64 {
            base64::Alphabet::UrlSafeOrStandard
        } else {
            base64::Alphabet::UrlSafe
        }
    }
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self::STRICT
    }
}
