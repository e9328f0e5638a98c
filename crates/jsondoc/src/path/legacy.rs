//! Legacy paths (`.a.b`, `a[0]`, `.`): the rewrite RedisJSON applies, then a translation to RFC 9535 text.
//!
//! RedisJSON evaluates a legacy path by rewriting it to a `$` path (`.` → `$`, `.x` → `$.x`, `x` → `$.x`) and
//! running its own JSONPath dialect on the result. That dialect accepts member-name shorthands that RFC 9535
//! refuses (`.a-b`, `.1a`, `.$`, `.0` as the *name* "0") and a dot before a bracket (`.arr.[0]`). Legacy paths
//! are written by clients of that dialect, so we keep accepting those spellings: each shorthand name becomes a
//! bracketed name selector (`['a-b']`) and a dot before `[` is dropped. Everything else, brackets and filters
//! included, is passed through verbatim for the RFC 9535 parser to judge.

use super::mapped_text::MappedText;

/// The rewritten text (what RedisJSON shows in its messages) and its RFC 9535 translation.
pub(crate) struct LegacyText {
    /// `$`-prefixed form of the legacy path, as RedisJSON rewrites it.
    pub(crate) rewritten: String,
    /// RFC 9535 query text with the same meaning, mapped onto `rewritten`.
    pub(crate) translated: MappedText,
}

/// RedisJSON's rewrite of a legacy path to a `$` path. Trailing blanks are dropped first because RedisJSON
/// accepts them and RFC 9535 does not.
pub(crate) fn rewrite(text: &str) -> String {
    let text = text.trim_end_matches([' ', '\t', '\n', '\r']);
    // Concatenated by hand: this runs for every legacy path of every command.
    let mut rewritten = String::with_capacity(text.len() + 2);
    rewritten.push('$');
    if text != "." {
        if !text.starts_with('.') {
            rewritten.push('.');
        }
        rewritten.push_str(text);
    }
    rewritten
}

/// Characters a legacy shorthand member name may contain: RedisJSON's set
/// (`A-Z a-z 0-9 - _ ` ~ + # % $ ^ / :`) plus, as in RFC 9535, every non-ASCII character.
pub(crate) fn is_legacy_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_`~+#%$^/:".contains(c) || !c.is_ascii()
}

/// Rewrites `text` and translates the result to RFC 9535 syntax.
pub(crate) fn translate(text: &str) -> LegacyText {
    translate_rewritten(rewrite(text))
}

/// Translates a `$` path written in RedisJSON's dialect (shorthand names outside RFC 9535's
/// alphabet, a dot before a bracket) to RFC 9535 syntax, mapped onto `text`.
pub(crate) fn translate_jsonpath(text: &str) -> MappedText {
    translate_rewritten(text.to_owned()).translated
}

fn translate_rewritten(rewritten: String) -> LegacyText {
    let mut out = MappedText::default();
    let chars: Vec<(usize, char)> = rewritten.char_indices().collect();
    // The rewrite always starts with `$`.
    out.push_str("$", 0);
    let mut i = 1;
    while i < chars.len() {
        let (offset, c) = chars[i];
        match c {
            '.' => {
                let next = chars.get(i + 1).map(|&(_, c)| c);
                if next == Some('.') {
                    out.push_str("..", offset);
                    i += 2;
                    i = shorthand_name(&mut out, &chars, i);
                } else if next == Some('[') {
                    // `.[0]` means `[0]` in RedisJSON's dialect.
                    i += 1;
                } else {
                    let after_name = shorthand_name(&mut out, &chars, i + 1);
                    if after_name == i + 1 {
                        // Not a name (`.*`, or an error the RFC parser will report).
                        out.push_str(".", offset);
                    }
                    i = after_name;
                }
            }
            '[' => i = copy_bracket(&mut out, &chars, i),
            _ => {
                out.push_char(c, offset);
                i += 1;
            }
        }
    }
    let translated = out.finish(rewritten.len());
    LegacyText {
        rewritten,
        translated,
    }
}

/// Emits the shorthand name starting at `start` as `['name']` and returns the index after it
/// (`start` itself when there is no name there).
fn shorthand_name(out: &mut MappedText, chars: &[(usize, char)], start: usize) -> usize {
    let end = chars[start..]
        .iter()
        .position(|&(_, c)| !is_legacy_name_char(c))
        .map_or(chars.len(), |len| start + len);
    if end == start {
        return start;
    }
    let source_offset = chars[start].0;
    out.push_str("['", source_offset);
    for &(offset, c) in &chars[start..end] {
        // Only these two need escaping inside single quotes; the name alphabet holds neither, but a
        // future widening of it must not produce a broken literal.
        if c == '\'' || c == '\\' {
            out.push_char('\\', offset);
        }
        out.push_char(c, offset);
    }
    out.push_str("']", chars[end - 1].0);
    end
}

/// Copies a bracketed selection verbatim up to its closing `]` (skipping quoted strings and nested
/// brackets of filters) and returns the index after it. The one change: a dot before a bracket
/// inside a filter (`@.["k"]`, never valid RFC 9535) is dropped, as RedisJSON reads it.
pub(crate) fn copy_bracket(out: &mut MappedText, chars: &[(usize, char)], start: usize) -> usize {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut i = start;
    while i < chars.len() {
        let (offset, c) = chars[i];
        // `@.[` and `$.[`, not the descendant `..[`.
        if quote.is_none()
            && c == '.'
            && chars.get(i + 1).is_some_and(|&(_, n)| n == '[')
            && (i == 0 || chars[i - 1].1 != '.')
        {
            i += 1;
            continue;
        }
        out.push_char(c, offset);
        i += 1;
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            _ => {}
        }
    }
    i
}
