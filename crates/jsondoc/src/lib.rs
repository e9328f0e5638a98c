#![forbid(unsafe_code)]
//! DOCS_PLACEHOLDER

mod document;
mod error;
mod location;
mod node;
mod text;
mod value;

pub use document::{Document, MAX_TRUSTED_DEPTH, NumOp, apply_num_op, merge_patch};
pub use error::JsonError;
pub use location::{Location, Segment};
pub use node::{COLLAPSE_BYTES, COLLAPSE_MAX_CHILDREN, EXPAND_BYTES};
pub use text::{PrettyFormat, format_number};
pub use value::{JsonType, ValueRef};

#[cfg(test)]
mod tests;
