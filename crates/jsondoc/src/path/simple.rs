//! Simple chains: paths that are only member names and single indices (`$.friends[1].name`).
//!
//! Such a path selects at most one value, found by walking the steps, so the document can resolve it on its
//! own storage without building a `serde_json::Value` and without the general query engine.

use serde_json::Value;

use crate::{Location, Segment};

/// One step of a simple chain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    /// Select the object member with this (unescaped) name. Selects nothing on a non-object.
    Key(String),
    /// Select an array element. A negative index counts from the end (`-1` is the last element,
    /// RFC 9535 §2.3.3.2); an index outside the array selects nothing. Selects nothing on a non-array.
    Index(i64),
}

impl Step {
    /// The element position `index` denotes in an array of `len` elements, if any.
    pub fn array_position(index: i64, len: usize) -> Option<usize> {
        let len = i64::try_from(len).ok()?;
        let position = if index < 0 { len + index } else { index };
        if (0..len).contains(&position) {
            usize::try_from(position).ok()
        } else {
            None
        }
    }
}

/// Walks `steps` from `root`: the location of the one value they select, or `None`.
///
/// This is the reference resolver for simple chains over `serde_json::Value`; a document with its own storage
/// must resolve the same way: a key on an object, an index (normalised with [`Step::array_position`]) on an
/// array, nothing otherwise.
pub fn resolve(root: &Value, steps: &[Step]) -> Option<Location> {
    let mut location = Location::with_capacity(steps.len());
    let mut current = root;
    for step in steps {
        match (step, current) {
            (Step::Key(name), Value::Object(members)) => {
                current = members.get(name)?;
                location.push(Segment::Key(name.clone()));
            }
            (Step::Index(index), Value::Array(elements)) => {
                let position = Step::array_position(*index, elements.len())?;
                current = &elements[position];
                location.push(Segment::Index(position));
            }
            _ => return None,
        }
    }
    Some(location)
}

/// A path text [`recognise_text`] accepted without the RFC 9535 parser.
pub(crate) struct FastSimple {
    /// Whether the text is a legacy path.
    pub(crate) legacy: bool,
    pub(crate) steps: Vec<Step>,
}

/// The RFC 9535 text the general parse evaluates for a legacy chain [`recognise_text`] accepted:
/// names bracketed (`['a']`; the legacy alphabet has no `'` or `\\`), indices as written.
pub(crate) fn legacy_query_text(steps: &[Step]) -> String {
    let mut text = String::from("$");
    for step in steps {
        match step {
            Step::Key(name) => {
                text.push_str("['");
                text.push_str(name);
                text.push_str("']");
            }
            Step::Index(index) => text.push_str(&format!("[{index}]")),
        }
    }
    text
}

/// Recognises the plainest simple chains straight from the text a client sent, so that the common paths
/// (`$.friends[1].name`, `.a.b`, `a[0]`, `.`) skip the legacy translation and the RFC 9535 parser.
///
/// Accepted: a `$` path of `.name` (RFC 9535 shorthand: a letter, `_` or non-ASCII first, then also digits),
/// `['name']` / `["name"]` (no escapes, no blanks) and `[index]` segments; or a legacy path `.`, or an optional `.` then a legacy name (RedisJSON's
/// shorthand alphabet) followed by `.name` and `[index]` segments. Indices are canonical integers of at most
/// 15 digits (`0`, `7`, `-1`; not `01`, `-0`, `+1`), always inside RFC 9535's I-JSON range. Anything else
/// (blanks, quotes, wildcards, `..`, filters, odd spellings) returns `None` and takes the general parse,
/// which also produces every error. The tests check each accepted text against the general parse.
pub(crate) fn recognise_text(text: &str) -> Option<FastSimple> {
    let legacy = !super::is_jsonpath_text(text);
    let mut steps = Vec::new();
    let mut rest: &str;
    if legacy {
        if text == "." {
            return Some(FastSimple { legacy, steps });
        }
        // The first segment is a name, with or without its dot (`.a`, `a`).
        let body = text.strip_prefix('.').unwrap_or(text);
        let name_len = legacy_name_len(body);
        if name_len == 0 {
            return None;
        }
        steps.push(Step::Key(body[..name_len].to_owned()));
        rest = &body[name_len..];
    } else {
        rest = &text[1..];
    }
    while !rest.is_empty() {
        if let Some(after_dot) = rest.strip_prefix('.') {
            let name_len = if legacy {
                legacy_name_len(after_dot)
            } else {
                rfc_name_len(after_dot)
            };
            if name_len == 0 {
                return None;
            }
            steps.push(Step::Key(after_dot[..name_len].to_owned()));
            rest = &after_dot[name_len..];
        } else if let Some(inside) = rest.strip_prefix('[') {
            if let Some((name, after)) = plain_quoted_name(inside).filter(|_| !legacy) {
                steps.push(Step::Key(name.to_owned()));
                rest = after;
                continue;
            }
            let close = inside.find(']')?;
            let digits = &inside[..close];
            steps.push(Step::Index(canonical_index(digits)?));
            rest = &inside[close + 1..];
        } else {
            return None;
        }
    }
    Some(FastSimple { legacy, steps })
}

/// A bracketed name without escapes at the start of `text` (after the `[`): `'web-app']` or
/// `"servlet-name"]` gives the name and the text after the `]`. RFC 9535 §2.3.1.1 allows any
/// character in a quoted name but the quote itself, `\\` and controls (U+0000–U+001F); a name
/// with an escape, or any blank around it, is left to the general parse.
fn plain_quoted_name(text: &str) -> Option<(&str, &str)> {
    let quote = *text.as_bytes().first()?;
    if quote != b'\'' && quote != b'"' {
        return None;
    }
    let body = &text[1..];
    let end = body
        .bytes()
        .position(|b| b == quote || b == b'\\' || b < 0x20)?;
    if body.as_bytes()[end] != quote {
        return None;
    }
    let after = body[end + 1..].strip_prefix(']')?;
    Some((&body[..end], after))
}

/// Length of the RFC 9535 member-name-shorthand at the start of `text` (0 if none).
fn rfc_name_len(text: &str) -> usize {
    let mut chars = text.char_indices();
    match chars.next() {
        Some((_, c)) if c.is_ascii_alphabetic() || c == '_' || !c.is_ascii() => {}
        _ => return 0,
    }
    chars
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_' || !c.is_ascii()))
        .map_or(text.len(), |(i, _)| i)
}

/// Length of the legacy shorthand name at the start of `text` (0 if none).
fn legacy_name_len(text: &str) -> usize {
    text.char_indices()
        .find(|&(_, c)| !super::legacy::is_legacy_name_char(c))
        .map_or(text.len(), |(i, _)| i)
}

/// `0`, or an optional `-` and 1 to 15 digits without a leading zero.
fn canonical_index(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let plain = digits.bytes().all(|b| b.is_ascii_digit());
    let canonical = text == "0" || (!digits.starts_with('0') && !digits.is_empty());
    if plain && canonical && digits.len() <= 15 {
        text.parse().ok()
    } else {
        None
    }
}

/// Recognises a simple chain in RFC 9535 query text that has already been parsed successfully.
///
/// Returns `None` for anything else (wildcards, slices, unions, filters, descendants) and, conservatively,
/// for any spelling it does not understand: a missed simple chain only costs speed, a wrong one would be a
/// wrong answer.
pub(crate) fn recognise(query: &str) -> Option<Vec<Step>> {
    let mut rest = query.strip_prefix('$')?;
    let mut steps = Vec::new();
    loop {
        // RFC 9535 allows blank space before each segment (§2.5).
        rest = rest.trim_start_matches(is_blank);
        if rest.is_empty() {
            return Some(steps);
        }
        if let Some(after_dot) = rest.strip_prefix('.') {
            let name_len = after_dot
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || !c.is_ascii()))
                .unwrap_or(after_dot.len());
            let name = &after_dot[..name_len];
            // `..` (descendant) and `.*` leave an empty name here.
            if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
                return None;
            }
            steps.push(Step::Key(name.to_owned()));
            rest = &after_dot[name_len..];
        } else if let Some(inside) = rest.strip_prefix('[') {
            let inside = inside.trim_start_matches(is_blank);
            let (step, after) = if inside.starts_with(['\'', '"']) {
                let (name, after) = string_literal(inside)?;
                (Step::Key(name), after)
            } else {
                let digits_len = inside
                    .char_indices()
                    .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
                    .map_or(inside.len(), |(i, _)| i);
                let index = inside[..digits_len].parse::<i64>().ok()?;
                (Step::Index(index), &inside[digits_len..])
            };
            rest = after.trim_start_matches(is_blank).strip_prefix(']')?;
            steps.push(step);
        } else {
            return None;
        }
    }
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Decodes a quoted name (RFC 9535 §2.3.1.1) at the start of `text`: the name and the text after it.
fn string_literal(text: &str) -> Option<(String, &str)> {
    let quote = text.chars().next()?;
    let mut chars = text.char_indices().skip(1);
    let mut name = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == quote => return Some((name, &text[i + 1..])),
            '\\' => {
                let (_, escaped) = chars.next()?;
                name.push(match escaped {
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    '/' | '\\' | '\'' | '"' => escaped,
                    'u' => {
                        let high = hex4(&mut chars)?;
                        if (0xD800..0xDC00).contains(&high) {
                            // A high surrogate must be followed by `\u` and a low surrogate.
                            if chars.next()?.1 != '\\' || chars.next()?.1 != 'u' {
                                return None;
                            }
                            let low = hex4(&mut chars)?;
                            if !(0xDC00..0xE000).contains(&low) {
                                return None;
                            }
                            char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))?
                        } else {
                            char::from_u32(high)?
                        }
                    }
                    _ => return None,
                });
            }
            c => name.push(c),
        }
    }
    None
}

fn hex4(chars: &mut impl Iterator<Item = (usize, char)>) -> Option<u32> {
    let mut value = 0;
    for _ in 0..4 {
        value = value * 16 + chars.next()?.1.to_digit(16)?;
    }
    Some(value)
}
