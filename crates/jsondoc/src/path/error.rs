//! Why a path text was refused, worded the way RedisJSON words it.

use std::fmt;

/// A path that does not parse.
///
/// `Display` follows RedisJSON 2.8's shape,
/// `Error occurred on position N, "<prefix> ---->>>> <rest>", <reason>.` or, when the text ends too early,
/// `Error occurred on position N, "<text> <<<<----", <reason>.`, so clients that match on the prefix keep working.
/// Where we differ from RedisJSON:
/// * the `<reason>` is our parser's (for example `expected a selector`), not RedisJSON's
///   `expected one of the following: …` list of grammar rule names;
/// * the position is the byte offset in the text shown, which for a legacy path is the text after the
///   rewrite to `$.…`, as RedisJSON shows it; positions inside a rewritten shorthand name point at its start;
/// * non-ASCII characters are echoed as UTF-8, where RedisJSON echoes one Latin-1 byte (`\xfc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError {
    shown_text: String,
    position: usize,
    reason: String,
}

impl PathError {
    /// An error at byte `position` of `shown_text` (clamped to the text and to a character boundary).
    pub(crate) fn new(shown_text: &str, position: usize, reason: &str) -> PathError {
        let mut position = position.min(shown_text.len());
        while !shown_text.is_char_boundary(position) {
            position -= 1;
        }
        PathError {
            shown_text: shown_text.to_owned(),
            position,
            reason: readable_reason(reason),
        }
    }

    /// The byte offset of the error in [`PathError::shown_text`].
    pub fn position(&self) -> usize {
        self.position
    }

    /// The path text the position refers to: the text as given for `$` paths, the rewritten `$.…` text
    /// for legacy paths.
    pub fn shown_text(&self) -> &str {
        &self.shown_text
    }

    /// What the parser expected, without the position.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (before, after) = self.shown_text.split_at(self.position);
        if after.is_empty() {
            write!(
                f,
                "Error occurred on position {}, \"{before} <<<<----\", {}.",
                self.position, self.reason
            )
        } else {
            write!(
                f,
                "Error occurred on position {}, \"{before} ---->>>> {after}\", {}.",
                self.position, self.reason
            )
        }
    }
}

impl std::error::Error for PathError {}

/// The query parser's reason, reworded where it is vague or misleading.
fn readable_reason(reason: &str) -> String {
    let reason = reason.trim().trim_end_matches('.');
    if reason == "parser error" {
        return "unexpected input".to_owned();
    }
    // The parser says "lowercase alpha", but RFC 9535 §2.5.1.1 allows any letter.
    reason.replace(
        "must start with lowercase alpha or '_'",
        "must start with a letter, '_' or a non-ASCII character",
    )
}
