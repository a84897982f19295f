//! The Stripe secret API key: read from the environment or a file, and kept out of
//! every `Debug`, `Display` and error message.

use std::format;
use std::string::String;

/// A Stripe secret (`sk_…`) or restricted (`rk_…`) API key. `Debug` shows only
/// whether it is a test-mode key; no error of this crate contains it.
#[derive(Clone)]
pub struct StripeSecretKey(String);

impl core::fmt::Debug for StripeSecretKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mode = if self.is_test_mode() { "test" } else { "live" };
        write!(f, "StripeSecretKey(<redacted {mode} key>)")
    }
}

/// Why a key was refused. The message never contains the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(String);

impl KeyError {
    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl core::fmt::Display for KeyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyError {}

impl StripeSecretKey {
    /// The key `text`, trimmed of surrounding whitespace (a file's final newline):
    /// `sk_` or `rk_`, then `test_` or `live_`, then letters and digits. A
    /// publishable key (`pk_…`) is refused: it cannot create PaymentIntents.
    pub fn new(text: &str) -> Result<StripeSecretKey, KeyError> {
        let key = text.trim();
        let body = key
            .strip_prefix("sk_")
            .or_else(|| key.strip_prefix("rk_"))
            .ok_or_else(|| {
                KeyError(String::from(
                    "a Stripe secret key starts with sk_ (or rk_ for a restricted key)",
                ))
            })?;
        let rest = body
            .strip_prefix("test_")
            .or_else(|| body.strip_prefix("live_"))
            .ok_or_else(|| {
                KeyError(String::from(
                    "a Stripe secret key continues with test_ or live_",
                ))
            })?;
        if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(KeyError(String::from(
                "a Stripe secret key holds only letters, digits and underscores",
            )));
        }
        Ok(StripeSecretKey(key.into()))
    }

    /// The key in environment variable `name`.
    pub fn from_env(name: &str) -> Result<StripeSecretKey, KeyError> {
        let text = std::env::var(name)
            .map_err(|_| KeyError(format!("environment variable {name} holds no key")))?;
        StripeSecretKey::new(&text).map_err(|e| KeyError(format!("{name}: {e}")))
    }

    /// The key in the file at `path` (its whole content, trimmed).
    pub fn from_file(path: &std::path::Path) -> Result<StripeSecretKey, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            KeyError(format!(
                "cannot read the key file {}: {}",
                path.display(),
                e.kind()
            ))
        })?;
        StripeSecretKey::new(&text).map_err(|e| KeyError(format!("{}: {e}", path.display())))
    }

    /// Whether it is a test-mode key (`sk_test_…`, `rk_test_…`): Stripe moves no real
    /// money with it.
    pub fn is_test_mode(&self) -> bool {
        self.0[3..].starts_with("test_")
    }

    /// The key itself, for the `Authorization` header only.
    pub(super) fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_trimmed_and_never_shown() {
        let key = StripeSecretKey::new("  sk_test_abcDEF123\n").unwrap();
        assert!(key.is_test_mode());
        assert_eq!(key.expose(), "sk_test_abcDEF123");
        let shown = format!("{key:?}");
        assert!(!shown.contains("abcDEF123"), "{shown}");
        assert!(!StripeSecretKey::new("rk_live_x9").unwrap().is_test_mode());
        for bad in [
            "",
            "pk_test_abc",
            "sk_abc",
            "sk_test_",
            "sk_test_a b",
            "sk_test_a\u{e9}",
        ] {
            let e = StripeSecretKey::new(bad).unwrap_err();
            assert!(bad.len() < 9 || !e.message().contains(&bad[8..]), "{e}");
        }
    }

    #[test]
    fn a_key_file_is_read_whole_and_its_errors_name_the_file_only() {
        let dir = std::env::temp_dir().join(format!("mpp-stripe-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good");
        std::fs::write(&good, "sk_test_fromfile42\n").unwrap();
        assert_eq!(
            StripeSecretKey::from_file(&good).unwrap().expose(),
            "sk_test_fromfile42"
        );
        let bad = dir.join("bad");
        std::fs::write(&bad, "sk_test_has space SECRETPART\n").unwrap();
        let e = StripeSecretKey::from_file(&bad).unwrap_err();
        assert!(!e.message().contains("SECRETPART"), "{e}");
        assert!(StripeSecretKey::from_file(&dir.join("missing")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
