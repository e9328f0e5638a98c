//! `Document`: construction, output, lookup and the edits.

use std::ops::Range;

use serde_json::{Number, Value};

use crate::node::{Node, allocation_size, count_rewrite, explode, write_key};
use crate::path::Step;
use crate::text::{self, PrettyFormat};
use crate::value::{JsonType, ValueRef, string_len, text_type};
use crate::{At, JsonError, Location, Segment, Spot};

/// Nesting accepted when loading saved (RDB) text: RedisJSON loads documents deeper than its
/// input limit (FACTS.md §1.3), but unbounded recursion could overflow the stack.
pub const MAX_TRUSTED_DEPTH: usize = 512;

/// The deepest nesting (in containers) an edit may give a document. RedisJSON caps only each
/// input value (127 levels) and lets path SETs nest documents without end; we allow what its
/// own tests build (three 127-level values stacked, 381) and more, but no deeper than a saved
/// document may be, so every document that can be built is saved and loaded back.
pub const MAX_DEPTH: usize = MAX_TRUSTED_DEPTH;

/// `Err(TooDeep)` if `values` placed `below` containers deep would exceed [`MAX_DEPTH`].
fn check_depth<'v>(
    below: usize,
    values: impl IntoIterator<Item = &'v Document>,
) -> Result<(), JsonError> {
    let deepest = values
        .into_iter()
        .map(|value| value.root.depth())
        .max()
        .unwrap_or(0);
    if below + deepest > MAX_DEPTH {
        Err(JsonError::TooDeep)
    } else {
        Ok(())
    }
}

/// A JSON document. See the crate documentation for the representation.
#[derive(Clone, Debug)]
pub struct Document {
    root: Node,
}

/// Where an edit lands: an expanded container, or a range of a blob's text.
enum Target<'a> {
    Node(&'a mut Node),
    Text(&'a mut Node, Range<usize>),
}

/// Where a walk ended: an expanded node, or the start of a value in a blob's text.
enum Walked<'a> {
    Node(&'a Node),
    Text(&'a str, usize),
}

impl<'a> Walked<'a> {
    fn value(self) -> ValueRef<'a> {
        match self {
            Walked::Node(node) => ValueRef::of_node(node),
            // No step into the blob: the blob is the value.
            Walked::Text(text, 0) => ValueRef::of_text(text),
            Walked::Text(text, start) => {
                ValueRef::of_text(&text[start..text::skip_value(text.as_bytes(), start)])
            }
        }
    }
}

/// The target at `location`; in a blob, `locate` finds its range (or only its start, as
/// `start..start`, for an edit that finds the end itself).
fn target_mut<'a>(
    node: &'a mut Node,
    location: &[Segment],
    locate: fn(&str, &[Segment]) -> Option<Range<usize>>,
) -> Option<Target<'a>> {
    if let Node::Blob(text) = &*node {
        let range = locate(text, location)?;
        return Some(Target::Text(node, range));
    }
    let Some((first, rest)) = location.split_first() else {
        return Some(Target::Node(node));
    };
    let child = match (node, first) {
        (Node::Array(items), Segment::Index(index)) => items.get_mut(*index)?,
        (Node::Object(members), Segment::Key(key)) => {
            &mut members.iter_mut().find(|(name, _)| **name == **key)?.1
        }
        _ => return None,
    };
    target_mut(child, rest, locate)
}

/// The target a [`Spot`] names: down the expanded nodes along its chain again (no text to
/// skip), then the blob's range from the walk's start (`whole`: to the value's end; else
/// `start..start`, for an edit that finds the end itself).
fn target_spot<'a>(
    node: &'a mut Node,
    steps: &[Step],
    start: Option<usize>,
    whole: bool,
) -> Option<Target<'a>> {
    if let Node::Blob(text) = &*node {
        let start = start?;
        let end = match (whole, start) {
            (false, _) => start,
            // No step into the blob: the blob is the value.
            (true, 0) => text.len(),
            (true, _) => text::skip_value(text.as_bytes(), start),
        };
        return Some(Target::Text(node, start..end));
    }
    let Some((first, rest)) = steps.split_first() else {
        return Some(Target::Node(node));
    };
    let child = match (node, first) {
        (Node::Array(items), Step::Index(index)) => {
            let position = Step::array_position(*index, items.len())?;
            &mut items[position]
        }
        (Node::Object(members), Step::Key(key)) => {
            &mut members.iter_mut().find(|(name, _)| **name == **key)?.1
        }
        _ => return None,
    };
    target_spot(child, rest, start, whole)
}

/// After an edit that may shrink things, let the expanded ancestors along `location` collapse
/// (deepest first). O(depth × COLLAPSE_MAX_CHILDREN).
fn collapse_along(node: &mut Node, location: &[Segment]) {
    if let Some((first, rest)) = location.split_first() {
        let child = match (&mut *node, first) {
            (Node::Array(items), Segment::Index(index)) => items.get_mut(*index),
            (Node::Object(members), Segment::Key(key)) => members
                .iter_mut()
                .find(|(name, _)| **name == **key)
                .map(|(_, value)| value),
            _ => None,
        };
        if let Some(child) = child {
            collapse_along(child, rest);
        }
    }
    node.collapse_if_small();
}

fn blob_text(node: &Node) -> &str {
    match node {
        Node::Blob(text) => text,
        _ => unreachable!("a text target is always a blob"),
    }
}

/// Replace `range` of the blob `node` with `replacement`; re-expand if it grew big. The text
/// is edited in its own allocation: a same-length replacement (most NUMINCRBYs) overwrites the
/// bytes, any other moves only the tail (one exact-size realloc, no copy of the head).
fn splice(node: &mut Node, range: Range<usize>, replacement: &str) {
    let Node::Blob(blob) = node else {
        unreachable!("a text target is always a blob")
    };
    let mut text = String::from(std::mem::take(blob));
    if replacement.len() > range.len() {
        text.reserve_exact(replacement.len() - range.len());
    }
    text.replace_range(range, replacement);
    count_rewrite(text.len());
    *node = Node::from_canonical(text);
}

fn node_type(node: &Node) -> JsonType {
    ValueRef::of_node(node).json_type()
}

/// Edit the scalar at `target`: `edit` gets its text and returns the new text and a result.
fn edit_scalar<S: AsRef<str>, R>(
    target: Target<'_>,
    expected: JsonType,
    edit: impl FnOnce(&str) -> Result<(S, R), JsonError>,
) -> Result<R, JsonError> {
    match target {
        Target::Node(node) => Err(JsonError::WrongType {
            expected,
            found: node_type(node),
        }),
        Target::Text(blob, range) => {
            let (replacement, result) = edit(&blob_text(blob)[range.clone()])?;
            splice(blob, range, replacement.as_ref());
            Ok(result)
        }
    }
}

/// Edit the container at `target` as an expanded node. A container inside a blob is split one
/// level (it is at most [`crate::EXPAND_BYTES`] long), edited, and written back. `edit` must
/// change nothing when it fails; it also sees scalars (as blobs) so it can report their type.
fn edit_container<R>(
    target: Target<'_>,
    edit: impl FnOnce(&mut Node) -> Result<R, JsonError>,
) -> Result<R, JsonError> {
    match target {
        Target::Node(node) => {
            let result = edit(node)?;
            node.collapse_if_small();
            Ok(result)
        }
        Target::Text(blob, range) => {
            let mut container = explode(&blob_text(blob)[range.clone()]);
            let result = edit(&mut container)?;
            let replacement = container.compact_string();
            splice(blob, range, &replacement);
            Ok(result)
        }
    }
}

fn wrong_type(expected: JsonType, node: &Node) -> JsonError {
    JsonError::WrongType {
        expected,
        found: node_type(node),
    }
}

/// The arithmetic of NUMINCRBY / NUMMULTBY / NUMPOWBY.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumOp {
    /// `value + by`
    Add,
    /// `value * by`
    Mul,
    /// `value ^ by` (deprecated JSON.NUMPOWBY)
    Pow,
}

/// RedisJSON's number rules (FACTS.md §3.0.1), except that i64 overflow is an error: i64 ∘ i64
/// stays i64; anything else (a float, or a u64 above i64::MAX on either side) is computed in
/// f64 and must be finite.
pub fn apply_num_op(value: &Number, by: &Number, op: NumOp) -> Result<Number, JsonError> {
    if let (Some(a), Some(b)) = (value.as_i64(), by.as_i64()) {
        let integer = match op {
            NumOp::Add => Some(a.checked_add(b)),
            NumOp::Mul => Some(a.checked_mul(b)),
            NumOp::Pow => u32::try_from(b)
                .ok()
                .map(|exponent| a.checked_pow(exponent)),
        };
        // A negative or huge exponent falls through to f64, like RedisJSON's pow.
        if let Some(integer) = integer {
            return integer.map(Number::from).ok_or(JsonError::Overflow);
        }
    }
    let (a, b) = (
        value.as_f64().ok_or(JsonError::NotANumber)?,
        by.as_f64().ok_or(JsonError::NotANumber)?,
    );
    let result = match op {
        NumOp::Add => a + b,
        NumOp::Mul => a * b,
        NumOp::Pow => a.powf(b),
    };
    Number::from_f64(result)
        .filter(|_| result.is_finite())
        .ok_or(JsonError::NotANumber)
}

/// RFC 7386 merge patch, keeping member order (a removed member's neighbours stay in place).
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_members) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    let Value::Object(members) = target else {
        unreachable!()
    };
    for (key, patch_value) in patch_members {
        if patch_value.is_null() {
            members.shift_remove(key);
        } else {
            merge_patch(
                members.entry(key.clone()).or_insert(Value::Null),
                patch_value,
            );
        }
    }
}

impl Document {
    /// Parse strict JSON (JSON.SET input): exactly one value with optional surrounding
    /// whitespace, at most 127 nested containers (128 is refused with serde_json's
    /// `recursion limit exceeded at line 1 column N`, as RedisJSON does, FACTS.md §3.1).
    pub fn from_json(input: &[u8]) -> Result<Document, JsonError> {
        Ok(Document {
            root: Node::from_canonical(text::canonicalize(input, None)?),
        })
    }

    /// [`Document::from_json`] for input already validated as UTF-8 (faster: serde_json skips
    /// validating each string again).
    pub fn from_json_str(input: &str) -> Result<Document, JsonError> {
        // The plain input most clients send takes one hand-written pass; the rest (and every
        // error) serde_json's.
        let text = match crate::canon_fast::canonicalize(input) {
            Some(text) => text,
            None => text::canonicalize_str(input, None)?,
        };
        Ok(Document {
            root: Node::from_canonical(text),
        })
    }

    /// Parse our own saved text (RDB encver 3 payload): strict like [`Document::from_json`]
    /// but nested up to [`MAX_TRUSTED_DEPTH`], since path SETs can build deeper documents.
    pub fn from_saved_json(input: &[u8]) -> Result<Document, JsonError> {
        Ok(Document {
            root: Node::from_canonical(text::canonicalize(input, Some(MAX_TRUSTED_DEPTH))?),
        })
    }

    /// Build a document from a value (for edits done on a materialised `Value`).
    pub fn from_value(value: &Value) -> Document {
        let text = text::value_text(value);
        Document {
            root: Node::from_canonical(text),
        }
    }

    /// The whole document as a `Value`.
    pub fn to_value(&self) -> Value {
        self.root_ref().to_value()
    }

    /// Append the compact JSON (JSON.GET without formatting; also the RDB payload).
    pub fn to_compact(&self, out: &mut Vec<u8>) {
        self.root.write_compact(out);
    }

    /// The compact JSON in place, when the document is stored as one blob (every document
    /// up to 4 KiB): a whole-document read replies it without a copy. `None` for an expanded
    /// one ([`Document::to_compact`] assembles it).
    pub fn compact_text(&self) -> Option<&str> {
        match &self.root {
            Node::Blob(text) => Some(text),
            _ => None,
        }
    }

    /// The compact JSON as a string.
    pub fn to_compact_string(&self) -> String {
        self.root.compact_string()
    }

    /// Append the JSON formatted with JSON.GET's INDENT / NEWLINE / SPACE strings.
    pub fn to_pretty(&self, indent: &[u8], newline: &[u8], space: &[u8], out: &mut Vec<u8>) {
        let format = PrettyFormat {
            indent,
            newline,
            space,
        };
        self.root.write_pretty(&format, 0, out);
    }

    /// The root value.
    pub fn root_ref(&self) -> ValueRef<'_> {
        ValueRef::of_node(&self.root)
    }

    /// The value at `location`, if it exists.
    pub fn value_at(&self, location: &[Segment]) -> Option<ValueRef<'_>> {
        let mut node = &self.root;
        for (position, segment) in location.iter().enumerate() {
            node = match (node, segment) {
                (Node::Blob(text), _) => {
                    let range = text::locate(text, 0..text.len(), &location[position..])?;
                    return Some(ValueRef::of_text(&text[range]));
                }
                (Node::Array(items), Segment::Index(index)) => items.get(*index)?,
                (Node::Object(members), Segment::Key(key)) => {
                    &members.iter().find(|(name, _)| **name == **key)?.1
                }
                _ => return None,
            };
        }
        Some(ValueRef::of_node(node))
    }

    /// The location and value a simple chain selects, walking the document's own storage (no
    /// `serde_json::Value`): the same result as [`crate::path::resolve`] on [`Document::to_value`].
    pub fn walk(&self, steps: &[Step]) -> Option<(Location, ValueRef<'_>)> {
        let mut location = Location::with_capacity(steps.len());
        let value = self.walk_recording(steps, Some(&mut location))?.value();
        Some((location, value))
    }

    /// The location a simple chain selects, as [`Document::walk`] finds it, without finding
    /// where the matched value ends (an edit locates it again; a blob's match is not skipped).
    pub fn walk_location(&self, steps: &[Step]) -> Option<Location> {
        let mut location = Location::with_capacity(steps.len());
        self.walk_recording(steps, Some(&mut location))?;
        Some(location)
    }

    /// The value a simple chain selects, as [`Document::walk`] finds it, without building its
    /// location (reads need only the value).
    pub fn find(&self, steps: &[Step]) -> Option<ValueRef<'_>> {
        Some(self.walk_recording(steps, None)?.value())
    }

    /// Where a simple chain's match is, for one edit that applies there without walking the
    /// document again (the match's location is not built).
    pub fn spot<'p>(&self, steps: &'p [Step]) -> Option<Spot<'p>> {
        let start = match self.walk_recording(steps, None)? {
            Walked::Node(_) => None,
            Walked::Text(_, start) => Some(start),
        };
        Some(Spot { steps, start })
    }

    fn walk_recording(
        &self,
        steps: &[Step],
        mut location: Option<&mut Location>,
    ) -> Option<Walked<'_>> {
        // Builds the segment only when recording (a key is a copy).
        let mut record = |segment: &dyn Fn() -> Segment| {
            if let Some(location) = location.as_deref_mut() {
                location.push(segment());
            }
        };
        let mut node = &self.root;
        let mut steps = steps.iter();
        let text = loop {
            if let Node::Blob(text) = node {
                break text;
            }
            let Some(step) = steps.next() else {
                return Some(Walked::Node(node));
            };
            node = match (node, step) {
                (Node::Array(items), Step::Index(index)) => {
                    let position = Step::array_position(*index, items.len())?;
                    record(&|| Segment::Index(position));
                    &items[position]
                }
                (Node::Object(members), Step::Key(key)) => {
                    let (_, value) = members.iter().find(|(name, _)| **name == **key)?;
                    record(&|| Segment::Key(key.clone()));
                    value
                }
                _ => return None,
            };
        };
        // Only the start of each value on the way is found; the matched value is skipped once,
        // at the end, and only by a caller that needs it (skipping the containers the walk
        // enters was most of its cost).
        let mut start = 0;
        for step in steps {
            start = match step {
                Step::Key(key) => {
                    let member = text::member_start(text, start, key)?;
                    record(&|| Segment::Key(key.clone()));
                    member
                }
                Step::Index(index) => {
                    let position = match usize::try_from(*index) {
                        Ok(position) => position,
                        Err(_) => {
                            let length = text::element_count(text.as_bytes(), start..text.len())?;
                            Step::array_position(*index, length)?
                        }
                    };
                    let element = text::element_start(text.as_bytes(), start, position)?;
                    record(&|| Segment::Index(position));
                    element
                }
            };
        }
        Some(Walked::Text(text, start))
    }

    /// Bytes allocated for this document: the boxed `Document` plus everything it owns, with
    /// each allocation rounded to jemalloc's size class (MEMORY USAGE / JSON.DEBUG MEMORY).
    pub fn memory_usage(&self) -> usize {
        allocation_size(std::mem::size_of::<Document>()) + self.root.heap_bytes()
    }

    /// How many heap blocks the document owns besides itself: 1 for a blob document, one
    /// per blob, key and container buffer for an expanded one; counting stops just past
    /// `at_most` (it walks the expanded nodes: O(min(nodes, at_most))). A measure of the work
    /// to free or defragment it (the data type's `free_effort`).
    pub fn heap_blocks(&self, at_most: usize) -> usize {
        crate::relocate::blocks(&self.root, at_most)
    }

    /// Offers every heap block of the document to `relocator` (depth first: a container's
    /// buffer, then each child; an object member's key before its value), starting at
    /// `from`. Returns `None` when it reached the end, or where to go on when
    /// [`Relocate::should_pause`](crate::Relocate::should_pause) said pause (asked every
    /// [`RELOCATE_BATCH`](crate::RELOCATE_BATCH) blocks, never before the first batch is
    /// done, so each call makes progress). Only addresses change: the document is equal
    /// before and after.
    pub fn relocate<R: crate::Relocate>(
        &mut self,
        from: &crate::RelocatePosition,
        relocator: &mut R,
    ) -> Option<crate::RelocatePosition> {
        crate::relocate::relocate(&mut self.root, from, relocator)
    }

    /// Is the root an expanded node (rather than one text blob)?
    pub fn is_expanded(&self) -> bool {
        !matches!(self.root, Node::Blob(_))
    }

    fn target(&mut self, location: &[Segment]) -> Result<Target<'_>, JsonError> {
        target_mut(&mut self.root, location, |text, location| {
            text::locate(text, 0..text.len(), location)
        })
        .ok_or(JsonError::NoSuchPath)
    }

    /// The target at `at`: [`Document::target`] (`whole`) or [`Document::target_start`].
    fn target_at(&mut self, at: At<'_>, whole: bool) -> Result<Target<'_>, JsonError> {
        match at {
            At::Location(location) if whole => self.target(location),
            At::Location(location) => self.target_start(location),
            At::Spot(spot) => target_spot(&mut self.root, spot.steps, spot.start, whole)
                .ok_or(JsonError::NoSuchPath),
        }
    }

    /// [`Document::target`], where a blob's range is only its start (`start..start`).
    fn target_start(&mut self, location: &[Segment]) -> Result<Target<'_>, JsonError> {
        target_mut(&mut self.root, location, |text, location| {
            let start = text::locate_start(text, location)?;
            Some(start..start)
        })
        .ok_or(JsonError::NoSuchPath)
    }

    // -----------------------------------------------------------------------------------------
    // Edits. Each either applies fully or returns an error and changes nothing.

    /// Set the value at `location`: replace an existing value, or add a new member when the
    /// parent object exists (JSON.SET of a new key). An array index past the end →
    /// [`JsonError::ArrayIndexOutOfRange`]; a missing parent (or one that is not a container
    /// of the right kind) → [`JsonError::NoSuchPath`].
    pub fn set(&mut self, location: &[Segment], value: &Document) -> Result<(), JsonError> {
        check_depth(location.len(), [value])?;
        self.set_in_place(location, value)?;
        collapse_along(&mut self.root, location);
        Ok(())
    }

    fn set_in_place(&mut self, location: &[Segment], value: &Document) -> Result<(), JsonError> {
        let Some((last, parent)) = location.split_last() else {
            self.root = value.root.clone();
            return Ok(());
        };
        match self.target(parent)? {
            Target::Node(node) => {
                match (&mut *node, last) {
                    (Node::Array(items), Segment::Index(index)) => {
                        let slot = items
                            .get_mut(*index)
                            .ok_or(JsonError::ArrayIndexOutOfRange)?;
                        *slot = value.root.clone();
                    }
                    (Node::Object(members), Segment::Key(key)) => {
                        match members.iter_mut().find(|(name, _)| **name == **key) {
                            Some((_, slot)) => *slot = value.root.clone(),
                            None => members.push((key.as_str().into(), value.root.clone())),
                        }
                    }
                    _ => return Err(JsonError::NoSuchPath),
                }
                node.collapse_if_small();
                Ok(())
            }
            Target::Text(blob, range) => {
                let text = blob_text(blob);
                let replacement = value.to_compact_string();
                match (text.as_bytes()[range.start], last) {
                    (b'[', Segment::Index(index)) => {
                        let element = text::find_element(text.as_bytes(), range, *index)
                            .ok_or(JsonError::ArrayIndexOutOfRange)?;
                        splice(blob, element, &replacement);
                    }
                    (b'{', Segment::Key(key)) => {
                        match text::find_member(text, range.clone(), key) {
                            Some(member) => splice(blob, member, &replacement),
                            None => {
                                let mut insertion =
                                    Vec::with_capacity(key.len() + replacement.len() + 4);
                                if range.len() > 2 {
                                    insertion.push(b',');
                                }
                                write_key(key, &mut insertion);
                                insertion.push(b':');
                                insertion.extend_from_slice(replacement.as_bytes());
                                let insertion = String::from_utf8(insertion).expect("UTF-8");
                                splice(blob, range.end - 1..range.end - 1, &insertion);
                            }
                        }
                    }
                    _ => return Err(JsonError::NoSuchPath),
                }
                Ok(())
            }
        }
    }

    /// Delete the value at `location`. Object members keep the order of the others; later array
    /// elements shift down. The root cannot be deleted ([`JsonError::RootDelete`]: delete the key).
    pub fn delete(&mut self, location: &[Segment]) -> Result<(), JsonError> {
        self.delete_in_place(location)?;
        collapse_along(&mut self.root, location);
        Ok(())
    }

    fn delete_in_place(&mut self, location: &[Segment]) -> Result<(), JsonError> {
        let Some((last, parent)) = location.split_last() else {
            return Err(JsonError::RootDelete);
        };
        match self.target(parent)? {
            Target::Node(node) => {
                match (&mut *node, last) {
                    (Node::Array(items), Segment::Index(index)) if *index < items.len() => {
                        items.remove(*index);
                    }
                    (Node::Object(members), Segment::Key(key)) => {
                        let position = members
                            .iter()
                            .position(|(name, _)| **name == **key)
                            .ok_or(JsonError::NoSuchPath)?;
                        members.remove(position);
                    }
                    _ => return Err(JsonError::NoSuchPath),
                }
                node.collapse_if_small();
                Ok(())
            }
            Target::Text(blob, range) => {
                let text = blob_text(blob);
                let range_start = range.start;
                let list = text::children(text.as_bytes(), range);
                let position = match last {
                    Segment::Index(index) if text.as_bytes()[range_start] == b'[' => {
                        (*index < list.len()).then_some(*index)
                    }
                    Segment::Key(key) if text.as_bytes()[range_start] == b'{' => {
                        list.iter().position(|child| {
                            child.key.as_ref().is_some_and(|quoted| {
                                text::unescape_key(&text[quoted.clone()]) == *key
                            })
                        })
                    }
                    _ => None,
                }
                .ok_or(JsonError::NoSuchPath)?;
                let start_of =
                    |child: &text::Child| child.key.as_ref().map_or(child.value.start, |k| k.start);
                let removal = if list.len() == 1 {
                    start_of(&list[0])..list[0].value.end
                } else if position > 0 {
                    list[position - 1].value.end..list[position].value.end
                } else {
                    start_of(&list[0])..start_of(&list[1])
                };
                splice(blob, removal, "");
                Ok(())
            }
        }
    }

    /// JSON.NUMINCRBY / NUMMULTBY / NUMPOWBY on the number at `at` (a location, or a
    /// [`Spot`] a walk found); returns the new value.
    pub fn num_op<'a>(
        &mut self,
        at: impl Into<At<'a>>,
        op: NumOp,
        by: &Number,
    ) -> Result<Number, JsonError> {
        edit_scalar(self.target_at(at.into(), true)?, JsonType::Number, |text| {
            if !text_type(text).is_numeric() {
                return Err(JsonError::WrongType {
                    expected: JsonType::Number,
                    found: text_type(text),
                });
            }
            // Most stored numbers are integers: read them without serde_json.
            let value = match text::plain_integer(text) {
                Some(integer) => Number::from(integer),
                None => serde_json::from_str(text).expect("canonical number"),
            };
            let result = apply_num_op(&value, by, op)?;
            Ok((text::NumberText::new(&result), result))
        })
    }

    /// JSON.NUMINCRBY.
    pub fn num_incr_by(&mut self, location: &[Segment], by: &Number) -> Result<Number, JsonError> {
        self.num_op(location, NumOp::Add, by)
    }

    /// JSON.NUMMULTBY.
    pub fn num_mult_by(&mut self, location: &[Segment], by: &Number) -> Result<Number, JsonError> {
        self.num_op(location, NumOp::Mul, by)
    }

    /// JSON.STRAPPEND: append `suffix` to the string at `location`; returns its new byte length.
    pub fn str_append(&mut self, location: &[Segment], suffix: &str) -> Result<usize, JsonError> {
        edit_scalar(self.target(location)?, JsonType::String, |text| {
            if !text.starts_with('"') {
                return Err(JsonError::WrongType {
                    expected: JsonType::String,
                    found: text_type(text),
                });
            }
            let mut quoted_suffix = Vec::with_capacity(suffix.len() + 2);
            write_key(suffix, &mut quoted_suffix);
            let quoted_suffix = std::str::from_utf8(&quoted_suffix).expect("UTF-8");
            let mut joined = String::with_capacity(text.len() + quoted_suffix.len());
            joined.push_str(&text[..text.len() - 1]);
            joined.push_str(&quoted_suffix[1..]);
            Ok((joined, string_len(text) + suffix.len()))
        })
    }

    /// JSON.TOGGLE: flip the boolean at `location`; returns the new value.
    pub fn toggle(&mut self, location: &[Segment]) -> Result<bool, JsonError> {
        edit_scalar(
            self.target(location)?,
            JsonType::Boolean,
            |text| match text {
                "true" => Ok(("false".to_owned(), false)),
                "false" => Ok(("true".to_owned(), true)),
                _ => Err(JsonError::WrongType {
                    expected: JsonType::Boolean,
                    found: text_type(text),
                }),
            },
        )
    }

    /// JSON.CLEAR: empty a non-empty array or object, set a number to integer `0` (FACTS.md
    /// §3.6: a float becomes `0` too). Returns whether it counts as cleared (strings, booleans,
    /// null and empty containers do not).
    pub fn clear(&mut self, location: &[Segment]) -> Result<bool, JsonError> {
        let cleared = self.clear_in_place(location)?;
        collapse_along(&mut self.root, location);
        Ok(cleared)
    }

    fn clear_in_place(&mut self, location: &[Segment]) -> Result<bool, JsonError> {
        match self.target(location)? {
            Target::Node(node) => {
                // As RedisJSON: what is empty already is not counted.
                let empty = match node {
                    Node::Array(items) => items.is_empty(),
                    Node::Object(members) => members.is_empty(),
                    Node::Blob(_) => false,
                };
                if empty {
                    return Ok(false);
                }
                *node = Node::Blob(
                    if matches!(node, Node::Array(_)) {
                        "[]"
                    } else {
                        "{}"
                    }
                    .into(),
                );
                Ok(true)
            }
            Target::Text(blob, range) => {
                let text = &blob_text(blob)[range.clone()];
                let replacement = match text_type(text) {
                    JsonType::Array if text.len() > 2 => "[]",
                    JsonType::Object if text.len() > 2 => "{}",
                    // A number that is zero already (0, 0.0, -0, 0e5) is left as it is and not
                    // counted, as RedisJSON does; any other becomes the integer 0.
                    JsonType::Integer | JsonType::Number
                        if text.parse::<f64>().is_ok_and(|n| n == 0.0) =>
                    {
                        return Ok(false);
                    }
                    JsonType::Integer | JsonType::Number => "0",
                    _ => return Ok(false),
                };
                splice(blob, range, replacement);
                Ok(true)
            }
        }
    }

    /// JSON.ARRAPPEND: append `values` to the array at `at` (a location, or a [`Spot`] a walk
    /// found); returns the new length.
    /// On an expanded array this is `Vec::push` (amortised O(1)).
    pub fn arr_append<'a>(
        &mut self,
        at: impl Into<At<'a>>,
        values: &[Document],
    ) -> Result<usize, JsonError> {
        let at = at.into();
        check_depth(at.depth() + 1, values)?;
        match self.target_at(at, false)? {
            Target::Node(Node::Array(items)) => {
                items.extend(values.iter().map(|value| value.root.clone()));
                Ok(items.len())
            }
            Target::Node(node) => Err(wrong_type(JsonType::Array, node)),
            Target::Text(blob, range) => {
                let text = blob_text(blob);
                let start = range.start;
                // One scan finds both the end and the length (the walk did not skip it).
                let Some((end, length)) = text::array_end_and_count(text.as_bytes(), start) else {
                    let end = text::skip_value(text.as_bytes(), start);
                    return Err(JsonError::WrongType {
                        expected: JsonType::Array,
                        found: text_type(&text[start..end]),
                    });
                };
                let mut insertion = Vec::new();
                for (position, value) in values.iter().enumerate() {
                    if position > 0 || length > 0 {
                        insertion.push(b',');
                    }
                    value.to_compact(&mut insertion);
                }
                let insertion = String::from_utf8(insertion).expect("UTF-8");
                splice(blob, end - 1..end - 1, &insertion);
                Ok(length + values.len())
            }
        }
    }

    /// JSON.ARRINSERT: insert `values` before `index` (negative counts from the end; must be in
    /// `[-len, len]`, else [`JsonError::IndexOutOfBounds`]); returns the new length.
    pub fn arr_insert(
        &mut self,
        location: &[Segment],
        index: i64,
        values: &[Document],
    ) -> Result<usize, JsonError> {
        check_depth(location.len() + 1, values)?;
        edit_container(self.target(location)?, |node| {
            let Node::Array(items) = node else {
                return Err(wrong_type(JsonType::Array, node));
            };
            let length = items.len() as i64;
            let position = if index < 0 { length + index } else { index };
            if !(0..=length).contains(&position) {
                return Err(JsonError::IndexOutOfBounds);
            }
            let position = position as usize;
            items.splice(
                position..position,
                values.iter().map(|value| value.root.clone()),
            );
            Ok(items.len())
        })
    }

    /// JSON.ARRPOP: remove the element at `index` (negative from the end; clamped into the
    /// array, FACTS.md §3.5) and return its compact JSON; `None` if the array is empty.
    pub fn arr_pop(
        &mut self,
        location: &[Segment],
        index: i64,
    ) -> Result<Option<String>, JsonError> {
        let result = edit_container(self.target(location)?, |node| {
            let Node::Array(items) = node else {
                return Err(wrong_type(JsonType::Array, node));
            };
            if items.is_empty() {
                return Ok(None);
            }
            let length = items.len() as i64;
            let position = if index < 0 { length + index } else { index }.clamp(0, length - 1);
            Ok(Some(items.remove(position as usize).compact_string()))
        })?;
        collapse_along(&mut self.root, location);
        Ok(result)
    }

    /// JSON.ARRTRIM: keep elements `start..=stop` (negative from the end, clamped; empty if
    /// `start > stop` or `start >= len`, FACTS.md §3.5); returns the new length.
    pub fn arr_trim(
        &mut self,
        location: &[Segment],
        start: i64,
        stop: i64,
    ) -> Result<usize, JsonError> {
        let result = edit_container(self.target(location)?, |node| {
            let Node::Array(items) = node else {
                return Err(wrong_type(JsonType::Array, node));
            };
            let length = items.len() as i64;
            let start = if start < 0 { length + start } else { start }.max(0);
            let stop = if stop < 0 { length + stop } else { stop }.min(length - 1);
            if start >= length || start > stop {
                items.clear();
            } else {
                items.truncate(stop as usize + 1);
                items.drain(..start as usize);
            }
            Ok(items.len())
        })?;
        collapse_along(&mut self.root, location);
        Ok(result)
    }

    /// JSON.MERGE at `location` (RFC 7386; `null` deletes a member, keeping the others' order).
    /// A missing location whose parent object exists gets the patch (nulls removed) as a new
    /// member. Costs a materialisation of the target subtree.
    pub fn merge(&mut self, location: &[Segment], patch: &Document) -> Result<(), JsonError> {
        let patch_value = patch.to_value();
        if !patch_value.is_object() {
            return self.set(location, patch);
        }
        let mut merged = self
            .value_at(location)
            .map_or(Value::Null, |current| current.to_value());
        merge_patch(&mut merged, &patch_value);
        self.set(location, &Document::from_value(&merged))
    }

    /// Run several edits all-or-nothing: they run on a clone that replaces `self` only if all
    /// succeed. The clone costs one copy of the document (one `memcpy` for a blob document,
    /// O(nodes) allocations for an expanded one); callers that can check every location first
    /// (types, bounds) should do so and edit in place instead.
    pub fn transaction<R>(
        &mut self,
        edits: impl FnOnce(&mut Document) -> Result<R, JsonError>,
    ) -> Result<R, JsonError> {
        let mut copy = self.clone();
        let result = edits(&mut copy)?;
        *self = copy;
        Ok(result)
    }
}
