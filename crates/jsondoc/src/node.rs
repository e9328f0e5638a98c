//! The adaptive tree: canonical text blobs, with big containers expanded one level.

use std::mem::size_of;

use crate::text::{self, Child, PrettyFormat};

/// A container whose canonical text is longer than this is expanded into a node. 4 KiB keeps a
/// typical document (≈1 KB) as one blob, so it costs its text plus one allocation, while any
/// edit that must rewrite a blob copies at most ~4 KiB (a few hundred nanoseconds): edits on
/// big containers touch only the child they change, and appends are `Vec::push`.
pub const EXPAND_BYTES: usize = 4096;

/// An expanded container collapses back into one blob when its children are all blobs, it has
/// at most [`COLLAPSE_MAX_CHILDREN`] of them and their text totals at most this. Half of
/// [`EXPAND_BYTES`], so a container hovering around the threshold does not flip every edit.
pub const COLLAPSE_BYTES: usize = EXPAND_BYTES / 2;

/// Bounds the work of the collapse check so that it stays O(1) per edit on huge containers.
pub const COLLAPSE_MAX_CHILDREN: usize = 64;

#[cfg(test)]
thread_local! {
    /// Bytes of blob text written by edits (tests assert edits on big containers stay O(1)).
    pub(crate) static REWRITTEN_BYTES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

pub(crate) fn count_rewrite(_bytes: usize) {
    #[cfg(test)]
    REWRITTEN_BYTES.with(|counter| counter.set(counter.get() + _bytes as u64));
}

#[derive(Clone, Debug)]
pub(crate) enum Node {
    /// Canonical compact text of any value. `Box<str>`: no spare capacity, one word less.
    Blob(Box<str>),
    /// An expanded array.
    Array(Vec<Node>),
    /// An expanded object: (unescaped key, value) in document order. Lookup is linear; see the
    /// crate docs for why no index yet.
    Object(Vec<(Box<str>, Node)>),
}

impl Node {
    /// A node for canonical `text`, expanded where it is big.
    pub(crate) fn from_canonical(text: String) -> Node {
        // Big containers split straight from the string (no boxed copy of a big text).
        if text.len() > EXPAND_BYTES && matches!(text.as_bytes()[0], b'[' | b'{') {
            return expand(&text);
        }
        Node::Blob(text.into_boxed_str())
    }

    /// Collapse a small expanded container back into a blob (cheap to check: see the constants).
    pub(crate) fn collapse_if_small(&mut self) {
        let total = match self {
            Node::Blob(_) => return,
            Node::Array(items) => {
                if items.len() > COLLAPSE_MAX_CHILDREN {
                    return;
                }
                let mut total = 2 + items.len();
                for item in items.iter() {
                    let Node::Blob(text) = item else { return };
                    total += text.len();
                }
                total
            }
            Node::Object(members) => {
                if members.len() > COLLAPSE_MAX_CHILDREN {
                    return;
                }
                let mut total = 2 + members.len();
                for (key, value) in members.iter() {
                    let Node::Blob(text) = value else { return };
                    total += text.len() + key.len() + 3;
                }
                total
            }
        };
        if total <= COLLAPSE_BYTES {
            let mut out = Vec::with_capacity(total + 16);
            self.write_compact(&mut out);
            count_rewrite(out.len());
            *self = Node::Blob(into_text(out));
        }
    }

    pub(crate) fn write_compact(&self, out: &mut Vec<u8>) {
        match self {
            Node::Blob(text) => out.extend_from_slice(text.as_bytes()),
            Node::Array(items) => {
                out.push(b'[');
                for (position, item) in items.iter().enumerate() {
                    if position > 0 {
                        out.push(b',');
                    }
                    item.write_compact(out);
                }
                out.push(b']');
            }
            Node::Object(members) => {
                out.push(b'{');
                for (position, (key, value)) in members.iter().enumerate() {
                    if position > 0 {
                        out.push(b',');
                    }
                    write_key(key, out);
                    out.push(b':');
                    value.write_compact(out);
                }
                out.push(b'}');
            }
        }
    }

    /// How many containers deep the value nests: 0 for a scalar, 1 for `[1]`, 2 for `[[1]]`.
    /// Scans a blob's text once (brackets outside strings).
    pub(crate) fn depth(&self) -> usize {
        match self {
            Node::Blob(text) => text_depth(text.as_bytes()),
            Node::Array(items) => 1 + items.iter().map(Node::depth).max().unwrap_or(0),
            Node::Object(members) => {
                1 + members
                    .iter()
                    .map(|(_, value)| value.depth())
                    .max()
                    .unwrap_or(0)
            }
        }
    }

    pub(crate) fn compact_string(&self) -> String {
        let mut out = Vec::new();
        self.write_compact(&mut out);
        String::from_utf8(out).expect("canonical text is UTF-8")
    }

    pub(crate) fn write_pretty(&self, format: &PrettyFormat<'_>, depth: usize, out: &mut Vec<u8>) {
        match self {
            Node::Blob(text) => format.write_text(text.as_bytes(), depth, out),
            Node::Array(items) if items.is_empty() => out.extend_from_slice(b"[]"),
            Node::Object(members) if members.is_empty() => out.extend_from_slice(b"{}"),
            Node::Array(items) => {
                out.push(b'[');
                for (position, item) in items.iter().enumerate() {
                    if position > 0 {
                        out.push(b',');
                    }
                    format.break_line(depth + 1, out);
                    item.write_pretty(format, depth + 1, out);
                }
                format.break_line(depth, out);
                out.push(b']');
            }
            Node::Object(members) => {
                out.push(b'{');
                for (position, (key, value)) in members.iter().enumerate() {
                    if position > 0 {
                        out.push(b',');
                    }
                    format.break_line(depth + 1, out);
                    write_key(key, out);
                    out.push(b':');
                    out.extend_from_slice(format.space);
                    value.write_pretty(format, depth + 1, out);
                }
                format.break_line(depth, out);
                out.push(b'}');
            }
        }
    }

    /// Heap bytes owned by this node (not counting the node itself), rounded to allocator
    /// size classes.
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            Node::Blob(text) => allocation_size(text.len()),
            Node::Array(items) => {
                allocation_size(items.capacity() * size_of::<Node>())
                    + items.iter().map(Node::heap_bytes).sum::<usize>()
            }
            Node::Object(members) => {
                allocation_size(members.capacity() * size_of::<(Box<str>, Node)>())
                    + members
                        .iter()
                        .map(|(key, value)| allocation_size(key.len()) + value.heap_bytes())
                        .sum::<usize>()
            }
        }
    }
}

pub(crate) fn write_key(key: &str, out: &mut Vec<u8>) {
    serde_json::to_writer(out, key).expect("writing to a Vec cannot fail");
}

pub(crate) fn into_text(bytes: Vec<u8>) -> Box<str> {
    String::from_utf8(bytes)
        .expect("canonical text is UTF-8")
        .into_boxed_str()
}

/// A container's canonical `text` as nodes: split one level, and each child over
/// [`EXPAND_BYTES`] split in turn straight from this text (a big child is never copied as a
/// blob first, so deep documents are copied once, not once per level).
pub(crate) fn expand(text: &str) -> Node {
    split(text, true)
}

/// Split the container `text` one level into blob children (no further expansion).
pub(crate) fn explode(text: &str) -> Node {
    split(text, false)
}

fn split(text: &str, deep: bool) -> Node {
    let bytes = text.as_bytes();
    if !matches!(bytes[0], b'[' | b'{') {
        return Node::Blob(text.into());
    }
    let child = |range: std::ops::Range<usize>| {
        let child = &text[range];
        if deep && child.len() > EXPAND_BYTES && matches!(child.as_bytes()[0], b'[' | b'{') {
            expand(child)
        } else {
            Node::Blob(child.into())
        }
    };
    let list: Vec<Child> = text::children(bytes, 0..bytes.len());
    match bytes[0] {
        b'[' => Node::Array(list.into_iter().map(|item| child(item.value)).collect()),
        b'{' => Node::Object(
            list.into_iter()
                .map(|member| {
                    let key = member.key.expect("object members have keys");
                    (
                        text::unescape_key(&text[key]).into_boxed_str(),
                        child(member.value),
                    )
                })
                .collect(),
        ),
        _ => Node::Blob(text.into()),
    }
}

/// What jemalloc (Redis's allocator) hands out for a request of `bytes`: 8, then multiples of
/// 16 up to 128, then four classes per power of two.
pub(crate) fn allocation_size(bytes: usize) -> usize {
    match bytes {
        0 => 0,
        1..=8 => 8,
        9..=128 => bytes.div_ceil(16) * 16,
        _ => {
            let power = usize::BITS - 1 - (bytes - 1).leading_zeros();
            let step = 1usize << (power - 2);
            bytes.div_ceil(step) * step
        }
    }
}

/// The container depth of canonical JSON text.
fn text_depth(text: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &byte in text {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}
