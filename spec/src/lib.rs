//! The Payment scheme's requirement registry as data, with the checks that keep it true.
//!
//! - [`Registry`] reads `spec/requirements.json`: every MUST, MUST NOT, SHOULD and
//!   SHOULD NOT of draft-httpauth-payment-01 and of the charge intent that binds a
//!   server, a client or a parser, those of the session intent (its generic draft,
//!   draft-payment-intent-session-00, and draft-lightning-session-00) that bind a
//!   server, and those of draft-lightning-charge-00, draft-stripe-charge-00 and
//!   draft-tempo-charge-00, and those of the JSON-RPC/MCP transport
//!   (draft-payment-transport-mcp-00), each under a stable id.
//! - [`scan_workspace`] finds the tests that cite those ids. A test covers a
//!   requirement when a plain line comment `// req: <id> [<id>…]` (ids separated by
//!   spaces or commas) sits in its body or right above its `fn`. Each citation is
//!   attributed to the nearest enclosing `fn`, named `<path from the workspace
//!   root>::<fn name>`.
//! - [`Trace`] puts the two together: unknown ids, citations outside test code, MUSTs
//!   that no test covers and are not listed in `spec/uncovered.json`, stale entries
//!   of that list, and the generated `spec/TRACEABILITY.md`.
//!
//! The checks run as the tests of this crate (`cargo test -p spec`);
//! `MPP_UPDATE_TRACEABILITY=1 cargo test -p spec` rewrites the generated files.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The registry, relative to the workspace root.
pub const REGISTRY_PATH: &str = "spec/requirements.json";
/// The reviewed list of mandatory requirements no test covers yet.
pub const EXCEPTIONS_PATH: &str = "spec/uncovered.json";
/// The generated traceability table.
pub const TRACEABILITY_PATH: &str = "spec/TRACEABILITY.md";
/// Set to `1` to write the generated files instead of comparing them.
pub const UPDATE_VAR: &str = "MPP_UPDATE_TRACEABILITY";
/// The command that regenerates the generated files.
pub const UPDATE_COMMAND: &str = "MPP_UPDATE_TRACEABILITY=1 cargo test -p spec";

/// The first segment every id starts with: one per specification.
pub const AREAS: [&str; 8] = [
    "core",
    "charge",
    "session",
    "lightning-charge",
    "lightning-session",
    "stripe-charge",
    "tempo-charge",
    "mcp",
];
/// Where a requirement comes from.
pub const DRAFTS: [&str; 9] = [
    "-01",
    "-00 and -01",
    "charge-00",
    "session-00",
    "lightning-charge-00",
    "lightning-session-00",
    "stripe-charge-00",
    "tempo-charge-00",
    "transport-mcp-00",
];

/// The strength of a requirement (RFC 2119; REQUIRED maps to MUST, RECOMMENDED to
/// SHOULD, NOT RECOMMENDED to SHOULD NOT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// MUST, REQUIRED, SHALL.
    Must,
    /// MUST NOT, SHALL NOT.
    MustNot,
    /// SHOULD, RECOMMENDED.
    Should,
    /// SHOULD NOT, NOT RECOMMENDED.
    ShouldNot,
}

impl Level {
    /// Every level, strongest first.
    pub const ALL: [Level; 4] = [Level::Must, Level::MustNot, Level::Should, Level::ShouldNot];

    /// The keyword as the registry writes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::MustNot => "MUST NOT",
            Level::Should => "SHOULD",
            Level::ShouldNot => "SHOULD NOT",
        }
    }

    /// The level written `text`.
    pub fn from_name(text: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == text)
    }

    /// MUST and MUST NOT: a test must cover them (or an exception must name them).
    pub const fn is_mandatory(self) -> bool {
        matches!(self, Level::Must | Level::MustNot)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who a requirement binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Party {
    /// The server issuing challenges and verifying credentials.
    Server,
    /// The client paying.
    Client,
    /// Any parser of the scheme's header fields, on either side.
    Parser,
}

impl Party {
    /// Every party.
    pub const ALL: [Party; 3] = [Party::Server, Party::Client, Party::Parser];

    /// The name as the registry writes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Party::Server => "server",
            Party::Client => "client",
            Party::Parser => "parser",
        }
    }

    /// The party written `text`.
    pub fn from_name(text: &str) -> Option<Party> {
        Party::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One requirement of the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// Stable, lowercase, dotted: `core.challenge.id.non-empty`.
    pub id: String,
    /// Where the draft states it, e.g. `§5.1.1 Required Parameters (id)`.
    pub section: String,
    /// How strong it is.
    pub level: Level,
    /// Who it binds.
    pub party: Party,
    /// One line, in this project's words.
    pub requirement: String,
    /// One of [`DRAFTS`].
    pub draft: String,
}

/// Whether `id` is well formed: at least two dot-separated segments of lowercase
/// letters and digits (single hyphens inside a segment allowed), the first one of
/// [`AREAS`].
pub fn is_well_formed_id(id: &str) -> bool {
    let segments: Vec<&str> = id.split('.').collect();
    segments.len() >= 2
        && AREAS.contains(&segments[0])
        && segments.iter().all(|s| {
            !s.is_empty()
                && s.split('-').all(|part| {
                    !part.is_empty()
                        && part
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                })
        })
}

const FIELDS: [&str; 6] = ["id", "section", "level", "party", "requirement", "draft"];

/// The requirement registry (`spec/requirements.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    /// Sorted by id.
    pub requirements: Vec<Requirement>,
}

impl Registry {
    /// Parses and validates the registry; on failure, every problem found.
    pub fn parse(text: &str) -> Result<Registry, Vec<String>> {
        let entries = json_array(text)?;
        let mut problems = Vec::new();
        let mut requirements = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            match requirement(entry) {
                Ok(r) => requirements.push(r),
                Err(why) => problems.push(format!("entry {i}: {why}")),
            }
        }
        let mut seen = BTreeSet::new();
        for r in &requirements {
            if !seen.insert(r.id.as_str()) {
                problems.push(format!("`{}` appears more than once", r.id));
            }
        }
        for pair in requirements.windows(2) {
            if pair[0].id > pair[1].id {
                problems.push(format!(
                    "not sorted by id: `{}` comes before `{}`",
                    pair[0].id, pair[1].id
                ));
            }
        }
        if problems.is_empty() {
            Ok(Registry { requirements })
        } else {
            Err(problems)
        }
    }

    /// Reads and validates `spec/requirements.json` under the workspace `root` (see
    /// [`workspace_root`]); on failure, one message naming the file and every problem.
    pub fn load(root: &Path) -> Result<Registry, String> {
        let text = fs::read_to_string(root.join(REGISTRY_PATH))
            .map_err(|e| format!("{REGISTRY_PATH}: {e}"))?;
        Registry::parse(&text).map_err(|p| format!("{REGISTRY_PATH}:\n  {}", p.join("\n  ")))
    }

    /// The requirement `id`.
    pub fn get(&self, id: &str) -> Option<&Requirement> {
        self.requirements
            .binary_search_by(|r| r.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.requirements[i])
    }

    /// The canonical text of the registry: a JSON array, one entry per line, members
    /// in a fixed order.
    pub fn to_canonical_json(&self) -> String {
        let lines: Vec<String> = self
            .requirements
            .iter()
            .map(|r| {
                let values = [
                    r.id.as_str(),
                    r.section.as_str(),
                    r.level.as_str(),
                    r.party.as_str(),
                    r.requirement.as_str(),
                    r.draft.as_str(),
                ];
                let members: Vec<String> = FIELDS
                    .iter()
                    .zip(values)
                    .map(|(k, v)| format!("{}: {}", json_string(k), json_string(v)))
                    .collect();
                format!("  {{{}}}", members.join(", "))
            })
            .collect();
        format!("[\n{}\n]\n", lines.join(",\n"))
    }
}

fn json_string(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

fn json_array(text: &str) -> Result<Vec<Value>, Vec<String>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(entries)) => Ok(entries),
        Ok(_) => Err(vec!["the top level is not a JSON array".into()]),
        Err(e) => Err(vec![format!("not valid JSON: {e}")]),
    }
}

fn string_member<'v>(
    object: &'v serde_json::Map<String, Value>,
    name: &str,
) -> Result<&'v str, String> {
    match object.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        Some(Value::String(_)) => Err(format!("`{name}` is empty")),
        Some(_) => Err(format!("`{name}` is not a string")),
        None => Err(format!("`{name}` is missing")),
    }
}

fn requirement(entry: &Value) -> Result<Requirement, String> {
    let Value::Object(object) = entry else {
        return Err("not a JSON object".into());
    };
    let id = string_member(object, "id")?;
    let at = |why: String| format!("`{id}`: {why}");
    if let Some(extra) = object.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(at(format!("unknown member `{extra}`")));
    }
    if !is_well_formed_id(id) {
        return Err(at(format!(
            "malformed id (lowercase dotted segments, starting with one of {AREAS:?})"
        )));
    }
    let section = string_member(object, "section").map_err(at)?;
    let level = string_member(object, "level").map_err(at)?;
    let level = Level::from_name(level).ok_or_else(|| {
        at(format!(
            "level `{level}` is not one of {:?}",
            Level::ALL.map(Level::as_str)
        ))
    })?;
    let party = string_member(object, "party").map_err(at)?;
    let party = Party::from_name(party).ok_or_else(|| {
        at(format!(
            "party `{party}` is not one of {:?}",
            Party::ALL.map(Party::as_str)
        ))
    })?;
    let text = string_member(object, "requirement").map_err(at)?;
    let draft = string_member(object, "draft").map_err(at)?;
    if !DRAFTS.contains(&draft) {
        return Err(at(format!("draft `{draft}` is not one of {DRAFTS:?}")));
    }
    for (name, value) in [("section", section), ("requirement", text)] {
        if value.contains(['\n', '\r']) {
            return Err(at(format!("`{name}` spans several lines")));
        }
    }
    Ok(Requirement {
        id: id.to_owned(),
        section: section.to_owned(),
        level,
        party,
        requirement: text.to_owned(),
        draft: draft.to_owned(),
    })
}

/// A mandatory requirement that no test covers yet, with the reviewed reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    /// The requirement's id.
    pub id: String,
    /// Why no test covers it, and what would.
    pub reason: String,
}

/// Parses `spec/uncovered.json`: a JSON array of `{"id", "reason"}`, sorted by id.
pub fn parse_exceptions(text: &str) -> Result<Vec<Exception>, Vec<String>> {
    let entries = json_array(text)?;
    let mut problems = Vec::new();
    let mut exceptions = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let Value::Object(object) = entry else {
            problems.push(format!("entry {i}: not a JSON object"));
            continue;
        };
        if let Some(extra) = object.keys().find(|k| *k != "id" && *k != "reason") {
            problems.push(format!("entry {i}: unknown member `{extra}`"));
            continue;
        }
        match (string_member(object, "id"), string_member(object, "reason")) {
            (Ok(id), Ok(reason)) => exceptions.push(Exception {
                id: id.to_owned(),
                reason: reason.to_owned(),
            }),
            (Err(why), _) | (_, Err(why)) => problems.push(format!("entry {i}: {why}")),
        }
    }
    for pair in exceptions.windows(2) {
        if pair[0].id >= pair[1].id {
            problems.push(format!(
                "not sorted by id, or repeated: `{}` then `{}`",
                pair[0].id, pair[1].id
            ));
        }
    }
    if problems.is_empty() {
        Ok(exceptions)
    } else {
        Err(problems)
    }
}

// ---------------------------------------------------------------------------------
// Citations
// ---------------------------------------------------------------------------------

/// A `// req:` comment found in the workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Citation {
    /// The file, relative to the workspace root, with `/` separators.
    pub file: String,
    /// The 1-based line of the comment.
    pub line: usize,
    /// The `fn` the citation belongs to: the nearest enclosing one, or the one the
    /// comment sits right above. `None` when there is neither.
    pub function: Option<String>,
    /// Whether that `fn` is test code: in a `tests/` directory, a `#[test]` (or
    /// `#[tokio::test]`…) function, or inside a `#[cfg(test)]` module.
    pub test_code: bool,
    /// The ids cited, in order.
    pub ids: Vec<String>,
}

impl Citation {
    /// `<file>::<fn>`, the name the traceability table shows.
    pub fn test_name(&self) -> Option<String> {
        self.function
            .as_ref()
            .map(|f| format!("{}::{f}", self.file))
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Punct(char),
    Literal,
    Citation(Vec<String>),
}

/// The ids of a plain line comment (the text after `//`) that is a citation.
fn citation_ids(comment: &str) -> Option<Vec<String>> {
    if comment.starts_with('/') || comment.starts_with('!') {
        return None; // a doc comment
    }
    let rest = comment.trim_start().strip_prefix("req:")?;
    Some(
        rest.split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    )
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// A Rust lexer just precise enough to find items, braces and comments: it skips
/// strings (raw ones too), character literals and block comments, and tells
/// lifetimes from character literals.
fn lex(text: &str) -> Vec<(Tok, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    // Skips a quoted string whose opening quote is at `i`; returns the index after it.
    let skip_string = |mut i: usize, line: &mut usize| -> usize {
        i += 1;
        while i < chars.len() {
            match chars[i] {
                '\\' => {
                    if at(i + 1) == '\n' {
                        *line += 1;
                    }
                    i += 2;
                }
                '"' => return i + 1,
                c => {
                    if c == '\n' {
                        *line += 1;
                    }
                    i += 1;
                }
            }
        }
        i
    };
    // Skips a character literal or a lifetime starting at the quote at `i`.
    let skip_quote = |i: usize| -> (usize, bool) {
        if at(i + 1) == '\\' {
            let mut j = i + 3;
            while j < chars.len() && chars[j] != '\'' && chars[j] != '\n' {
                j += 1;
            }
            (j + 1, true)
        } else if at(i + 2) == '\'' {
            (i + 3, true)
        } else {
            (i + 1, false) // a lifetime or a label: its name is lexed as an ident
        }
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            '/' if at(i + 1) == '/' => {
                let start = i + 2;
                let mut j = start;
                while j < chars.len() && chars[j] != '\n' {
                    j += 1;
                }
                let comment: String = chars[start..j].iter().collect();
                if let Some(ids) = citation_ids(&comment) {
                    out.push((Tok::Citation(ids), line));
                }
                i = j;
            }
            '/' if at(i + 1) == '*' => {
                let mut depth = 1;
                i += 2;
                while i < chars.len() && depth > 0 {
                    if chars[i] == '/' && at(i + 1) == '*' {
                        depth += 1;
                        i += 2;
                    } else if chars[i] == '*' && at(i + 1) == '/' {
                        depth -= 1;
                        i += 2;
                    } else {
                        if chars[i] == '\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                }
            }
            '"' => {
                let start_line = line;
                i = skip_string(i, &mut line);
                out.push((Tok::Literal, start_line));
            }
            '\'' => {
                let (next, literal) = skip_quote(i);
                if literal {
                    out.push((Tok::Literal, line));
                }
                i = next;
            }
            c if is_ident_start(c) => {
                let start = i;
                while i < chars.len() && is_ident_char(chars[i]) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let next = at(i);
                if matches!(word.as_str(), "r" | "br" | "cr") && (next == '#' || next == '"') {
                    let mut hashes = 0;
                    let mut j = i;
                    while at(j) == '#' {
                        hashes += 1;
                        j += 1;
                    }
                    if at(j) == '"' {
                        // A raw string: ends at a quote followed by as many hashes.
                        let start_line = line;
                        j += 1;
                        loop {
                            if j >= chars.len() {
                                break;
                            }
                            if chars[j] == '"' && (1..=hashes).all(|k| at(j + k) == '#') {
                                j += 1 + hashes;
                                break;
                            }
                            if chars[j] == '\n' {
                                line += 1;
                            }
                            j += 1;
                        }
                        out.push((Tok::Literal, start_line));
                        i = j;
                        continue;
                    }
                    if word == "r" && hashes == 1 && is_ident_start(at(j)) {
                        // A raw identifier: `r#type`.
                        let start = j;
                        while j < chars.len() && is_ident_char(chars[j]) {
                            j += 1;
                        }
                        out.push((Tok::Ident(chars[start..j].iter().collect()), line));
                        i = j;
                        continue;
                    }
                }
                if matches!(word.as_str(), "b" | "c") && next == '"' {
                    let start_line = line;
                    i = skip_string(i, &mut line);
                    out.push((Tok::Literal, start_line));
                    continue;
                }
                if word == "b" && next == '\'' {
                    let (after, _) = skip_quote(i);
                    out.push((Tok::Literal, line));
                    i = after;
                    continue;
                }
                out.push((Tok::Ident(word), line));
            }
            c if c.is_ascii_digit() => {
                while i < chars.len() && is_ident_char(chars[i]) {
                    i += 1;
                }
                out.push((Tok::Literal, line));
            }
            c => {
                out.push((Tok::Punct(c), line));
                i += 1;
            }
        }
    }
    out
}

/// Whether the identifiers of one attribute make test code: `#[test]`,
/// `#[tokio::test(…)]`, `#[cfg(test)]`, `#[cfg(all(test, …))]`, not `cfg(not(test))`.
fn attribute_is_test(idents: &[String]) -> bool {
    idents.iter().any(|i| i == "test") && !idents.iter().any(|i| i == "not")
}

#[derive(Debug)]
struct Scope {
    function: Option<String>,
    test: bool,
}

#[derive(Debug)]
struct Pending {
    function: Option<String>,
    test: bool,
    depth: i32,
}

/// Finds the citations of one source file. `file` is its path relative to the
/// workspace root; `in_tests_dir` says whether everything in it is test code.
pub fn scan_source(file: &str, text: &str, in_tests_dir: bool) -> Vec<Citation> {
    let toks = lex(text);
    let mut out = Vec::new();
    let mut scopes: Vec<Scope> = Vec::new();
    let mut file_test = in_tests_dir;
    let mut attrs_test = false;
    let mut pending: Option<Pending> = None;
    // Citations waiting to learn whether a `fn` follows them.
    let mut waiting: Vec<Citation> = Vec::new();
    let mut after_pub = false;
    let mut i = 0;
    let ident = |i: usize| match toks.get(i) {
        Some((Tok::Ident(s), _)) => Some(s.as_str()),
        _ => None,
    };
    let punct = |i: usize| match toks.get(i) {
        Some((Tok::Punct(c), _)) => Some(*c),
        _ => None,
    };
    while i < toks.len() {
        let (tok, line) = &toks[i];
        let inherited = file_test || scopes.last().is_some_and(|s| s.test);
        let enclosing = scopes
            .iter()
            .rev()
            .find(|s| s.function.is_some())
            .map(|s| (s.function.clone(), s.test));
        if let Tok::Citation(ids) = tok {
            let (function, test) = enclosing.unwrap_or((None, inherited));
            waiting.push(Citation {
                file: file.to_owned(),
                line: *line,
                function,
                test_code: test,
                ids: ids.clone(),
            });
            i += 1;
            continue;
        }
        // Attributes: collect their identifiers.
        if punct(i) == Some('#') {
            let inner = punct(i + 1) == Some('!');
            let open = if inner { i + 2 } else { i + 1 };
            if punct(open) == Some('[') {
                let mut depth = 0;
                let mut j = open;
                let mut idents = Vec::new();
                while j < toks.len() {
                    match &toks[j].0 {
                        Tok::Punct('[') => depth += 1,
                        Tok::Punct(']') => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        Tok::Ident(s) => idents.push(s.clone()),
                        _ => {}
                    }
                    j += 1;
                }
                if attribute_is_test(&idents) {
                    if !inner {
                        attrs_test = true;
                    } else if let Some(scope) = scopes.last_mut() {
                        scope.test = true;
                    } else {
                        file_test = true;
                    }
                }
                i = j + 1;
                continue;
            }
        }
        // Qualifiers between the comments above an item and its keyword.
        let word = ident(i);
        if after_pub && punct(i) == Some('(') {
            while i < toks.len() && punct(i) != Some(')') {
                i += 1;
            }
            after_pub = false;
            i += 1;
            continue;
        }
        after_pub = word == Some("pub");
        if matches!(
            word,
            Some("pub" | "async" | "unsafe" | "const" | "extern" | "default")
        ) && punct(i + 1) != Some('{')
        {
            i += 1;
            continue;
        }
        // An item with a body.
        if let (Some(kw @ ("fn" | "mod")), Some(name)) = (word, ident(i + 1)) {
            let test = attrs_test || inherited;
            let function = (kw == "fn").then(|| name.to_owned());
            for mut c in waiting.drain(..) {
                if let Some(f) = &function {
                    c.function = Some(f.clone());
                    c.test_code = test;
                }
                out.push(c);
            }
            pending = Some(Pending {
                function,
                test,
                depth: 0,
            });
            attrs_test = false;
            i += 2;
            continue;
        }
        // Anything else settles the waiting citations where they were written.
        out.append(&mut waiting);
        match tok {
            Tok::Punct('(' | '[') => {
                if let Some(p) = pending.as_mut() {
                    p.depth += 1;
                }
            }
            Tok::Punct(')' | ']') => {
                if let Some(p) = pending.as_mut() {
                    p.depth -= 1;
                }
            }
            Tok::Punct(';') => {
                if pending.as_ref().is_some_and(|p| p.depth <= 0) {
                    pending = None;
                }
                attrs_test = false;
            }
            Tok::Punct('{') => {
                match pending.take() {
                    Some(p) if p.depth <= 0 => scopes.push(Scope {
                        function: p.function,
                        test: p.test,
                    }),
                    other => {
                        pending = other;
                        scopes.push(Scope {
                            function: None,
                            test: inherited,
                        });
                    }
                }
                attrs_test = false;
            }
            Tok::Punct('}') => {
                scopes.pop();
                attrs_test = false;
            }
            _ => {}
        }
        i += 1;
    }
    out.append(&mut waiting);
    out
}

/// The workspace root: the parent of this crate's directory.
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .expect("the spec crate lives in the workspace root")
        .to_path_buf()
}

/// The member directories listed by the root `Cargo.toml`'s `[workspace] members`
/// (a trailing `/*` lists the subdirectories that hold a `Cargo.toml`).
pub fn workspace_members(root: &Path) -> Result<Vec<String>, String> {
    let path = root.join("Cargo.toml");
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let workspace = text
        .find("[workspace]")
        .ok_or_else(|| format!("{}: no [workspace] table", path.display()))?;
    let rest = &text[workspace..];
    let members = rest
        .find("members")
        .map(|at| &rest[at..])
        .ok_or_else(|| format!("{}: no workspace members", path.display()))?;
    let open = members
        .find('[')
        .ok_or_else(|| format!("{}: members is not an array", path.display()))?;
    let close = members[open..]
        .find(']')
        .ok_or_else(|| format!("{}: members is not closed", path.display()))?;
    let mut out = Vec::new();
    for entry in members[open + 1..open + close].split(',') {
        let entry = entry.trim().trim_matches('"');
        if entry.is_empty() {
            continue;
        }
        if let Some(parent) = entry.strip_suffix("/*") {
            let dir = root.join(parent);
            let mut subdirs: Vec<String> = fs::read_dir(&dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?
                .filter_map(Result::ok)
                .filter(|e| e.path().join("Cargo.toml").is_file())
                .map(|e| format!("{parent}/{}", e.file_name().to_string_lossy()))
                .collect();
            subdirs.sort();
            out.extend(subdirs);
        } else {
            out.push(entry.to_owned());
        }
    }
    Ok(out)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    if !dir.is_dir() {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// Every citation in the `src/**/*.rs` and `tests/**/*.rs` files of the workspace's
/// members, in file order.
pub fn scan_workspace(root: &Path) -> Result<Vec<Citation>, String> {
    let mut out = Vec::new();
    for member in workspace_members(root)? {
        for (dir, in_tests_dir) in [("src", false), ("tests", true)] {
            let mut files = Vec::new();
            rust_files(&root.join(&member).join(dir), &mut files)?;
            for path in files {
                // A file another process removes between listing and reading is
                // simply gone.
                let Ok(text) = fs::read_to_string(&path) else {
                    continue;
                };
                let relative = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.extend(scan_source(&relative, &text, in_tests_dir));
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------

/// The registry, the exception list and the workspace's citations, checked together.
#[derive(Debug, Clone)]
pub struct Trace {
    /// `spec/requirements.json`.
    pub registry: Registry,
    /// `spec/uncovered.json`.
    pub exceptions: Vec<Exception>,
    /// Every `// req:` comment of the workspace.
    pub citations: Vec<Citation>,
}

impl Trace {
    /// Reads the registry and the exceptions under `root` and scans the workspace.
    pub fn load(root: &Path) -> Result<Trace, String> {
        let read = |relative: &str| {
            fs::read_to_string(root.join(relative)).map_err(|e| format!("{relative}: {e}"))
        };
        let registry = Registry::load(root)?;
        let exceptions = parse_exceptions(&read(EXCEPTIONS_PATH)?)
            .map_err(|p| format!("{EXCEPTIONS_PATH}:\n  {}", p.join("\n  ")))?;
        let citations = scan_workspace(root)?;
        Ok(Trace {
            registry,
            exceptions,
            citations,
        })
    }

    /// Each cited id (known or not) with the tests that cite it, as `file::fn`.
    /// Citations outside test code count for nothing.
    pub fn coverage(&self) -> BTreeMap<&str, BTreeSet<String>> {
        let mut out: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for c in &self.citations {
            let (Some(name), true) = (c.test_name(), c.test_code) else {
                continue;
            };
            for id in &c.ids {
                out.entry(id.as_str()).or_default().insert(name.clone());
            }
        }
        out
    }

    /// `file:line: …` for each cited id that is not in the registry, and for each
    /// citation that names no id.
    pub fn unknown_citations(&self) -> Vec<String> {
        let mut out = Vec::new();
        for c in &self.citations {
            if c.ids.is_empty() {
                out.push(format!(
                    "{}:{}: a `req:` comment without ids",
                    c.file, c.line
                ));
            }
            for id in &c.ids {
                if self.registry.get(id).is_none() {
                    out.push(format!(
                        "{}:{}: `{id}` is not a requirement of {REGISTRY_PATH}",
                        c.file, c.line
                    ));
                }
            }
        }
        out
    }

    /// `file:line: …` for each citation that belongs to no `fn`, or to a `fn` that is
    /// not test code.
    pub fn misplaced_citations(&self) -> Vec<String> {
        self.citations
            .iter()
            .filter_map(|c| match (&c.function, c.test_code) {
                (None, _) => Some(format!(
                    "{}:{}: the citation is neither inside a fn nor right above one",
                    c.file, c.line
                )),
                (Some(f), false) => Some(format!(
                    "{}:{}: `{f}` is not test code (cite only in tests/, #[test] fns or #[cfg(test)] modules)",
                    c.file, c.line
                )),
                _ => None,
            })
            .collect()
    }

    /// The MUSTs and MUST NOTs that no test covers and no exception names.
    pub fn uncovered_mandatory(&self) -> Vec<&Requirement> {
        let coverage = self.coverage();
        let excepted: BTreeSet<&str> = self.exceptions.iter().map(|e| e.id.as_str()).collect();
        self.registry
            .requirements
            .iter()
            .filter(|r| r.level.is_mandatory())
            .filter(|r| !coverage.contains_key(r.id.as_str()) && !excepted.contains(r.id.as_str()))
            .collect()
    }

    /// Problems of the exception list: unknown ids, ids that are only SHOULDs, and
    /// ids a test now covers (the list only shrinks).
    pub fn exception_problems(&self) -> Vec<String> {
        let coverage = self.coverage();
        let mut out = Vec::new();
        for e in &self.exceptions {
            match self.registry.get(&e.id) {
                None => out.push(format!(
                    "{EXCEPTIONS_PATH}: `{}` is not a requirement of {REGISTRY_PATH}",
                    e.id
                )),
                Some(r) if !r.level.is_mandatory() => out.push(format!(
                    "{EXCEPTIONS_PATH}: `{}` is a {}: only MUSTs need an exception",
                    e.id, r.level
                )),
                Some(_) => {
                    if let Some(tests) = coverage.get(e.id.as_str()) {
                        out.push(format!(
                            "{EXCEPTIONS_PATH}: `{}` is covered by {}: remove it from the list",
                            e.id,
                            tests.iter().cloned().collect::<Vec<_>>().join(", ")
                        ));
                    }
                }
            }
        }
        out
    }

    /// The text of `spec/TRACEABILITY.md`.
    pub fn traceability(&self) -> String {
        let coverage = self.coverage();
        let exceptions: BTreeMap<&str, &str> = self
            .exceptions
            .iter()
            .map(|e| (e.id.as_str(), e.reason.as_str()))
            .collect();
        let reqs = &self.registry.requirements;
        let covered = |r: &Requirement| coverage.contains_key(r.id.as_str());
        let mandatory: Vec<&Requirement> = reqs.iter().filter(|r| r.level.is_mandatory()).collect();
        let optional: Vec<&Requirement> = reqs.iter().filter(|r| !r.level.is_mandatory()).collect();
        let mut out = String::new();
        out.push_str("# Requirement traceability\n\n");
        let _ = writeln!(
            out,
            "Generated by `cargo test -p spec` from `{REGISTRY_PATH}`, `{EXCEPTIONS_PATH}` and the\n\
             `// req:` citations in the workspace's tests; do not edit it by hand. After changing\n\
             any of them, regenerate it with `{UPDATE_COMMAND}`.\n"
        );
        let _ = writeln!(
            out,
            "**Summary:** {} requirements. {} MUST / MUST NOT: {} covered by a test, {} listed \
             as reviewed exceptions in `{EXCEPTIONS_PATH}`. {} SHOULD / SHOULD NOT: {} covered, \
             {} not covered.\n",
            reqs.len(),
            mandatory.len(),
            mandatory.iter().filter(|r| covered(r)).count(),
            mandatory
                .iter()
                .filter(|r| exceptions.contains_key(r.id.as_str()))
                .count(),
            optional.len(),
            optional.iter().filter(|r| covered(r)).count(),
            optional.iter().filter(|r| !covered(r)).count(),
        );
        out.push_str("| level | server | client | parser | total |\n|---|---|---|---|---|\n");
        for level in Level::ALL {
            let count = |party: Option<Party>| {
                reqs.iter()
                    .filter(|r| r.level == level && party.is_none_or(|p| r.party == p))
                    .count()
            };
            let _ = writeln!(
                out,
                "| {level} | {} | {} | {} | {} |",
                count(Some(Party::Server)),
                count(Some(Party::Client)),
                count(Some(Party::Parser)),
                count(None)
            );
        }
        out.push_str(
            "\n| id | level | party | requirement | covered by |\n|---|---|---|---|---|\n",
        );
        for r in reqs {
            let by = match (coverage.get(r.id.as_str()), exceptions.get(r.id.as_str())) {
                (Some(tests), _) => tests
                    .iter()
                    .map(|t| format!("`{t}`"))
                    .collect::<Vec<_>>()
                    .join("<br>"),
                (None, Some(reason)) => format!("— (exception: {})", cell(reason)),
                (None, None) => "—".to_owned(),
            };
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} |",
                r.id,
                r.level,
                r.party,
                cell(&r.requirement),
                by
            );
        }
        out
    }
}

/// Text safe inside a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str) -> Vec<(Option<String>, bool, Vec<String>, usize)> {
        scan_source("x/src/lib.rs", text, false)
            .into_iter()
            .map(|c| (c.function, c.test_code, c.ids, c.line))
            .collect()
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn well_formed_ids() {
        for ok in [
            "core.challenge.id.non-empty",
            "core.errors.402.with-challenge",
            "charge.verify.amount",
            "lightning-session.close.refund-once",
        ] {
            assert!(is_well_formed_id(ok), "{ok}");
        }
        for bad in [
            "core",
            "Core.x",
            "core..x",
            "core.x-",
            "core.-x",
            "core.a--b",
            "core.x_y",
            "subscription.x",
            "core.x ",
            "",
        ] {
            assert!(!is_well_formed_id(bad), "{bad}");
        }
    }

    #[test]
    fn citations_inside_and_above_functions() {
        let text = r##"
#[cfg(test)]
mod tests {
    // req: core.a
    #[test]
    // req: core.b, core.c
    fn first() {
        let s = "{ // req: core.not-a-citation";
        let c = '{';
        // req: core.d
        let closure = || {
            // req: core.e
        };
    }

    fn helper<'a>(x: &'a str) -> &'a str {
        /* { */ x
    }

    // not a citation: req: core.f
    /// req: core.g (a doc comment)
    #[tokio::test(flavor = "multi_thread")]
    async fn second() {
        let raw = r#"}}} // req: core.h"#;
        fn nested() {
            // req: core.i
        }
        // req: core.j
    }
}

// req: core.k
pub(crate) const fn library() {
    // req: core.l
}

// req: core.m
struct Orphan;
"##;
        let found = scan(text);
        let f = |s: &str| Some(s.to_owned());
        assert_eq!(
            found,
            [
                (f("first"), true, ids(&["core.a"]), 4),
                (f("first"), true, ids(&["core.b", "core.c"]), 6),
                (f("first"), true, ids(&["core.d"]), 10),
                (f("first"), true, ids(&["core.e"]), 12),
                (f("nested"), true, ids(&["core.i"]), 26),
                (f("second"), true, ids(&["core.j"]), 28),
                (f("library"), false, ids(&["core.k"]), 32),
                (f("library"), false, ids(&["core.l"]), 34),
                (None, false, ids(&["core.m"]), 37),
            ]
        );
    }

    #[test]
    fn tests_directories_and_inner_attributes_are_test_code() {
        let text = "fn helper() {\n    // req: core.a\n}\n";
        let c = &scan_source("x/tests/t.rs", text, true)[0];
        assert_eq!((c.function.as_deref(), c.test_code), (Some("helper"), true));
        assert_eq!(c.test_name().unwrap(), "x/tests/t.rs::helper");
        let text = "#![cfg(test)]\nfn helper() {\n    // req: core.a\n}\n";
        assert!(scan(text)[0].1);
        let text = "#[cfg(not(test))]\nmod m {\n    fn f() {\n        // req: core.a\n    }\n}\n";
        assert!(!scan(text)[0].1);
    }

    #[test]
    fn declarations_without_bodies_and_function_pointers() {
        let text = "trait T {\n    fn a(&self) -> fn(u8) -> u8;\n}\nmod m;\nfn b(f: fn()) where u8: Copy {\n    // req: core.a\n}\n";
        assert_eq!(scan(text)[0].0.as_deref(), Some("b"));
        let text = "fn c() -> [u8; 2] {\n    // req: core.a\n    [0; 2]\n}\n";
        assert_eq!(scan(text)[0].0.as_deref(), Some("c"));
        let text = "fn d() {\n    let x = b'{';\n    let y = br##\"}\"#}\"##;\n    let r#type = 1;\n    // req: core.a\n}\n";
        assert_eq!(scan(text)[0].0.as_deref(), Some("d"));
    }

    #[test]
    fn an_empty_citation_is_kept_and_ids_split_on_commas_and_spaces() {
        let text = "fn a() {\n    // req:\n    //req: core.b,core.c  core.d\n}\n";
        let found = scan(text);
        assert_eq!(found[0].2, Vec::<String>::new());
        assert_eq!(found[1].2, ids(&["core.b", "core.c", "core.d"]));
    }

    fn registry_text(entries: &[(&str, &str)]) -> String {
        let lines: Vec<String> = entries
            .iter()
            .map(|(id, level)| {
                format!(
                    r#"  {{"id": "{id}", "section": "§1", "level": "{level}", "party": "server", "requirement": "Do it.", "draft": "-01"}}"#
                )
            })
            .collect();
        format!("[\n{}\n]\n", lines.join(",\n"))
    }

    #[test]
    fn registry_validation() {
        let text = registry_text(&[("core.a.b", "MUST"), ("core.a.c", "SHOULD")]);
        let registry = Registry::parse(&text).unwrap();
        assert_eq!(registry.to_canonical_json(), text);
        assert_eq!(registry.get("core.a.c").unwrap().level, Level::Should);
        assert!(registry.get("core.a.d").is_none());
        let problems = Registry::parse(&registry_text(&[
            ("core.a.c", "MUST"),
            ("core.a.b", "MAY"),
            ("core.a.c", "MUST"),
            ("Core.x", "MUST"),
        ]))
        .unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("level `MAY`"), "{problems:?}");
        assert!(problems[1].contains("malformed id"), "{problems:?}");
        assert!(problems[2].contains("more than once"), "{problems:?}");
        let unsorted = Registry::parse(&registry_text(&[
            ("core.a.c", "MUST"),
            ("core.a.b", "MUST"),
        ]));
        assert!(unsorted.unwrap_err()[0].contains("not sorted"));
        let extra = text.replace(r#""draft": "-01""#, r#""draft": "-01", "note": "x""#);
        assert!(Registry::parse(&extra).unwrap_err()[0].contains("unknown member `note`"));
        let party = text.replace("server", "proxy");
        assert!(Registry::parse(&party).unwrap_err()[0].contains("party `proxy`"));
        assert!(Registry::parse("{}").is_err());
    }

    #[test]
    fn the_checks_report_what_is_wrong() {
        let registry = Registry::parse(&registry_text(&[
            ("core.a.covered", "MUST"),
            ("core.a.excepted", "MUST"),
            ("core.a.missing", "MUST NOT"),
            ("core.a.optional", "SHOULD"),
            ("core.a.stale", "MUST"),
        ]))
        .unwrap();
        let exceptions = parse_exceptions(
            r#"[{"id": "core.a.excepted", "reason": "later"}, {"id": "core.a.optional", "reason": "x"}, {"id": "core.a.stale", "reason": "x"}, {"id": "core.a.unknown", "reason": "x"}]"#,
        )
        .unwrap();
        let source = "fn t() {\n    // req: core.a.covered core.a.stale core.nope\n}\n";
        let mut citations = scan_source("x/tests/t.rs", source, true);
        citations.extend(scan_source(
            "x/src/lib.rs",
            "fn lib() {\n    // req: core.a.missing\n}\n",
            false,
        ));
        let trace = Trace {
            registry,
            exceptions,
            citations,
        };
        assert_eq!(
            trace.unknown_citations(),
            ["x/tests/t.rs:2: `core.nope` is not a requirement of spec/requirements.json"]
        );
        assert_eq!(trace.misplaced_citations().len(), 1);
        assert!(
            trace.misplaced_citations()[0].starts_with("x/src/lib.rs:2: `lib` is not test code")
        );
        let uncovered: Vec<&str> = trace
            .uncovered_mandatory()
            .iter()
            .map(|r| r.id.as_str())
            .collect();
        assert_eq!(uncovered, ["core.a.missing"]);
        let problems = trace.exception_problems();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("is a SHOULD"));
        assert!(problems[1].contains("covered by x/tests/t.rs::t"));
        assert!(problems[2].contains("`core.a.unknown` is not a requirement"));
        let table = trace.traceability();
        assert!(
            table.contains("| `core.a.covered` | MUST | server | Do it. | `x/tests/t.rs::t` |")
        );
        assert!(
            table.contains("| `core.a.excepted` | MUST | server | Do it. | — (exception: later) |")
        );
        assert!(table.contains("| `core.a.missing` | MUST NOT | server | Do it. | — |"));
        assert!(table.contains("5 requirements. 4 MUST / MUST NOT: 2 covered by a test, 2 listed"));
    }

    #[test]
    fn exception_list_validation() {
        assert!(
            parse_exceptions(
                r#"[{"id": "core.b", "reason": "x"}, {"id": "core.a", "reason": "y"}]"#
            )
            .is_err()
        );
        assert!(parse_exceptions(r#"[{"id": "core.a", "reason": ""}]"#).is_err());
        assert!(parse_exceptions(r#"[{"id": "core.a"}]"#).is_err());
        assert_eq!(parse_exceptions("[]").unwrap(), []);
    }
}
