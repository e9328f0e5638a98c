//! Bounds on a path text, checked in one pass before any parser sees it.
//!
//! The RFC 9535 parser (`serde_json_path`) recurses once per nested bracket or parenthesis and
//! backtracks over alternatives at each level: a few kilobytes of `[?($` overflow the server's
//! stack, and twenty of them take seconds. Real queries nest a few levels (a filter inside a
//! filter is already rare), so a small limit costs them nothing and bounds both the parser's
//! recursion and its backtracking; the length limit bounds everything else it does.

use super::PathError;

/// The deepest nesting of brackets and parentheses (outside string literals) a path may have:
/// `$.a[?(@.b[?(@.c > 1)])]` is 4 deep.
pub const MAX_NESTING: usize = 8;

/// The longest path text accepted, in bytes.
pub const MAX_LENGTH: usize = 32 * 1024;

/// Refuses a text nested deeper than [`MAX_NESTING`] or longer than [`MAX_LENGTH`], naming the
/// limit and pointing at where it was crossed.
pub(crate) fn check(text: &str) -> Result<(), PathError> {
    if text.len() > MAX_LENGTH {
        return Err(PathError::new(
            text,
            MAX_LENGTH,
            &format!("the path is longer than {MAX_LENGTH} bytes"),
        ));
    }
    let mut depth = 0usize;
    for (at, byte) in outside_strings(text.as_bytes()) {
        match byte {
            b'[' | b'(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(PathError::new(
                        text,
                        at,
                        &format!(
                            "the path nests brackets and parentheses deeper than {MAX_NESTING} \
                             levels"
                        ),
                    ));
                }
            }
            b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// The bytes of a path text outside its string literals (`'…'`, `"…"`, with `\` escapes),
/// with their offsets; the quotes themselves are left out too.
pub(crate) fn outside_strings(text: &[u8]) -> impl Iterator<Item = (usize, u8)> + '_ {
    let mut quote: Option<u8> = None;
    let mut escaped = false;
    text.iter().enumerate().filter_map(move |(at, &byte)| {
        if let Some(open) = quote {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                _ if byte == open => quote = None,
                _ => {}
            }
            return None;
        }
        if matches!(byte, b'\'' | b'"') {
            quote = Some(byte);
            return None;
        }
        Some((at, byte))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_counted_outside_strings_only() {
        assert!(check("$.a[?(@.b[?(@.c > 1)])]").is_ok());
        let eight = format!("$.{}{}", "[?(".repeat(4), ")]".repeat(4));
        assert!(check(&eight).is_ok());
        let nine = format!("$.x{}", "[(".repeat(4) + "[");
        let error = check(&nine).unwrap_err();
        assert_eq!(error.position(), nine.len() - 1);
        assert!(error.reason().contains("deeper than 8 levels"), "{error}");
        // Brackets in string literals, escaped quotes included, do not count.
        let quoted = format!("$['{}\\'{}']", "[".repeat(50), "(".repeat(50));
        assert!(check(&quoted).is_ok());
        assert!(check(&format!("$[\"{}\"]", "[(".repeat(40))).is_ok());
    }

    #[test]
    fn length_is_bounded() {
        assert!(check(&format!("$.{}", "a".repeat(MAX_LENGTH - 2))).is_ok());
        let error = check(&format!("$.{}", "a".repeat(MAX_LENGTH))).unwrap_err();
        assert!(
            error.reason().contains("longer than 32768 bytes"),
            "{error}"
        );
    }
}
