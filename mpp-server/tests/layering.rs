//! Guards the module layering the crate doc declares ("Layers" in `src/lib.rs`):
//! a module names only modules of its own layer or below, without cycles.

use std::path::Path;

use mpp_test_support::layering::{Layers, check_crate};

/// The layers, bottom first; the same order as "Layers" in `src/lib.rs`. A new
/// module goes in here.
const LAYERS: Layers<'static> = &[
    ("route data", &["route", "body"]),
    ("stores", &["store"]),
    ("per request", &["claim", "replay", "mint", "respond"]),
    ("discovery and sessions", &["openapi", "session"]),
    ("service", &["service", "jsonrpc"]),
    ("layer", &["layer", "mcp"]),
    ("builder", &["builder", "extract", "guard"]),
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
