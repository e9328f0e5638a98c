//! Reading arguments (UTF-8, paths, JSON values, integers, keywords) and the error replies
//! they give.

use crate::config::dialect;
use jsondoc::path::Path;
use jsondoc::{Document, JsonError};
use rm::{Error, RStr, Result};
use std::rc::Rc;

// Every error reply starts with a code (`ERR`, `WRONGTYPE`). RedisJSON sends several of its
// messages bare — serde's parse errors, path syntax errors, `Couldn't parse as …`,
// `bad input number` — which clients read as an error whose code is the message's first word
// ("trailing", "Error"); we send the same message text after `ERR `.

pub(crate) fn utf8(arg: &RStr) -> Result<&str> {
    std::str::from_utf8(arg.as_bytes()).map_err(|_| Error::err("Couldn't parse as UTF-8 string"))
}

pub(crate) fn path_error(error: impl std::fmt::Display) -> Error {
    Error::err(error.to_string())
}

/// A path evaluation over its budget (`json.path-budget`, `json.path-max-bytes`).
pub(crate) fn budget_error(error: jsondoc::path::BudgetExceeded) -> Error {
    Error::err(error.to_string())
}

pub(crate) fn parse_path(arg: &RStr) -> Result<Path> {
    Path::parse_in(utf8(arg)?, dialect()).map_err(path_error)
}

/// [`parse_path`] through the cache of recent paths (the hot commands' path argument).
pub(crate) fn parse_path_cached(arg: &RStr) -> Result<Rc<Path>> {
    crate::path_cache::cached(arg.as_bytes(), dialect(), || parse_path(arg))
}

/// The default path of the commands whose path is optional (legacy `.`, also under RESP3).
pub(crate) fn legacy_root() -> Result<Path> {
    Path::parse(".").map_err(path_error)
}

pub(crate) fn parse_value(arg: &RStr) -> Result<Document> {
    Document::from_json_str(utf8(arg)?).map_err(json_error)
}

/// A document error as a reply: parse errors (serde's bare text) behind `ERR `; the others'
/// texts already start with their code.
pub(crate) fn json_error(error: JsonError) -> Error {
    match error {
        JsonError::Parse(message) => Error::err(message),
        other => Error::Coded(other.to_string().into()),
    }
}

pub(crate) fn is(arg: &RStr, word: &str) -> bool {
    arg.as_bytes().eq_ignore_ascii_case(word.as_bytes())
}

pub(crate) fn integer(arg: &RStr) -> Result<i64> {
    utf8(arg)?
        .parse()
        .map_err(|_| Error::err("Couldn't parse as integer"))
}
