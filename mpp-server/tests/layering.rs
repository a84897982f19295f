//! The crate's modules are stacked in layers (see the crate documentation): each
//! may use only modules of a layer below its own. This reads the `crate::` paths of
//! every source file (test modules included) and fails on a module that uses one of
//! its own layer or above, on a cycle, and on a module missing from the table.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers, bottom first. A new module goes in here.
const LAYERS: &[&[&str]] = &[
    &["route", "body"],
    &["store"],
    &["claim", "replay", "mint", "respond"],
    &["openapi", "session"],
    &["service"],
    &["layer"],
    &["builder", "extract"],
];

/// Files outside the layering: the crate root, which only declares and re-exports,
/// and the reference server and its binary, which use the crate as an application
/// would.
fn outside(relative: &str) -> bool {
    relative == "lib.rs" || relative.starts_with("reference") || relative.starts_with("bin/")
}

#[test]
fn every_module_uses_only_layers_below_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    read_sources(&src, &src, &mut files);
    assert!(files.len() > 10, "found only {} source files", files.len());
    let problems = check(LAYERS, &files);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_catches_upward_imports_cycles_and_unknown_modules() {
    let file = |path: &str, text: &str| (path.to_owned(), text.to_owned());
    let clean = [
        file("store/mod.rs", "use crate::route::PaidRoute;\nfn f() {}"),
        // Comments are not imports.
        file(
            "route.rs",
            "/// See [`x`](crate::store::Store).\n// crate::store\n",
        ),
    ];
    assert_eq!(check(LAYERS, &clean), Vec::<String>::new());

    let upward = [file(
        "store/redis.rs",
        "use crate::{body::full, session::{Account, SessionLedger}};",
    )];
    let problems = check(LAYERS, &upward);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("store uses session"), "{problems:?}");

    let inline = [file("route.rs", "fn f() { crate::service::nonce(); }")];
    assert_eq!(check(LAYERS, &inline).len(), 1);

    let through_root = [file("session/serve.rs", "use crate::PaidRoute;")];
    assert_eq!(check(LAYERS, &through_root).len(), 1);

    let cycle = [
        file("claim.rs", "use crate::replay::lookup;"),
        file("replay.rs", "use crate::claim::Claim;"),
    ];
    let problems = check(LAYERS, &cycle);
    assert!(
        problems.iter().any(|p| p.starts_with("cycle")),
        "{problems:?}"
    );

    let unknown = [file("newcomer.rs", "")];
    assert_eq!(check(LAYERS, &unknown).len(), 1);
}

/// Every `.rs` file under `dir`, with its path relative to `root` ('/'-separated).
fn read_sources(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            read_sources(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path
                .strip_prefix(root)
                .expect("under src")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let text = std::fs::read_to_string(&path).expect("read source");
            out.push((relative, text));
        }
    }
}

/// What is wrong with `files` (relative path, text) against `layers`.
fn check(layers: &[&[&str]], files: &[(String, String)]) -> Vec<String> {
    let level = |module: &str| layers.iter().position(|layer| layer.contains(&module));
    let mut problems = Vec::new();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in files {
        if outside(path) {
            continue;
        }
        let module = module_of(path);
        let Some(own) = level(&module) else {
            problems.push(format!(
                "{path}: module {module} is in no layer of the table"
            ));
            continue;
        };
        for used in crate_paths(text) {
            if used == module {
                continue;
            }
            match level(&used) {
                Some(theirs) if theirs < own => {}
                Some(_) => problems.push(format!(
                    "{path}: {module} uses {used}, which is not in a layer below its own"
                )),
                None => problems.push(format!(
                    "{path}: {module} uses crate::{used}: name a module of the table, not the crate root"
                )),
            }
            graph.entry(module.clone()).or_default().insert(used);
        }
    }
    if let Some(cycle) = find_cycle(&graph) {
        problems.push(format!("cycle: {}", cycle.join(" -> ")));
    }
    problems
}

/// `store/redis.rs` and `store.rs` are both module `store`.
fn module_of(path: &str) -> String {
    let first = path.split('/').next().unwrap_or(path);
    first.strip_suffix(".rs").unwrap_or(first).to_owned()
}

/// The first segment of every `crate::` path in code (comments skipped), with
/// grouped imports (`crate::{a::X, b}`) split.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .map(|line| match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        let preceded_by_ident = rest[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
        rest = &rest[i + "crate::".len()..];
        if preceded_by_ident {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = matching_brace(group);
            for item in split_top_level(&group[..end]) {
                found.insert(first_ident(item.trim()));
            }
            rest = &group[end..];
        } else {
            found.insert(first_ident(rest));
        }
    }
    found.retain(|name| !name.is_empty());
    found
}

fn first_ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The index of the `}` closing a group whose `{` was just before `s`.
fn matching_brace(s: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            _ => {}
        }
    }
    s.len()
}

fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// A cycle in `graph`, as the modules along it, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}
