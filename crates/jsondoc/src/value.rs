//! Read access to a value inside a document without materialising it.

use serde::Deserialize;
use serde_json::{Number, Value};

use crate::Segment;
use crate::node::Node;
use crate::text::{self, PrettyFormat};

/// A JSON type as RedisJSON's JSON.TYPE names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JsonType {
    /// `null`
    Null,
    /// `true` / `false`
    Boolean,
    /// A number written without fraction or exponent (i64 or u64).
    Integer,
    /// A number with a fraction or exponent (f64).
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl JsonType {
    /// The name JSON.TYPE replies with.
    pub fn name(self) -> &'static str {
        match self {
            JsonType::Null => "null",
            JsonType::Boolean => "boolean",
            JsonType::Integer => "integer",
            JsonType::Number => "number",
            JsonType::String => "string",
            JsonType::Array => "array",
            JsonType::Object => "object",
        }
    }

    /// Is this `integer` or `number`?
    pub fn is_numeric(self) -> bool {
        matches!(self, JsonType::Integer | JsonType::Number)
    }
}

/// The type of the canonical text of one value.
pub(crate) fn text_type(text: &str) -> JsonType {
    match text.as_bytes()[0] {
        b'{' => JsonType::Object,
        b'[' => JsonType::Array,
        b'"' => JsonType::String,
        b't' | b'f' => JsonType::Boolean,
        b'n' => JsonType::Null,
        // serde_json always prints an f64 with a `.` or an exponent (`1.0`, `1e30`).
        _ if text.bytes().any(|byte| matches!(byte, b'.' | b'e' | b'E')) => JsonType::Number,
        _ => JsonType::Integer,
    }
}

/// Parse canonical text we produced ourselves (it may be nested deeper than the input limit).
pub(crate) fn parse_trusted(text: &str) -> Value {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    deserializer.disable_recursion_limit();
    Value::deserialize(&mut deserializer).expect("canonical text is valid JSON")
}

/// Byte length of the decoded canonical string `quoted` (JSON.STRLEN counts UTF-8 bytes).
pub(crate) fn string_len(quoted: &str) -> usize {
    if quoted.contains('\\') {
        text::unescape_key(quoted).len()
    } else {
        quoted.len() - 2
    }
}

/// A borrowed value inside a [`crate::Document`].
#[derive(Clone, Copy, Debug)]
pub struct ValueRef<'a>(Inner<'a>);

#[derive(Clone, Copy, Debug)]
enum Inner<'a> {
    /// Canonical text of the value (part of a blob).
    Text(&'a str),
    /// An expanded container.
    Node(&'a Node),
}

impl<'a> ValueRef<'a> {
    pub(crate) fn of_node(node: &'a Node) -> Self {
        match node {
            Node::Blob(text) => ValueRef(Inner::Text(text)),
            _ => ValueRef(Inner::Node(node)),
        }
    }

    pub(crate) fn of_text(text: &'a str) -> Self {
        ValueRef(Inner::Text(text))
    }

    /// The JSON type.
    pub fn json_type(&self) -> JsonType {
        match self.0 {
            Inner::Text(text) => text_type(text),
            Inner::Node(Node::Object(_)) => JsonType::Object,
            Inner::Node(_) => JsonType::Array,
        }
    }

    /// Append the compact JSON (what JSON.GET prints) to `out`.
    pub fn write_compact(&self, out: &mut Vec<u8>) {
        match self.0 {
            Inner::Text(text) => out.extend_from_slice(text.as_bytes()),
            Inner::Node(node) => node.write_compact(out),
        }
    }

    /// The compact JSON in place, when the value is stored as text (every value inside a blob):
    /// a read replies it without a copy. `None` for an expanded container.
    pub fn compact_text(&self) -> Option<&'a str> {
        match self.0 {
            Inner::Text(text) => Some(text),
            Inner::Node(_) => None,
        }
    }

    /// The length of the compact JSON if it is stored as text (an expanded container: 0), to
    /// reserve an output buffer.
    pub fn compact_len_hint(&self) -> usize {
        match self.0 {
            Inner::Text(text) => text.len(),
            Inner::Node(_) => 0,
        }
    }

    /// The compact JSON as a string.
    pub fn to_compact_string(&self) -> String {
        match self.0 {
            Inner::Text(text) => text.to_owned(),
            Inner::Node(node) => node.compact_string(),
        }
    }

    /// Append the value formatted with JSON.GET's INDENT/NEWLINE/SPACE.
    pub fn write_pretty(&self, format: &PrettyFormat<'_>, out: &mut Vec<u8>) {
        match self.0 {
            Inner::Text(text) => format.write_text(text.as_bytes(), 0, out),
            Inner::Node(node) => node.write_pretty(format, 0, out),
        }
    }

    /// The decoded string, if this is a string.
    pub fn as_string(&self) -> Option<String> {
        match self.0 {
            Inner::Text(text) if text.starts_with('"') => Some(text::unescape_key(text)),
            _ => None,
        }
    }

    /// Byte length of the decoded string, if this is a string.
    pub fn str_len(&self) -> Option<usize> {
        match self.0 {
            Inner::Text(text) if text.starts_with('"') => Some(string_len(text)),
            _ => None,
        }
    }

    /// The number, if this is a number.
    pub fn number(&self) -> Option<Number> {
        match self.0 {
            Inner::Text(text) if text_type(text).is_numeric() => serde_json::from_str(text).ok(),
            _ => None,
        }
    }

    /// The boolean, if this is a boolean.
    pub fn boolean(&self) -> Option<bool> {
        match self.0 {
            Inner::Text("true") => Some(true),
            Inner::Text("false") => Some(false),
            _ => None,
        }
    }

    /// Is this `null`?
    pub fn is_null(&self) -> bool {
        matches!(self.0, Inner::Text("null"))
    }

    /// The elements, if this is an array.
    pub fn elements(&self) -> Option<Vec<ValueRef<'a>>> {
        match self.0 {
            Inner::Text(text) if text.starts_with('[') => Some(
                text::children(text.as_bytes(), 0..text.len())
                    .into_iter()
                    .map(|child| ValueRef::of_text(&text[child.value]))
                    .collect(),
            ),
            Inner::Node(Node::Array(items)) => Some(items.iter().map(ValueRef::of_node).collect()),
            _ => None,
        }
    }

    /// The members in document order, if this is an object.
    pub fn members(&self) -> Option<Vec<(String, ValueRef<'a>)>> {
        match self.0 {
            Inner::Text(text) if text.starts_with('{') => Some(
                text::children(text.as_bytes(), 0..text.len())
                    .into_iter()
                    .map(|child| {
                        let key = child.key.expect("object members have keys");
                        (
                            text::unescape_key(&text[key]),
                            ValueRef::of_text(&text[child.value]),
                        )
                    })
                    .collect(),
            ),
            Inner::Node(Node::Object(members)) => Some(
                members
                    .iter()
                    .map(|(key, value)| (key.to_string(), ValueRef::of_node(value)))
                    .collect(),
            ),
            _ => None,
        }
    }

    /// Number of elements, if this is an array.
    pub fn array_len(&self) -> Option<usize> {
        match self.0 {
            Inner::Text(text) if text.starts_with('[') => {
                Some(text::children(text.as_bytes(), 0..text.len()).len())
            }
            Inner::Node(Node::Array(items)) => Some(items.len()),
            _ => None,
        }
    }

    /// Number of members, if this is an object.
    pub fn object_len(&self) -> Option<usize> {
        match self.0 {
            Inner::Text(text) if text.starts_with('{') => {
                Some(text::children(text.as_bytes(), 0..text.len()).len())
            }
            Inner::Node(Node::Object(members)) => Some(members.len()),
            _ => None,
        }
    }

    /// The keys in document order, if this is an object.
    pub fn object_keys(&self) -> Option<Vec<String>> {
        self.members()
            .map(|members| members.into_iter().map(|(key, _)| key).collect())
    }

    /// One child: an object member or an array element.
    pub fn child(&self, segment: &Segment) -> Option<ValueRef<'a>> {
        match (self.0, segment) {
            (Inner::Text(text), Segment::Key(key)) => text::find_member(text, 0..text.len(), key)
                .map(|range| ValueRef::of_text(&text[range])),
            (Inner::Text(text), Segment::Index(index)) => {
                text::find_element(text.as_bytes(), 0..text.len(), *index)
                    .map(|range| ValueRef::of_text(&text[range]))
            }
            (Inner::Node(Node::Array(items)), Segment::Index(index)) => {
                items.get(*index).map(ValueRef::of_node)
            }
            (Inner::Node(Node::Object(members)), Segment::Key(key)) => members
                .iter()
                .find(|(name, _)| **name == **key)
                .map(|(_, value)| ValueRef::of_node(value)),
            _ => None,
        }
    }

    /// Materialise as a `serde_json::Value` (objects keep document order).
    pub fn to_value(&self) -> Value {
        match self.0 {
            Inner::Text(text) => parse_trusted(text),
            Inner::Node(Node::Array(items)) => Value::Array(
                items
                    .iter()
                    .map(|item| ValueRef::of_node(item).to_value())
                    .collect(),
            ),
            Inner::Node(Node::Object(members)) => Value::Object(
                members
                    .iter()
                    .map(|(key, value)| (key.to_string(), ValueRef::of_node(value).to_value()))
                    .collect(),
            ),
            Inner::Node(Node::Blob(text)) => parse_trusted(text),
        }
    }

    /// Bytes this value occupies: its text length inside a blob, or its node and everything it
    /// owns (for JSON.DEBUG MEMORY on a path).
    pub fn memory_usage(&self) -> usize {
        match self.0 {
            Inner::Text(text) => text.len(),
            Inner::Node(node) => std::mem::size_of::<Node>() + node.heap_bytes(),
        }
    }

    /// JSON equality as ARRINDEX uses it: by value, type-strict for numbers (2 ≠ 2.0). Canonical
    /// text makes this a byte comparison.
    pub fn json_eq(&self, other: &ValueRef<'_>) -> bool {
        let (a, b) = (self.to_compact_string(), other.to_compact_string());
        if a.contains('{') || b.contains('{') {
            // Objects are equal whatever their member order: compare as values (serde_json's
            // order-insensitive map equality; its numbers stay type-strict).
            self.to_value() == other.to_value()
        } else {
            a == b
        }
    }
}
