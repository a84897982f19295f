//! The suite checked against itself: the reference server passes every case, and a
//! fixture server with one deliberate flaw at a time fails exactly the cases that
//! check what it breaks.

mod fixture;

use std::collections::BTreeSet;

use conformance::Status;
use conformance::suite::{self, Ctx, Payer, Selection, SuiteOptions, SuiteReport};
use mpp_core::credential::CredentialField;
use mpp_reference_server::ReferenceConfig;
use spec::Registry;

use fixture::{Fixture, Flaws};

async fn run(url: &str, pay: bool) -> SuiteReport {
    let options = SuiteOptions {
        payer: pay.then(|| Payer::Preimage(fixture::PREIMAGE.into())),
        ..SuiteOptions::default()
    };
    let ctx = Ctx::new(url.parse().unwrap(), options).unwrap();
    let selection = Selection {
        only: Vec::new(),
        strict: true,
    };
    suite::run(&ctx, &selection).await
}

fn ids(report: &SuiteReport, status: Status) -> BTreeSet<String> {
    report
        .cases
        .iter()
        .filter(|c| c.status == status)
        .map(|c| c.id.clone())
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// The preimage the reference server's `preimage/charge` offers ask for.
const REFERENCE_PREIMAGE: &str = "conformance-preimage";

/// The suite against the reference server, run in-process as `server --embedded`
/// runs it.
async fn reference(field: CredentialField) -> SuiteReport {
    // As `server --embedded` configures it (conformance/src/embedded.rs).
    let config = ReferenceConfig {
        realm: "conformance.localhost".into(),
        credential_field: field,
        ..ReferenceConfig::new(
            "suite-self-test-secret-0123456789abcdef0123",
            REFERENCE_PREIMAGE,
        )
    };
    let server = mpp_reference_server::spawn(&config).await.unwrap();
    let options = SuiteOptions {
        payer: Some(Payer::Preimage(REFERENCE_PREIMAGE.into())),
        ..SuiteOptions::default()
    };
    let ctx = Ctx::new(server.url("/paid-multi").parse().unwrap(), options).unwrap();
    let selection = Selection {
        only: Vec::new(),
        strict: true,
    };
    suite::run(&ctx, &selection).await
}

// Every requirement a case checks, but core.security.tls.server (not applicable on
// loopback); `the_citations_above_match_the_cases` keeps this list in sync.
// req: charge.request.no-expiry charge.request.shared-fields charge.verify.amount
// req: charge.verify.expiry charge.verify.recipient core.accept-payment.filter
// req: core.accept-payment.order core.binding.echo-mismatch core.binding.id.bound
// req: core.binding.opaque.bound core.caching.402-no-store core.caching.challenge-fresh
// req: core.caching.other-field core.caching.receipt-private core.challenge.expires.include
// req: core.challenge.request.jcs core.challenge.request.no-padding
// req: core.challenge.required-params core.concurrency.once
// req: core.credential.field.server-selected core.credential.several.reject core.digest.include
// req: core.digest.verify core.errors.402.payment-required core.errors.402.with-challenge
// req: core.errors.granted core.errors.invalid-challenge core.errors.malformed-credential
// req: core.errors.not-payment-barrier core.errors.problem-details core.errors.problem-type
// req: core.errors.verification-failed core.grammar.expires.rfc3339 core.grammar.param.no-bws
// req: core.receipt.not-on-error core.receipt.on-success core.receipt.status-success
// req: core.replay.single-use-proof core.size.challenge core.size.server-credential
#[tokio::test]
async fn the_reference_server_passes_every_case() {
    for field in [
        CredentialField::Authorization,
        CredentialField::PaymentAuthorization,
    ] {
        let report = reference(field).await;
        assert!(!report.failed(), "{}", report.to_text(true));
        assert_eq!(ids(&report, Status::Skipped), BTreeSet::new());
        // Only what cannot apply on loopback, or to the field in use.
        let mut expected = set(&["security.tls"]);
        if field == CredentialField::Authorization {
            expected.insert("paid.other-field-not-shared".into());
        }
        assert_eq!(
            ids(&report, Status::NotApplicable),
            expected,
            "{}",
            report.to_text(true)
        );
        assert_eq!(report.cases.len(), suite::cases().len());
    }
}

/// The cases a flawless fixture cannot run: it has one method, no opaque, no POST
/// route, no second field, and listens on loopback.
const FIXTURE_NOT_APPLICABLE: &[&str] = &[
    "binding.tampered-opaque",
    "accept.q0-excludes",
    "accept.order",
    "paid.other-field-not-shared",
    "digest.challenge-has-digest",
    "digest.other-body-refused",
    "security.tls",
];

#[tokio::test]
async fn a_flawless_fixture_passes_what_applies() {
    let fixture = Fixture::start(Flaws::default()).await;
    let report = run(&fixture.url(), true).await;
    assert!(!report.failed(), "{}", report.to_text(true));
    assert_eq!(
        ids(&report, Status::NotApplicable),
        set(FIXTURE_NOT_APPLICABLE),
        "{}",
        report.to_text(true)
    );
}

/// Each flaw, and exactly the cases that must catch it.
fn flaw_cases() -> Vec<(&'static str, Flaws, Vec<&'static str>)> {
    let f = Flaws::default;
    vec![
        (
            "no no-store",
            Flaws {
                no_store: false,
                ..f()
            },
            vec!["caching.402-no-store"],
        ),
        (
            "accepts replays",
            Flaws {
                replay_protection: false,
                ..f()
            },
            vec![
                "replay.refused",
                "replay.invalid-challenge",
                "replay.concurrent-once",
            ],
        ),
        (
            "request terms not bound",
            Flaws {
                binds_request: false,
                ..f()
            },
            vec![
                "binding.tampered-amount",
                "binding.tampered-currency",
                "binding.tampered-recipient",
            ],
        ),
        (
            "expiry not bound or checked",
            Flaws {
                binds_expires: false,
                ..f()
            },
            vec![
                "binding.tampered-expires",
                "binding.dropped-expires",
                "binding.expired-echo",
            ],
        ),
        (
            "402 without a challenge for malformed credentials",
            Flaws {
                challenge_on_malformed: false,
                ..f()
            },
            vec![
                "credential.malformed-base64",
                "credential.malformed-json",
                "errors.402-always-challenges",
            ],
        ),
        (
            "credentials taken from either field",
            Flaws {
                field_strict: false,
                ..f()
            },
            vec!["credential.wrong-field"],
        ),
        (
            "credentials over 4 KiB refused",
            Flaws {
                large_credentials: false,
                ..f()
            },
            vec!["credential.large"],
        ),
        (
            "paid responses without Cache-Control: private",
            Flaws {
                private_receipts: false,
                ..f()
            },
            vec!["paid.cache-private"],
        ),
        (
            "a receipt on errors",
            Flaws {
                receipt_on_errors: true,
                ..f()
            },
            // Every refusal must come without one.
            vec![
                "receipt.not-on-errors",
                "credential.malformed-base64",
                "credential.malformed-json",
                "credential.bad-proof",
                "credential.wrong-field",
                "binding.unknown-id",
                "binding.tampered-realm",
                "binding.tampered-method",
                "binding.tampered-intent",
                "binding.tampered-amount",
                "binding.tampered-currency",
                "binding.tampered-recipient",
                "binding.tampered-expires",
                "binding.dropped-expires",
                "binding.expired-echo",
                "replay.refused",
                "replay.invalid-challenge",
            ],
        ),
        (
            "the same challenge every time",
            Flaws {
                fresh_ids: false,
                ..f()
            },
            vec!["challenge.fresh-ids"],
        ),
        (
            "a padded request",
            Flaws {
                unpadded_request: false,
                ..f()
            },
            vec!["challenge.request-unpadded"],
        ),
        (
            "a request that is not RFC 8785",
            Flaws {
                canonical_request: false,
                ..f()
            },
            vec!["challenge.request-jcs"],
        ),
        (
            "whitespace around =",
            Flaws {
                tight_params: false,
                ..f()
            },
            vec!["challenge.no-bws"],
        ),
        (
            "plain-text errors",
            Flaws {
                problem_details: false,
                ..f()
            },
            // The MUSTs naming a problem type fail with the SHOULD.
            vec![
                "errors.problem-details",
                "credential.malformed-base64",
                "credential.malformed-json",
                "credential.bad-proof",
                "binding.unknown-id",
                "replay.invalid-challenge",
            ],
        ),
        (
            "several credentials: the first wins",
            Flaws {
                several_rejected: false,
                ..f()
            },
            vec!["credential.several"],
        ),
        (
            "402 for everything",
            Flaws {
                paywall_everything: true,
                ..f()
            },
            vec!["errors.missing-not-402"],
        ),
        (
            "an expires member in the charge request",
            Flaws {
                expires_in_request: true,
                ..f()
            },
            vec!["challenge.charge-no-expires-member"],
        ),
    ]
}

#[tokio::test]
async fn each_flaw_fails_exactly_its_cases() {
    for (name, flaws, expected) in flaw_cases() {
        let fixture = Fixture::start(flaws).await;
        let report = run(&fixture.url(), true).await;
        assert_eq!(
            ids(&report, Status::Failed),
            set(&expected),
            "flaw {name:?}:\n{}",
            report.to_text(true)
        );
        for case in report.cases.iter().filter(|c| c.status == Status::Failed) {
            assert!(
                !case.expected.is_empty() && !case.actual.is_empty(),
                "flaw {name:?}: {} fails without saying why",
                case.id
            );
        }
    }
}

#[tokio::test]
async fn without_a_payer_the_paid_cases_are_skipped_and_tampering_is_still_caught() {
    let fixture = Fixture::start(Flaws::default()).await;
    let report = run(&fixture.url(), false).await;
    assert!(!report.failed(), "{}", report.to_text(true));
    let skipped = ids(&report, Status::Skipped);
    let paying: BTreeSet<String> = suite::cases()
        .iter()
        .filter(|c| c.pays)
        .map(|c| c.id.to_string())
        .collect();
    assert_eq!(skipped, paying);
    // Without a valid proof the fixture's invalid-challenge answers still show the
    // tampering was caught.
    let passed = ids(&report, Status::Passed);
    for id in [
        "binding.tampered-realm",
        "binding.unknown-id",
        "binding.expired-echo",
    ] {
        assert!(passed.contains(id), "{id}:\n{}", report.to_text(true));
    }
}

#[tokio::test]
async fn a_flaw_is_caught_without_paying_too() {
    let fixture = Fixture::start(Flaws {
        no_store: false,
        challenge_on_malformed: false,
        ..Flaws::default()
    })
    .await;
    let report = run(&fixture.url(), false).await;
    assert_eq!(
        ids(&report, Status::Failed),
        set(&[
            "caching.402-no-store",
            "credential.malformed-base64",
            "credential.malformed-json",
            "errors.402-always-challenges",
        ]),
        "{}",
        report.to_text(true)
    );
}

#[tokio::test]
async fn selection_runs_only_what_was_asked_and_shoulds_only_when_strict() {
    let fixture = Fixture::start(Flaws::default()).await;
    let options = SuiteOptions {
        payer: Some(Payer::Preimage(fixture::PREIMAGE.into())),
        ..SuiteOptions::default()
    };
    let ctx = Ctx::new(fixture.url().parse().unwrap(), options).unwrap();
    let report = suite::run(
        &ctx,
        &Selection {
            only: vec!["binding".into(), "caching.402-no-store".into()],
            strict: false,
        },
    )
    .await;
    assert!(
        report
            .cases
            .iter()
            .all(|c| c.id.starts_with("binding.") || c.id == "caching.402-no-store")
    );
    assert_eq!(report.cases.len(), 12);
    let lenient = suite::run(&ctx, &Selection::default()).await;
    for case in &lenient.cases {
        let should = case.level == "SHOULD";
        assert_eq!(case.status == Status::Skipped, should, "{}", case.id);
    }
}

#[test]
fn the_citations_above_match_the_cases() {
    let source = include_str!("suite_self_test.rs");
    let cited: BTreeSet<&str> = source
        .lines()
        .filter_map(|l| l.trim().strip_prefix("// req:"))
        .flat_map(str::split_whitespace)
        .collect();
    let checked: BTreeSet<&str> = suite::cases()
        .iter()
        .map(|c| c.requirement)
        .filter(|r| *r != "core.security.tls.server")
        .collect();
    assert_eq!(cited, checked);
}

#[test]
fn every_case_cites_a_registered_requirement_and_ids_are_unique() {
    let registry = Registry::load(&spec::workspace_root()).unwrap_or_else(|e| panic!("{e}"));
    let mut seen = BTreeSet::new();
    for case in suite::cases() {
        assert!(seen.insert(case.id), "{} twice", case.id);
        let level = registry.get(case.requirement).map(|r| r.level);
        assert_eq!(
            level,
            Some(case.level),
            "{} cites {} at level {}, which the registry does not have",
            case.id,
            case.requirement,
            case.level
        );
        let prefix = case.id.split('.').next().unwrap();
        assert!(!prefix.is_empty() && case.id.len() > prefix.len() + 1);
    }
}
