//! JSON documents for the json module: values, paths and edits.
#![forbid(unsafe_code)]
pub mod location;
pub mod path;
pub use location::{Location, Segment};
