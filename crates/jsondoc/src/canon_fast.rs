//! The common JSON.SET input canonicalised by one hand-written pass, without serde.
//!
//! Most documents clients send are plain: strings without escape sequences, integers, a few
//! floats, whitespace or none. For such input the canonical text is the input with its
//! whitespace removed and its floats written as ryu writes them, so one pass that validates
//! does the whole job, and copies the input in bulk: only where the canonical text differs
//! (whitespace, a float not already in ryu's form) is the run copied so far cut. Strings are
//! found 8 bytes at a time; integers that serde_json reads as i64/u64 print as they are; a
//! float of at most 15 significant digits is checked (and if need be rewritten) from its own
//! digits, without parsing or printing a double ([`FloatText::shortest`] says why that is
//! exact); longer ones are parsed (exactly, as serde_json's `float_roundtrip` does) and
//! printed with ryu as [`crate::text`] prints them. Duplicate keys are caught by a 64-bit
//! filter per object, so most keys are never compared.
//!
//! Escapes serde_json writes differently (`\/`, `\u…`) are rewritten in place in values.
//!
//! Anything else (such an escape in a key, a lone surrogate, a control character, a float out
//! of range, a duplicate key, nesting past serde_json's limit, and every error)
//! answers `None`, and the caller runs the serde canonicaliser, which gives the same result
//! for what is accepted here (tested on every kind of input) and the exact error text
//! otherwise. So this pass only ever has to be right about what it accepts.

use std::ops::Range;

/// An object key seen: its bytes in the input (a key is copied as it is, so they are its
/// bytes in the output too) and a fingerprint (length and first/last bytes), so most
/// comparisons of two keys are one integer comparison.
#[derive(Clone, Copy, Default)]
struct Key {
    fingerprint: u64,
    start: u32,
    end: u32,
}

impl Key {
    fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// The fingerprint of the key `bytes[start..end]` (with its quotes, so at least 2 bytes):
/// keys of up to 8 bytes are one load (the input goes on after a key, so the load is in
/// bounds except at the very end), longer ones their first and last 8 bytes.
#[inline(always)]
fn fingerprint(bytes: &[u8], start: usize, end: usize) -> u64 {
    let len = end - start;
    let word = if len <= 8 {
        match bytes.get(start..start + 8) {
            Some(chunk) => load(chunk) & (u64::MAX >> (64 - 8 * len)),
            None => bytes[start..end]
                .iter()
                .rev()
                .fold(0, |word, &byte| (word << 8) | u64::from(byte)),
        }
    } else {
        load(&bytes[start..]) ^ load(&bytes[end - 8..]).rotate_left(29)
    };
    word ^ (len as u64).wrapping_mul(MIX)
}

/// The first 8 bytes of `bytes` (at least 8 long) as a little-endian word.
#[inline(always)]
fn load(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes[..8].try_into().unwrap_or_default())
}

const MIX: u64 = 0x9E37_79B9_7F4A_7C15;

/// Containers serde_json lets JSON.SET nest (the 128th is refused).
const MAX_NESTING: usize = 127;

/// Objects up to this many members check each new key against the earlier ones (by a 64-bit
/// filter of the keys seen, then by fingerprint); bigger ones sort their keys once at the end.
const LINEAR_DUPLICATE_CHECK: usize = 64;

const ONES: u64 = u64::from_le_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);

/// An open container.
#[derive(Clone, Copy, Default)]
struct Open {
    /// `None` for an array, `Some(index of its first key in keys)` for an object.
    first_key: Option<u32>,
    /// One bit per key of the object seen (a bit of the key's fingerprint's hash): a new key
    /// whose bit is clear cannot be a duplicate, so most keys are never compared.
    seen: u64,
}

/// The output: the input itself in runs, copied in bulk only where the canonical text differs
/// from it (whitespace dropped, a number rewritten). Input already canonical, as most clients
/// send, is copied once at the end; so is input with a few differences (they are held until
/// then), at its exact size (the document keeps it as a boxed `str`: any spare room would
/// cost a reallocation).
struct Output<'a> {
    input: &'a str,
    held: [Edit; HELD_EDITS],
    held_count: usize,
    /// The output's length (input's length plus what the held edits add or take).
    len: usize,
    /// Empty (no allocation) until more than [`HELD_EDITS`] differences: then the output so
    /// far, written as the pass goes.
    out: String,
    /// Where the run of input not yet copied to `out` starts.
    run: usize,
}

/// Differences from the input held before the output is written.
const HELD_EDITS: usize = 8;

/// The input's `from..to` written as `text[..len]` (empty: left out).
#[derive(Clone, Copy, Default)]
struct Edit {
    from: usize,
    to: usize,
    text: [u8; EDIT_TEXT],
    len: usize,
}

/// Longest edit text held: ryu's longest double (`-1.2345678901234567e-308`).
const EDIT_TEXT: usize = 24;

impl Output<'_> {
    fn new(input: &str) -> Output<'_> {
        Output {
            input,
            held: [Edit::default(); HELD_EDITS],
            held_count: 0,
            len: input.len(),
            out: String::new(),
            run: 0,
        }
    }

    /// The input's `from..to` written as `text` (whole UTF-8 characters).
    #[inline(never)]
    fn replace(&mut self, from: usize, to: usize, text: &[u8]) {
        if self.out.capacity() == 0 {
            if self.held_count < HELD_EDITS && text.len() <= EDIT_TEXT {
                let edit = &mut self.held[self.held_count];
                edit.from = from;
                edit.to = to;
                edit.text[..text.len()].copy_from_slice(text);
                edit.len = text.len();
                self.held_count += 1;
                self.len = self.len + text.len() - (to - from);
                return;
            }
            // Many differences (whitespace between tokens): write as the pass goes.
            self.out.reserve(self.input.len() + 16);
            self.write_held();
        }
        self.out.push_str(&self.input[self.run..from]);
        if !text.is_empty() {
            push_text(&mut self.out, text);
        }
        self.run = to;
    }

    /// The input's `from..to` left out (whitespace): inline once the output is being written.
    #[inline(always)]
    fn drop_range(&mut self, from: usize, to: usize) {
        if self.out.capacity() == 0 {
            self.replace(from, to, b"");
        } else {
            self.out.push_str(&self.input[self.run..from]);
            self.run = to;
        }
    }

    /// The held edits and the runs between them written to `out`.
    fn write_held(&mut self) {
        for edit in &self.held[..self.held_count] {
            self.out.push_str(&self.input[self.run..edit.from]);
            push_text(&mut self.out, &edit.text[..edit.len]);
            self.run = edit.to;
        }
        self.held_count = 0;
    }

    /// JSON whitespace from `i` on skipped (and left out).
    #[inline(always)]
    fn blank(&mut self, bytes: &[u8], i: usize) -> usize {
        if !matches!(bytes.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            return i;
        }
        self.skip_blank(bytes, i)
    }

    /// [`Output::blank`] where there is whitespace (kept out of line: compact input has none).
    #[inline(never)]
    fn skip_blank(&mut self, bytes: &[u8], i: usize) -> usize {
        let mut end = i + 1;
        loop {
            // Indentation 8 spaces at a time (pretty-printed input is mostly that).
            while bytes.get(end..end + 8) == Some(b"        ") {
                end += 8;
            }
            match bytes.get(end) {
                Some(b' ' | b'\t' | b'\n' | b'\r') => end += 1,
                _ => break,
            }
        }
        self.drop_range(i, end);
        end
    }

    fn finish(mut self) -> String {
        if self.out.capacity() == 0 {
            self.out.reserve_exact(self.len);
            self.write_held();
        }
        self.out.push_str(&self.input[self.run..]);
        self.out
    }
}

/// An edit's text (whole UTF-8 characters) appended to `out`.
fn push_text(out: &mut String, text: &[u8]) {
    out.push_str(std::str::from_utf8(text).unwrap_or_default());
}

/// A stack held in place up to `N` entries (a typical document allocates nothing for it),
/// moved to the heap beyond.
struct Stack<T, const N: usize> {
    inline: [T; N],
    len: usize,
    /// Empty (no allocation) until more than `N` entries: then the whole stack.
    heap: Vec<T>,
}

impl<T: Copy + Default, const N: usize> Stack<T, N> {
    fn new() -> Self {
        Stack {
            inline: [T::default(); N],
            len: 0,
            heap: Vec::new(),
        }
    }

    #[inline(always)]
    fn as_slice(&self) -> &[T] {
        if self.heap.capacity() == 0 {
            &self.inline[..self.len]
        } else {
            &self.heap
        }
    }

    #[inline(always)]
    fn len(&self) -> usize {
        if self.heap.capacity() == 0 {
            self.len
        } else {
            self.heap.len()
        }
    }

    #[inline(always)]
    fn push(&mut self, value: T) {
        if self.heap.capacity() == 0 {
            if let Some(slot) = self.inline.get_mut(self.len) {
                *slot = value;
                self.len += 1;
                return;
            }
            self.heap.reserve(2 * N);
            self.heap.extend_from_slice(&self.inline);
        }
        self.heap.push(value);
    }

    #[inline(always)]
    fn pop(&mut self) -> Option<T> {
        if self.heap.capacity() == 0 {
            self.len = self.len.checked_sub(1)?;
            Some(self.inline[self.len])
        } else {
            self.heap.pop()
        }
    }

    #[inline(always)]
    fn truncate(&mut self, len: usize) {
        if self.heap.capacity() == 0 {
            self.len = self.len.min(len);
        } else {
            self.heap.truncate(len);
        }
    }
}

/// The canonical text of `input`, or `None` when the input needs the serde canonicaliser.
pub(crate) fn canonicalize(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    // Positions are kept as u32 (half the room); longer input (beyond Redis' default 512 MB
    // limit on a string) takes the serde pass.
    u32::try_from(bytes.len()).ok()?;
    let mut out = Output::new(input);
    // Keys of the open objects, innermost last.
    let mut keys: Stack<Key, 32> = Stack::new();
    // The innermost open container, and those around it (outermost first).
    let mut current: Option<Open> = None;
    let mut outer: Stack<Open, 16> = Stack::new();
    let mut i = 0;
    'value: loop {
        // A value starts at `i`. Whitespace is a case of each match (not skipped before it):
        // compact input then pays nothing for it.
        match *bytes.get(i)? {
            b'"' => i = string_end(&mut out, bytes, i, false)?,
            open_byte @ (b'{' | b'[') => {
                if outer.len() + usize::from(current.is_some()) >= MAX_NESTING {
                    return None;
                }
                let object = open_byte == b'{';
                i = out.blank(bytes, i + 1);
                let close = if object { b'}' } else { b']' };
                if *bytes.get(i)? == close {
                    i += 1;
                } else {
                    if let Some(container) = current {
                        outer.push(container);
                    }
                    let container = current.insert(Open {
                        first_key: object.then_some(keys.len() as u32),
                        seen: 0,
                    });
                    if object {
                        i = key(&mut out, bytes, i, &mut keys, container)?;
                    }
                    continue 'value;
                }
            }
            b't' => i = literal(bytes, i, b"true")?,
            b'f' => i = literal(bytes, i, b"false")?,
            b'n' => i = literal(bytes, i, b"null")?,
            b'-' | b'0'..=b'9' => i = number(&mut out, bytes, i)?,
            b' ' | b'\t' | b'\n' | b'\r' => {
                i = out.skip_blank(bytes, i);
                continue 'value;
            }
            _ => return None,
        }
        // After a value: separators and closing brackets until the next value or the end.
        loop {
            let Some(container) = current.as_mut() else {
                i = out.blank(bytes, i);
                break 'value;
            };
            match (*bytes.get(i)?, container.first_key) {
                (b',', first_key) => {
                    i += 1;
                    if first_key.is_some() {
                        i = key(&mut out, bytes, i, &mut keys, container)?;
                    }
                    continue 'value;
                }
                (b']', None) => {}
                (b'}', Some(first_key)) => {
                    let first_key = first_key as usize;
                    let own = &keys.as_slice()[first_key..];
                    if own.len() > LINEAR_DUPLICATE_CHECK {
                        let mut sorted: Vec<&[u8]> =
                            own.iter().map(|key| &bytes[key.range()]).collect();
                        sorted.sort_unstable();
                        if sorted.windows(2).any(|pair| pair[0] == pair[1]) {
                            return None;
                        }
                    }
                    keys.truncate(first_key);
                }
                (b' ' | b'\t' | b'\n' | b'\r', _) => {
                    i = out.skip_blank(bytes, i);
                    continue;
                }
                _ => return None,
            }
            current = outer.pop();
            i += 1;
        }
    }
    (i == bytes.len()).then(|| out.finish())
}

/// End (exclusive, past the closing quote) of the string starting at `bytes[start]`: no control
/// character, and escapes either as serde_json writes them (`\"`, `\\`, `\n`, `\t`, `\r`,
/// `\b`, `\f`: kept) or, in a value, `\/` and `\u…` (rewritten as serde_json writes their
/// character).
// Inlined, as the helpers below: called once or twice per token, the calls were a fifth
// of the pass.
#[inline(always)]
fn string_end(out: &mut Output, bytes: &[u8], start: usize, key: bool) -> Option<usize> {
    let mut i = start + 1;
    loop {
        while i + 8 <= bytes.len() {
            let word = load(&bytes[i..]);
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
                // A key is compared by its input bytes: one spelt with these takes the serde pass.
                b'/' | b'u' if !key => i = rewrite_escape(out, bytes, i)?,
                _ => return None,
            },
            0..=0x1f => return None,
            _ => i += 1,
        }
    }
}

/// The escape `\/` or `\u…` at `bytes[i]` (in a value) written as serde_json writes the
/// character it stands for: itself (UTF-8), or the short or `\u00xx` escape of a quote,
/// backslash or control character. A lone or reversed surrogate is serde_json's error (`None`:
/// the serde pass). The position after it.
#[inline(never)]
fn rewrite_escape(out: &mut Output, bytes: &[u8], i: usize) -> Option<usize> {
    if bytes[i + 1] == b'/' {
        out.replace(i, i + 2, b"/");
        return Some(i + 2);
    }
    let unit = hex4(bytes, i + 2)?;
    let (code, end) = match unit {
        0xD800..=0xDBFF => {
            if bytes.get(i + 6..i + 8)? != b"\\u" {
                return None;
            }
            let low = hex4(bytes, i + 8)?;
            if !(0xDC00..=0xDFFF).contains(&low) {
                return None;
            }
            (0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00), i + 12)
        }
        0xDC00..=0xDFFF => return None,
        _ => (unit, i + 6),
    };
    let character = char::from_u32(code)?;
    let mut buffer = [0u8; 6];
    let text: &[u8] = match character {
        '"' => b"\\\"",
        '\\' => b"\\\\",
        '\u{8}' => b"\\b",
        '\t' => b"\\t",
        '\n' => b"\\n",
        '\u{c}' => b"\\f",
        '\r' => b"\\r",
        '\0'..='\u{1f}' => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            buffer = *b"\\u0000";
            buffer[4] = HEX[(code >> 4) as usize];
            buffer[5] = HEX[(code & 0xF) as usize];
            &buffer
        }
        _ => character.encode_utf8(&mut buffer).as_bytes(),
    };
    out.replace(i, end, text);
    Some(end)
}

/// The 4 hex digits at `bytes[at..]` (either case).
fn hex4(bytes: &[u8], at: usize) -> Option<u32> {
    bytes.get(at..at + 4)?.iter().try_fold(0, |value, &digit| {
        Some(value << 4 | char::from(digit).to_digit(16)?)
    })
}

/// Bytes of `word` equal to `byte` (lowest marked one exact).
#[inline(always)]
fn matches_byte(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// Bytes of `word` below 0x20 (lowest marked one exact).
#[inline(always)]
fn below_space(word: u64) -> u64 {
    word.wrapping_sub(ONES * 0x20) & !word & HIGHS
}

/// An object key at `i` (a string, its `:`), checked against the object's earlier keys; the
/// position of the value after it.
#[inline(always)]
fn key(
    out: &mut Output,
    bytes: &[u8],
    mut i: usize,
    keys: &mut Stack<Key, 32>,
    object: &mut Open,
) -> Option<usize> {
    if *bytes.get(i)? != b'"' {
        i = out.blank(bytes, i);
        if *bytes.get(i)? != b'"' {
            return None;
        }
    }
    let end = string_end(out, bytes, i, true)?;
    let new_fingerprint = fingerprint(bytes, i, end);
    let first_key = object.first_key? as usize;
    if keys.len() - first_key < LINEAR_DUPLICATE_CHECK {
        let bit = 1u64 << (new_fingerprint.wrapping_mul(MIX) >> 58);
        if object.seen & bit != 0
            && keys.as_slice()[first_key..].iter().any(|key| {
                key.fingerprint == new_fingerprint && bytes[key.range()] == bytes[i..end]
            })
        {
            return None;
        }
        object.seen |= bit;
    }
    keys.push(Key {
        fingerprint: new_fingerprint,
        start: i as u32,
        end: end as u32,
    });
    if bytes.get(end) == Some(&b':') {
        return Some(end + 1);
    }
    let colon = out.blank(bytes, end);
    if *bytes.get(colon)? != b':' {
        return None;
    }
    Some(colon + 1)
}

#[inline(always)]
fn literal(bytes: &[u8], i: usize, word: &[u8]) -> Option<usize> {
    let end = i + word.len();
    (bytes.get(i..end)? == word).then_some(end)
}

/// A number at `i` (RFC 8259 grammar), written as serde_json reads and prints it; the position
/// after it.
fn number(out: &mut Output, bytes: &[u8], start: usize) -> Option<usize> {
    let digits = |mut i: usize| {
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let negative = bytes[start] == b'-';
    let int_start = start + usize::from(negative);
    let mut i = int_start;
    match bytes.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => i = digits(i + 1),
        _ => return None,
    }
    let int_end = i;
    let mut fraction = i..i;
    if bytes.get(i) == Some(&b'.') {
        let after = digits(i + 1);
        if after == i + 1 {
            return None;
        }
        fraction = i + 1..after;
        i = after;
    }
    // The exponent, saturated far outside any finite double's.
    let mut exponent = 0i64;
    let mut float = !fraction.is_empty();
    if let Some(b'e' | b'E') = bytes.get(i) {
        i += 1;
        let exponent_negative = bytes.get(i) == Some(&b'-');
        if let Some(b'+' | b'-') = bytes.get(i) {
            i += 1;
        }
        let after = digits(i);
        if after == i {
            return None;
        }
        for &digit in &bytes[i..after] {
            exponent = (exponent * 10 + i64::from(digit - b'0')).min(100_000);
        }
        if exponent_negative {
            exponent = -exponent;
        }
        i = after;
        float = true;
    }
    let integer = &bytes[int_start..int_end];
    if !float && fits_integer(integer, negative) {
        // serde_json reads it as an i64 or u64 and prints it back the same.
        return Some(i);
    }
    // A float to serde_json (so is an integer out of i64/u64 range, and `-0`).
    let text = &out.input[start..i];
    let mut canonical = FloatText::default();
    if !canonical.shortest(negative, integer, &bytes[fraction], exponent) {
        // More than 15 significant digits, or near the ends of the range: parsed correctly
        // rounded (as serde_json's `float_roundtrip`) and printed by ryu, as [`crate::text`]
        // prints floats. Out of range is serde_json's error.
        let value: f64 = text.parse().ok()?;
        if !value.is_finite() {
            return None;
        }
        let mut buffer = ryu::Buffer::new();
        let printed = buffer.format_finite(value);
        if printed != text {
            out.replace(start, i, printed.as_bytes());
        }
        return Some(i);
    }
    let printed = canonical.text();
    if printed != text.as_bytes() {
        out.replace(start, i, printed);
    }
    Some(i)
}

/// Whether the integer digits (no sign, no leading zero) are read by serde_json as an i64
/// (negative) or u64 and so printed back as they are. `-0` is a float (-0.0) to serde_json.
fn fits_integer(digits: &[u8], negative: bool) -> bool {
    let limit: &[u8] = if negative {
        b"9223372036854775808"
    } else {
        b"18446744073709551615"
    };
    match digits.len().cmp(&limit.len()) {
        std::cmp::Ordering::Less => !negative || digits != b"0",
        // Same length, no leading zeros: byte order is numeric order.
        std::cmp::Ordering::Equal => digits <= limit,
        std::cmp::Ordering::Greater => false,
    }
}

/// The text ryu prints for a double, worked out from the decimal digits that were read rather
/// than by printing the double, where that is exact.
#[derive(Default)]
struct FloatText {
    bytes: [u8; 32],
    len: usize,
}

impl FloatText {
    fn text(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn push(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    fn push_all(&mut self, bytes: &[u8]) {
        self.bytes[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// Writes what ryu prints for the double nearest to `±integer.fraction × 10^exponent`, when
    /// that decimal has at most 15 significant digits and lies in the normal range; `false`
    /// (nothing written) otherwise.
    ///
    /// Why this is exact: a decimal of at most 15 significant digits in the normal range is
    /// recovered by rounding its nearest double back to 15 digits (10^15 < 2^52, the theorem
    /// behind DBL_DIG), so no two such decimals read as the same double. ryu prints the
    /// shortest decimal that reads back as the double (the closest such when there are
    /// several); the input's digits read back as it, so ryu's digits are no more than 15, and
    /// being a decimal that reads as the same double they are the input's own (trailing
    /// zeros dropped). What is left is ryu's layout of those digits, copied below from
    /// `ryu::pretty::format64`.
    fn shortest(&mut self, negative: bool, integer: &[u8], fraction: &[u8], exponent: i64) -> bool {
        let mut digits = [b'0'; 15];
        let mut count = 0;
        // Zeros read after the last non-zero digit (kept only if a non-zero digit follows).
        let mut zeros = 0;
        // The decimal exponent of the first significant digit's place + 1 (so the value is
        // `0.digits × 10^point`), before `exponent`.
        let mut point = 0i64;
        for (place, &digit) in integer.iter().chain(fraction).enumerate() {
            if digit == b'0' {
                zeros += usize::from(count > 0);
                continue;
            }
            if count == 0 {
                point = integer.len() as i64 - place as i64;
            }
            if count + zeros >= digits.len() {
                return false;
            }
            count += zeros;
            zeros = 0;
            digits[count] = digit;
            count += 1;
        }
        if negative {
            self.push(b'-');
        }
        if count == 0 {
            // ±0: ryu's special case.
            self.push_all(b"0.0");
            return true;
        }
        let kk = point + exponent;
        // 10^(kk-1) ≤ value < 10^kk: at least 1e-307, above the smallest normal double, and
        // below 1e308, below the largest.
        if !(-306..=308).contains(&kk) {
            self.len = 0;
            return false;
        }
        let digits = &digits[..count];
        let length = count as i64;
        let k = kk - length;
        if 0 <= k && kk <= 16 {
            // 1234e7 -> 12340000000.0
            self.push_all(digits);
            for _ in 0..k {
                self.push(b'0');
            }
            self.push_all(b".0");
        } else if 0 < kk && kk <= 16 {
            // 1234e-2 -> 12.34
            let (whole, part) = digits.split_at(kk as usize);
            self.push_all(whole);
            self.push(b'.');
            self.push_all(part);
        } else if -5 < kk && kk <= 0 {
            // 1234e-6 -> 0.001234
            self.push_all(b"0.");
            for _ in 0..-kk {
                self.push(b'0');
            }
            self.push_all(digits);
        } else {
            // 1e30, 1234e30 -> 1.234e33
            self.push(digits[0]);
            if digits.len() > 1 {
                self.push(b'.');
                self.push_all(&digits[1..]);
            }
            self.push(b'e');
            let mut e = kk - 1;
            if e < 0 {
                self.push(b'-');
                e = -e;
            }
            if e >= 100 {
                self.push(b'0' + (e / 100) as u8);
            }
            if e >= 10 {
                self.push(b'0' + (e / 10 % 10) as u8);
            }
            self.push(b'0' + (e % 10) as u8);
        }
        true
    }
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
            "-0",
            "123456789012345678",
            "1234567890123456789",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
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
            "\"a\\/b\"",
            "\"a\\u0041\"",
            "\"a\\u001f\\u0000\\u0008\\u000C\\u005c\\u0022\\u007f\\u00e9\\u20AC\"",
            "\"\\ud83d\\ude00 and \\uD83D\\uDE00 and \\/\\/ in a longer string\"",
            "{\"url\":\"http:\\/\\/example.com\\/a\",\"b\":[\"\\u00e9t\\u00e9\"]}",
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
        // Pretty-printed: runs of whitespace of every length, deep indentation.
        let value: serde_json::Value = serde_json::from_str(doc).unwrap();
        assert!(agrees(&serde_json::to_string_pretty(&value).unwrap()));
        for indent in [1, 7, 8, 9, 16, 17, 40] {
            let pad = " ".repeat(indent);
            let text = format!("{pad}{{\n{pad}\"a\" :{pad}[\t{pad}1 ,\r\n{pad}2{pad}]{pad}}}{pad}");
            assert!(agrees(&text), "{text:?}");
        }
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
        let deep_objects = "{\"a\":".repeat(60) + "[{\"a\":1,\"b\":2}]" + &"}".repeat(60);
        assert!(agrees(&deep_objects));
        // Differences from the input: a few (held until the end) and many (written as found).
        for spaces in [1, 7, 8, 9, 40] {
            let members = (0..spaces)
                .map(|k| format!("\"k{k}\" :1.5e1"))
                .collect::<Vec<_>>()
                .join(",");
            assert!(agrees(&format!("{{{members}}}")));
        }
    }

    #[test]
    fn everything_else_takes_the_serde_pass() {
        for input in [
            "",
            " ",
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "1e400",
            "-1e400",
            "1e99999999999999999999",
            "1.8e308",
            "-2e308",
            "+1",
            "{\"a\\/b\":1}",
            "{\"a\\u0041\":1}",
            "\"\\ud83d\"",
            "\"\\ud83d\\u0041\"",
            "\"\\ude00\\ud83d\"",
            "\"\\u12\"",
            "\"\\u12g4\"",
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
        // Duplicates found by the linear check, among keys held in place and on the heap.
        for (count, duplicate) in [(40, 5), (40, 35), (64, 63), (20, 19)] {
            let keys = (0..count)
                .map(|k| format!("\"k{k}\":{{\"k{k}\":[{k}]}}"))
                .collect::<Vec<_>>()
                .join(",");
            let object = format!("{{{keys},\"k{duplicate}\":0}}");
            assert!(!agrees(&object), "{object:?}");
            let nested = format!("[{{\"a\":{{{keys}}}}},{object}]");
            assert!(!agrees(&nested), "{nested:?}");
        }
        let deep = "[".repeat(128) + &"]".repeat(128);
        assert!(!agrees(&deep));
    }

    /// Any JSON value (objects keep distinct keys: `serde_json::Map`).
    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(serde_json::Value::from),
            "[a-z\"\\\\/\u{0}-\u{1f}é€😀]{0,12}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(6, 200, 40, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..40).prop_map(serde_json::Value::from),
                proptest::collection::btree_map("[a-z]{0,3}", inner, 0..40)
                    .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
            ]
        })
    }

    /// Every kind of number: each takes the fast pass and prints as the serde pass does.
    #[test]
    fn numbers_print_as_serde_prints_them() {
        let mut inputs: Vec<String> = [
            // ±0 in every spelling.
            "0",
            "-0",
            "0.0",
            "-0.0",
            "0.000",
            "0e0",
            "-0e-5",
            "0E+400",
            // The layouts and their boundaries (kk ≤ 16 is 123.0, above it 1e16).
            "1e15",
            "1e16",
            "1e17",
            "1e20",
            "1e21",
            "1e22",
            "1.0e15",
            "1.5e15",
            "1.5e16",
            "999999999999999.0",
            "9999999999999998.0",
            "123456789012345.6",
            "12345678901234567e0",
            "100000000000000000000",
            "99999999999999999999999",
            "123456789012345678901234567890",
            "-18446744073709551616",
            "-9223372036854775809",
            "0.1",
            "0.01",
            "0.001",
            "0.0001",
            "0.00001",
            "0.000001",
            "1e-4",
            "1e-5",
            "1e-6",
            "1.5e-5",
            "1.25e-4",
            "12.5e-6",
            "0.00012345",
            "1234e-7",
            "1.3e2",
            "1E5",
            "1e+5",
            "2.5E+3",
            "-2.5e-3",
            "5e-1",
            "50e-2",
            "1.000",
            "10.50",
            "1.0e0",
            "1e0",
            "1e00001",
            "3.14",
            "-3.14",
            "52.52",
            "13.405",
            "87.5",
            "6.02214076e23",
            "1.602176634e-19",
            // Long mantissas (more than 15 digits): ryu's own shortest digits.
            "0.30000000000000004",
            "0.1000000000000000055511151231257827",
            "3.141592653589793238462643383279",
            "1.7976931348623157e308",
            "123456789.123456789",
            "9007199254740993",
            "9007199254740993.0",
            "0.333333333333333333333333",
            "1234567890123456.7",
            "123456789012345.67",
            // The ends of the range: subnormals, the smallest normal, the largest finite.
            "2.2250738585072014e-308",
            "2.2250738585072011e-308",
            "2.225e-308",
            "2.3e-308",
            "1e-307",
            "9.99e-308",
            "1e-306",
            "1e-308",
            "1e-310",
            "4.9e-324",
            "5e-324",
            "2e-324",
            "3e-324",
            "1e-400",
            "-1e-400",
            "1e308",
            "9.99999999999999e307",
            "1.797693134862315e308",
            "1.79769313486231e308",
            "1.7976931348623158e308",
            // Exponents written long or with leading zeros.
            "1e-0",
            "1e+0",
            "1e007",
            "-1.5E-007",
            "1e0000000000000000000000000000001",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        for exponent in -330..=330 {
            for mantissa in [
                "1",
                "9",
                "1.5",
                "12345",
                "999999999999999",
                "1234567890123456",
            ] {
                inputs.push(format!("{mantissa}e{exponent}"));
                inputs.push(format!("-{mantissa}E{exponent:+}"));
            }
        }
        for input in &inputs {
            // Out of range (`999999999999999e294`) is serde_json's error, so the serde pass's.
            let overflows = crate::text::canonicalize_str(input, None).is_err();
            assert!(
                agrees(input) != overflows,
                "{input:?} should take the fast pass (or overflow)"
            );
            if overflows {
                continue;
            }
            let wrapped = format!("[ {input} , {{ \"k\" : {input} }} ]");
            assert!(agrees(&wrapped), "{wrapped:?} should take the fast pass");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        /// Whole documents (nesting, many members, numbers, strings with escapes), written
        /// compact, pretty and with `, `/`: ` separators: each takes the fast pass (unless it
        /// has a duplicate key) and prints as the serde pass does.
        #[test]
        fn documents_print_as_serde_prints_them(value in json_value()) {
            let compact = serde_json::to_string(&value).unwrap();
            let pretty = serde_json::to_string_pretty(&value).unwrap();
            let spaced = compact.replace("\",\"", "\", \"").replace("\":", "\": ");
            for text in [compact, pretty, spaced] {
                proptest::prop_assert!(agrees(&text), "{text:?} should take the fast pass");
            }
        }

        /// Strings with every kind of escape, as a value and as a key.
        #[test]
        fn escapes_print_as_serde_prints_them(pieces in proptest::collection::vec(proptest::sample::select(vec![
            "a", "é", " ", "\\/", "\\u0041", "\\u00e9", "\\u00E9", "\\u001f", "\\u0000",
            "\\u0022", "\\u005c", "\\u005C", "\\u0008", "\\u0009", "\\u000a", "\\u000c",
            "\\u000d", "\\u007f", "\\u2028", "\\ud83d\\ude00", "\\uD83D\\uDE00", "\\ud83d",
            "\\ude00", "\\udbff\\udfff", "\\ud800\\udc00", "\\n", "\\\"", "\\\\", "\\t", "\\u", "\\uzzzz",
            "\\", "\\x", "\t",
        ]), 0..12)) {
            let text = pieces.concat();
            agrees(&format!("\"{text}\""));
            agrees(&format!("[\"{text}\",{{\"{text}\":\"{text}\"}}]"));
        }

        /// Any finite double, printed in many ways (shortest, fixed digits, exponent form).
        #[test]
        fn any_double_prints_as_serde_prints_it(bits in proptest::prelude::any::<u64>(), digits in 0usize..20) {
            let value = f64::from_bits(bits);
            if value.is_finite() {
                for text in [
                    format!("{value:?}"),
                    format!("{value:e}"),
                    format!("{value:.digits$e}"),
                    format!("{value:.digits$}"),
                    ryu::Buffer::new().format_finite(value).to_owned(),
                ] {
                    // Rounded to few digits, a double near the range's end prints out of range
                    // (`{:.0e}` of -1.8e308 is "-2e308"): that text is an error, which only the
                    // serde pass reports.
                    if text.parse::<f64>().is_ok_and(f64::is_finite) {
                        proptest::prop_assert!(agrees(&text), "{text:?} should take the fast pass");
                    } else {
                        proptest::prop_assert!(!agrees(&text), "{text:?} should not take the fast pass");
                        proptest::prop_assert!(crate::text::canonicalize_str(&text, None).is_err(), "{text:?}");
                    }
                }
            }
        }

        /// Any decimal: up to 20 digits before and after the point, any exponent near the range.
        #[test]
        fn any_decimal_prints_as_serde_prints_it(
            negative in proptest::prelude::any::<bool>(),
            integer in "[1-9][0-9]{0,19}|0",
            fraction in proptest::option::of("[0-9]{1,20}"),
            exponent in proptest::option::of(-340i32..340),
        ) {
            let mut text = format!("{}{integer}", if negative { "-" } else { "" });
            if let Some(fraction) = fraction {
                text = format!("{text}.{fraction}");
            }
            if let Some(exponent) = exponent {
                text = format!("{text}e{exponent}");
            }
            agrees(&text);
        }

        #[test]
        fn fast_pass_agrees_on_json_like_text(text in "[ \\[\\]{}:,\"ab0-9.eE+\\-tfnrul\\\\]{0,24}") {
            agrees(&text);
        }
    }
}
