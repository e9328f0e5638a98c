//! RedisJSON's regex comparison `LEFT =~ RIGHT` in filters, rewritten as RFC 9535's `search(LEFT, RIGHT)`.
//!
//! RedisJSON documents and accepts `[?(@.name =~ "(?i)wire")]`; RFC 9535 has no such operator but its
//! `search()` function (§2.4.7) has the same meaning: true when the regex matches somewhere in a string
//! operand, false for non-strings and for an invalid regex (RedisJSON: "matches nothing"). Clients written
//! for RedisJSON keep working, and the result is then checked by the RFC 9535 parser like any other query.

use super::mapped_text::MappedText;

/// Characters after which (ignoring blanks) a new operand can start inside a filter.
const OPERAND_OPENERS: &str = "(?&|!,=<>~";

/// `text` with every `=~` outside string literals replaced by a `search()` call, or `None` if it has none.
pub(crate) fn rewrite(text: &str) -> Option<MappedText> {
    if !text.contains("=~") {
        return None;
    }
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = MappedText::default();
    // Where in `out` the operand being written began: the left operand of a `=~` found next.
    let mut operand_start_in_out: Option<usize> = None;
    let mut previous_significant: Option<char> = None;
    let mut rewrote = false;
    let mut i = 0;
    while i < chars.len() {
        let (offset, c) = chars[i];
        let starts_operand = matches!(c, '@' | '$' | '\'' | '"')
            && previous_significant.is_some_and(|p| OPERAND_OPENERS.contains(p));
        if starts_operand {
            operand_start_in_out = Some(out.text.len());
        }
        if c == '=' && chars.get(i + 1).map(|&(_, c)| c) == Some('~') {
            let (Some(left_start), Some(right_end)) = (
                operand_start_in_out,
                operand_end(&chars, skip_blanks(&chars, i + 2)),
            ) else {
                // Not an operator we understand: leave it for the RFC parser to reject.
                out.push_char(c, offset);
                i += 1;
                continue;
            };
            let right_start = skip_blanks(&chars, i + 2);
            let left: String = out.text[left_start..].trim_end().to_owned();
            // Re-emit the left operand inside `search(`, keeping its source offsets roughly right.
            let left_offset = out.source_offset(left_start);
            out.truncate(left_start);
            out.push_str("search(", left_offset);
            out.push_str(&left, left_offset);
            out.push_str(", ", offset);
            for &(offset, c) in &chars[right_start..right_end] {
                out.push_char(c, offset);
            }
            out.push_str(")", chars.get(right_end).map_or(text.len(), |&(o, _)| o));
            previous_significant = Some(')');
            operand_start_in_out = None;
            rewrote = true;
            i = right_end;
            continue;
        }
        if c == '\'' || c == '"' {
            let end = string_end(&chars, i);
            for &(offset, c) in &chars[i..end] {
                out.push_char(c, offset);
            }
            previous_significant = Some(c);
            i = end;
            continue;
        }
        out.push_char(c, offset);
        if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            previous_significant = Some(c);
        }
        i += 1;
    }
    rewrote.then(|| out.finish(text.len()))
}

fn skip_blanks(chars: &[(usize, char)], mut i: usize) -> usize {
    while chars
        .get(i)
        .is_some_and(|&(_, c)| matches!(c, ' ' | '\t' | '\n' | '\r'))
    {
        i += 1;
    }
    i
}

/// The index after the string literal that starts at `start` (or the end of the text if it is unclosed).
fn string_end(chars: &[(usize, char)], start: usize) -> usize {
    let quote = chars[start].1;
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i].1 {
            '\\' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    chars.len()
}

/// The index after the right operand of `=~` starting at `start`: a string literal or a singular query
/// (`@`/`$` followed by `.name` and bracketed selectors). `None` if there is no operand there.
fn operand_end(chars: &[(usize, char)], start: usize) -> Option<usize> {
    match chars.get(start)?.1 {
        '\'' | '"' => Some(string_end(chars, start)),
        '@' | '$' => {
            let mut i = start + 1;
            loop {
                match chars.get(i).map(|&(_, c)| c) {
                    Some('.') => {
                        i += 1;
                        while chars
                            .get(i)
                            .is_some_and(|&(_, c)| c.is_alphanumeric() || c == '_' || !c.is_ascii())
                        {
                            i += 1;
                        }
                    }
                    Some('[') => {
                        i += 1;
                        while let Some(&(_, c)) = chars.get(i) {
                            match c {
                                '\'' | '"' => i = string_end(chars, i),
                                ']' => {
                                    i += 1;
                                    break;
                                }
                                _ => i += 1,
                            }
                        }
                    }
                    _ => return Some(i),
                }
            }
        }
        _ => None,
    }
}
