//! Skipping a container of canonical text 16 bytes at a time (SSE2, x86-64's baseline).
//!
//! A path read skips whole containers on its way (`tags`, `address`, `friends[0]` before
//! `friends[1]`): short strings, separators and a few brackets. A byte-at-a-time scan costs
//! ≈6 instructions a byte there. Here each 16-byte block gives three masks (quotes, brackets,
//! backslashes); the quotes' prefix XOR marks the bytes inside strings, so only the brackets
//! outside them are looked at, one by one (they are few). A block holding a backslash, and
//! the last bytes of the text, go byte by byte (escapes are rare in keys and short values).
//! The intrinsics come through `safe_arch`, which exposes them as safe functions where the
//! target has the feature (this crate forbids `unsafe`).

use safe_arch::{bitor_m128i, cmp_eq_mask_i8_m128i, m128i, move_mask_i8_m128i, set_splat_i8_m128i};

/// The bytes a block covers.
pub(crate) const BLOCK: usize = 16;

/// End (exclusive) of the container starting at `start` (`text[start]` is `[` or `{`).
pub(crate) fn skip_container(text: &[u8], start: usize) -> usize {
    let quote = set_splat_i8_m128i(b'"' as i8);
    let backslash = set_splat_i8_m128i(b'\\' as i8);
    // `[`/`{` and `]`/`}` differ only in the 0x20 bit: with it set, one compare finds each pair.
    let case = set_splat_i8_m128i(0x20);
    let open = set_splat_i8_m128i(b'{' as i8);
    let close = set_splat_i8_m128i(b'}' as i8);
    let mut depth = 0usize;
    // All ones when the block starts inside a string (a block's bit i is its byte i).
    let mut inside = 0u32;
    let mut i = start;
    while let Some(chunk) = text.get(i..i + BLOCK) {
        let block = m128i::from(<[u8; BLOCK]>::try_from(chunk).expect("16 bytes"));
        if move_mask_i8_m128i(cmp_eq_mask_i8_m128i(block, backslash)) != 0 {
            let mut in_string = inside != 0;
            let limit = i + BLOCK;
            if let Some(end) = bytewise(text, &mut i, limit, &mut in_string, &mut depth) {
                return end;
            }
            inside = if in_string { u32::MAX } else { 0 };
            continue;
        }
        let quotes = move_mask_i8_m128i(cmp_eq_mask_i8_m128i(block, quote)) as u32;
        // Prefix XOR: bit i is set when an odd number of quotes is at or before byte i, i.e.
        // byte i is an opening quote or inside a string (a closing quote's bit is clear).
        let mut strings = quotes ^ (quotes << 1);
        strings ^= strings << 2;
        strings ^= strings << 4;
        strings ^= strings << 8;
        strings ^= inside;
        let folded = bitor_m128i(block, case);
        let opens = move_mask_i8_m128i(cmp_eq_mask_i8_m128i(folded, open)) as u32 & !strings;
        let closes = move_mask_i8_m128i(cmp_eq_mask_i8_m128i(folded, close)) as u32 & !strings;
        let mut brackets = opens | closes;
        while brackets != 0 {
            let bit = brackets & brackets.wrapping_neg();
            if opens & bit != 0 {
                depth += 1;
            } else {
                depth -= 1;
                if depth == 0 {
                    return i + bit.trailing_zeros() as usize + 1;
                }
            }
            brackets ^= bit;
        }
        // Whether the block's last byte is inside a string (bit 15), as all ones or zero.
        inside = 0u32.wrapping_sub((strings >> (BLOCK - 1)) & 1);
        i += BLOCK;
    }
    let mut in_string = inside != 0;
    bytewise(text, &mut i, text.len(), &mut in_string, &mut depth)
        .expect("canonical text closes every container")
}

/// The scan one byte at a time from `*i` until `limit` (a backslash skips the byte after it,
/// so `*i` may end one past `limit`): the container's end if found there, else `None` with
/// the state (`in_string`, `depth`) where it stopped.
fn bytewise(
    text: &[u8],
    i: &mut usize,
    limit: usize,
    in_string: &mut bool,
    depth: &mut usize,
) -> Option<usize> {
    while *i < limit {
        let byte = text[*i];
        *i += 1;
        if *in_string {
            match byte {
                b'\\' => *i += 1,
                b'"' => *in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => *in_string = true,
            b'[' | b'{' => *depth += 1,
            b']' | b'}' => {
                *depth -= 1;
                if *depth == 0 {
                    return Some(*i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Where the first `"` or `\` is in the 16 bytes at `text[i..]` (an offset, [`BLOCK`] if
/// neither is there), or `None` when fewer than 16 bytes are left. A string scan's step: most
/// keys and short values end within one block.
#[inline(always)]
pub(crate) fn string_stop(text: &[u8], i: usize) -> Option<usize> {
    let chunk = text.get(i..i + BLOCK)?;
    let block = m128i::from(<[u8; BLOCK]>::try_from(chunk).expect("16 bytes"));
    let stops = cmp_eq_mask_i8_m128i(block, set_splat_i8_m128i(b'"' as i8));
    let stops = bitor_m128i(
        stops,
        cmp_eq_mask_i8_m128i(block, set_splat_i8_m128i(b'\\' as i8)),
    );
    // A bit above the block's 16 so that an empty mask gives BLOCK.
    Some(((move_mask_i8_m128i(stops) as u32) | (1 << BLOCK)).trailing_zeros() as usize)
}

/// Where the first `,`, `]` or `}` is in the 16 bytes at `text[i..]` (an offset, [`BLOCK`] if
/// none is there), or `None` when fewer than 16 bytes are left: the end of a number in
/// canonical text (no blanks), found in one step.
#[inline(always)]
pub(crate) fn separator_stop(text: &[u8], i: usize) -> Option<usize> {
    let chunk = text.get(i..i + BLOCK)?;
    let block = m128i::from(<[u8; BLOCK]>::try_from(chunk).expect("16 bytes"));
    // `]` and `}` differ only in the 0x20 bit.
    let closes = cmp_eq_mask_i8_m128i(
        bitor_m128i(block, set_splat_i8_m128i(0x20)),
        set_splat_i8_m128i(b'}' as i8),
    );
    let stops = bitor_m128i(
        closes,
        cmp_eq_mask_i8_m128i(block, set_splat_i8_m128i(b',' as i8)),
    );
    Some(((move_mask_i8_m128i(stops) as u32) | (1 << BLOCK)).trailing_zeros() as usize)
}
