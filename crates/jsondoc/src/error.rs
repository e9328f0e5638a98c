//! Errors of document operations.
//!
//! `Display` gives the exact error text RedisJSON 2.8 sends on the wire *including* its `ERR `
//! prefix where RedisJSON has one (FACTS.md §3.0 error catalogue), so the module can reply with
//! `to_string()` verbatim. Parse errors carry serde_json's message without `ERR`, as RedisJSON
//! replies to a bad JSON.SET value. Errors that depend on the path text the user typed
//! (`NoSuchPath`, `WrongType`) are only markers: the module words them, since only it knows the
//! path text and the command.

use std::fmt;

use crate::JsonType;

/// Why an operation was refused. An operation that returns an error has changed nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JsonError {
    /// Input is not one strict JSON value (serde_json's message, e.g.
    /// `trailing characters at line 1 column 3`, `recursion limit exceeded at line 1 column 128`).
    Parse(String),
    /// The location (or, for inserts, its parent) does not exist.
    NoSuchPath,
    /// The value at the location has the wrong type for the operation.
    WrongType {
        /// The type the operation needs.
        expected: JsonType,
        /// The type found.
        found: JsonType,
    },
    /// Integer arithmetic overflowed i64 (RedisJSON wraps around; we refuse, like INCRBY).
    Overflow,
    /// A float result was NaN or infinite.
    NotANumber,
    /// JSON.SET / MERGE at an array index past the end.
    ArrayIndexOutOfRange,
    /// JSON.ARRINSERT index outside `[-len, len]`.
    IndexOutOfBounds,
    /// Deleting the root: the caller deletes the key instead.
    RootDelete,
    /// The edit would nest the document deeper than [`crate::MAX_DEPTH`] containers, which
    /// every document must stay within so that it always loads back from an RDB file.
    TooDeep,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::Parse(message) => f.write_str(message),
            JsonError::NoSuchPath => f.write_str("ERR path does not exist"),
            JsonError::WrongType { expected, found } => write!(
                f,
                "WRONGTYPE wrong type of path value - expected {} but found {}",
                expected.name(),
                found.name()
            ),
            JsonError::Overflow => f.write_str("ERR increment or decrement would overflow"),
            JsonError::NotANumber => f.write_str("ERR result is not a number"),
            JsonError::ArrayIndexOutOfRange => f.write_str("ERR array index out of range"),
            JsonError::IndexOutOfBounds => f.write_str("ERR index out of bounds"),
            JsonError::RootDelete => f.write_str("ERR cannot delete the root of a document"),
            JsonError::TooDeep => write!(
                f,
                "ERR the document would be nested deeper than {} levels",
                crate::MAX_DEPTH
            ),
        }
    }
}

impl std::error::Error for JsonError {}

impl From<serde_json::Error> for JsonError {
    fn from(error: serde_json::Error) -> Self {
        JsonError::Parse(error.to_string())
    }
}
