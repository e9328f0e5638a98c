//! Normalized locations: the concrete key/index chain that the path engine resolves a path to.

/// One step of a normalized path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Segment {
    /// An object member, by its (unescaped) name.
    Key(String),
    /// An array element, by its zero-based position.
    Index(usize),
}

/// A normalized path from the document root; empty means the root itself.
pub type Location = Vec<Segment>;
