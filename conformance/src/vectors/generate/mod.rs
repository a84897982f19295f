//! The vector generator: per category, hand-written cases (RFC examples, each way an
//! input can be malformed) and cases drawn from a seeded PRNG, whose expected values
//! are computed with `mpp-core` directly (not through the adapter, which the vectors
//! then check).
//!
//! Nothing here may depend on the iteration order of a JSON map: serde_json's
//! `preserve_order` feature is on in some builds of the workspace (a dev-dependency
//! turns it on) and off in others. JSON text is written with JCS or with sorted keys.

mod challenge;
mod credential;
mod encoding;
mod server;
mod values;

use serde_json::Value;

use super::rng::Rng;
use super::{Category, Expect, ExpectedError, Vector};

/// The vectors of one category, in file order.
pub(super) fn category(category: &Category) -> Vec<Vector> {
    let mut rng = Rng::new(category.seed);
    let mut cases = Cases {
        category: category.name,
        vectors: Vec::new(),
    };
    match category.name {
        "base64url" => encoding::base64url(&mut cases, &mut rng),
        "jcs" => encoding::jcs(&mut cases, &mut rng),
        "digest" => encoding::digest(&mut cases, &mut rng),
        "challenge-parse" => challenge::parse(&mut cases, &mut rng),
        "challenge-format" => challenge::format(&mut cases, &mut rng),
        "challenge-id" => challenge::id(&mut cases, &mut rng),
        "credential" => credential::credential(&mut cases, &mut rng),
        "receipt" => credential::receipt(&mut cases, &mut rng),
        "accept-payment" => server::accept_payment(&mut cases, &mut rng),
        "problem-types" => server::problem_types(&mut cases),
        "charge-transitions" => server::charge_transitions(&mut cases, &mut rng),
        other => unreachable!("no generator for category {other}"),
    }
    let mut seen = std::collections::BTreeSet::new();
    for v in &cases.vectors {
        assert!(seen.insert(v.id.clone()), "duplicate vector id {}", v.id);
    }
    cases.vectors
}

/// The vectors of one category being built.
pub(crate) struct Cases {
    category: &'static str,
    vectors: Vec<Vector>,
}

impl Cases {
    fn push(
        &mut self,
        id: &str,
        description: &str,
        requirements: &[&str],
        op: &str,
        input: Value,
        expect: Expect,
    ) -> &mut Vector {
        let mut reqs: Vec<String> = Vec::new();
        for r in requirements {
            if !reqs.iter().any(|x| x == r) {
                reqs.push((*r).to_owned());
            }
        }
        self.vectors.push(Vector {
            id: format!("{}.{id}", self.category),
            description: description.to_owned(),
            requirements: reqs,
            decision: None,
            op: op.to_owned(),
            input,
            context: None,
            expect,
        });
        self.vectors.last_mut().unwrap_or_else(|| unreachable!())
    }

    /// A vector expecting `{"ok": true, "value": value}`.
    pub(crate) fn ok(
        &mut self,
        id: &str,
        description: &str,
        requirements: &[&str],
        op: &str,
        input: Value,
        value: Value,
    ) -> &mut Vector {
        self.push(
            id,
            description,
            requirements,
            op,
            input,
            Expect::Value(value),
        )
    }

    /// A vector expecting an error of type `kind`, with `class` when given.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn error(
        &mut self,
        id: &str,
        description: &str,
        requirements: &[&str],
        op: &str,
        input: Value,
        kind: &str,
        class: Option<&str>,
    ) -> &mut Vector {
        let expect = Expect::Error(ExpectedError {
            kind: kind.to_owned(),
            class: class.map(str::to_owned),
            parameter: None,
            field: None,
        });
        self.push(id, description, requirements, op, input, expect)
    }
}

impl Vector {
    /// Marks the project decision or erratum the expected result follows.
    pub(crate) fn decision(&mut self, decision: &str) -> &mut Self {
        self.decision = Some(decision.to_owned());
        self
    }

    /// The parameter the expected error names.
    pub(crate) fn parameter(&mut self, parameter: &str) -> &mut Self {
        if let Expect::Error(e) = &mut self.expect {
            e.parameter = Some(parameter.to_owned());
        }
        self
    }

    /// The field the expected error is in.
    pub(crate) fn field(&mut self, field: &str) -> &mut Self {
        if let Expect::Error(e) = &mut self.expect {
            e.field = Some(field.to_owned());
        }
        self
    }
}
