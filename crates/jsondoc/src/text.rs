//! Canonical compact JSON text: strict canonicalisation, a scanner over canonical text, and the
//! streaming pretty-printer.
//!
//! Canonical text is what serde_json's compact serializer prints for a parsed value: no
//! whitespace, strings escaped as serde_json escapes them, numbers as serde_json prints i64, u64
//! and f64. Because the text has no whitespace and is known valid, the scanner below needs no
//! validation and no recursion: it only skips strings and counts brackets.

use std::fmt;
use std::ops::Range;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::{JsonError, Segment};

/// Parse `input` strictly (one value, nothing but whitespace after it) and return its canonical
/// compact text, without building a tree. `trusted_depth` `None` applies serde_json's input
/// nesting limit (as JSON.SET); `Some(n)` lifts it and refuses only more than `n` levels (RDB
/// loads, which RedisJSON does not limit).
pub(crate) fn canonicalize(
    input: &[u8],
    trusted_depth: Option<usize>,
) -> Result<String, JsonError> {
    canonicalize_from(
        serde_json::Deserializer::from_slice(input),
        input,
        trusted_depth,
    )
}

/// [`canonicalize`] for input already known to be UTF-8: serde_json then skips validating each
/// string again (a third of the parse of a typical document).
pub(crate) fn canonicalize_str(
    input: &str,
    trusted_depth: Option<usize>,
) -> Result<String, JsonError> {
    canonicalize_from(
        serde_json::Deserializer::from_str(input),
        input.as_bytes(),
        trusted_depth,
    )
}

fn canonicalize_from<'de, R: serde_json::de::Read<'de>>(
    mut deserializer: serde_json::Deserializer<R>,
    input: &'de [u8],
    trusted_depth: Option<usize>,
) -> Result<String, JsonError> {
    let mut state = CanonState {
        out: Vec::with_capacity(input.len()),
        keys: Vec::with_capacity(32),
        duplicate_key: false,
        depth: 0,
        max_depth: trusted_depth.unwrap_or(usize::MAX),
    };
    if trusted_depth.is_some() {
        deserializer.disable_recursion_limit();
    }
    Canon {
        state: &mut state,
        comma_first: false,
    }
    .deserialize(&mut deserializer)?;
    deserializer.end()?;
    if state.duplicate_key {
        // Rare: `{"a":1,"b":2,"a":3}`. RedisJSON keeps the last value at the first key's place,
        // which is exactly what an order-preserving map insert does, so take the slow path.
        let mut deserializer = serde_json::Deserializer::from_slice(input);
        deserializer.disable_recursion_limit(); // the input already passed the depth check
        let value = <serde_json::Value as serde::Deserialize>::deserialize(&mut deserializer)?;
        return Ok(value_text(&value));
    }
    Ok(String::from_utf8(state.out).expect("serde_json writes UTF-8"))
}

struct CanonState {
    out: Vec<u8>,
    /// Byte ranges (in `out`) of the escaped keys of the objects being written, innermost last.
    keys: Vec<Range<usize>>,
    duplicate_key: bool,
    /// Containers open around the current value, and the most allowed (trusted input only).
    depth: usize,
    max_depth: usize,
}

impl CanonState {
    fn enter<E: serde::de::Error>(&mut self) -> Result<(), E> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(E::custom("recursion limit exceeded"));
        }
        Ok(())
    }
}

/// Writes one value; `comma_first` writes the separator once the deserializer knows a value
/// follows (serde's `SeqAccess` only tells us when it calls the seed).
struct Canon<'s> {
    state: &'s mut CanonState,
    comma_first: bool,
}

fn write_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    serde_json::to_writer(out, value).expect("writing to a Vec cannot fail");
}

impl<'de> DeserializeSeed<'de> for Canon<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.comma_first {
            self.state.out.push(b',');
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Canon<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.state.out.extend_from_slice(b"null");
        Ok(())
    }
    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.state
            .out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        write_json(&mut self.state.out, &v);
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        write_json(&mut self.state.out, &v);
        Ok(())
    }
    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        write_f64(&mut self.state.out, v);
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        write_json(&mut self.state.out, v);
        Ok(())
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<(), E> {
        write_unescaped_string(&mut self.state.out, v);
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.state.enter()?;
        self.state.out.push(b'[');
        let mut comma_first = false;
        while seq
            .next_element_seed(Canon {
                state: &mut *self.state,
                comma_first,
            })?
            .is_some()
        {
            comma_first = true;
        }
        self.state.out.push(b']');
        self.state.depth -= 1;
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let state = self.state;
        state.enter()?;
        state.out.push(b'{');
        let first_key = state.keys.len();
        let mut comma_first = false;
        while map
            .next_key_seed(KeySeed {
                state: &mut *state,
                comma_first,
                first_key,
            })?
            .is_some()
        {
            map.next_value_seed(Canon {
                state: &mut *state,
                comma_first: false,
            })?;
            comma_first = true;
        }
        let own_keys = state.keys.len() - first_key;
        if own_keys > LINEAR_DUPLICATE_CHECK && !state.duplicate_key {
            let out = &state.out;
            let mut sorted: Vec<&[u8]> = state.keys[first_key..]
                .iter()
                .map(|range| &out[range.clone()])
                .collect();
            sorted.sort_unstable();
            state.duplicate_key = sorted.windows(2).any(|pair| pair[0] == pair[1]);
        }
        state.keys.truncate(first_key);
        state.out.push(b'}');
        state.depth -= 1;
        Ok(())
    }
}

/// Writes a string serde_json lent straight from the input: it had no escape sequence there, so
/// it holds no `"`, `\\` or control character (serde_json refuses raw ones) and its canonical
/// form is the same characters between quotes; no escaping scan needed.
fn write_unescaped_string(out: &mut Vec<u8>, text: &str) {
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

/// Objects up to this many members check each new key against the earlier ones as it arrives;
/// bigger ones are checked once, sorted, at the end (O(n log n) instead of O(n²)).
const LINEAR_DUPLICATE_CHECK: usize = 16;

struct KeySeed<'s> {
    state: &'s mut CanonState,
    comma_first: bool,
    first_key: usize,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E>(self, key: &str) -> Result<(), E> {
        self.write_key(key, write_json::<str>)
    }
    fn visit_borrowed_str<E>(self, key: &'de str) -> Result<(), E> {
        self.write_key(key, write_unescaped_string)
    }
}

impl KeySeed<'_> {
    fn write_key<E>(self, key: &str, write: fn(&mut Vec<u8>, &str)) -> Result<(), E> {
        let state = self.state;
        if self.comma_first {
            state.out.push(b',');
        }
        let start = state.out.len();
        write(&mut state.out, key);
        let end = state.out.len();
        state.out.push(b':');
        let own_keys = &state.keys[self.first_key..];
        if own_keys.len() < LINEAR_DUPLICATE_CHECK {
            let new_key = &state.out[start..end];
            if own_keys
                .iter()
                .any(|range| &state.out[range.clone()] == new_key)
            {
                state.duplicate_key = true;
            }
        }
        state.keys.push(start..end);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Scanner over canonical text.

/// What the container scan of [`skip_value`] must look at: 1 = `"`, 2 = `[`/`{`, 3 = `]`/`}`,
/// 0 = anything else.
#[cfg(not(target_arch = "x86_64"))]
const SCAN_CLASS: [u8; 256] = {
    let mut class = [0u8; 256];
    class[b'"' as usize] = 1;
    class[b'[' as usize] = 2;
    class[b'{' as usize] = 2;
    class[b']' as usize] = 3;
    class[b'}' as usize] = 3;
    class
};

/// End (exclusive) of the value starting at `start`.
pub(crate) fn skip_value(text: &[u8], start: usize) -> usize {
    match text[start] {
        b'"' => skip_string(text, start),
        // An array starting with a number or literal is probably made of them: long runs
        // between quotes and brackets, which the word-at-a-time scan skips fastest.
        b'[' if matches!(text[start + 1], b'0'..=b'9' | b'-' | b't' | b'f' | b'n') => {
            scan_array(text, start).0
        }
        #[cfg(target_arch = "x86_64")]
        b'[' | b'{' => crate::blocks::skip_container(text, start),
        #[cfg(not(target_arch = "x86_64"))]
        b'[' | b'{' => {
            let mut depth = 0usize;
            let mut i = start;
            loop {
                // A table lookup per byte: the gaps between strings are short, too short for
                // the word-at-a-time test to pay off. Tested in order of frequency (a branch
                // each, no jump table): plain bytes, strings, then brackets.
                let class = SCAN_CLASS[usize::from(text[i])];
                if class == 0 {
                    i += 1;
                    continue;
                }
                if class == 1 {
                    i = skip_string(text, i);
                    continue;
                }
                if class == 2 {
                    depth += 1;
                } else {
                    depth -= 1;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                i += 1;
            }
        }
        _ => {
            let mut i = start;
            while i < text.len() && !matches!(text[i], b',' | b']' | b'}' | b':') {
                i += 1;
            }
            i
        }
    }
}

const ONES: u64 = u64::from_le_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);

/// A high bit in each byte of `word` that is zero. The lowest set bit marks the first zero byte
/// exactly; higher ones may be borrow noise (cheapest form, for finding the first match).
#[inline(always)]
fn first_zero_byte(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & HIGHS
}

/// The high bit of each byte of `word` that is zero, exactly (no borrow between bytes, so the
/// bits can be counted).
#[inline(always)]
fn zero_bytes(word: u64) -> u64 {
    const LOW7: u64 = ONES * 0x7F;
    !(((word & LOW7) + LOW7) | word) & HIGHS
}

/// Bytes of `word` equal to `byte`, marked as by [`first_zero_byte`].
#[inline(always)]
fn first_byte_equal(word: u64, byte: u8) -> u64 {
    first_zero_byte(word ^ (ONES * u64::from(byte)))
}

/// Bytes of `word` equal to `byte`, marked exactly as by [`zero_bytes`].
#[inline(always)]
fn bytes_equal(word: u64, byte: u8) -> u64 {
    zero_bytes(word ^ (ONES * u64::from(byte)))
}

/// How many bytes [`zero_bytes`] marked: sums the 0/1 bytes with one multiplication (x86-64's
/// baseline has no popcount instruction).
#[inline(always)]
fn marked_count(marks: u64) -> usize {
    ((marks >> 7).wrapping_mul(ONES) >> 56) as usize
}

/// Scans the array starting at `start` (`text[start] == b'['`): its end (exclusive) and how many
/// commas separate its elements (nested containers and strings excluded). Tests 8 bytes at a
/// time for quotes and brackets and counts the commas of each word with a popcount, so runs of
/// numbers and literals (the usual content of a big array blob) cost ~2 instructions per byte.
fn scan_array(text: &[u8], start: usize) -> (usize, usize) {
    let mut commas = 0;
    let mut depth = 0usize;
    let mut i = start;
    loop {
        if let Some(chunk) = text.get(i..i + 8) {
            let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            // `[`/`{` and `]`/`}` differ only in the 0x20 bit: fold them together.
            let folded = word | (ONES * 0x20);
            let structural = first_byte_equal(word, b'"')
                | first_byte_equal(folded, b'{')
                | first_byte_equal(folded, b'}');
            if structural == 0 {
                if depth == 1 {
                    commas += marked_count(bytes_equal(word, b','));
                }
                i += 8;
                continue;
            }
            if depth == 1 {
                // Only the commas before the first quote or bracket (its bit is exact).
                let first = structural & structural.wrapping_neg();
                commas += marked_count(bytes_equal(word, b',') & (first - 1));
            }
            i += (structural.trailing_zeros() / 8) as usize;
        } else {
            while !matches!(text[i], b'"' | b'[' | b']' | b'{' | b'}') {
                if depth == 1 && text[i] == b',' {
                    commas += 1;
                }
                i += 1;
            }
        }
        match text[i] {
            b'"' => {
                i = skip_string(text, i);
                continue;
            }
            b'[' | b'{' => depth += 1,
            _ => {
                depth -= 1;
                if depth == 0 {
                    return (i + 1, commas);
                }
            }
        }
        i += 1;
    }
}

/// [`skip_value`] with the common scalars handled in line (a walk skips mostly strings,
/// numbers and literals between the members it looks at); containers take the call.
#[inline(always)]
fn skip_member_value(text: &[u8], start: usize) -> usize {
    match text[start] {
        b'"' => scan_string(text, start).0,
        b't' | b'n' => start + 4,
        b'f' => start + 5,
        b'[' | b'{' => skip_value(text, start),
        _ => {
            // A number: canonical text has no blanks, so it ends at the separator (within one
            // block: numbers are short; a longer one goes on byte by byte).
            #[cfg(target_arch = "x86_64")]
            if let Some(offset) = crate::blocks::separator_stop(text, start + 1)
                && offset < crate::blocks::BLOCK
            {
                return start + 1 + offset;
            }
            let mut i = start + 1;
            while i < text.len() && !matches!(text[i], b',' | b']' | b'}') {
                i += 1;
            }
            i
        }
    }
}

/// End (exclusive, after the closing quote) of the string starting at `start`.
fn skip_string(text: &[u8], start: usize) -> usize {
    scan_string(text, start).0
}

/// End of the string starting at `start` (as [`skip_string`]) and whether it holds an escape.
/// Strings are most of a document's bytes and mostly short, so this tests 16 bytes at a time
/// (SSE2; 8 with SWAR elsewhere) for a quote or a backslash rather than calling `memchr` (whose
/// setup costs more than a typical string).
fn scan_string(text: &[u8], start: usize) -> (usize, bool) {
    let mut escaped = false;
    let mut i = start + 1;
    loop {
        if let Some(offset) = string_stop(text, i) {
            i += offset;
            if offset == STRING_BLOCK {
                continue;
            }
        } else {
            while !matches!(text[i], b'"' | b'\\') {
                i += 1;
            }
        }
        if text[i] == b'"' {
            return (i + 1, escaped);
        }
        escaped = true;
        i += 2;
    }
}

#[cfg(target_arch = "x86_64")]
use crate::blocks::{BLOCK as STRING_BLOCK, string_stop};

/// The bytes [`string_stop`] looks at in one step.
#[cfg(not(target_arch = "x86_64"))]
const STRING_BLOCK: usize = 8;

/// Where the first `"` or `\` is in the 8 bytes at `text[i..]` (an offset, [`STRING_BLOCK`] if
/// neither is there), or `None` when fewer than 8 bytes are left (SWAR: no SIMD here).
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn string_stop(text: &[u8], i: usize) -> Option<usize> {
    let chunk = text.get(i..i + STRING_BLOCK)?;
    let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
    let found = first_byte_equal(word, b'"') | first_byte_equal(word, b'\\');
    Some(if found == 0 {
        STRING_BLOCK
    } else {
        (found.trailing_zeros() / 8) as usize
    })
}

/// One member or element of a container in canonical text.
#[derive(Clone, Debug)]
pub(crate) struct Child {
    /// The quoted, escaped key (objects only).
    pub key: Option<Range<usize>>,
    /// The value.
    pub value: Range<usize>,
}

/// The members of the container whose text is `text[range]`.
pub(crate) fn children(text: &[u8], range: Range<usize>) -> Vec<Child> {
    let mut result = Vec::new();
    let is_object = text[range.start] == b'{';
    let mut i = range.start + 1;
    if i + 1 == range.end {
        return result;
    }
    loop {
        let key = if is_object {
            let key_end = skip_string(text, i);
            let key = i..key_end;
            i = key_end + 1; // ':'
            Some(key)
        } else {
            None
        };
        let end = skip_value(text, i);
        result.push(Child { key, value: i..end });
        if text[end] == b',' {
            i = end + 1;
        } else {
            return result;
        }
    }
}

/// Decode a quoted key from canonical text.
pub(crate) fn unescape_key(quoted: &str) -> String {
    let inner = &quoted[1..quoted.len() - 1];
    if inner.contains('\\') {
        serde_json::from_str(quoted).expect("canonical keys are valid JSON strings")
    } else {
        inner.to_owned()
    }
}

/// Does the quoted canonical key equal `key`? `escaped`: whether the quoted text holds an escape.
fn key_matches(quoted: &str, escaped: bool, key: &str) -> bool {
    if escaped {
        unescape_key(quoted) == key
    } else {
        &quoted[1..quoted.len() - 1] == key
    }
}

/// Range of the member `key` of the object at `text[range]`.
pub(crate) fn find_member(text: &str, range: Range<usize>, key: &str) -> Option<Range<usize>> {
    let start = member_start(text, range.start, key)?;
    Some(start..skip_value(text.as_bytes(), start))
}

/// Where the value of the member `key` of the object starting at `text[object]` starts. The
/// matched value is not skipped: a walk that goes on into it needs only its start.
pub(crate) fn member_start(text: &str, object: usize, key: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    if bytes[object] != b'{' {
        return None;
    }
    let mut i = object + 1;
    if bytes[i] == b'}' {
        return None;
    }
    loop {
        let (key_end, escaped) = scan_string(bytes, i);
        let value_start = key_end + 1;
        // Most keys differ in length or first byte from the one sought: compare the rest only
        // when both agree (a key with an escape is decoded first: its text is longer than its
        // name).
        let matches = if escaped {
            key_matches(&text[i..key_end], true, key)
        } else {
            key_end - i - 2 == key.len()
                && key
                    .as_bytes()
                    .first()
                    .is_none_or(|&first| bytes[i + 1] == first)
                && bytes[i + 1..key_end - 1] == *key.as_bytes()
        };
        if matches {
            return Some(value_start);
        }
        let value_end = skip_member_value(bytes, value_start);
        if bytes[value_end] == b',' {
            i = value_end + 1;
        } else {
            return None;
        }
    }
}

/// Range of element `index` of the array at `text[range]`.
pub(crate) fn find_element(text: &[u8], range: Range<usize>, index: usize) -> Option<Range<usize>> {
    let start = element_start(text, range.start, index)?;
    Some(start..skip_value(text, start))
}

/// Where element `index` of the array starting at `text[array]` starts (the element itself is
/// not skipped, as in [`member_start`]).
pub(crate) fn element_start(text: &[u8], array: usize, index: usize) -> Option<usize> {
    if text[array] != b'[' {
        return None;
    }
    let mut i = array + 1;
    if text[i] == b']' {
        return None;
    }
    let mut position = 0;
    loop {
        if position == index {
            return Some(i);
        }
        let end = skip_member_value(text, i);
        if text[end] == b',' {
            i = end + 1;
            position += 1;
        } else {
            return None;
        }
    }
}

/// Start of the value at `location` inside the value starting at `text[0]` (its end is not
/// found: only the containers on the way are entered, none is skipped whole).
pub(crate) fn locate_start(text: &str, location: &[Segment]) -> Option<usize> {
    let mut start = 0;
    for segment in location {
        start = match segment {
            Segment::Key(key) => member_start(text, start, key)?,
            Segment::Index(index) => element_start(text.as_bytes(), start, *index)?,
        };
    }
    Some(start)
}

/// End (exclusive) and number of elements of the array starting at `text[start]`, in one
/// scan; `None` if it is not an array.
pub(crate) fn array_end_and_count(text: &[u8], start: usize) -> Option<(usize, usize)> {
    if text[start] != b'[' {
        return None;
    }
    if text[start + 1] == b']' {
        return Some((start + 2, 0));
    }
    let (end, commas) = scan_array(text, start);
    Some((end, commas + 1))
}

/// Number of elements of the array at `text[range]`; `None` if it is not an array.
pub(crate) fn element_count(text: &[u8], range: Range<usize>) -> Option<usize> {
    if text[range.start] != b'[' {
        return None;
    }
    if text[range.start + 1] == b']' {
        return Some(0);
    }
    Some(scan_array(text, range.start).1 + 1)
}

/// Range of the value at `location` inside the value `text[range]`.
pub(crate) fn locate(
    text: &str,
    mut range: Range<usize>,
    location: &[Segment],
) -> Option<Range<usize>> {
    for segment in location {
        range = match segment {
            Segment::Key(key) => find_member(text, range, key)?,
            Segment::Index(index) => find_element(text.as_bytes(), range, *index)?,
        };
    }
    Some(range)
}

// ---------------------------------------------------------------------------------------------
// Pretty printing.

/// RedisJSON's JSON.GET INDENT/NEWLINE/SPACE formatting (FACTS.md §3.2): after `{`, `[` and `,`
/// comes NEWLINE then INDENT × depth; before a closing bracket NEWLINE then INDENT × (depth-1);
/// SPACE follows each `:`. Empty containers stay `{}` / `[]`.
#[derive(Clone, Copy, Debug)]
pub struct PrettyFormat<'a> {
    /// Written once per nesting level at the start of each line.
    pub indent: &'a [u8],
    /// Written where a line breaks.
    pub newline: &'a [u8],
    /// Written after each `:`.
    pub space: &'a [u8],
}

impl PrettyFormat<'_> {
    pub(crate) fn break_line(&self, depth: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(self.newline);
        for _ in 0..depth {
            out.extend_from_slice(self.indent);
        }
    }

    /// Reformat canonical `text` (a whole value) whose opening is at nesting `depth`.
    pub(crate) fn write_text(&self, text: &[u8], mut depth: usize, out: &mut Vec<u8>) {
        let mut i = 0;
        while i < text.len() {
            match text[i] {
                b'"' => {
                    let end = skip_string(text, i);
                    out.extend_from_slice(&text[i..end]);
                    i = end;
                    continue;
                }
                open @ (b'[' | b'{') => {
                    if matches!(text[i + 1], b']' | b'}') {
                        out.push(open);
                        out.push(text[i + 1]);
                        i += 2;
                        continue;
                    }
                    out.push(open);
                    depth += 1;
                    self.break_line(depth, out);
                }
                b',' => {
                    out.push(b',');
                    self.break_line(depth, out);
                }
                b':' => {
                    out.push(b':');
                    out.extend_from_slice(self.space);
                }
                close @ (b']' | b'}') => {
                    depth -= 1;
                    self.break_line(depth, out);
                    out.push(close);
                }
                _ => {
                    let end = skip_value(text, i);
                    out.extend_from_slice(&text[i..end]);
                    i = end;
                    continue;
                }
            }
            i += 1;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Canonical writing of numbers and `Value`s.
//
// RedisJSON 2.8 prints floats with ryu (`1e30`, `1.5e-7`, `1e16`, `0.00001`, FACTS.md §3.2);
// newer serde_json prints `1e+30`, so floats never go through serde_json's formatter here.

/// Append the canonical text of a finite f64.
pub(crate) fn write_f64(out: &mut Vec<u8>, value: f64) {
    let mut buffer = ryu::Buffer::new();
    out.extend_from_slice(buffer.format_finite(value).as_bytes());
}

/// Append the canonical text of a number (as [`format_number`], into a buffer).
pub fn write_number(out: &mut Vec<u8>, number: &serde_json::Number) {
    if let Some(integer) = number.as_i64() {
        write_json(out, &integer);
    } else if let Some(integer) = number.as_u64() {
        write_json(out, &integer);
    } else {
        write_f64(out, number.as_f64().expect("a Number is i64, u64 or f64"));
    }
}

/// A canonical integer (`0`, `-12`, no leading zero, no `-0`, which JSON reads as a float)
/// that fits an i64 with room to spare (at most 18 digits): the common case of a stored number
/// or an argument, read without serde_json. `None` for anything else (the caller's general
/// parse decides).
pub fn plain_integer(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text).as_bytes();
    let canonical = match digits {
        [] | [b'0', _, ..] => false,
        [b'0'] => digits.len() == text.len(),
        _ => digits.len() <= 18,
    };
    if !canonical || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let magnitude = digits
        .iter()
        .fold(0i64, |value, digit| value * 10 + i64::from(digit - b'0'));
    Some(if digits.len() == text.len() {
        magnitude
    } else {
        -magnitude
    })
}

/// The canonical text of a number in a stack buffer (an edit's replacement: no allocation).
pub(crate) struct NumberText {
    bytes: [u8; 24],
    len: usize,
}

impl NumberText {
    pub(crate) fn new(number: &serde_json::Number) -> NumberText {
        let mut text = NumberText {
            bytes: [0; 24],
            len: 0,
        };
        if let Some(integer) = number.as_i64() {
            text.push_integer(integer.unsigned_abs(), integer < 0);
        } else if let Some(integer) = number.as_u64() {
            text.push_integer(integer, false);
        } else {
            let mut buffer = ryu::Buffer::new();
            let float = buffer.format_finite(number.as_f64().expect("a Number is i64, u64 or f64"));
            text.bytes[..float.len()].copy_from_slice(float.as_bytes());
            text.len = float.len();
        }
        text
    }

    fn push_integer(&mut self, mut magnitude: u64, negative: bool) {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (magnitude % 10) as u8;
            magnitude /= 10;
            if magnitude == 0 {
                break;
            }
        }
        if negative {
            self.bytes[0] = b'-';
            self.len = 1;
        }
        let count = digits.len() - start;
        self.bytes[self.len..self.len + count].copy_from_slice(&digits[start..]);
        self.len += count;
    }
}

impl AsRef<str> for NumberText {
    fn as_ref(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).expect("ASCII digits")
    }
}

/// The canonical text of a number, as RedisJSON prints it (`3`, `10.0`, `1e30`).
pub fn format_number(number: &serde_json::Number) -> String {
    let mut out = Vec::new();
    write_number(&mut out, number);
    String::from_utf8(out).expect("ASCII")
}

/// Append the canonical text of a `Value`.
pub(crate) fn write_value(out: &mut Vec<u8>, value: &serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => write_number(out, number),
        Value::String(string) => write_json(out, string.as_str()),
        Value::Array(items) => {
            out.push(b'[');
            for (position, item) in items.iter().enumerate() {
                if position > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(members) => {
            out.push(b'{');
            for (position, (key, item)) in members.iter().enumerate() {
                if position > 0 {
                    out.push(b',');
                }
                write_json(out, key.as_str());
                out.push(b':');
                write_value(out, item);
            }
            out.push(b'}');
        }
    }
}

/// The canonical text of a `Value`.
pub(crate) fn value_text(value: &serde_json::Value) -> String {
    let mut out = Vec::new();
    write_value(&mut out, value);
    String::from_utf8(out).expect("canonical text is UTF-8")
}
