//! Encoding version 0: the node tree RedisJSON 1.x wrote (and valkey-json still reads), loaded
//! as JSON text that [`jsondoc::Document::from_saved_json`] then parses like a version-3 value.
//!
//! Each node is an unsigned type code and its payload (FACTS.md §1.1): null `0x01`; string
//! `0x02` + a string; double `0x04` + a double; integer `0x08` + a signed; boolean `0x10` + the
//! string `1` or `0`; object `0x20` + a member count, then per member `0x80`, the name and the
//! value node; array `0x40` + an element count, then the element nodes.

use std::io::Write;

use rm::{Error, RdbReader, Result};

const NULL: u64 = 0x01;
const STRING: u64 = 0x02;
const DOUBLE: u64 = 0x04;
const INTEGER: u64 = 0x08;
const BOOLEAN: u64 = 0x10;
const OBJECT: u64 = 0x20;
const ARRAY: u64 = 0x40;
const MEMBER: u64 = 0x80;

/// Reads one version-0 document into its JSON text. Nesting deeper than `max_depth` containers
/// is refused (the reader recurses once per level). Counts are not trusted for allocation:
/// every element consumes input, so a false count ends in a load error, not a huge buffer.
pub fn load(io: &mut RdbReader<'_>, max_depth: usize) -> Result<Vec<u8>> {
    let mut text = Vec::new();
    node(io, &mut text, max_depth)?;
    Ok(text)
}

fn node(io: &mut RdbReader<'_>, text: &mut Vec<u8>, depth_left: usize) -> Result<()> {
    match io.load_unsigned()? {
        NULL => text.extend_from_slice(b"null"),
        STRING => string(io, text)?,
        DOUBLE => {
            let number = io.load_double()?;
            if !number.is_finite() {
                return Err(Error::err(format!(
                    "version 0 payload holds the number {number}, which JSON cannot express"
                )));
            }
            // `{:?}` prints the shortest text that reads back as the same double.
            write!(text, "{number:?}").expect("writing to a Vec");
        }
        INTEGER => write!(text, "{}", io.load_signed()?).expect("writing to a Vec"),
        BOOLEAN => match &*io.load_buffer()? {
            b"1" => text.extend_from_slice(b"true"),
            b"0" => text.extend_from_slice(b"false"),
            other => {
                return Err(Error::err(format!(
                    "version 0 payload holds a boolean spelled {:?}",
                    String::from_utf8_lossy(other)
                )));
            }
        },
        code @ (OBJECT | ARRAY) => {
            let depth_left = depth_left.checked_sub(1).ok_or_else(|| {
                Error::err("version 0 payload nests containers deeper than this module loads")
            })?;
            let count = io.load_unsigned()?;
            text.push(if code == OBJECT { b'{' } else { b'[' });
            for index in 0..count {
                if index > 0 {
                    text.push(b',');
                }
                if code == OBJECT {
                    let marker = io.load_unsigned()?;
                    if marker != MEMBER {
                        return Err(Error::err(format!(
                            "version 0 payload has type code {marker:#x} where an object \
                             member (0x80) belongs"
                        )));
                    }
                    string(io, text)?;
                    text.push(b':');
                }
                node(io, text, depth_left)?;
            }
            text.push(if code == OBJECT { b'}' } else { b']' });
        }
        other => {
            return Err(Error::err(format!(
                "version 0 payload has an unknown type code {other:#x}"
            )));
        }
    }
    Ok(())
}

/// A saved string as a JSON string literal; it must be UTF-8, as JSON text is.
fn string(io: &mut RdbReader<'_>, text: &mut Vec<u8>) -> Result<()> {
    let buffer = io.load_buffer()?;
    let value = std::str::from_utf8(&buffer)?;
    serde_json::to_writer(&mut *text, value).expect("writing to a Vec");
    Ok(())
}
