//! Why a challenge's `request` is not valid terms for a method: one error type for
//! every method that reads its terms (Lightning's, Tempo's).

use alloc::string::String;

/// Why `request` terms are not valid for a method. The message names the member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermsError(String);

impl TermsError {
    pub(crate) fn new(message: impl Into<String>) -> TermsError {
        TermsError(message.into())
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl core::fmt::Display for TermsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl core::error::Error for TermsError {}
