//! A probe, not product code: how small can a stored JSON document get in a binary form that
//! prints back to exactly jsondoc's canonical compact text, and what do GET (print), a path
//! read (walk) and SET (encode) then cost? Issue 14 asks for memory ≤ 0.40× RedisJSON's and a
//! whole-document GET ≤ 0.10× RedisJSON's; the stored text (today's form) meets the GET target
//! with a copy but not the memory one. `bench/json-packed.sh` runs this under callgrind and
//! reports; BENCHMARKS.md, "Memory: the floor of a smaller stored form (probe)", has the results.
//!
//! # The packed form
//!
//! ```text
//! document := varint(text length) varint(dictionary entries) { varint(len) key bytes } value
//! value    := 0x00 null | 0x01 false | 0x02 true
//!           | 0x40+n              integer n in 0..=63
//!           | 0x03 varint(n)      integer n ≥ 64 (u64)              } (as number text instead
//!           | 0x04 varint(m)      integer -1 - m (to i64::MIN)      }  when INTS_AS_TEXT)
//!           | 0x10+n text         number text of n < 48 bytes (floats, as canonical text)
//!           | 0x05 varint(n) text number text of any length
//!           | 0x80+n bytes        string of n < 64 bytes (the bytes between the quotes, escapes as they are)
//!           | 0x06 varint(n) bytes  string of any length
//!           | 0xC0+c varint(len) elements         array of c < 32 elements, len = body bytes
//!           | 0x07 varint(c) varint(len) elements array of any length
//!           | 0xE0+c varint(len) members          object of c < 32 members
//!           | 0x08 varint(c) varint(len) members  object of any size
//! member   := varint(2·index + 1) value    a key of the dictionary (it occurs ≥ 2 times)
//!           | varint(2·n) key bytes value  a key used once, inline
//! ```
//!
//! Why: every byte of punctuation the text spends (quotes, colons, commas) becomes at most
//! one tag/length byte; strings and keys keep their canonical bytes, so printing one is
//! quote + copy + quote and nothing is re-escaped; integers 0..=63 sit in the tag, larger ones
//! are binary (canonical text spells each integer one way, so they print back exactly; as text,
//! `INTS_AS_TEXT`, they print ≈ 14% faster on the bench document but take 37 bytes more,
//! which crosses jemalloc's 768-byte class there), every other number keeps its
//! canonical text, so a float never goes through a float printer; a container's body length
//! lets a walk step over it in O(1); the count sits in the tag for small containers (a byte
//! saved on most); a key that repeats (the members of an array of records) is stored once and
//! referenced by a one-byte index, while a key used once stays inline (a dictionary entry for
//! it would cost a byte more). The text length in front lets GET allocate its reply once.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::hint::black_box;
use std::ops::Range;

use jsondoc::Document;
use jsondoc::path::{Path, Step};

const T_NULL: u8 = 0x00;
const T_FALSE: u8 = 0x01;
const T_TRUE: u8 = 0x02;
const T_UINT: u8 = 0x03;
const T_NEG: u8 = 0x04;
const T_NUM: u8 = 0x05;
const T_STR: u8 = 0x06;
const T_ARR: u8 = 0x07;
const T_OBJ: u8 = 0x08;
const T_NUM_SHORT: u8 = 0x10; // ..0x3F
const NUM_SHORT_MAX: usize = 0x40 - 0x10;
const T_SMALL_INT: u8 = 0x40; // ..0x7F
const SMALL_INT_MAX: u64 = 0x3F;
const T_STR_SHORT: u8 = 0x80; // ..0xBF
const STR_SHORT_MAX: usize = 0x40;
const T_ARR_SHORT: u8 = 0xC0; // ..0xDF
const T_OBJ_SHORT: u8 = 0xE0; // ..0xFF
const COUNT_SHORT_MAX: usize = 0x20;
/// Integers above 63 stored as their text (a copy to print) rather than binary (digits to
/// compute): a byte or two more each.
const INTS_AS_TEXT: bool = false;

// --- varints (LEB128) ------------------------------------------------------------------------

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// `v` as a varint at the start of `out`; its length.
fn varint_into(out: &mut [u8], mut v: u64) -> usize {
    let mut n = 0;
    while v >= 0x80 {
        out[n] = (v as u8) | 0x80;
        v >>= 7;
        n += 1;
    }
    out[n] = v as u8;
    n + 1
}

#[inline(always)]
fn get_varint(buf: &[u8], pos: &mut usize) -> u64 {
    let b = buf[*pos];
    *pos += 1;
    if b < 0x80 {
        return u64::from(b);
    }
    let mut v = u64::from(b & 0x7F);
    let mut shift = 7;
    loop {
        let b = buf[*pos];
        *pos += 1;
        v |= u64::from(b & 0x7F) << shift;
        if b < 0x80 {
            return v;
        }
        shift += 7;
    }
}

// --- encoder: canonical compact text → packed ------------------------------------------------

/// The end of the string whose opening quote is at `start` (the index after its closing quote):
/// 8 bytes at a time, stopping at the first quote or backslash of a word.
fn string_end(text: &[u8], start: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let mut i = start + 1;
    loop {
        if let Some(word) = text.get(i..i + 8) {
            let v = u64::from_le_bytes(word.try_into().expect("8 bytes"));
            let hits =
                zero_byte(v ^ (ONES * u64::from(b'"'))) | zero_byte(v ^ (ONES * u64::from(b'\\')));
            if hits == 0 {
                i += 8;
                continue;
            }
            // The lowest flagged byte is exact (a borrow only flags bytes above a real hit).
            i += (hits.trailing_zeros() / 8) as usize;
        }
        match text[i] {
            b'"' => return i + 1,
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
}

/// `text[start..start + len]` appended to `out`; up to 32 bytes as one fixed move when the text
/// has room (then cut back), so a short string costs no `memcpy` call.
#[inline(always)]
fn append(out: &mut Vec<u8>, text: &[u8], start: usize, len: usize) {
    if len <= 32 && start + 32 <= text.len() {
        let at = out.len();
        let chunk: &[u8; 32] = text[start..start + 32].try_into().expect("32 bytes");
        out.extend_from_slice(chunk);
        out.truncate(at + len);
    } else {
        out.extend_from_slice(&text[start..start + len]);
    }
}

/// A multiply-rotate hash for the key table (SipHash, std's default, cost more than the rest
/// of the encoder).
#[derive(Default)]
struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
        let mut tail = [0u8; 8];
        tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        let word = u64::from_le_bytes(tail) ^ (bytes.len() as u64) << 56;
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type KeyTable<'a> = HashMap<&'a [u8], u32, std::hash::BuildHasherDefault<FastHasher>>;

struct Encoder<'a> {
    text: &'a [u8],
    pos: usize,
    out: Vec<u8>,
    /// Per key occurrence, in document order: its dictionary index, or `u32::MAX` (inline).
    occurrences: std::vec::IntoIter<u32>,
}

/// Encode jsondoc's canonical compact text (the input must be exactly that: compact, valid).
pub fn encode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    // Pass 1: every key occurrence (a key is a string followed by a colon) numbered by its
    // distinct key, and how often each occurs.
    let mut table = KeyTable::with_capacity_and_hasher(64, Default::default());
    let mut distinct: Vec<(&[u8], u32)> = Vec::with_capacity(64);
    let mut occurrences: Vec<u32> = Vec::with_capacity(64);
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'"' {
            let end = string_end(bytes, i);
            if bytes.get(end) == Some(&b':') {
                let key = &bytes[i + 1..end - 1];
                let id = *table.entry(key).or_insert_with(|| {
                    distinct.push((key, 0));
                    distinct.len() as u32 - 1
                });
                distinct[id as usize].1 += 1;
                occurrences.push(id);
            }
            i = end;
        } else {
            i += 1;
        }
    }
    // Keys that occur twice or more go to the dictionary, in order of first occurrence.
    let mut out = Vec::with_capacity(bytes.len());
    put_varint(&mut out, bytes.len() as u64);
    let repeated = distinct.iter().filter(|(_, n)| *n >= 2).count();
    put_varint(&mut out, repeated as u64);
    let mut index_of = Vec::with_capacity(distinct.len());
    let mut next = 0u32;
    for (key, n) in &distinct {
        if *n >= 2 {
            put_varint(&mut out, key.len() as u64);
            out.extend_from_slice(key);
            index_of.push(next);
            next += 1;
        } else {
            index_of.push(u32::MAX);
        }
    }
    for id in occurrences.iter_mut() {
        *id = index_of[*id as usize];
    }
    let mut encoder = Encoder {
        text: bytes,
        pos: 0,
        out,
        occurrences: occurrences.into_iter(),
    };
    encoder.value();
    debug_assert_eq!(encoder.pos, bytes.len());
    encoder.out
}

impl Encoder<'_> {
    fn value(&mut self) {
        let text = self.text;
        match text[self.pos] {
            b'{' => self.container(true),
            b'[' => self.container(false),
            b'"' => {
                let end = string_end(text, self.pos);
                let body = &text[self.pos + 1..end - 1];
                if body.len() < STR_SHORT_MAX {
                    self.out.push(T_STR_SHORT + body.len() as u8);
                } else {
                    self.out.push(T_STR);
                    put_varint(&mut self.out, body.len() as u64);
                }
                append(&mut self.out, text, self.pos + 1, body.len());
                self.pos = end;
            }
            b'n' => {
                self.out.push(T_NULL);
                self.pos += 4;
            }
            b't' => {
                self.out.push(T_TRUE);
                self.pos += 4;
            }
            b'f' => {
                self.out.push(T_FALSE);
                self.pos += 5;
            }
            _ => self.number(),
        }
    }

    fn number(&mut self) {
        let text = self.text;
        let start = self.pos;
        let mut end = start;
        while end < text.len()
            && matches!(text[end], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
        {
            end += 1;
        }
        self.pos = end;
        let number = &text[start..end];
        if let Some((negative, magnitude)) = exact_integer(number) {
            if !negative && magnitude <= SMALL_INT_MAX {
                self.out.push(T_SMALL_INT + magnitude as u8);
                return;
            }
            // Else binary, or (INTS_AS_TEXT) the number text below.
            if !INTS_AS_TEXT {
                if !negative {
                    self.out.push(T_UINT);
                    put_varint(&mut self.out, magnitude);
                } else {
                    self.out.push(T_NEG);
                    put_varint(&mut self.out, magnitude - 1);
                }
                return;
            }
        }
        if number.len() < NUM_SHORT_MAX {
            self.out.push(T_NUM_SHORT + number.len() as u8);
        } else {
            self.out.push(T_NUM);
            put_varint(&mut self.out, number.len() as u64);
        }
        append(&mut self.out, text, start, number.len());
    }

    fn container(&mut self, object: bool) {
        let text = self.text;
        let close = if object { b'}' } else { b']' };
        self.pos += 1;
        // Two bytes reserved (tag + a one-byte body length): the header of most containers.
        let header = self.out.len();
        self.out.extend_from_slice(&[0, 0]);
        let body = self.out.len();
        let mut count = 0usize;
        if text[self.pos] == close {
            self.pos += 1;
        } else {
            loop {
                if object {
                    let end = string_end(text, self.pos);
                    let key = &text[self.pos + 1..end - 1];
                    match self.occurrences.next().expect("pass 1 saw this key") {
                        u32::MAX => {
                            put_varint(&mut self.out, 2 * key.len() as u64);
                            append(&mut self.out, text, self.pos + 1, key.len());
                        }
                        index => put_varint(&mut self.out, 2 * u64::from(index) + 1),
                    }
                    self.pos = end + 1; // the colon
                }
                self.value();
                count += 1;
                let c = text[self.pos];
                self.pos += 1;
                if c == close {
                    break;
                }
            }
        }
        let body_len = self.out.len() - body;
        // tag, [count], body length: at most 1 + 10 + 10 bytes, built on the stack.
        let mut head = [0u8; 21];
        let mut head_len = 1;
        if count < COUNT_SHORT_MAX {
            head[0] = if object { T_OBJ_SHORT } else { T_ARR_SHORT } + count as u8;
        } else {
            head[0] = if object { T_OBJ } else { T_ARR };
            head_len += varint_into(&mut head[head_len..], count as u64);
        }
        head_len += varint_into(&mut head[head_len..], body_len as u64);
        if head_len > 2 {
            // Rare (a body ≥ 128 bytes or ≥ 32 children): move the body to make room.
            let extra = head_len - 2;
            self.out.resize(self.out.len() + extra, 0);
            self.out.copy_within(body..body + body_len, body + extra);
        }
        self.out[header..header + head_len].copy_from_slice(&head[..head_len]);
    }
}

/// `Some((negative, magnitude))` when `number` is an integer the printer writes back exactly:
/// canonical text spells an integer one way (no `+`, no leading zero, no `-0`).
fn exact_integer(number: &[u8]) -> Option<(bool, u64)> {
    let (negative, digits) = match number.first()? {
        b'-' => (true, &number[1..]),
        _ => (false, number),
    };
    if digits.is_empty() || digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if digits[0] == b'0' && (digits.len() > 1 || negative) {
        return None;
    }
    let mut m: u64 = 0;
    for &d in digits {
        m = m.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative && m > 1u64 << 63 {
        return None;
    }
    Some((negative, m))
}

// --- printer: packed → canonical compact text ------------------------------------------------

/// Dictionaries up to this many keys are read into a stack array (no allocation per print).
const STACK_KEYS: usize = 64;

/// Where each dictionary key lies (`(start, len)`, into `stack` or, when larger, `heap`), the
/// text length and where the root value starts.
fn read_header<'k>(
    buf: &[u8],
    stack: &'k mut [(u32, u32); STACK_KEYS],
    heap: &'k mut Vec<(u32, u32)>,
) -> (usize, usize, &'k [(u32, u32)]) {
    let mut pos = 0;
    let text_len = get_varint(buf, &mut pos) as usize;
    let n = get_varint(buf, &mut pos) as usize;
    let keys: &mut [(u32, u32)] = if n <= STACK_KEYS {
        &mut stack[..n]
    } else {
        heap.resize(n, (0, 0));
        &mut heap[..]
    };
    for key in keys.iter_mut() {
        let len = get_varint(buf, &mut pos) as usize;
        *key = (pos as u32, len as u32);
        pos += len;
    }
    (text_len, pos, keys)
}

/// Bytes past the text in the output buffer: a copy of up to 32 bytes is then one or two fixed
/// moves (no `memcpy` call per string; the overshoot lands past the end and is overwritten or
/// cut off).
const SLACK: usize = 32;

/// `src[start..start + len]` written at `out[w..]`; the new write index. The output is a
/// local slice and the write index a local (not fields behind a `&mut`), so both stay in
/// registers: a store through the output cannot alias them.
// Nested rather than let-chained: each size its own branch with a constant-length move.
#[allow(clippy::collapsible_if)]
#[inline(always)]
fn put(out: &mut [u8], w: usize, src: &[u8], start: usize, len: usize) -> usize {
    if len <= 16 {
        // One range check per side (`get`), then a fixed 16-byte move.
        if let (Some(to), Some(from)) = (out.get_mut(w..w + 16), src.get(start..start + 16)) {
            to.copy_from_slice(from);
            return w + len;
        }
    } else if len <= 32 {
        if let (Some(to), Some(from)) = (out.get_mut(w..w + 32), src.get(start..start + 32)) {
            to.copy_from_slice(from);
            return w + len;
        }
    }
    out[w..w + len].copy_from_slice(&src[start..start + len]);
    w + len
}

const PAIRS: &[u8; 200] = b"00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";

/// An integer's decimal digits at `out[w..]`; the new write index. Below 10 000 (most stored
/// integers: counts, years, ids) by one or two table pairs, no loop and no logarithm.
#[inline(always)]
fn put_u64(out: &mut [u8], w: usize, v: u64) -> usize {
    if v < 10_000 {
        let v = v as usize;
        let (high, low) = (v / 100, v % 100);
        if high == 0 {
            if low < 10 {
                out[w] = b'0' + low as u8;
                return w + 1;
            }
            out[w..w + 2].copy_from_slice(&PAIRS[low * 2..low * 2 + 2]);
            return w + 2;
        }
        let w = if high < 10 {
            out[w] = b'0' + high as u8;
            w + 1
        } else {
            out[w..w + 2].copy_from_slice(&PAIRS[high * 2..high * 2 + 2]);
            w + 2
        };
        out[w..w + 2].copy_from_slice(&PAIRS[low * 2..low * 2 + 2]);
        return w + 2;
    }
    put_u64_long(out, w, v)
}

/// [`put_u64`] of 10 000 and above: two digits at a time from the end.
#[inline(never)]
fn put_u64_long(out: &mut [u8], w: usize, mut v: u64) -> usize {
    let digits = v.ilog10() as usize + 1;
    let digits_out = &mut out[w..w + digits];
    let mut end = digits;
    while v >= 100 {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        digits_out[end - 2..end].copy_from_slice(&PAIRS[pair..pair + 2]);
        end -= 2;
    }
    if v >= 10 {
        digits_out[end - 2..end].copy_from_slice(&PAIRS[v as usize * 2..v as usize * 2 + 2]);
    } else {
        digits_out[end - 1] = b'0' + v as u8;
    }
    w + digits
}

/// Past a varint whose value is not needed (a container's body length).
#[inline(always)]
fn skip_varint(buf: &[u8], mut pos: usize) -> usize {
    while buf[pos] >= 0x80 {
        pos += 1;
    }
    pos + 1
}

/// The whole document's canonical compact text (what JSON.GET without formatting replies): one
/// allocation of the text's length (+ the slack).
pub fn print(buf: &[u8]) -> Vec<u8> {
    let mut stack = [(0u32, 0u32); STACK_KEYS];
    let mut heap = Vec::new();
    let (text_len, root, keys) = read_header(buf, &mut stack, &mut heap);
    let mut out = vec![0; text_len + SLACK];
    let (_, w) = print_value(buf, root, keys, &mut out, 0);
    out.truncate(w);
    out
}

/// One value at `out[w..]`: (the position after it in `buf`, the new write index). Inlined
/// into the container loops, so a scalar costs no call (containers recurse through the
/// out-of-line `print_array` / `print_object`).
#[inline(always)]
fn print_value(
    buf: &[u8],
    mut pos: usize,
    keys: &[(u32, u32)],
    out: &mut [u8],
    w: usize,
) -> (usize, usize) {
    let tag = buf[pos];
    pos += 1;
    match tag {
        T_STR_SHORT..=0xBF => {
            let len = usize::from(tag - T_STR_SHORT);
            out[w] = b'"';
            let w = put(out, w + 1, buf, pos, len);
            out[w] = b'"';
            (pos + len, w + 1)
        }
        T_SMALL_INT..=0x7F => {
            let v = tag - T_SMALL_INT;
            if v >= 10 {
                out[w] = b'0' + v / 10;
                out[w + 1] = b'0' + v % 10;
                (pos, w + 2)
            } else {
                out[w] = b'0' + v;
                (pos, w + 1)
            }
        }
        T_ARR_SHORT..=0xDF => {
            let count = usize::from(tag - T_ARR_SHORT);
            print_array(buf, skip_varint(buf, pos), count, keys, out, w)
        }
        T_OBJ_SHORT..=0xFF => {
            let count = usize::from(tag - T_OBJ_SHORT);
            print_object(buf, skip_varint(buf, pos), count, keys, out, w)
        }
        T_NUM_SHORT..=0x3F => {
            let len = usize::from(tag - T_NUM_SHORT);
            (pos + len, put(out, w, buf, pos, len))
        }
        T_NULL => {
            out[w..w + 4].copy_from_slice(b"null");
            (pos, w + 4)
        }
        T_FALSE => {
            out[w..w + 5].copy_from_slice(b"false");
            (pos, w + 5)
        }
        T_TRUE => {
            out[w..w + 4].copy_from_slice(b"true");
            (pos, w + 4)
        }
        T_UINT => {
            let v = get_varint(buf, &mut pos);
            (pos, put_u64(out, w, v))
        }
        T_NEG => {
            let m = get_varint(buf, &mut pos);
            out[w] = b'-';
            // m + 1 without overflow: i64::MIN is stored as m = 2^63 - 1.
            (pos, put_u64(out, w + 1, m + 1))
        }
        T_NUM => {
            let len = get_varint(buf, &mut pos) as usize;
            (pos + len, put(out, w, buf, pos, len))
        }
        T_STR => {
            let len = get_varint(buf, &mut pos) as usize;
            out[w] = b'"';
            let w = put(out, w + 1, buf, pos, len);
            out[w] = b'"';
            (pos + len, w + 1)
        }
        T_ARR => {
            let count = get_varint(buf, &mut pos) as usize;
            print_array(buf, skip_varint(buf, pos), count, keys, out, w)
        }
        T_OBJ => {
            let count = get_varint(buf, &mut pos) as usize;
            print_object(buf, skip_varint(buf, pos), count, keys, out, w)
        }
        _ => unreachable!("unused tag {tag:#x}"),
    }
}

/// Each element is followed by a comma; the last comma becomes the closing bracket (no
/// "first element?" test per element).
#[inline(never)]
fn print_array(
    buf: &[u8],
    mut pos: usize,
    count: usize,
    keys: &[(u32, u32)],
    out: &mut [u8],
    mut w: usize,
) -> (usize, usize) {
    out[w] = b'[';
    w += 1;
    if count == 0 {
        out[w] = b']';
        return (pos, w + 1);
    }
    for _ in 0..count {
        (pos, w) = print_value(buf, pos, keys, out, w);
        out[w] = b',';
        w += 1;
    }
    out[w - 1] = b']';
    (pos, w)
}

#[inline(never)]
fn print_object(
    buf: &[u8],
    mut pos: usize,
    count: usize,
    keys: &[(u32, u32)],
    out: &mut [u8],
    mut w: usize,
) -> (usize, usize) {
    out[w] = b'{';
    w += 1;
    if count == 0 {
        out[w] = b'}';
        return (pos, w + 1);
    }
    for _ in 0..count {
        let head = get_varint(buf, &mut pos) as usize;
        out[w] = b'"';
        if head & 1 == 1 {
            let (start, len) = keys[head >> 1];
            w = put(out, w + 1, buf, start as usize, len as usize);
        } else {
            let len = head >> 1;
            w = put(out, w + 1, buf, pos, len);
            pos += len;
        }
        out[w..w + 2].copy_from_slice(b"\":");
        (pos, w) = print_value(buf, pos, keys, out, w + 2);
        out[w] = b',';
        w += 1;
    }
    out[w - 1] = b'}';
    (pos, w)
}

// --- the floor of any per-token printer --------------------------------------------------------

/// Values and keys of the packed document (what a printer decides on one by one).
fn count_tokens(buf: &[u8]) -> usize {
    fn value(buf: &[u8], mut pos: usize) -> (usize, usize) {
        let tag = buf[pos];
        let (count, object) = match tag {
            T_ARR_SHORT..=0xDF => (usize::from(tag - T_ARR_SHORT), false),
            T_OBJ_SHORT..=0xFF => (usize::from(tag - T_OBJ_SHORT), true),
            T_ARR | T_OBJ => {
                pos += 1;
                (get_varint(buf, &mut pos) as usize, tag == T_OBJ)
            }
            _ => return (1, skip(buf, pos)),
        };
        pos = skip_varint(buf, pos + usize::from(tag >= T_ARR_SHORT));
        let mut tokens = 1;
        for _ in 0..count {
            if object {
                let head = get_varint(buf, &mut pos) as usize;
                if head & 1 == 0 {
                    pos += head >> 1;
                }
                tokens += 1;
            }
            let (t, end) = value(buf, pos);
            tokens += t;
            pos = end;
        }
        (tokens, pos)
    }
    let mut stack = [(0u32, 0u32); STACK_KEYS];
    let mut heap = Vec::new();
    let (_, root, _) = read_header(buf, &mut stack, &mut heap);
    value(buf, root).0
}

/// The text cut into `tokens` pieces of equal length, each behind a one-byte length: the
/// least a printer that takes one decision per value or key can do is read such a length and
/// copy such a piece (the text's punctuation already in place, nothing to look up).
fn floor_form(text: &[u8], tokens: usize) -> Vec<u8> {
    let piece = text.len().div_ceil(tokens).clamp(1, 255);
    let mut out = Vec::with_capacity(text.len() + tokens + 1);
    for chunk in text.chunks(piece) {
        out.push(chunk.len() as u8);
        out.extend_from_slice(chunk);
    }
    out
}

/// [`floor_form`] back to the text: per piece one length byte and one `put`.
fn floor_print(buf: &[u8], text_len: usize) -> Vec<u8> {
    let mut out = vec![0; text_len + SLACK];
    let (mut pos, mut w) = (0, 0);
    while pos < buf.len() {
        let len = usize::from(buf[pos]);
        w = put(&mut out, w, buf, pos + 1, len);
        pos += 1 + len;
    }
    out.truncate(w);
    out
}

// --- walker: a simple chain over the packed form ---------------------------------------------

/// The end of the value at `pos` (a container is stepped over by its body length).
#[inline(always)]
fn skip(buf: &[u8], mut pos: usize) -> usize {
    let tag = buf[pos];
    pos += 1;
    match tag {
        T_STR_SHORT..=0xBF => pos + usize::from(tag - T_STR_SHORT),
        T_SMALL_INT..=0x7F | T_NULL | T_FALSE | T_TRUE => pos,
        T_ARR_SHORT..=0xFF => {
            let len = get_varint(buf, &mut pos) as usize;
            pos + len
        }
        T_NUM_SHORT..=0x3F => pos + usize::from(tag - T_NUM_SHORT),
        T_UINT | T_NEG => {
            get_varint(buf, &mut pos);
            pos
        }
        T_NUM | T_STR => {
            let len = get_varint(buf, &mut pos) as usize;
            pos + len
        }
        T_ARR | T_OBJ => {
            get_varint(buf, &mut pos);
            let len = get_varint(buf, &mut pos) as usize;
            pos + len
        }
        _ => unreachable!("unused tag {tag:#x}"),
    }
}

/// A step of a simple chain with the key as canonical text spells it (escaped once, when the
/// path is parsed and cached, not per walk).
pub enum PStep {
    /// A member name, escaped as in canonical text.
    Key(Vec<u8>),
    /// An element index (from the start).
    Index(usize),
}

/// The packed value a simple chain selects (its byte range in `buf`), or `None`.
pub fn walk(buf: &[u8], steps: &[PStep]) -> Option<Range<usize>> {
    let mut pos = 0;
    get_varint(buf, &mut pos); // text length
    let dict_len = get_varint(buf, &mut pos) as usize;
    let dict = pos;
    for _ in 0..dict_len {
        let len = get_varint(buf, &mut pos) as usize;
        pos += len;
    }
    for step in steps {
        let tag = buf[pos];
        pos += 1;
        match step {
            PStep::Key(key) => {
                let count = match tag {
                    T_OBJ_SHORT..=0xFF => usize::from(tag - T_OBJ_SHORT),
                    T_OBJ => get_varint(buf, &mut pos) as usize,
                    _ => return None,
                };
                get_varint(buf, &mut pos); // body length
                // The key's dictionary index, if it is there (a one-byte compare per member then).
                let mut wanted_ref = u64::MAX;
                let mut d = dict;
                for index in 0..dict_len {
                    let len = get_varint(buf, &mut d) as usize;
                    if buf[d..d + len] == key[..] {
                        wanted_ref = 2 * index as u64 + 1;
                        break;
                    }
                    d += len;
                }
                let wanted_inline = 2 * key.len() as u64;
                let mut found = false;
                for _ in 0..count {
                    let head = get_varint(buf, &mut pos);
                    if head == wanted_ref {
                        found = true;
                        break;
                    }
                    if head & 1 == 0 {
                        let len = (head >> 1) as usize;
                        let hit = head == wanted_inline && buf[pos..pos + len] == key[..];
                        pos += len;
                        if hit {
                            found = true;
                            break;
                        }
                    }
                    pos = skip(buf, pos);
                }
                if !found {
                    return None;
                }
            }
            PStep::Index(index) => {
                let count = match tag {
                    T_ARR_SHORT..=0xDF => usize::from(tag - T_ARR_SHORT),
                    T_ARR => get_varint(buf, &mut pos) as usize,
                    _ => return None,
                };
                get_varint(buf, &mut pos);
                if *index >= count {
                    return None;
                }
                for _ in 0..*index {
                    pos = skip(buf, pos);
                }
            }
        }
    }
    Some(pos..skip(buf, pos))
}

/// The packed value at `range` printed as text (a path read's reply).
pub fn print_at(buf: &[u8], range: Range<usize>) -> Vec<u8> {
    let mut stack = [(0u32, 0u32); STACK_KEYS];
    let mut heap = Vec::new();
    let (text_len, _, keys) = read_header(buf, &mut stack, &mut heap);
    let mut out = vec![0; text_len + SLACK];
    let (_, w) = print_value(buf, range.start, keys, &mut out, 0);
    out.truncate(w);
    out
}

/// jsondoc's steps as the packed walker takes them (keys escaped as in canonical text).
fn packed_steps(steps: &[Step]) -> Vec<PStep> {
    steps
        .iter()
        .map(|step| match step {
            Step::Key(key) => {
                let quoted = serde_json::to_string(key).expect("a string serialises");
                PStep::Key(quoted.as_bytes()[1..quoted.len() - 1].to_vec())
            }
            Step::Index(i) => PStep::Index(usize::try_from(*i).expect("a non-negative index")),
        })
        .collect()
}

// --- what callgrind measures: each function runs one operation `n` times ---------------------

#[inline(never)]
fn m_copy(text: &str, n: usize) {
    for _ in 0..n {
        let v = black_box(text).as_bytes().to_vec();
        black_box(&v);
    }
}

#[inline(never)]
fn m_print(packed: &[u8], n: usize) {
    for _ in 0..n {
        let v = print(black_box(packed));
        black_box(&v);
    }
}

#[inline(never)]
fn m_floor(floor: &[u8], text_len: usize, n: usize) {
    for _ in 0..n {
        let v = floor_print(black_box(floor), text_len);
        black_box(&v);
    }
}

#[inline(never)]
fn m_walk_text(doc: &Document, steps: &[Step], n: usize) {
    for _ in 0..n {
        let found = black_box(doc).find(black_box(steps));
        black_box(found.and_then(|v| v.compact_text()));
    }
}

#[inline(never)]
fn m_walk_packed(packed: &[u8], steps: &[PStep], n: usize) {
    for _ in 0..n {
        black_box(walk(black_box(packed), black_box(steps)));
    }
}

#[inline(never)]
fn m_set_text(text: &str, n: usize) {
    for _ in 0..n {
        black_box(Document::from_json_str(black_box(text)).expect("valid"));
    }
}

#[inline(never)]
fn m_encode(text: &str, n: usize) {
    for _ in 0..n {
        black_box(encode(black_box(text)));
    }
}

// --- main --------------------------------------------------------------------------------------

fn canonical(file: &str) -> String {
    let input = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
    Document::from_json_str(&input)
        .unwrap_or_else(|e| panic!("{file}: {e}"))
        .to_compact_string()
}

fn check_round_trip(text: &str) -> Vec<u8> {
    let packed = encode(text);
    let printed = print(&packed);
    assert!(
        printed == text.as_bytes(),
        "round trip differs:\n  text    {text}\n  printed {}",
        String::from_utf8_lossy(&printed)
    );
    packed
}

const USAGE: &str = "usage: packed_probe sizes FILE... | check FILE... | measure N FILE [PATH]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        // "<file> <text bytes> <packed bytes> <dictionary entries>", each round-tripped first.
        Some("sizes") | Some("check") => {
            for file in &args[1..] {
                let text = canonical(file);
                let packed = check_round_trip(&text);
                let mut pos = 0;
                get_varint(&packed, &mut pos);
                let dict = get_varint(&packed, &mut pos);
                println!(
                    "{file} {} {} {dict} {}",
                    text.len(),
                    packed.len(),
                    count_tokens(&packed)
                );
            }
        }
        // Every measured function runs N times on FILE's canonical text; with PATH (a simple
        // chain) the two walks too, after checking they select the same value.
        Some("measure") if args.len() >= 3 => {
            let n: usize = args[1].parse().expect(USAGE);
            let text = canonical(&args[2]);
            let packed = check_round_trip(&text);
            m_copy(&text, n);
            m_print(&packed, n);
            m_set_text(&text, n);
            m_encode(&text, n);
            let floor = floor_form(text.as_bytes(), count_tokens(&packed));
            assert_eq!(floor_print(&floor, text.len()), text.as_bytes());
            m_floor(&floor, text.len(), n);
            if let Some(path) = args.get(3) {
                let path = Path::parse(path).expect("a valid path");
                let steps = path.as_simple().expect("a simple chain");
                let doc = Document::from_json_str(&text).expect("valid");
                let psteps = packed_steps(steps);
                let expected = doc.find(steps).map(|v| v.to_compact_string());
                let got = walk(&packed, &psteps)
                    .map(|range| String::from_utf8(print_at(&packed, range)).expect("UTF-8"));
                assert_eq!(expected, got, "the walks disagree");
                assert!(expected.is_some(), "the path selects nothing");
                m_walk_text(&doc, steps, n);
                m_walk_packed(&packed, &psteps, n);
            }
            println!("text {} packed {}", text.len(), packed.len());
        }
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Map, Number, Value};

    fn number() -> impl Strategy<Value = Number> {
        prop_oneof![
            (0u64..100).prop_map(Number::from),
            any::<u64>().prop_map(Number::from),
            any::<i64>().prop_map(Number::from),
            Just(Number::from(i64::MIN)),
            Just(Number::from(u64::MAX)),
            any::<f64>().prop_filter_map("finite", Number::from_f64),
            (-1000i32..1000, 0u32..1000).prop_filter_map("finite", |(a, b)| {
                Number::from_f64(f64::from(a) + f64::from(b) / 1000.0)
            }),
        ]
    }

    fn string() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-c]{0,3}",
            ".{0,80}",
            "[\\x00-\\x1f\"\\\\/é€😀a-z]{0,10}",
            "[a-z]{60,200}",
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            number().prop_map(Value::Number),
            string().prop_map(Value::String),
        ];
        leaf.prop_recursive(6, 400, 40, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..40).prop_map(Value::Array),
                prop::collection::vec((string(), inner), 0..40)
                    .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any document's canonical text prints back byte for byte.
        #[test]
        fn round_trip(value in value()) {
            let text = Document::from_json_str(&value.to_string()).expect("valid").to_compact_string();
            let packed = encode(&text);
            prop_assert_eq!(String::from_utf8(print(&packed)).expect("UTF-8"), text);
        }

        /// A walk selects what jsondoc's walk selects, at every member and element of the root
        /// and one level below.
        #[test]
        fn walks_agree(value in value()) {
            let text = Document::from_json_str(&value.to_string()).expect("valid").to_compact_string();
            let doc = Document::from_json_str(&text).expect("valid");
            let packed = encode(&text);
            let mut chains: Vec<Vec<Step>> = vec![vec![]];
            let children = |v: &Value| -> Vec<Step> {
                match v {
                    Value::Object(m) => m.keys().map(|k| Step::Key(k.clone())).collect(),
                    Value::Array(a) => (0..a.len() as i64 + 1).map(Step::Index).collect(),
                    _ => vec![Step::Key("x".into()), Step::Index(0)],
                }
            };
            for first in children(&value) {
                let below = match (&first, &value) {
                    (Step::Key(k), Value::Object(m)) => m.get(k).map(children).unwrap_or_default(),
                    (Step::Index(i), Value::Array(a)) => a.get(*i as usize).map(children).unwrap_or_default(),
                    _ => vec![],
                };
                for second in below {
                    chains.push(vec![first.clone(), second]);
                }
                chains.push(vec![first]);
            }
            for steps in chains {
                let expected = doc.find(&steps).map(|v| v.to_compact_string());
                let got = walk(&packed, &packed_steps(&steps)).map(|range| String::from_utf8(print_at(&packed, range)).expect("UTF-8"));
                prop_assert_eq!(expected, got);
            }
        }
    }

    #[test]
    fn integers_at_the_edges() {
        for text in [
            "0",
            "63",
            "64",
            "-1",
            "-64",
            "18446744073709551615",
            "-9223372036854775808",
            "1.0",
            "-0.0",
            "1e30",
            "[]",
            "{}",
            "\"\"",
            "[[[]]]",
        ] {
            assert_eq!(print(&encode(text)), text.as_bytes());
        }
    }

    #[test]
    fn the_bench_document_round_trips() {
        let text = canonical(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../bench/json-doc.json"
        ));
        check_round_trip(&text);
    }
}
