//! Paths as the json module's commands accept them: legacy paths and RFC 9535 JSONPath.
//!
//! # Dialects
//! A text is a **JSONPath** query when it is `$` alone or `$` followed by `.` or `[` (RedisJSON's rule), with
//! blank space allowed after the `$` (RFC 9535 §2.5). Every other text is a **legacy** path, rewritten as RedisJSON rewrites it (`.` → `$`, `.x` → `$.x`, `x` → `$.x`,
//! so `$$` is the member `$$`), then evaluated by the same RFC 9535 engine.
//!
//! Queries are evaluated by the `serde_json_path` crate, which implements RFC 9535 (all 703 cases of the JSONPath
//! Compliance Test Suite pass through [`Path::parse`] and [`Path::query`], values and normalized paths; see the
//! tests) and reports the normalized location of each match, which writes need. `jsonpath-rust` 1.0.12 fails 9
//! of those cases on values and reports locations only as strings.
//!
//! # What the caller does with the matches
//! [`Path::query`] returns every match, in RFC 9535 order, for both dialects. RedisJSON's commands then differ by
//! dialect, and the command layer must do the same:
//! * `$` path: the reply has one entry per match (an empty array when nothing matches).
//! * legacy read (GET, TYPE, STRLEN, ARRLEN, ARRINDEX, OBJLEN, OBJKEYS, RESP, DEBUG MEMORY): use the **first**
//!   match only ([`Path::query_first`]); no match is an error or nil depending on the command.
//! * legacy write: modify **every** match of the right type, skip the others silently, fail only when none
//!   qualifies, and reply with the result for the **last** modified match.
//!
//! # Simple chains
//! A path made only of member names and single indices (`$.friends[1].name`, `.a.b`, `a[0]`, `$["a b"][-1]`)
//! selects at most one value. [`Path::as_simple`] returns its [`Step`]s so the document can walk its own
//! storage directly; [`resolve`] is the reference walk over a `serde_json::Value`.
//!
//! # Where RedisJSON 2.8 and we differ
//! For `$` paths we follow RFC 9535; for legacy paths we keep RedisJSON's extra name spellings (see below) and
//! otherwise use the same RFC 9535 engine.
//! * RedisJSON rejects `!` in filters; we accept logical NOT (RFC 9535 §2.3.5.1).
//! * RedisJSON rejects the functions `length`, `count`, `match`, `search`, `value`; we provide them
//!   (RFC 9535 §2.4.4–§2.4.8).
//! * RedisJSON rejects slice steps ≤ 0 (`[::-1]`, `[::0]`); we accept negative steps and treat step 0 as
//!   selecting nothing (RFC 9535 §2.3.4.2).
//! * RedisJSON rejects a slice inside a union (`$.arr[0:2,5]`); we accept it (RFC 9535 §2.5.1: a bracketed
//!   selection is a list of any selectors).
//! * RedisJSON clamps an out-of-range negative index (`$.arr[-100]` → the first element); we select nothing
//!   (RFC 9535 §2.3.3.2). This holds for legacy paths too.
//! * RedisJSON accepts `=~` regex comparisons in filters, which RFC 9535 lacks; we accept them too, in both
//!   dialects, as an extension: `L =~ R` is evaluated as `search(L, R)` (RFC 9535 §2.4.7), which has the same
//!   meaning (unanchored match of a string; false for a non-string or an invalid regex). Regexes use the
//!   `regex` crate's syntax, as in RedisJSON, so `(?i)` works.
//! * RedisJSON accepts shorthand names outside RFC 9535's alphabet (`$.a-b`, `$.1a`, `$.o.$`, `$.o.0` as the
//!   name "0") and a dot before brackets (`$.arr.[0]`, `@.["k"]` in filters) in `$` paths; we accept them
//!   in legacy paths, and in `$` paths read in [`Dialect::RedisJson`] ([`Path::parse_in`]); [`Path::parse`]
//!   rejects them in `$` paths (RFC 9535 §2.5.1.1): write `$['a-b']`.
//! * RedisJSON accepts trailing blanks after a `$` path (`'$.o '`); we reject them (RFC 9535 §2.1.1) but
//!   accept them after a legacy path.
//! * RedisJSON rejects non-ASCII shorthand names (`$.o.ü`); we accept them (RFC 9535 §2.5.1.1).
//! * RedisJSON reads `$ .o` (blank after `$`) as the legacy member name `$ .o`; we read it as the JSONPath
//!   `$.o` (RFC 9535 §2.5 allows blank space before a segment). `$` followed by anything else (`$$`, `$a`)
//!   stays a legacy member name, as in RedisJSON.
//! * Error texts share RedisJSON's shape but not its list of expected grammar rules (see [`PathError`]).
//!
//! Suspected differences that turned out not to be: RedisJSON's filters select among object member values
//! too (`$.o[?(@.a>1)]`), as RFC 9535 §2.3.5.2 says; `[?@>2]` without parentheses is RFC 9535 syntax
//! (§2.3.5.1); and RedisJSON's descendant order (all children of a node, then each child's descendants,
//! members in document order) is the RFC 9535 §2.5.2.2 order, which the transcripts' `$..a` and `$..*`
//! confirm. Object members are visited in insertion order (serde_json's `preserve_order`), which RFC 9535
//! leaves open and RedisJSON fixes.
//!
//! # Known gap in the engine
//! `serde_json_path` 0.7.2 rejects surrogate-pair escapes written in lowercase hex (`$['\ud83d\ude00']`),
//! which RFC 9535 allows (ABNF hex digits are case-insensitive); uppercase (`\uD83D\uDE00`) works. The
//! compliance suite only uses uppercase.

pub mod budget;
mod error;
pub mod guard;
mod legacy;
mod mapped_text;
mod regex_operator;
mod simple;
#[cfg(test)]
mod tests;

use std::fmt;

use serde_json::Value;
use serde_json_path::JsonPath;

pub use budget::BudgetExceeded;
pub use error::PathError;
pub use simple::{Step, resolve};

use crate::{Document, Location};

/// A parsed path, ready to be evaluated against any number of documents.
///
/// ```
/// use jsondoc::path::{Path, Step};
/// use jsondoc::Segment;
///
/// let document = serde_json::json!({"friends": [{"name": "a"}, {"name": "b"}]});
///
/// let simple = Path::parse("$.friends[-1].name").unwrap();
/// assert_eq!(simple.as_simple(), Some(&[Step::Key("friends".into()), Step::Index(-1), Step::Key("name".into())][..]));
/// assert_eq!(
///     simple.query(&document).unwrap(),
///     [vec![Segment::Key("friends".into()), Segment::Index(1), Segment::Key("name".into())]]
/// );
///
/// let legacy = Path::parse("..name").unwrap();
/// assert!(legacy.is_legacy() && !legacy.is_static());
/// assert_eq!(legacy.query(&document).unwrap().len(), 2); // a legacy write changes both
/// assert_eq!(legacy.query_first(&document).unwrap().unwrap().last(), Some(&Segment::Key("name".into())));
///
/// let error = Path::parse("$.").unwrap_err();
/// assert!(error.to_string().starts_with("Error occurred on position 2, \"$. <<<<----\", "));
/// ```
#[derive(Debug, Clone)]
pub struct Path {
    text: String,
    /// For a legacy path, its rewrite to `$.…` as RedisJSON shows it.
    legacy_rewrite: Option<String>,
    /// The RFC 9535 query that is evaluated.
    /// `None` for a chain [`simple::recognise_text`] accepted (derived on demand).
    query_text: Option<String>,
    /// The query's segments, each compiled to run on one node at a time within the budget
    /// ([`budget`]); `None` for simple chains, which never need the engine.
    plans: Option<Vec<budget::SegmentPlan>>,
    simple: Option<Vec<Step>>,
}

/// How `$` paths are read (legacy paths always accept RedisJSON's spellings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// RFC 9535 exactly: all 703 cases of the compliance suite.
    #[default]
    Rfc9535,
    /// RedisJSON's: also shorthand names outside RFC 9535's alphabet (`$.2.3`, `$.a-b`,
    /// `$.$a`, `$.b/c`) and a dot before a bracket (`$.[1]`, `$.a.[*]`, `@.["k"]` in filters),
    /// which applications written for RedisJSON send. The compliance cases it reads otherwise
    /// are listed in the tests (`redisjson_dialect_differs_from_rfc9535_only_where_it_must`).
    RedisJson,
}

impl Path {
    /// Parses `text` in the dialect its first characters select (see the module docs), `$`
    /// paths as RFC 9535 says ([`Path::parse_in`] for RedisJSON's dialect).
    ///
    /// Plain simple chains (`$.a[1].b`, `.a.b`, `a[0]`: no blanks, no quotes, canonical
    /// indices) are recognised directly without running the RFC 9535 parser; the result is the
    /// same (tested against the general parse).
    ///
    /// Any other text nested deeper than [`guard::MAX_NESTING`] or longer than
    /// [`guard::MAX_LENGTH`] is refused before the RFC 9535 parser runs (bounded recursion and
    /// time); plain chains never reach that parser (their recogniser is one linear pass).
    pub fn parse(text: &str) -> Result<Path, PathError> {
        Self::parse_in(text, Dialect::Rfc9535)
    }

    /// [`Path::parse`] with `$` paths read in `dialect`.
    pub fn parse_in(text: &str, dialect: Dialect) -> Result<Path, PathError> {
        if let Some(fast) = simple::recognise_text(text) {
            return Ok(Path {
                text: text.to_owned(),
                legacy_rewrite: fast.legacy.then(|| legacy::rewrite(text)),
                query_text: None,
                plans: None,
                simple: Some(fast.steps),
            });
        }
        Self::parse_general(text, dialect)
    }

    /// [`Path::parse_in`] without the shortcut for plain simple chains.
    fn parse_general(text: &str, dialect: Dialect) -> Result<Path, PathError> {
        guard::check(text)?;
        let jsonpath = is_jsonpath_text(text);
        let legacy = (!jsonpath).then(|| legacy::translate(text));
        let dialect_text =
            (jsonpath && dialect == Dialect::RedisJson).then(|| legacy::translate_jsonpath(text));
        let (shown_text, rfc_text) = match (&legacy, &dialect_text) {
            (Some(legacy), _) => (legacy.rewritten.as_str(), legacy.translated.text.as_str()),
            (None, Some(translated)) => (text, translated.text.as_str()),
            (None, None) => (text, text),
        };
        let regex_rewrite = regex_operator::rewrite(rfc_text);
        let query_text = regex_rewrite
            .as_ref()
            .map_or(rfc_text, |rewrite| rewrite.text.as_str());
        JsonPath::parse(query_text).map_err(|error| {
            // Point into the text the user recognises, undoing our rewrites.
            let mut position = error.position();
            if let Some(rewrite) = &regex_rewrite {
                position = rewrite.source_offset(position);
            }
            if let Some(legacy) = &legacy {
                position = legacy.translated.source_offset(position);
            }
            if let Some(translated) = &dialect_text {
                position = translated.source_offset(position);
            }
            PathError::new(shown_text, position, error.message())
        })?;
        let simple = simple::recognise(query_text);
        let plans = budget::plan(query_text).map_err(|why| PathError::new(shown_text, 0, &why))?;
        Ok(Path {
            text: text.to_owned(),
            query_text: Some(query_text.to_owned()),
            simple,
            legacy_rewrite: legacy.map(|legacy| legacy.rewritten),
            plans: Some(plans),
        })
    }

    /// The text as given to [`Path::parse`].
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether this is a legacy path (not starting with `$.`, `$[`, or being exactly `$`).
    pub fn is_legacy(&self) -> bool {
        self.legacy_rewrite.is_some()
    }

    /// The `$` form RedisJSON shows for this path in some error messages (`ERR Path '$.nope' does not exist`):
    /// the rewrite for legacy paths, the text itself for `$` paths.
    pub fn rewritten_text(&self) -> &str {
        self.legacy_rewrite.as_deref().unwrap_or(&self.text)
    }

    /// The RFC 9535 query that is evaluated: the text itself, or its translation for legacy paths and for
    /// filters that use RedisJSON's `=~`.
    pub fn query_text(&self) -> std::borrow::Cow<'_, str> {
        match (&self.query_text, &self.simple) {
            (Some(text), _) => text.into(),
            (None, Some(steps)) if self.is_legacy() => simple::legacy_query_text(steps).into(),
            (None, _) => self.text.as_str().into(),
        }
    }

    /// Whether the path is the root itself (`$`, `.`, or a legacy path made of blanks after `.`).
    pub fn is_root(&self) -> bool {
        self.simple.as_ref().is_some_and(Vec::is_empty)
    }

    /// The steps of a simple chain (only member names and single indices), or `None` for any other path.
    /// The root is the empty chain.
    pub fn as_simple(&self) -> Option<&[Step]> {
        self.simple.as_deref()
    }

    /// Whether the path is a simple chain: RedisJSON's "static path", the only kind JSON.SET may create a
    /// value at.
    pub fn is_static(&self) -> bool {
        self.simple.is_some()
    }

    /// The locations of every match in `root`, in RFC 9535 order (duplicates kept: `$[0,0]` gives two).
    /// The root's location is empty. See the module docs for what legacy callers do with several matches.
    /// A path other than a simple chain runs within the budget ([`budget::set_limits`]).
    pub fn query(&self, root: &Value) -> Result<Vec<Location>, BudgetExceeded> {
        match &self.simple {
            Some(steps) => Ok(resolve(root, steps).into_iter().collect()),
            None => self.query_with_engine(root),
        }
    }

    /// The first match, which is what a legacy read uses.
    pub fn query_first(&self, root: &Value) -> Result<Option<Location>, BudgetExceeded> {
        match &self.simple {
            Some(steps) => Ok(resolve(root, steps)),
            None => Ok(self.query_with_engine(root)?.into_iter().next()),
        }
    }

    /// The locations of every match in `document`, as [`Path::query`] finds them in its value. A simple
    /// chain walks the document's own storage; any other path materialises the document.
    pub fn query_document(&self, document: &Document) -> Result<Vec<Location>, BudgetExceeded> {
        match &self.simple {
            Some(steps) => Ok(document.walk_location(steps).into_iter().collect()),
            None => self.query_with_engine(&document.to_value()),
        }
    }

    /// The first match in `document` (see [`Path::query_document`]).
    pub fn query_first_document(
        &self,
        document: &Document,
    ) -> Result<Option<Location>, BudgetExceeded> {
        match &self.simple {
            Some(steps) => Ok(document.walk_location(steps)),
            None => Ok(self
                .query_with_engine(&document.to_value())?
                .into_iter()
                .next()),
        }
    }

    /// Evaluates with the general engine, segment by segment within the budget, bypassing the
    /// simple-chain shortcut.
    fn query_with_engine(&self, root: &Value) -> Result<Vec<Location>, BudgetExceeded> {
        match &self.plans {
            Some(plans) => budget::evaluate(plans, root),
            // Only simple chains are built without plans, and they never get here.
            None => Ok(self
                .simple
                .as_ref()
                .and_then(|steps| resolve(root, steps))
                .into_iter()
                .collect()),
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// RedisJSON's dialect rule (`$` alone, or `$` followed by `.` or `[`), widened to allow RFC 9535's blank
/// space between `$` and the first segment (§2.5), which RedisJSON reads as a legacy member name.
fn is_jsonpath_text(text: &str) -> bool {
    text.strip_prefix('$').is_some_and(|rest| {
        let rest = rest.trim_start_matches([' ', '\t', '\n', '\r']);
        rest.is_empty() || rest.starts_with(['.', '['])
    })
}
