//! Every decision (`D…`) and erratum (`E…`) the repository cites is defined in
//! `spec/DECISIONS.md` or `spec/ERRATA.md`, and nothing refers to notes kept outside
//! the repository.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use spec::workspace_root;

/// Directories that hold no text of the project's own.
const SKIPPED_DIRS: &[&str] = &[".git", "target", "node_modules", "corpus", "artifacts"];

/// Extensions of the files the scan reads; other files are data or binaries.
const TEXT_EXTENSIONS: &[&str] = &["rs", "md", "json", "toml", "mjs", "sh", "yml", "yaml"];

/// Extension-less scripts the scan also reads.
const SCRIPTS: &[&str] = &["run", "setup", "smoke", "check-core-deps"];

fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !SKIPPED_DIRS.contains(&name.as_str()) {
                text_files(&path, out);
            }
        } else if SCRIPTS.contains(&name.as_str())
            || path
                .extension()
                .is_some_and(|e| TEXT_EXTENSIONS.contains(&e.to_string_lossy().as_ref()))
        {
            out.push(path);
        }
    }
}

/// The anchors (`D1`, `E17`, …) a file defines: headings `## <anchor>. <title>`.
fn anchors(path: &Path, letter: char) -> BTreeSet<String> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter_map(|line| line.strip_prefix("## "))
        .filter_map(|rest| rest.split_once(". ").map(|(anchor, _)| anchor))
        .filter(|anchor| is_anchor(anchor, letter))
        .map(str::to_owned)
        .collect()
}

fn is_anchor(word: &str, letter: char) -> bool {
    let mut chars = word.chars();
    chars.next() == Some(letter)
        && matches!(chars.next(), Some('1'..='9'))
        && chars.all(|c| c.is_ascii_digit())
        && word.len() <= 4
}

/// The words of the form `D<n>` and `E<n>` in a text, standing alone (not part of an
/// identifier, a path or an encoded value), with their line numbers.
fn cited(text: &str) -> Vec<(usize, String)> {
    let part_of_word = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/');
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        for word in line.split(|c: char| !part_of_word(c)) {
            // A trailing full stop ends a sentence, not the word.
            let word = word.trim_end_matches('.');
            if is_anchor(word, 'D') || is_anchor(word, 'E') {
                out.push((n + 1, word.to_owned()));
            }
        }
    }
    out
}

#[test]
fn every_cited_decision_and_erratum_exists() {
    let root = workspace_root();
    let decisions = anchors(&root.join("spec/DECISIONS.md"), 'D');
    let errata = anchors(&root.join("spec/ERRATA.md"), 'E');
    assert!(
        decisions.contains("D1") && errata.contains("E1"),
        "no anchors found"
    );
    let mut files = Vec::new();
    text_files(&root, &mut files);
    let mut missing = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for file in &files {
        let Ok(text) = fs::read_to_string(file) else {
            continue;
        };
        for (line, word) in cited(&text) {
            *seen.entry(word.clone()).or_default() += 1;
            let defined = if word.starts_with('D') {
                decisions.contains(&word)
            } else {
                errata.contains(&word)
            };
            if !defined {
                let shown = file.strip_prefix(&root).unwrap_or(file).display();
                missing.push(format!("{shown}:{line}: {word}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "citations of decisions or errata that spec/DECISIONS.md and spec/ERRATA.md do \
         not define:\n  {}",
        missing.join("\n  ")
    );
    // The scan must have found the citations the code is known to make; an empty scan
    // would pass vacuously.
    assert!(
        seen.contains_key("D2") && seen.contains_key("E1"),
        "{seen:?}"
    );
}

#[test]
fn nothing_refers_to_notes_outside_the_repository() {
    // Assembled at run time so this file does not match itself.
    let outside = [
        ["spec", "-notes"].concat(),
        ["peer", "-lessons"].concat(),
        ["peer", " lessons"].concat(),
        ["steer", "ing"].concat(),
        ["DESIGN", ".md"].concat(),
        ["../", "shared"].concat(),
    ];
    let root = workspace_root();
    let mut files = Vec::new();
    text_files(&root, &mut files);
    let mut found = Vec::new();
    for file in &files {
        let Ok(text) = fs::read_to_string(file) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            let lower = line.to_lowercase();
            for word in &outside {
                if lower.contains(&word.to_lowercase()) {
                    let shown = file.strip_prefix(&root).unwrap_or(file).display();
                    found.push(format!("{shown}:{}: {word}", n + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "references to documents outside the repository (write what the code relies on \
         into spec/DECISIONS.md or spec/ERRATA.md):\n  {}",
        found.join("\n  ")
    );
}

#[test]
fn the_citation_scan_finds_words_and_skips_identifiers() {
    let found: Vec<String> = cited("see D2 and (E17); not D2x, x-D3, a.D4, D0 or D12345. End E4.")
        .into_iter()
        .map(|(_, w)| w)
        .collect();
    assert_eq!(found, ["D2", "E17", "E4"]);
}
