//! Guards the module layering the crate doc declares ("Layers" in `src/lib.rs`):
//! a module names only modules of its own layer or below, without cycles.

use std::path::Path;

use mpp_test_support::layering::{Layers, check_crate};

/// The layers, bottom first; the same order as "Layers" in `src/lib.rs`.
const LAYERS: Layers<'static> = &[
    ("foundation", &["scan", "problem_type", "error"]),
    ("encodings", &["base64", "json", "jcs", "grammar"]),
    ("vocabulary", &["options", "time", "value"]),
    ("bindings", &["digest", "binding"]),
    (
        "messages",
        &[
            "challenge",
            "credential",
            "receipt",
            "accept",
            "problem",
            "jsonrpc",
        ],
    ),
    ("checks", &["verify"]),
    ("intents and methods", &["intent", "method"]),
    ("engines", &["server", "client"]),
];

#[test]
fn every_module_imports_only_its_own_layer_or_below_without_cycles() {
    let problems = check_crate(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), LAYERS);
    assert!(
        problems.is_empty(),
        "layering broken:\n  {}",
        problems.join("\n  ")
    );
}
