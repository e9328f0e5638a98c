//! Normalized paths: the concrete member names and indices that lead to one value.
/// One step of a normalized path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// An object member.
    Key(String),
    /// An array element.
    Index(usize),
}
/// A normalized path (RFC 9535 §2.7): the steps from the root to one value.
pub type Location = Vec<Segment>;
