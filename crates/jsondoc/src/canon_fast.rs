//! The common JSON.SET input canonicalised by one hand-written pass, without serde.
//!
//! Most documents clients send are plain: strings without escape sequences, integers, a few
//! floats, whitespace or none. For such input the canonical text is the input with its
//! whitespace removed and its floats reprinted, so one pass that validates as it copies does
//! the whole job: strings are copied as whole slices (found 8 bytes at a time), integers of up
//! to 18 digits are copied as they are (they print the same), floats are parsed (exactly, as
//! serde_json's `float_roundtrip` does) and printed with ryu as [`crate::text`] prints them.
//!
//! Anything else (an escape serde_json would rewrite: `\/`, `\u…`; a control character, `-0`, an integer of 19 digits or
//! more, a float out of range, a duplicate key, nesting past serde_json's limit, and every
//! error) answers `None`, and the caller runs the serde canonicaliser, which gives the
//! same result for what is accepted here (tested on every kind of input) and the exact error
//! text otherwise. So this pass only ever has to be right about what it accepts.

use std::ops::Range;

/// An object key already written: its bytes in the output and a fingerprint (length and
/// first/last bytes), so most comparisons of two keys are one integer comparison.
struct Key {
    fingerprint: u64,
    range: Range<usize>,
}

fn fingerprint(key: &[u8]) -> u64 {
    // A key with its quotes is at least 2 bytes; fixed-size loads (no copy) from 8 bytes on.
    let (head, tail) = if key.len() >= 8 {
        let head = u64::from_le_bytes(key[..8].try_into().unwrap_or_default());
        let tail = u64::from_le_bytes(key[key.len() - 8..].try_into().unwrap_or_default());
        (head, tail)
    } else {
        let mut word = 0u64;
        for &byte in key {
            word = (word << 8) | u64::from(byte);
        }
        (word, 0)
    };
    (head ^ tail.rotate_left(29)) ^ (key.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Containers serde_json lets JSON.SET nest (the 128th is refused).
const MAX_NESTING: usize = 127;

/// Objects up to this many members check each new key against the earlier ones (by
/// fingerprint first); bigger ones sort their keys once at the end.
const LINEAR_DUPLICATE_CHECK: usize = 64;

const ONES: u64 = u64::from_le_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);

/// The canonical text of `input`, or `None` when the input needs the serde canonicaliser.
pub(crate) fn canonicalize(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    // Byte ranges (in `out`) of the keys of the open objects, innermost last.
    let mut keys: Vec<Key> = Vec::new();
    // Open containers: `None` for an array, `Some(index of its first key in keys)` for an object.
    let mut open: Vec<Option<usize>> = Vec::new();
    let mut i = skip_blank(bytes, 0);
    'value: loop {
        // A value starts at `i`.
        match *bytes.get(i)? {
            b'"' => {
                let end = string_end(bytes, i)?;
                out.push_str(&input[i..end]);
                i = end;
            }
            open_byte @ (b'{' | b'[') => {
                if open.len() >= MAX_NESTING {
                    return None;
                }
                let object = open_byte == b'{';
                out.push(char::from(open_byte));
                i = skip_blank(bytes, i + 1);
                let close = if object { b'}' } else { b']' };
                if *bytes.get(i)? == close {
                    out.push(char::from(close));
                    i += 1;
                } else {
                    if open.capacity() == 0 {
                        // Room for a typical document at once (a scalar needs none).
                        open.reserve(16);
                        keys.reserve(32);
                    }
                    let first_key = keys.len();
                    open.push(object.then_some(first_key));
                    if object {
                        i = key(input, i, &mut out, &mut keys, first_key)?;
                    }
                    continue 'value;
                }
            }
            b't' => i = literal(input, i, "true", &mut out)?,
            b'f' => i = literal(input, i, "false", &mut out)?,
            b'n' => i = literal(input, i, "null", &mut out)?,
            b'-' | b'0'..=b'9' => i = number(input, i, &mut out)?,
            _ => return None,
        }
        // After a value: separators and closing brackets until the next value or the end.
        loop {
            i = skip_blank(bytes, i);
            let Some(&container) = open.last() else {
                break 'value;
            };
            match (*bytes.get(i)?, container) {
                (b',', _) => {
                    out.push(',');
                    i = skip_blank(bytes, i + 1);
                    if let Some(first_key) = container {
                        i = key(input, i, &mut out, &mut keys, first_key)?;
                    }
                    continue 'value;
                }
                (b']', None) => out.push(']'),
                (b'}', Some(first_key)) => {
                    let own = &keys[first_key..];
                    if own.len() > LINEAR_DUPLICATE_CHECK {
                        let mut sorted: Vec<&[u8]> = own
                            .iter()
                            .map(|key| &out.as_bytes()[key.range.clone()])
                            .collect();
                        sorted.sort_unstable();
                        if sorted.windows(2).any(|pair| pair[0] == pair[1]) {
                            return None;
                        }
                    }
                    keys.truncate(first_key);
                    out.push('}');
                }
                _ => return None,
            }
            open.pop();
            i += 1;
        }
    }
    (i == bytes.len()).then_some(out)
}

/// JSON whitespace from `i` on skipped.
fn skip_blank(bytes: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(i) {
        i += 1;
    }
    i
}

/// End (exclusive, past the closing quote) of the string starting at `bytes[start]`, if the
/// string is its own canonical form: no control character, and only the escapes serde_json
/// writes itself (`\"`, `\\`, `\n`, `\t`, `\r`, `\b`, `\f`). `\/` and `\u` escapes are
/// rewritten by the canonical form, so they take the serde pass.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    loop {
        while i + 8 <= bytes.len() {
            let word = u64::from_le_bytes(bytes[i..i + 8].try_into().ok()?);
            // The lowest marked byte is exact in each of the three tests, so in their union.
            let stops = matches_byte(word, b'"') | matches_byte(word, b'\\') | below_space(word);
            if stops != 0 {
                i += (stops.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        match *bytes.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => match *bytes.get(i + 1)? {
                b'"' | b'\\' | b'n' | b't' | b'r' | b'b' | b'f' => i += 2,
                _ => return None,
            },
            0..=0x1f => return None,
            _ => i += 1,
        }
    }
}

/// Bytes of `word` equal to `byte` (lowest marked one exact).
fn matches_byte(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// Bytes of `word` below 0x20 (lowest marked one exact).
fn below_space(word: u64) -> u64 {
    word.wrapping_sub(ONES * 0x20) & !word & HIGHS
}

/// An object key at `i` (a string, its `:`), checked against the object's earlier keys; the
/// position of the value after it.
fn key(
    input: &str,
    i: usize,
    out: &mut String,
    keys: &mut Vec<Key>,
    first_key: usize,
) -> Option<usize> {
    let bytes = input.as_bytes();
    if *bytes.get(i)? != b'"' {
        return None;
    }
    let end = string_end(bytes, i)?;
    let start = out.len();
    out.push_str(&input[i..end]);
    let new_key = &out.as_bytes()[start..];
    let new_fingerprint = fingerprint(new_key);
    let own = &keys[first_key..];
    if own.len() < LINEAR_DUPLICATE_CHECK
        && own.iter().any(|key| {
            key.fingerprint == new_fingerprint && &out.as_bytes()[key.range.clone()] == new_key
        })
    {
        return None;
    }
    keys.push(Key {
        fingerprint: new_fingerprint,
        range: start..out.len(),
    });
    let colon = skip_blank(bytes, end);
    if *bytes.get(colon)? != b':' {
        return None;
    }
    out.push(':');
    Some(skip_blank(bytes, colon + 1))
}

fn literal(input: &str, i: usize, word: &str, out: &mut String) -> Option<usize> {
    let end = i + word.len();
    if input.as_bytes().get(i..end)? != word.as_bytes() {
        return None;
    }
    out.push_str(word);
    Some(end)
}

/// A number at `i` (RFC 8259 grammar); the position after it.
fn number(input: &str, start: usize, out: &mut String) -> Option<usize> {
    let bytes = input.as_bytes();
    let digits = |mut i: usize| {
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let mut i = start + usize::from(bytes[start] == b'-');
    match bytes.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => i = digits(i + 1),
        _ => return None,
    }
    let integer_end = i;
    let mut float = false;
    if bytes.get(i) == Some(&b'.') {
        let after = digits(i + 1);
        if after == i + 1 {
            return None;
        }
        i = after;
        float = true;
    }
    if let Some(b'e' | b'E') = bytes.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = bytes.get(i) {
            i += 1;
        }
        let after = digits(i);
        if after == i {
            return None;
        }
        i = after;
        float = true;
    }
    let text = &input[start..i];
    if !float {
        // Up to 18 digits is inside i64: serde_json reads it as an integer and prints it back
        // the same. `-0` is a float (-0.0) to serde_json; longer ones may be u64 or floats.
        let digit_count = integer_end - start - usize::from(bytes[start] == b'-');
        if digit_count > 18 || text == "-0" {
            return None;
        }
        out.push_str(text);
        return Some(i);
    }
    // Correctly rounded, as serde_json's `float_roundtrip` parse; out of range is its error.
    let value: f64 = text.parse().ok()?;
    if !value.is_finite() {
        return None;
    }
    let mut buffer = ryu::Buffer::new();
    out.push_str(buffer.format_finite(value));
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::canonicalize;

    /// Whatever the fast pass accepts, the serde canonicaliser gives the same text for.
    fn agrees(input: &str) -> bool {
        let slow = crate::text::canonicalize_str(input, None);
        match canonicalize(input) {
            Some(fast) => {
                assert_eq!(Ok(&fast), slow.as_ref(), "{input:?}");
                true
            }
            None => false,
        }
    }

    #[test]
    fn plain_documents_take_the_fast_pass() {
        for input in [
            "1",
            " 0 ",
            "-12",
            "123456789012345678",
            "-123456789012345678",
            "1.5",
            "1.3e2",
            "1E5",
            "-0.0",
            "1e-7",
            "0.1e-400",
            "2.5E+3",
            "\"\"",
            "\"abc def ü €\u{7f}\"",
            "\"a long string with more than eight bytes /\"",
            "\"a\\nb\"",
            "\"a\\\"b\\\\c\\td\\re\\bf\\fg and more than eight bytes\"",
            "{\"a\\\"\":1,\"a\":2}",
            "true",
            "false",
            "null",
            "[]",
            "{}",
            " [ 1 , 2 , [ ] , { } ] ",
            "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}",
            "{ \"a\" : 1 ,\n\t\"b\" : 2 }\r\n",
            "{\"a\":{\"a\":{\"a\":1}},\"b\":{\"a\":2}}",
        ] {
            assert!(agrees(input), "{input:?} should take the fast pass");
        }
        let doc = include_str!("../../../bench/json-doc.json");
        assert!(agrees(doc));
        let many: String = format!(
            "{{{}}}",
            (0..100)
                .map(|k| format!("\"k{k}\":{k}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert!(agrees(&many));
        let deep = "[".repeat(127) + &"]".repeat(127);
        assert!(agrees(&deep));
    }

    #[test]
    fn everything_else_takes_the_serde_pass() {
        for input in [
            "",
            " ",
            "-0",
            "1234567890123456789",
            "18446744073709551615",
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "1e400",
            "+1",
            "\"a\\/b\"",
            "\"a\\u0041\"",
            "\"a\\u001f\"",
            "\"a\\x\"",
            "\"tab\there\"",
            "\"unterminated",
            "\"unterminated and longer than eight",
            "tru",
            "nul",
            "[1,]",
            "[1 2]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{\"a\":1,\"a\":2}",
            "{a:1}",
            "1 2",
            "[1]]",
            "50asd",
            "{\"a\":1}}",
            "[}",
            "{]",
            "NaN",
        ] {
            assert!(!agrees(input), "{input:?} should take the serde pass");
        }
        let many: String = format!(
            "{{{},\"k3\":0}}",
            (0..100)
                .map(|k| format!("\"k{k}\":{k}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert!(!agrees(&many));
        let deep = "[".repeat(128) + &"]".repeat(128);
        assert!(!agrees(&deep));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        #[test]
        fn fast_pass_agrees_on_json_like_text(text in "[ \\[\\]{}:,\"ab0-9.eE+\\-tfnrul\\\\]{0,24}") {
            agrees(&text);
        }
    }
}
