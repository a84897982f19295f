//! The requirement registry and its traceability: the registry is well formed, every
//! citation names a known requirement from test code, every MUST is covered by a test
//! or listed in `spec/uncovered.json` (which only shrinks), and `spec/TRACEABILITY.md`
//! is what the code generates.
//!
//! `MPP_UPDATE_TRACEABILITY=1 cargo test -p spec` writes the generated files (the
//! traceability table, and the registry in its canonical layout) instead of
//! comparing them.

use std::fs;

use spec::{
    EXCEPTIONS_PATH, REGISTRY_PATH, Registry, TRACEABILITY_PATH, Trace, UPDATE_COMMAND, UPDATE_VAR,
    workspace_root,
};

fn updating() -> bool {
    std::env::var_os(UPDATE_VAR).is_some_and(|v| v == "1")
}

fn trace() -> Trace {
    Trace::load(&workspace_root()).unwrap_or_else(|e| panic!("{e}"))
}

fn fail(what: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{what} ({}):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

#[test]
fn the_registry_parses_and_is_well_formed() {
    let path = workspace_root().join(REGISTRY_PATH);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{REGISTRY_PATH}: {e}"));
    // Unique, well-formed, sorted ids; levels, parties and drafts from their sets.
    let registry = Registry::parse(&text)
        .unwrap_or_else(|problems| panic!("{REGISTRY_PATH}:\n  {}", problems.join("\n  ")));
    assert!(
        registry.requirements.len() >= 80,
        "only {} requirements",
        registry.requirements.len()
    );
    // One entry per line, members in a fixed order: diffs stay one line per change.
    let canonical = registry.to_canonical_json();
    if text != canonical {
        if updating() {
            fs::write(&path, canonical).unwrap();
        } else {
            panic!(
                "{REGISTRY_PATH} is not in its canonical layout (one entry per line, members \
                 id, section, level, party, requirement, draft); run `{UPDATE_COMMAND}` to \
                 rewrite it"
            );
        }
    }
}

#[test]
fn every_cited_id_is_in_the_registry() {
    fail(
        &format!("citations of ids that are not in {REGISTRY_PATH}"),
        &trace().unknown_citations(),
    );
}

#[test]
fn every_citation_belongs_to_a_test() {
    fail(
        "citations that no test function holds",
        &trace().misplaced_citations(),
    );
}

#[test]
fn every_must_is_covered_by_a_test_or_a_reviewed_exception() {
    let trace = trace();
    let uncovered: Vec<String> = trace
        .uncovered_mandatory()
        .iter()
        .map(|r| format!("{} ({} {}): {}", r.id, r.party, r.level, r.requirement))
        .collect();
    fail(
        &format!(
            "MUST / MUST NOT requirements that no test cites with `// req: <id>` and \
             {EXCEPTIONS_PATH} does not list"
        ),
        &uncovered,
    );
}

#[test]
fn the_exception_list_only_names_uncovered_musts() {
    fail(
        &format!("stale or invalid entries of {EXCEPTIONS_PATH}"),
        &trace().exception_problems(),
    );
}

#[test]
fn the_traceability_table_is_up_to_date() {
    let generated = trace().traceability();
    let path = workspace_root().join(TRACEABILITY_PATH);
    if updating() {
        fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let first = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        panic!(
            "{TRACEABILITY_PATH} is out of date (first difference at line {}):\n  committed: {}\n  generated: {}\nRegenerate it with `{UPDATE_COMMAND}`.",
            first + 1,
            committed.lines().nth(first).unwrap_or("<end of file>"),
            generated.lines().nth(first).unwrap_or("<end of file>"),
        );
    }
}
