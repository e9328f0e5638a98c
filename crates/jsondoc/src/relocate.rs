//! Visiting every heap block of a document mutably, for an allocator that wants to move them
//! (Redis's active defragmentation), without this crate knowing that allocator.

use crate::node::Node;

/// Moves heap blocks for [`Document::relocate`](crate::Document::relocate): the module
/// implements it over its allocator's defrag handle. Each method may replace the owner's
/// buffer with an equal one at another address (same length and capacity) or leave it.
pub trait Relocate {
    /// Offers a text block (a blob's canonical text or an object key).
    fn relocate_str(&mut self, text: &mut Box<str>);

    /// Offers a `Vec`'s buffer (an expanded container's children), not its elements.
    fn relocate_vec<T>(&mut self, items: &mut Vec<T>);

    /// Whether to pause now; asked every [`RELOCATE_BATCH`] blocks (it may read a clock).
    fn should_pause(&mut self) -> bool {
        false
    }
}

/// Blocks visited between two [`Relocate::should_pause`] questions, and at least visited per
/// call, so every call makes progress even when its time budget is spent on entry.
pub const RELOCATE_BATCH: usize = 64;

/// Where a paused [`Document::relocate`](crate::Document::relocate) goes on: the child
/// indices from the root to the next child to visit. Resuming costs O(depth), not a walk
/// over what was done. If the document changed meanwhile, the position still leads
/// somewhere valid (indices past the end finish their container): some blocks may be
/// visited twice or skipped this round, none is visited unsafely.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RelocatePosition {
    path: Vec<usize>,
}

impl RelocatePosition {
    /// The start of the document.
    pub const fn start() -> RelocatePosition {
        RelocatePosition { path: Vec::new() }
    }
}

/// Counts blocks visited and asks the relocator to pause once per batch.
struct Budget {
    since_check: usize,
}

impl Budget {
    fn visited(&mut self) {
        self.since_check += 1;
    }

    fn pause<R: Relocate>(&mut self, relocator: &mut R) -> bool {
        if self.since_check < RELOCATE_BATCH {
            return false;
        }
        self.since_check = 0;
        relocator.should_pause()
    }
}

/// Visits the document tree from `position`; `Some(next)` if it paused.
pub(crate) fn relocate<R: Relocate>(
    root: &mut Node,
    position: &RelocatePosition,
    relocator: &mut R,
) -> Option<RelocatePosition> {
    let mut budget = Budget { since_check: 0 };
    let mut paused_at = Vec::new();
    if visit(root, &position.path, relocator, &mut budget, &mut paused_at) {
        paused_at.reverse(); // pushed innermost first, while unwinding
        Some(RelocatePosition { path: paused_at })
    } else {
        None
    }
}

/// Visits `node`: its own buffer (unless resuming inside it), then its children from
/// `resume[0]` on. Returns `true` if it paused, with the path to the next child pushed onto
/// `paused_at` from the innermost level out.
fn visit<R: Relocate>(
    node: &mut Node,
    resume: &[usize],
    relocator: &mut R,
    budget: &mut Budget,
    paused_at: &mut Vec<usize>,
) -> bool {
    match node {
        Node::Blob(text) => {
            if resume.is_empty() {
                relocator.relocate_str(text);
                budget.visited();
            }
            false
        }
        Node::Array(items) => {
            let start = start_of(items, resume, relocator, budget);
            for (index, item) in items.iter_mut().enumerate().skip(start) {
                let inner = inner_resume(resume, index, start);
                if inner.is_empty() && budget.pause(relocator) {
                    paused_at.push(index);
                    return true;
                }
                if visit(item, inner, relocator, budget, paused_at) {
                    paused_at.push(index);
                    return true;
                }
            }
            false
        }
        Node::Object(members) => {
            let start = start_of(members, resume, relocator, budget);
            for (index, (key, value)) in members.iter_mut().enumerate().skip(start) {
                let inner = inner_resume(resume, index, start);
                if inner.is_empty() && budget.pause(relocator) {
                    paused_at.push(index);
                    return true;
                }
                if inner.is_empty() {
                    relocator.relocate_str(key);
                    budget.visited();
                }
                if visit(value, inner, relocator, budget, paused_at) {
                    paused_at.push(index);
                    return true;
                }
            }
            false
        }
    }
}

/// The first child to visit: 0 after offering the container's own buffer on a fresh visit,
/// else where the resume path points (past the end: nothing left here).
fn start_of<T, R: Relocate>(
    items: &mut Vec<T>,
    resume: &[usize],
    relocator: &mut R,
    budget: &mut Budget,
) -> usize {
    match resume.first() {
        Some(&index) => index,
        None => {
            relocator.relocate_vec(items);
            budget.visited();
            0
        }
    }
}

/// The resume path inside child `index`: the rest of `resume` for the child it points into,
/// nothing (a fresh visit) for every later one.
fn inner_resume(resume: &[usize], index: usize, start: usize) -> &[usize] {
    if index == start && !resume.is_empty() {
        &resume[1..]
    } else {
        &[]
    }
}

/// How many heap blocks the tree owns (blobs, keys, container buffers), counting stops once
/// past `at_most` (so the walk costs O(at_most) on a huge tree).
pub(crate) fn blocks(node: &Node, at_most: usize) -> usize {
    let mut count = 0;
    count_blocks(node, at_most, &mut count);
    count
}

/// Adds `node`'s blocks to `count`; `false` once `count` is past `at_most`.
fn count_blocks(node: &Node, at_most: usize, count: &mut usize) -> bool {
    *count += 1; // the blob, or the container's buffer
    if *count > at_most {
        return false;
    }
    match node {
        Node::Blob(_) => true,
        Node::Array(items) => items.iter().all(|item| count_blocks(item, at_most, count)),
        Node::Object(members) => members.iter().all(|(_, value)| {
            *count += 1; // the key
            *count <= at_most && count_blocks(value, at_most, count)
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::Document;

    /// Moves every block to a fresh allocation (a clone), noting each old address, and pauses
    /// whenever asked after `pause_every` questions.
    struct Mover {
        seen: Vec<usize>,
        questions: usize,
        pause_every: usize,
    }

    impl Mover {
        fn new(pause_every: usize) -> Mover {
            Mover {
                seen: Vec::new(),
                questions: 0,
                pause_every,
            }
        }
    }

    impl Relocate for Mover {
        fn relocate_str(&mut self, text: &mut Box<str>) {
            self.seen.push(text.as_ptr() as usize);
            *text = Box::from(&**text);
        }

        fn relocate_vec<T>(&mut self, items: &mut Vec<T>) {
            self.seen.push(items.as_ptr() as usize);
            let mut moved = Vec::with_capacity(items.capacity());
            moved.append(items);
            *items = moved;
        }

        fn should_pause(&mut self) -> bool {
            self.questions += 1;
            self.pause_every != 0 && self.questions.is_multiple_of(self.pause_every)
        }
    }

    fn big_document() -> Document {
        // Expanded at two levels: an object whose "list" member is a big array of objects,
        // one of which is big itself; plus small members and an empty key.
        let item = |n: usize| format!(r#"{{"id":{n},"name":"item number {n}","tags":["a","b"]}}"#);
        let mut list: Vec<String> = (0..400).map(item).collect();
        list[7] = format!(
            r#"{{"inner":[{}]}}"#,
            (0..300).map(item).collect::<Vec<_>>().join(",")
        );
        let text = format!(
            r#"{{"a":1,"":"empty key","list":[{}],"z":{{"k":"v"}}}}"#,
            list.join(",")
        );
        let document = Document::from_json(text.as_bytes()).unwrap();
        assert!(document.is_expanded());
        document
    }

    #[test]
    fn one_pass_visits_every_block_once_and_keeps_the_document() {
        let mut document = big_document();
        let before = document.to_compact_string();
        let mut mover = Mover::new(0);
        assert_eq!(
            document.relocate(&RelocatePosition::start(), &mut mover),
            None
        );
        assert_eq!(mover.seen.len(), document.heap_blocks(usize::MAX));
        assert_eq!(document.to_compact_string(), before);
        // The old addresses were all live at once before the pass, so distinct: no block
        // was offered twice.
        let distinct: HashSet<usize> = mover.seen.iter().copied().collect();
        assert_eq!(distinct.len(), mover.seen.len());
    }

    #[test]
    fn paused_passes_resume_where_they_stopped() {
        let mut document = big_document();
        let before = document.to_compact_string();
        let total = document.heap_blocks(usize::MAX);
        // The count stops just past its cap.
        assert_eq!(document.heap_blocks(100), 101);
        assert_eq!(document.heap_blocks(total), total);
        for pause_every in [1, 2, 5] {
            let mut mover = Mover::new(pause_every);
            let mut position = RelocatePosition::start();
            let mut calls = 0;
            while let Some(next) = document.relocate(&position, &mut mover) {
                assert_ne!(next, position, "each call makes progress");
                position = next;
                calls += 1;
                assert!(calls < total, "no end in sight");
            }
            // About one pause per `pause_every` batches.
            let expected = total / (RELOCATE_BATCH * pause_every);
            assert!(
                calls >= 1 && calls * 2 >= expected,
                "{calls} pauses over {total} blocks, pausing every {pause_every} questions"
            );
            // Pausing only between children, after at least a batch: every block once.
            assert_eq!(
                mover.seen.len(),
                total,
                "pause every {pause_every} questions"
            );
            assert_eq!(document.to_compact_string(), before);
        }
    }

    #[test]
    fn a_blob_document_is_one_block_and_never_pauses() {
        let mut document = Document::from_json(br#"{"a":[1,2,3]}"#).unwrap();
        assert_eq!(document.heap_blocks(usize::MAX), 1);
        assert_eq!(document.heap_blocks(0), 1);
        let mut mover = Mover::new(1);
        assert_eq!(
            document.relocate(&RelocatePosition::start(), &mut mover),
            None
        );
        assert_eq!(mover.seen.len(), 1);
        assert_eq!(document.to_compact_string(), r#"{"a":[1,2,3]}"#);
    }

    #[test]
    fn a_stale_position_after_edits_stays_in_bounds() {
        let mut document = big_document();
        let mut mover = Mover::new(1);
        let position = document
            .relocate(&RelocatePosition::start(), &mut mover)
            .expect("paused");
        // The document shrinks under the saved position: resuming must not index past ends.
        document = Document::from_json(br#"{"a":1}"#).unwrap();
        assert_eq!(document.relocate(&position, &mut Mover::new(0)), None);
        let mut deeper = RelocatePosition::start();
        deeper.path = vec![2, 7, 0, 1000, 3];
        let mut document = big_document();
        let before = document.to_compact_string();
        assert_eq!(document.relocate(&deeper, &mut Mover::new(0)), None);
        assert_eq!(document.to_compact_string(), before);
    }
}
