//! Guards the module layering the crate doc declares: a module of `src/` names
//! another (`crate::other…`) only if that one sits in the same layer or below, and
//! no chain of such names comes back to where it started.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers, bottom first; the same order as "Layers" in `src/lib.rs`.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "foundation",
        &["scan", "problem_type", "error", "strategies"],
    ),
    ("encodings", &["base64", "json", "jcs", "grammar"]),
    ("vocabulary", &["options", "time", "value"]),
    ("bindings", &["digest", "binding"]),
    (
        "messages",
        &["challenge", "credential", "receipt", "accept", "problem"],
    ),
    ("checks", &["verify"]),
    ("intents and methods", &["intent", "method"]),
    ("engines", &["server", "client"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

/// `source` without comments, string, byte-string and char literals (each replaced
/// by a space), so that only code is searched for paths.
fn code_only(source: &str) -> String {
    let b = source.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i..].starts_with(b"/*") {
                        depth += 1;
                        i += 2;
                    } else if b[i..].starts_with(b"*/") {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                out.push(' ');
            }
            b'r' | b'b' if raw_string_start(b, i).is_some() => {
                let (hashes, body) = raw_string_start(b, i).unwrap_or_default();
                let mut close = String::from("\"");
                close.extend(std::iter::repeat_n('#', hashes));
                i = body;
                while i < b.len() && !b[i..].starts_with(close.as_bytes()) {
                    i += 1;
                }
                i += close.len();
                out.push(' ');
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push(' ');
            }
            b'\'' => {
                // A char literal ('x', '\n', '\u{..}', '"'); otherwise a lifetime.
                if b.get(i + 1) == Some(&b'\\') {
                    i += 2;
                    while i < b.len() && b[i] != b'\'' {
                        i += 1;
                    }
                    i += 1;
                    out.push(' ');
                } else if let Some(len) = char_literal_len(&source[i..]) {
                    i += len;
                    out.push(' ');
                } else {
                    out.push('\'');
                    i += 1;
                }
            }
            _ => {
                let c = source[i..].chars().next().unwrap_or(' ');
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

/// For `r"`, `r#"`, `br#"`…, starting at `i` (and not inside an identifier): the
/// number of `#` and where the body starts.
fn raw_string_start(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
        return None;
    }
    let mut j = i;
    if b[j] == b'b' {
        j += 1;
    }
    if b.get(j) != Some(&b'r') {
        return None;
    }
    j += 1;
    let hashes = b[j..].iter().take_while(|&&c| c == b'#').count();
    (b.get(j + hashes) == Some(&b'"')).then_some((hashes, j + hashes + 1))
}

/// The length of an unescaped char literal such as `'x'` or `'é'` at the start of `s`.
fn char_literal_len(s: &str) -> Option<usize> {
    let mut chars = s.char_indices().skip(1);
    let (_, c) = chars.next()?;
    let (end, quote) = chars.next()?;
    (quote == '\'' && c != '\'').then_some(end + 1)
}

/// The first segment after each `crate::` in `code`: `crate::a::B` gives `a`, and
/// `crate::{a::B, c}` gives `a` and `c`.
fn crate_paths(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        let after = &rest[at + "crate::".len()..];
        rest = after;
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let after = after.trim_start();
        match after.strip_prefix('{') {
            Some(group) => {
                let mut depth = 0;
                let mut element = String::new();
                for c in group.chars() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            found.extend(first_segment(&element));
                            element.clear();
                            continue;
                        }
                        _ => {}
                    }
                    element.push(c);
                }
                found.extend(first_segment(&element));
            }
            None => found.extend(first_segment(after)),
        }
    }
    found
}

fn first_segment(path: &str) -> Option<String> {
    let segment: String = path
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!segment.is_empty() && segment != "self").then_some(segment)
}

/// Every rule the sources break, given each module's source files.
fn violations(sources: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut edges: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (module, texts) in sources {
        let Some(from) = layer_of(module) else {
            problems.push(format!("module `{module}` is in no layer of LAYERS"));
            continue;
        };
        for text in texts {
            for target in crate_paths(&code_only(text)) {
                if target == *module {
                    continue;
                }
                match layer_of(&target) {
                    None => problems.push(format!(
                        "`{module}` names `crate::{target}`: not a module of a layer \
                         (import items from their module, not the crate root)"
                    )),
                    Some(to) if to > from => problems.push(format!(
                        "`{module}` ({}) imports `{target}` ({}), a layer above it",
                        LAYERS[from].0, LAYERS[to].0
                    )),
                    Some(_) => {
                        edges.entry(module).or_default().insert(target);
                    }
                }
            }
        }
    }
    if let Some(cycle) = find_cycle(&edges) {
        problems.push(format!("import cycle: {}", cycle.join(" -> ")));
    }
    problems
}

fn find_cycle(edges: &BTreeMap<&str, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<&str, BTreeSet<String>>,
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
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}

/// The sources of `src/`, by top-level module (`intent/charge.rs` is `intent`).
fn read_sources(src: &Path) -> BTreeMap<String, Vec<String>> {
    let mut sources: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/ is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") || path == src.join("lib.rs") {
                continue;
            }
            let relative = path.strip_prefix(src).expect("under src/");
            let first = relative.components().next().expect("a file name");
            let module = Path::new(first.as_os_str())
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("a UTF-8 file name")
                .to_owned();
            let text = std::fs::read_to_string(&path).expect("a UTF-8 source file");
            sources.entry(module).or_default().push(text);
        }
    }
    sources
}

#[test]
fn every_module_imports_only_its_own_layer_or_below_without_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let sources = read_sources(&src);
    let problems = violations(&sources);
    assert!(
        problems.is_empty(),
        "layering broken:\n  {}",
        problems.join("\n  ")
    );
    for (_, modules) in LAYERS {
        for module in *modules {
            assert!(
                sources.contains_key(*module),
                "LAYERS names `{module}`, which has no file in src/"
            );
        }
    }
}

#[test]
fn the_check_catches_upward_imports_cycles_and_root_paths() {
    let one = |pairs: &[(&str, &str)]| -> BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(m, text)| ((*m).to_owned(), vec![(*text).to_owned()]))
            .collect()
    };
    // Upward, through a `use` group and through an inline path.
    let upward = one(&[("value", "use crate::{jcs, challenge::Challenge};")]);
    assert_eq!(violations(&upward).len(), 1, "{:?}", violations(&upward));
    let inline = one(&[("error", "fn f() { crate::server::Paywall::new(); }")]);
    assert_eq!(violations(&inline).len(), 1);
    // A cycle inside one layer.
    let cycle = one(&[
        ("json", "use crate::jcs;"),
        ("jcs", "use crate::json::JsonObject;"),
    ]);
    let found = violations(&cycle);
    assert!(
        found.iter().any(|p| p.starts_with("import cycle")),
        "{found:?}"
    );
    // Through the crate root, and in a module missing from the table.
    assert_eq!(
        violations(&one(&[("time", "crate::ParseOptions")])).len(),
        1
    );
    assert_eq!(violations(&one(&[("newcomer", "")])).len(), 1);
    // Comments, strings and chars are not code.
    let quiet = one(&[(
        "scan",
        "// crate::server\n/* crate::client */ let s = \"crate::server\"; \
         let r = r#\"crate::method\"#; let q = '\"'; let l: &'static str = \"\";",
    )]);
    assert!(violations(&quiet).is_empty(), "{:?}", violations(&quiet));
}
