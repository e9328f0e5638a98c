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

/// A simple chain's match as a walk found it ([`crate::Document::spot`]), so that one edit can
/// apply there without walking the document again: the chain, and where the match starts in
/// the blob the walk ended in (`None` when it ended on an expanded node, which the edit reaches
/// again through the nodes: no text to skip). Valid only for the document it was found in,
/// unchanged since.
#[derive(Clone, Copy, Debug)]
pub struct Spot<'p> {
    pub(crate) steps: &'p [crate::path::Step],
    pub(crate) start: Option<usize>,
}

/// Where an edit applies: a normalized location, or a [`Spot`] a walk found.
#[derive(Clone, Copy, Debug)]
pub enum At<'a> {
    /// A location, as the path engine reports it.
    Location(&'a [Segment]),
    /// A simple chain's match (no location built, no second walk).
    Spot(Spot<'a>),
}

impl At<'_> {
    /// How many containers deep the target is.
    pub(crate) fn depth(&self) -> usize {
        match self {
            At::Location(location) => location.len(),
            At::Spot(spot) => spot.steps.len(),
        }
    }
}

impl<'a> From<&'a [Segment]> for At<'a> {
    fn from(location: &'a [Segment]) -> Self {
        At::Location(location)
    }
}

impl<'a> From<&'a Location> for At<'a> {
    fn from(location: &'a Location) -> Self {
        At::Location(location)
    }
}

impl<'a, const N: usize> From<&'a [Segment; N]> for At<'a> {
    fn from(location: &'a [Segment; N]) -> Self {
        At::Location(location)
    }
}

impl<'a> From<Spot<'a>> for At<'a> {
    fn from(spot: Spot<'a>) -> Self {
        At::Spot(spot)
    }
}
