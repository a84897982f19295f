//! Checks a crate's module layering: each module of `src/` may name another
//! (`crate::other…`) only if that one sits in the same layer or below, and no chain of
//! such names comes back to where it started. `mpp-core` and `mpp-server` declare
//! their layers in a table and run [`check_crate`] in `tests/layering.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Layers, bottom first: each a name and the top-level modules in it.
pub type Layers<'a> = &'a [(&'a str, &'a [&'a str])];

/// Every rule the crate whose sources are in `src` breaks: an import from a higher
/// layer, a path through the crate root, a module missing from `layers`, a module in
/// `layers` without a file, a cycle. Empty when the layering holds.
pub fn check_crate(src: &Path, layers: Layers<'_>) -> Vec<String> {
    let sources = read_sources(src);
    let mut problems = violations(layers, &sources);
    for (_, modules) in layers {
        for module in *modules {
            if !sources.contains_key(*module) {
                problems.push(format!(
                    "the table names `{module}`, which has no file in src/"
                ));
            }
        }
    }
    problems
}

/// [`check_crate`] over sources given as (path relative to `src/`, text), without the
/// check that every module of the table has a file: for testing the check itself.
pub fn check_sources(files: &[(&str, &str)], layers: Layers<'_>) -> Vec<String> {
    let mut sources: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (path, text) in files {
        if let Some(module) = module_of(Path::new(path)) {
            sources.entry(module).or_default().push((*text).to_owned());
        }
    }
    violations(layers, &sources)
}

/// The top-level module a file belongs to (`intent/charge.rs` is `intent`); `None`
/// for the crate root, which only declares and re-exports.
fn module_of(relative: &Path) -> Option<String> {
    if relative == Path::new("lib.rs") {
        return None;
    }
    let first = relative.components().next()?;
    Path::new(first.as_os_str())
        .file_stem()
        .and_then(|s| s.to_str())
        .map(str::to_owned)
}

/// The sources of `src/`, by top-level module.
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
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).expect("under src/");
            if let Some(module) = module_of(relative) {
                let text = std::fs::read_to_string(&path).expect("a UTF-8 source file");
                sources.entry(module).or_default().push(text);
            }
        }
    }
    sources
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
fn violations(layers: Layers<'_>, sources: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let layer_of = |module: &str| {
        layers
            .iter()
            .position(|(_, modules)| modules.contains(&module))
    };
    let mut problems = Vec::new();
    let mut edges: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (module, texts) in sources {
        let Some(from) = layer_of(module) else {
            problems.push(format!("module `{module}` is in no layer of the table"));
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
                        layers[from].0, layers[to].0
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

#[cfg(test)]
mod tests {
    use super::*;

    const LAYERS: Layers<'static> = &[
        ("low", &["scan", "json", "jcs", "error"]),
        ("middle", &["value", "time"]),
        ("high", &["server", "client"]),
    ];

    fn count(files: &[(&str, &str)]) -> usize {
        check_sources(files, LAYERS).len()
    }

    #[test]
    fn upward_imports_are_caught_in_groups_and_inline_paths() {
        assert_eq!(
            count(&[("value.rs", "use crate::{jcs, server::Paywall};")]),
            1
        );
        assert_eq!(
            count(&[("error.rs", "fn f() { crate::server::Paywall::new(); }")]),
            1
        );
        assert_eq!(
            count(&[("server/mod.rs", "use crate::{jcs, value::Amount};")]),
            0
        );
    }

    #[test]
    fn cycles_root_paths_and_unknown_modules_are_caught() {
        let cycle = check_sources(
            &[
                ("json.rs", "use crate::jcs;"),
                ("jcs.rs", "use crate::json::JsonObject;"),
            ],
            LAYERS,
        );
        assert!(
            cycle.iter().any(|p| p.starts_with("import cycle")),
            "{cycle:?}"
        );
        assert_eq!(count(&[("time.rs", "crate::ParseOptions")]), 1);
        assert_eq!(count(&[("newcomer.rs", "")]), 1);
        assert_eq!(count(&[("lib.rs", "use crate::server;")]), 0);
    }

    #[test]
    fn comments_strings_and_chars_are_not_code() {
        let quiet = "// crate::server\n/* crate::client */ let s = \"crate::server\"; \
                     let r = r#\"crate::client\"#; let q = '\"'; let l: &'static str = \"\";";
        assert_eq!(
            check_sources(&[("scan.rs", quiet)], LAYERS),
            Vec::<String>::new()
        );
    }
}
