//! The outcome of one check, shared by the server suite's cases and the vector
//! runner's vectors, with the words and marks their reports print.

/// A case's or a vector's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The target meets the requirement; the vector's response was the expected one.
    Passed,
    /// It does not, or there was no response.
    Failed,
    /// The check did not run: a SHOULD without `--strict` or a payment without
    /// `--pay` (suite), an operation the adapter does not support (vectors).
    Skipped,
    /// The case does not apply to this target (suite only: every vector applies).
    NotApplicable,
}

impl Status {
    /// The reports' word for it: `passed`, `failed`, `skipped`, `not-applicable`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::NotApplicable => "not-applicable",
        }
    }

    /// The text reports' mark for it.
    pub fn mark(self) -> &'static str {
        match self {
            Status::Passed => "✔",
            Status::Failed => "×",
            Status::Skipped => "-",
            Status::NotApplicable => "○",
        }
    }
}
