//! Bounded evaluation of general paths: a budget on the nodes a query visits and produces, and
//! on the bytes its results hold.
//!
//! The RFC 9535 engine evaluates a whole query at once and cannot be stopped, and a few bytes
//! of path can ask for billions of steps (`$..*..*..*` on a deep document; `$[*,*,*,*]` ×
//! 20). RFC 9535 defines a query as its segments applied in turn, each to every node the
//! previous one produced, in order (§2.1.2), so that is how it is run here: each top-level
//! segment is compiled on its own (`$` + the segment) and applied to one node at a time, and
//! before each application its cost is predicted from the node (children or subtree size,
//! times the segment's selectors and filter work) and charged to the budget. The query stops
//! with [`BudgetExceeded`] before the step that would pass it, so the engine never runs a
//! step the budget cannot pay for, and a command that writes has written nothing.
//!
//! A segment whose filter reads the document root (`[?@.price < $.limit]`) cannot be run on a
//! node as its own root: it is run on the real root behind the node's normalized path
//! (`$['store']['book'][0]` + the segment), whose parse is charged too.
//!
//! Filters may hold at most one descendant segment (`..`): two would make one candidate cost
//! the square of its subtree, which no budget check between steps could bound.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use serde_json_path::{JsonPath, PathElement};

use super::guard::outside_strings;
use crate::{Location, Segment};

/// Default of [`set_limits`]' `nodes`: about 50–100 ms of evaluation here.
pub const DEFAULT_NODES: u64 = 1_000_000;
/// Default of [`set_limits`]' `bytes` (the server's default `proto-max-bulk-len`).
pub const DEFAULT_BYTES: u64 = 512 * 1024 * 1024;

static NODES: AtomicU64 = AtomicU64::new(DEFAULT_NODES);
static BYTES: AtomicU64 = AtomicU64::new(DEFAULT_BYTES);

/// Sets the budget of every later evaluation: `nodes` visited and produced (each result
/// counts its whole value), and `bytes` of string data and structure the results hold.
pub fn set_limits(nodes: u64, bytes: u64) {
    NODES.store(nodes, Ordering::Relaxed);
    BYTES.store(bytes, Ordering::Relaxed);
}

/// The budget in force: `(nodes, bytes)`.
pub fn limits() -> (u64, u64) {
    (NODES.load(Ordering::Relaxed), BYTES.load(Ordering::Relaxed))
}

/// An evaluation that would pass its budget; nothing was returned (and so nothing written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BudgetExceeded {
    /// More than this many nodes visited and produced.
    Nodes(u64),
    /// Results holding more than this many bytes.
    Bytes(u64),
}

impl fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BudgetExceeded::Nodes(limit) => write!(
                f,
                "the path would visit or return more than {limit} JSON nodes (json.path-budget)"
            ),
            BudgetExceeded::Bytes(limit) => write!(
                f,
                "the path's results would hold more than {limit} bytes (json.path-max-bytes)"
            ),
        }
    }
}

impl std::error::Error for BudgetExceeded {}

/// One top-level segment, ready to run on one node at a time.
#[derive(Debug, Clone)]
pub(crate) struct SegmentPlan {
    /// The segment's text (`.a`, `..*`, `[?@.b > $.c]`).
    text: String,
    /// `$` + the text, compiled; `None` when the filter reads the root (run behind the node's
    /// normalized path instead).
    compiled: Option<JsonPath>,
    /// `..`: every node of the subtree is a candidate.
    descendant: bool,
    /// How many selectors the segment lists (`[*,*]`: each node's results twice).
    selectors: u64,
    /// Work per filter candidate, in units of the candidate's size (see [`FilterCost`]).
    filter: Option<FilterCost>,
}

/// What one filter candidate costs.
#[derive(Debug, Clone, Copy)]
struct FilterCost {
    /// Queries in the filter (`@…`, `$…`), multiplied through nested filters and unions.
    weight: u64,
    /// A query in the filter walks a subtree (`..`, `*`, slices, a nested filter): the
    /// candidate's size (or the root's, for `$` queries) per query, not one step.
    deep: bool,
    /// The filter reads the root.
    absolute: bool,
}

/// Splits a parsed RFC 9535 query (`$` …) into its top-level segments and plans each, or
/// explains why a filter may not be run with a bound.
pub(crate) fn plan(query: &str) -> Result<Vec<SegmentPlan>, String> {
    let mut plans = Vec::new();
    for text in split_segments(query)? {
        plans.push(plan_segment(text)?);
    }
    Ok(plans)
}

/// The segments of `query`, each with its leading `.`/`..` and brackets.
fn split_segments(query: &str) -> Result<Vec<&str>, String> {
    let bytes = query.as_bytes();
    let blank = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let mut at = 1; // after `$`
    let mut segments = Vec::new();
    while at < bytes.len() {
        if blank(bytes[at]) {
            at += 1;
            continue;
        }
        let start = at;
        if bytes[at..].starts_with(b"..") {
            at += 2;
        } else if bytes[at] == b'.' {
            at += 1;
        }
        match bytes.get(at) {
            Some(b'[') => at = bracket_end(bytes, at)?,
            Some(b'*') => at += 1,
            Some(_) if at > start => {
                while at < bytes.len()
                    && (bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_' || bytes[at] >= 0x80)
                {
                    at += 1;
                }
            }
            _ => return Err(format!("unexpected text at byte {at}")),
        }
        if at == start {
            return Err(format!("empty segment at byte {at}"));
        }
        segments.push(&query[start..at]);
    }
    Ok(segments)
}

/// The index just past the `]` closing the `[` at `open` (string literals skipped).
fn bracket_end(bytes: &[u8], open: usize) -> Result<usize, String> {
    let mut depth = 0usize;
    for (at, byte) in outside_strings(&bytes[open..]) {
        match byte {
            b'[' | b'(' => depth += 1,
            b']' | b')' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(open + at + 1);
                }
            }
            _ => {}
        }
    }
    Err("unclosed bracket".to_owned())
}

/// Reads a segment's structure outside string literals.
fn plan_segment(text: &str) -> Result<SegmentPlan, String> {
    let descendant = text.starts_with("..");
    let body = text.trim_start_matches('.');
    // Brackets and parentheses open at each point, innermost last.
    let mut open: Vec<u8> = Vec::new();
    // Per open bracket: its selector count so far.
    let mut counts: Vec<u64> = Vec::new();
    let mut top_selectors = 1u64;
    let mut fanout = 1u64;
    let (mut queries, mut filters, mut filter_depth, mut deepest_filter) = (0u64, 0, 0u32, 0u32);
    let (mut absolute, mut deep, mut descendants) = (false, false, 0);
    let mut previous = 0u8;
    for (_, byte) in outside_strings(body.as_bytes()) {
        let in_filter = filter_depth > 0;
        match byte {
            b'[' => {
                open.push(b'[');
                counts.push(1);
            }
            b'(' => open.push(b'('),
            b']' => {
                open.pop();
                let selectors = counts.pop().unwrap_or(1);
                if open.is_empty() {
                    top_selectors = selectors;
                } else {
                    fanout = fanout.saturating_mul(selectors);
                }
                // A filter ends with the bracket that holds it.
                if filter_depth as usize > open.iter().filter(|&&b| b == b'[').count() {
                    filter_depth -= 1;
                }
            }
            b')' => {
                open.pop();
            }
            b',' if open.last() == Some(&b'[') => {
                if let Some(count) = counts.last_mut() {
                    *count += 1;
                }
            }
            b'?' => {
                filters += 1;
                filter_depth = open.iter().filter(|&&b| b == b'[').count() as u32;
                deepest_filter = deepest_filter.max(filter_depth);
                if filters > 1 {
                    deep = true;
                }
            }
            b'@' | b'$' if in_filter => {
                queries += 1;
                absolute |= byte == b'$';
            }
            b'.' if in_filter && previous == b'.' => {
                descendants += 1;
                deep = true;
            }
            b'*' | b':' if in_filter => deep = true,
            _ => {}
        }
        previous = if byte == b'.' && previous == b'.' {
            0
        } else {
            byte
        };
    }
    if descendants > 1 {
        return Err(
            "a filter may hold at most one descendant segment (..), which bounds its cost"
                .to_owned(),
        );
    }
    let filter = (filters > 0).then(|| FilterCost {
        weight: queries
            .max(1)
            .saturating_pow(deepest_filter.max(1))
            .saturating_mul(fanout),
        deep,
        absolute,
    });
    let compiled = if absolute {
        None
    } else {
        Some(JsonPath::parse(&format!("${text}")).map_err(|e| e.to_string())?)
    };
    Ok(SegmentPlan {
        text: text.to_owned(),
        compiled,
        descendant,
        selectors: top_selectors,
        filter,
    })
}

/// The size of a value's tree, measured without recursion and without going past `limit`
/// nodes: `None` when it has more.
#[derive(Debug, Clone, Copy, Default)]
struct TreeSize {
    /// Values in the tree, itself included.
    nodes: u64,
    /// Σ over the tree's values of their own subtree sizes (a descendant query run from each).
    nested: u64,
    /// Bytes of its compact text, near enough: strings and member names at their length,
    /// every other value at 8.
    bytes: u64,
}

fn tree_size(value: &Value, limit: u64) -> Option<TreeSize> {
    let mut size = TreeSize::default();
    // (value, depth below `value`)
    let mut stack: Vec<(&Value, u64)> = vec![(value, 0)];
    while let Some((value, depth)) = stack.pop() {
        size.nodes += 1;
        size.nested = size.nested.saturating_add(depth + 1);
        if size.nodes > limit {
            return None;
        }
        match value {
            Value::String(s) => size.bytes += s.len() as u64 + 2,
            Value::Array(items) => {
                size.bytes += 2 + items.len() as u64;
                stack.extend(items.iter().map(|item| (item, depth + 1)));
            }
            Value::Object(members) => {
                size.bytes += 2;
                for (name, member) in members {
                    size.bytes += name.len() as u64 + 4;
                    stack.push((member, depth + 1));
                }
            }
            _ => size.bytes += 8,
        }
    }
    Some(size)
}

fn children(value: &Value) -> u64 {
    match value {
        Value::Array(items) => items.len() as u64,
        Value::Object(members) => members.len() as u64,
        _ => 0,
    }
}

/// What one evaluation has spent.
struct Spent {
    nodes: u64,
    bytes: u64,
    limit_nodes: u64,
    limit_bytes: u64,
}

impl Spent {
    fn nodes(&mut self, cost: u64) -> Result<(), BudgetExceeded> {
        self.nodes = self.nodes.saturating_add(cost);
        if self.nodes > self.limit_nodes {
            return Err(BudgetExceeded::Nodes(self.limit_nodes));
        }
        Ok(())
    }

    fn left(&self) -> u64 {
        self.limit_nodes.saturating_sub(self.nodes)
    }

    /// The size of `value`'s tree, its walk charged; over budget if it has more nodes than
    /// are left.
    fn measure(&mut self, value: &Value) -> Result<TreeSize, BudgetExceeded> {
        let size = tree_size(value, self.left()).ok_or(BudgetExceeded::Nodes(self.limit_nodes))?;
        self.nodes(size.nodes)?;
        Ok(size)
    }
}

/// Runs `plans` on `root` within the budget in force: every match's location, in RFC 9535
/// order; each match's value is charged too (nodes and bytes), since callers copy or
/// serialize it.
pub(crate) fn evaluate(
    plans: &[SegmentPlan],
    root: &Value,
) -> Result<Vec<Location>, BudgetExceeded> {
    let (limit_nodes, limit_bytes) = limits();
    let mut spent = Spent {
        nodes: 0,
        bytes: 0,
        limit_nodes,
        limit_bytes,
    };
    // Measured only if a filter reads the root deeply.
    let mut root_size: Option<u64> = None;
    let mut current: Vec<(Location, &Value)> = vec![(Vec::new(), root)];
    for plan in plans {
        let mut next = Vec::new();
        for (location, node) in &current {
            let depth = location.len() as u64;
            let cost = predict(plan, node, depth, root, &mut root_size, &mut spent)?;
            spent.nodes(cost)?;
            match &plan.compiled {
                Some(compiled) => {
                    for found in compiled.query_located(node).iter() {
                        let mut full = location.clone();
                        full.extend(found.location().iter().map(segment));
                        // Charged as built: a prediction that fell short still stops here.
                        spent.nodes(full.len() as u64 + 1)?;
                        next.push((full, found.node()));
                    }
                }
                None => {
                    let text = normalized(location) + &plan.text;
                    spent.nodes(text.len() as u64)?;
                    // A normalized path followed by a segment that parsed as part of the
                    // query is a valid query; should it not be, nothing is selected.
                    let Ok(compiled) = JsonPath::parse(&text) else {
                        continue;
                    };
                    for found in compiled.query_located(root).iter() {
                        let full: Location = found.location().iter().map(segment).collect();
                        spent.nodes(full.len() as u64 + 1)?;
                        next.push((full, found.node()));
                    }
                }
            }
        }
        current = next;
    }
    for (_, value) in &current {
        let size = spent.measure(value)?;
        spent.bytes = spent.bytes.saturating_add(size.bytes);
        if spent.bytes > spent.limit_bytes {
            return Err(BudgetExceeded::Bytes(spent.limit_bytes));
        }
    }
    Ok(current.into_iter().map(|(location, _)| location).collect())
}

/// The work of running `plan` on `node` at `depth` (its location's length): candidates (its
/// children, or its whole subtree for `..`) times the selectors, each result a location as
/// long as its depth, plus what the filter does per candidate.
fn predict(
    plan: &SegmentPlan,
    node: &Value,
    depth: u64,
    root: &Value,
    root_size: &mut Option<u64>,
    spent: &mut Spent,
) -> Result<u64, BudgetExceeded> {
    let (candidates, nested) = if plan.descendant {
        let size = spent.measure(node)?;
        (size.nodes, size.nested)
    } else {
        let n = children(node);
        (n, n)
    };
    // Results: `candidates × selectors` at most, each a location of `depth + 1` or more (the
    // deeper ones of a descendant segment add up to `nested`).
    let mut cost = candidates
        .saturating_mul(plan.selectors)
        .saturating_mul(depth.saturating_add(1))
        .saturating_add(nested.saturating_mul(plan.selectors))
        .saturating_add(1);
    if let Some(filter) = plan.filter {
        let per_candidate = if !filter.deep {
            candidates
        } else if filter.absolute {
            let root_nodes = match *root_size {
                Some(n) => n,
                None => {
                    let n = spent.measure(root)?.nodes;
                    *root_size = Some(n);
                    n
                }
            };
            candidates.saturating_mul(root_nodes)
        } else if plan.descendant {
            nested
        } else {
            // The children's subtrees: the node's, less itself.
            spent.measure(node)?.nodes
        };
        cost = cost.saturating_add(per_candidate.saturating_mul(filter.weight));
    }
    Ok(cost)
}

fn segment(element: &PathElement<'_>) -> Segment {
    match element {
        PathElement::Name(name) => Segment::Key((*name).to_owned()),
        PathElement::Index(index) => Segment::Index(*index),
    }
}

/// RFC 9535 §2.7's normalized path of a location: `$['a'][0]`.
fn normalized(location: &[Segment]) -> String {
    let mut out = String::from("$");
    for segment in location {
        match segment {
            Segment::Index(index) => out.push_str(&format!("[{index}]")),
            Segment::Key(name) => {
                out.push_str("['");
                for c in name.chars() {
                    match c {
                        '\'' => out.push_str("\\'"),
                        '\\' => out.push_str("\\\\"),
                        '\u{8}' => out.push_str("\\b"),
                        '\u{c}' => out.push_str("\\f"),
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        '\t' => out.push_str("\\t"),
                        c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                        c => out.push(c),
                    }
                }
                out.push_str("']");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_split_at_the_top_level_only() {
        fn split(q: &str) -> Vec<&str> {
            split_segments(q).unwrap()
        }
        assert_eq!(split("$"), Vec::<&str>::new());
        assert_eq!(split("$.a..b[0] .*..*"), [".a", "..b", "[0]", ".*", "..*"]);
        assert_eq!(
            split("$['x]'][?@.a == ']' && (@.b)]..[1,2]"),
            ["['x]']", "[?@.a == ']' && (@.b)]", "..[1,2]"]
        );
        assert_eq!(split("$.é_1.x2"), [".é_1", ".x2"]);
    }

    #[test]
    fn plans_read_selectors_and_filters() {
        let p = plan_segment("[*,*,*]").unwrap();
        assert_eq!(p.selectors, 3);
        assert!(p.filter.is_none() && p.compiled.is_some());
        let p = plan_segment("[?@.a[0,1] > $.b]").unwrap();
        let f = p.filter.unwrap();
        assert!(f.absolute && !f.deep && p.compiled.is_none());
        assert_eq!(f.weight, 2 * 2);
        let p = plan_segment("..[?@..c]").unwrap();
        assert!(p.descendant && p.filter.unwrap().deep);
        assert!(plan_segment("[?@..a..b]").is_err());
        assert!(plan_segment("[?@..a && @..b]").is_err());
        // Dots in strings are not descendant segments.
        assert!(plan_segment("[?@.a == '..' && @..b]").is_ok());
    }

    #[test]
    fn normalized_paths_escape_names() {
        let location = vec![
            Segment::Key("a'b\\c\n".into()),
            Segment::Index(3),
            Segment::Key("\u{1}".into()),
        ];
        assert_eq!(normalized(&location), "$['a\\'b\\\\c\\n'][3]['\\u0001']");
        let path = JsonPath::parse(&normalized(&location)).unwrap();
        let value = serde_json::json!({"a'b\\c\n": [0, 1, 2, {"\u{1}": true}]});
        assert_eq!(path.query(&value).all(), [&Value::Bool(true)]);
    }
}
