//! Splitting an adapter command line (`--adapter 'node my-adapter.js'`) into words,
//! the way a POSIX shell splits a simple command, without running a shell.
//!
//! - Blanks (space, tab, newline) separate words.
//! - `'…'` keeps everything up to the next `'` as is.
//! - `"…"` keeps everything, except that a backslash before `"`, `\`, `$` or `` ` ``
//!   stands for that character (and before a newline, for nothing).
//! - Outside quotes a backslash stands for the next character.
//! - Quoted and unquoted parts next to each other make one word; `''` is an empty word.
//!
//! Nothing is expanded. Unquoted `|`, `&`, `;`, `<`, `>`, `(`, `)`, `$` and `` ` `` are
//! refused rather than passed on as words, because they would mean something else to
//! a shell: wrap such a command in `sh -c '…'`.

/// The words of `line`.
pub fn split(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("unterminated double quote".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(c) => {
                    in_word = true;
                    word.push(c);
                }
                None => return Err("a backslash ends the command".into()),
            },
            '|' | '&' | ';' | '<' | '>' | '(' | ')' | '$' | '`' => {
                return Err(format!(
                    "unquoted {c:?} would need a shell; wrap the command in sh -c '…'"
                ));
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    if words.is_empty() {
        return Err("the command is empty".into());
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::split;

    fn words(line: &str) -> Vec<String> {
        split(line).unwrap()
    }

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(words("node  my-adapter.js"), ["node", "my-adapter.js"]);
        assert_eq!(words(" a\tb\nc "), ["a", "b", "c"]);
        assert_eq!(
            words(r#"sh -c 'printf "%s\n" x'"#),
            ["sh", "-c", r#"printf "%s\n" x"#]
        );
        assert_eq!(words(r#""a b"'c d'e"#), ["a bc de"], "adjacent parts join");
        assert_eq!(words("'' x"), ["", "x"]);
        assert_eq!(words(r#""q\"q" "b\\s" "k\n""#), [r#"q"q"#, r"b\s", r"k\n"]);
        assert_eq!(words(r"a\ b \'c"), ["a b", "'c"]);
        assert_eq!(words("a\\\nb"), ["ab"]);
        assert_eq!(words("'$x | y'"), ["$x | y"]);
    }

    #[test]
    fn refuses_what_only_a_shell_could_run() {
        for bad in [
            "",
            "   ",
            "'open",
            "\"open",
            "\"open\\",
            "end\\",
            "a | b",
            "a; b",
            "a > f",
            "echo $HOME",
            "a && b",
            "`x`",
        ] {
            assert!(split(bad).is_err(), "{bad:?}");
        }
    }
}
