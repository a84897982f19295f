//! The MCP suite checked against itself: the reference server's `/mcp` and `/rpc`
//! pass every case that applies, and a fixture server with one deliberate flaw at
//! a time fails exactly the cases that check what it breaks.

mod mcp_fixture;

use std::collections::BTreeSet;

use conformance::Status;
use conformance::mcp::{self, McpCtx, McpOptions, Transport};
use conformance::suite::SuiteReport;
use mpp_reference_server::ReferenceConfig;
use spec::Registry;

use mcp_fixture::{Fixture, Flaws};

async fn run(url: &str, transport: Transport, preimage: Option<&str>) -> SuiteReport {
    let options = McpOptions {
        free: Some("echo".into()),
        preimage: preimage.map(str::to_owned),
        ..McpOptions::new(transport, "paid_echo")
    };
    let ctx = McpCtx::new(url.parse().unwrap(), options).unwrap();
    mcp::run(&ctx, &[]).await
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

/// What cannot apply over MCP: the root `_meta` is plain JSON-RPC's.
const MCP_NOT_APPLICABLE: &[&str] = &["credential.root-meta", "credential.conflicting-meta"];
/// What cannot apply over plain JSON-RPC: `initialize`, and `tools/list` to find a
/// second priced call.
const RPC_NOT_APPLICABLE: &[&str] = &[
    "capability.advertised",
    "capability.intents",
    "paid.other-tool",
];

const PREIMAGE: &str = "mppx-interop-preimage";

// Every requirement a case checks; `the_citations_above_match_the_cases` keeps this
// list in sync with the cases.
// req: mcp.capability.advertise mcp.capability.intents mcp.challenge.code
// req: mcp.challenge.list mcp.challenge.members mcp.challenge.request-object
// req: mcp.challenge.http-status core.caching.challenge-fresh mcp.receipt.unpaid
// req: mcp.errors.codes mcp.errors.verification-failed mcp.replay.unknown
// req: mcp.challenge.id-binding mcp.credential.both-placements
// req: mcp.credential.ignore-unpriced mcp.receipt.paid mcp.receipt.members
// req: mcp.replay.used mcp.binding.operation mcp.replay.atomic
// req: mcp.notifications.drop mcp.notifications.not-processed
#[tokio::test]
async fn the_reference_server_passes_every_case_over_mcp_and_plain_json_rpc() {
    let config = ReferenceConfig::new("mcp-suite-self-test-secret-0123456789abcdef", PREIMAGE);
    let server = mpp_reference_server::spawn(&config).await.unwrap();
    for (path, transport, not_applicable) in [
        ("/mcp", Transport::Mcp, MCP_NOT_APPLICABLE),
        ("/rpc", Transport::Rpc, RPC_NOT_APPLICABLE),
    ] {
        let report = run(&server.url(path), transport, Some(PREIMAGE)).await;
        assert!(!report.failed(), "{}", report.to_text(true));
        assert_eq!(ids(&report, Status::Skipped), BTreeSet::new());
        assert_eq!(
            ids(&report, Status::NotApplicable),
            set(not_applicable),
            "{}",
            report.to_text(true)
        );
        assert_eq!(report.cases.len(), mcp::cases().len());
    }
}

#[tokio::test]
async fn a_flawless_fixture_passes_every_case_that_applies() {
    let fixture = Fixture::start(Flaws::default()).await;
    for (path, transport, not_applicable) in [
        ("/mcp", Transport::Mcp, MCP_NOT_APPLICABLE),
        ("/rpc", Transport::Rpc, RPC_NOT_APPLICABLE),
    ] {
        let report = run(&fixture.url(path), transport, Some(mcp_fixture::PREIMAGE)).await;
        assert!(!report.failed(), "{}", report.to_text(true));
        assert_eq!(
            ids(&report, Status::NotApplicable),
            set(not_applicable),
            "{}",
            report.to_text(true)
        );
    }
}

/// Each flaw, and exactly the cases that must catch it (over MCP).
fn flaw_cases() -> Vec<(&'static str, Flaws, Vec<&'static str>)> {
    let f = Flaws::default;
    vec![
        (
            "accepts replays",
            Flaws {
                replay_protection: false,
                ..f()
            },
            vec!["paid.replay", "paid.concurrent"],
        ),
        (
            "request as base64url text",
            Flaws {
                request_object: false,
                ..f()
            },
            // Every other case needs a challenge the suite can read, and is not
            // applicable without one.
            vec!["signal.request-object"],
        ),
        (
            "a receipt on the unpaid answer",
            Flaws {
                receipt_on_unpaid: true,
                ..f()
            },
            vec!["signal.no-receipt"],
        ),
        (
            "priced notifications answered and charged",
            Flaws {
                answers_notifications: true,
                ..f()
            },
            vec![
                "notification.no-answer",
                "notification.not-charged",
                "notification.not-run",
            ],
        ),
        (
            "-32042 for a refused credential",
            Flaws {
                draft_codes: false,
                ..f()
            },
            vec![
                "credential.wrong-proof",
                "credential.altered-id",
                "credential.altered-request",
                "paid.replay",
                "paid.other-tool",
            ],
        ),
    ]
}

#[tokio::test]
async fn each_flaw_fails_exactly_its_cases() {
    for (name, flaws, expected) in flaw_cases() {
        let fixture = Fixture::start(flaws).await;
        let report = run(
            &fixture.url("/mcp"),
            Transport::Mcp,
            Some(mcp_fixture::PREIMAGE),
        )
        .await;
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
async fn without_a_payer_the_paying_cases_are_skipped_and_flaws_are_still_caught() {
    let fixture = Fixture::start(Flaws {
        draft_codes: false,
        ..Flaws::default()
    })
    .await;
    let report = run(&fixture.url("/mcp"), Transport::Mcp, None).await;
    let paying: BTreeSet<String> = mcp::cases()
        .iter()
        .filter(|c| c.pays)
        .map(|c| c.id.to_string())
        .collect();
    assert_eq!(ids(&report, Status::Skipped), paying);
    assert_eq!(
        ids(&report, Status::Failed),
        set(&[
            "credential.wrong-proof",
            "credential.altered-id",
            "credential.altered-request",
        ]),
        "{}",
        report.to_text(true)
    );
}

#[tokio::test]
async fn an_unreachable_target_fails_every_case_that_runs() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    drop(listener);
    let report = run(&url, Transport::Mcp, Some(PREIMAGE)).await;
    assert_eq!(ids(&report, Status::Failed).len(), mcp::cases().len());
    assert!(mcp::failed(&report, false));
}

#[tokio::test]
async fn a_failed_should_counts_only_when_strict() {
    let fixture = Fixture::start(Flaws {
        answers_notifications: true,
        ..Flaws::default()
    })
    .await;
    let options = McpOptions {
        free: Some("echo".into()),
        ..McpOptions::new(Transport::Mcp, "paid_echo")
    };
    let ctx = McpCtx::new(fixture.url("/mcp").parse().unwrap(), options).unwrap();
    // Without a payer only the SHOULD case of the flaw runs.
    let report = mcp::run(&ctx, &["notification".into()]).await;
    assert_eq!(
        ids(&report, Status::Failed),
        set(&["notification.no-answer"])
    );
    assert!(!mcp::failed(&report, false));
    assert!(mcp::failed(&report, true));
    assert!(
        report
            .cases
            .iter()
            .all(|c| c.id.starts_with("notification."))
    );
}

#[test]
fn the_citations_above_match_the_cases() {
    let source = include_str!("mcp_suite_self_test.rs");
    let cited: BTreeSet<&str> = source
        .lines()
        .filter_map(|l| l.trim().strip_prefix("// req:"))
        .flat_map(str::split_whitespace)
        .collect();
    let checked: BTreeSet<&str> = mcp::cases()
        .iter()
        .flat_map(|c| c.requirements.iter().copied())
        .collect();
    assert_eq!(cited, checked);
}

#[test]
fn every_case_cites_registered_requirements_at_its_level_and_ids_are_unique() {
    let registry = Registry::load(&spec::workspace_root()).unwrap_or_else(|e| panic!("{e}"));
    let mut seen = BTreeSet::new();
    for case in mcp::cases() {
        assert!(seen.insert(case.id), "{} twice", case.id);
        assert!(
            !case.requirements.is_empty() || !case.reference.is_empty(),
            "{} cites nothing",
            case.id
        );
        for id in case.requirements {
            let level = registry.get(id).map(|r| r.level);
            assert_eq!(
                level,
                Some(case.level),
                "{} cites {id} at level {}, which the registry does not have",
                case.id,
                case.level
            );
        }
        let prefix = case.id.split('.').next().unwrap();
        assert!(!prefix.is_empty() && case.id.len() > prefix.len() + 1);
    }
}

/// Runs `mpp-conformance ARGS…` off the async runtime: its exit status and stdout.
async fn cli(args: Vec<String>) -> (Option<i32>, String) {
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mpp-conformance"))
            .args(&args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    })
    .await
    .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn the_cli_lists_refuses_bad_arguments_and_exits_by_level() {
    let (status, listing) = cli(args(&["mcp", "--list"])).await;
    assert_eq!(status, Some(0));
    for case in mcp::cases() {
        assert!(listing.contains(case.id), "{} not listed", case.id);
    }
    for bad in [
        &["mcp", "http://127.0.0.1:1/mcp", "--pay", "tempo=key"][..],
        &["mcp", "ftp://127.0.0.1/mcp"],
        &["mcp", "http://127.0.0.1:1/mcp", "--only", "no-such-case"],
        &["mcp", "http://127.0.0.1:1/mcp", "--timeout", "0"],
    ] {
        assert_eq!(cli(args(bad)).await.0, Some(64), "{bad:?}");
    }
    let fixture = Fixture::start(Flaws {
        answers_notifications: true,
        ..Flaws::default()
    })
    .await;
    let url = fixture.url("/mcp");
    // Unpaid, only the SHOULD case of the flaw runs: it fails, and counts only
    // under --strict.
    let lenient = cli(args(&["mcp", &url, "--only", "notification"])).await;
    assert_eq!(lenient.0, Some(0), "{}", lenient.1);
    assert!(
        lenient.1.contains("× notification.no-answer [SHOULD"),
        "{}",
        lenient.1
    );
    let strict = cli(args(&["mcp", &url, "--only", "notification", "--strict"])).await;
    assert_eq!(strict.0, Some(1), "{}", strict.1);
    // Paying, the MUST cases fail too, and the JSON report names them.
    let dir = std::env::temp_dir().join(format!("mcp-suite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("report.json");
    let paid = cli(args(&[
        "mcp",
        &url,
        "--pay",
        &format!("preimage={}", mcp_fixture::PREIMAGE),
        "--json",
        json.to_str().unwrap(),
    ]))
    .await;
    assert_eq!(paid.0, Some(1), "{}", paid.1);
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let failed: BTreeSet<&str> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "failed")
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        failed,
        [
            "notification.no-answer",
            "notification.not-charged",
            "notification.not-run"
        ]
        .into()
    );
    assert!(
        !paid.1.contains(mcp_fixture::PREIMAGE),
        "the preimage was printed"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
