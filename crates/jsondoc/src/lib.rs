#![forbid(unsafe_code)]
//! The document core of the JSON data type (RedisJSON 2.8 compatible): storage, canonical
//! output, lookups by normalized location, and edits. No Redis dependency: `modules/json`
//! wraps it, and the path engine (`path/`) resolves JSONPath to [`Location`]s.
//!
//! # Representation
//!
//! A [`Document`] is an adaptive tree whose leaves are **canonical compact JSON text blobs**:
//! the exact bytes JSON.GET without formatting prints for that subtree. Only containers whose
//! canonical text is longer than [`EXPAND_BYTES`] (4 KiB) are expanded one level into nodes
//! (`Vec<Node>` for arrays, `Vec<(key, Node)>` in document order for objects); their children
//! follow the same rule.
//!
//! Why this shape (the targets are relative to RedisJSON on the same server):
//! * **Memory.** A typical ~1 KB document is one `Box<str>` of its text plus the 32-byte
//!   boxed `Document`: `memory_usage` of the 958-byte `testdata/mem_doc.json` (FACTS.md §5)
//!   is **1056 B** (jemalloc classes), against RedisJSON's 3482 B (`JSON.DEBUG MEMORY`) and
//!   ≈2700 B/key of `used_memory`; a plain string of the same text costs ≈1100 B/key, and we
//!   add only the ≈32 B box to that, so ≈0.42× RedisJSON per key.
//! * **JSON.GET of the whole document** (and the RDB payload) is a copy of the blob(s): no
//!   tree walk, no number or string formatting.
//! * **Reads of a path** (`$.friends[1].name`) scan the canonical text: it has no whitespace
//!   and is known valid, so the scanner only skips strings (16 bytes at a time) and counts
//!   brackets; no allocation. [`path::Path::parse`] recognises plain simple chains without the
//!   RFC 9535 parser, and [`Document::find`] / [`Document::walk`] (or
//!   [`path::Path::query_document`]) resolve them on the storage, no `serde_json::Value`.
//! * **Edits on a blob** splice the canonical text: a number increment, a string append, a
//!   replaced value, a new member or appended element are written in place of the old bytes
//!   (one allocation + copy of the blob, ≤ 4 KiB for a container blob). Structural edits of a
//!   container inside a blob (insert, pop, trim) split that container one level, edit, and
//!   write it back — still bounded by the blob size.
//! * **Big containers** are expanded so an edit touches only the child it changes:
//!   ARRAPPEND onto a 100k-element array is `Vec::push` (amortised O(1); the test
//!   `appends_to_a_big_array_are_amortised_constant` asserts the bytes of blob text rewritten
//!   over 100k appends stay bounded, not the wall time).
//!
//! Thresholds: **4 KiB** to expand — a few hundred nanoseconds of `memcpy` is the most any blob
//! edit costs, and documents up to several KB stay a single allocation. Only a byte threshold
//! (no element count): the cost of a blob edit is proportional to its bytes, and 4 KiB bounds the
//! element count too (≥ 2 bytes per element). An expanded container **collapses** back into a
//! blob when all its children are blobs, it has at most [`COLLAPSE_MAX_CHILDREN`] (64) of them
//! and their text totals at most [`COLLAPSE_BYTES`] (2 KiB): half the expansion threshold, so a
//! container hovering at the boundary does not flip on every edit, and the child-count bound
//! keeps the check O(1) on huge containers. After shrinking edits, every expanded ancestor of the
//! edited location is checked, deepest first. A big *scalar* (a long string) stays one blob.
//!
//! Expanded objects look members up linearly; an index for objects with thousands of members
//! is not built yet (see "Missing").
//!
//! # Canonical form and parsing
//!
//! * [`Document::from_json`] parses **strictly**: exactly one value with optional surrounding
//!   whitespace. `1 2`, `[1]]`, `50asd`, `{"a":1,}` are errors (RedisJSON ignores trailing
//!   input; the issue requires the error). Parse errors are serde_json's messages, the texts
//!   RedisJSON sends (FACTS.md §3.0), e.g. `trailing characters at line 1 column 3`.
//! * Common JSON.SET input (no escape in a key other than those the canonical form keeps, no
//!   lone surrogate, no duplicate keys) takes a hand-written validating copy (`canon_fast`)
//!   that copies the input in bulk and rewrites only whitespace, floats and `\/`/`\u` escapes;
//!   the rest, and every error, the serde pass below, which gives the same text for what the
//!   copy accepts.
//! * Parsing and re-serialising is **one streaming pass** (a serde `Visitor` that writes as
//!   the deserializer reads; no tree). Strings serde_json lends straight from the input (no
//!   escapes) are copied as they are; [`Document::from_json_str`] skips serde_json's second
//!   UTF-8 check of each string. Duplicate keys are detected on the way; the rare input
//!   that has them takes a slow path through an order-preserving map, giving RedisJSON's result
//!   (last value at the first key's place). Input over 4 KiB is then split into nodes by the
//!   text scanner.
//! * **Nesting limit**: serde_json's. **127 nested containers are accepted, the 128th is
//!   refused** with `recursion limit exceeded at line 1 column N` — exactly RedisJSON's
//!   behaviour (FACTS.md §3.1, tested). Edits may nest a document deeper, up to
//!   [`MAX_DEPTH`] (512) containers (RedisJSON has no such cap; its own tests stack three
//!   127-level values), and [`Document::from_saved_json`] (RDB loads) accepts the same 512, so
//!   whatever an edit builds reloads. 512 keeps the recursive parse within a 2 MiB stack even
//!   in a debug build (1024 overflowed it; release frames are far smaller).
//! * **Output** is what RedisJSON prints (serde_json style): no spaces, `/` not escaped,
//!   non-ASCII raw, control characters as `\n`, `\t`, `\u0001`. Numbers: i64 and u64 exactly,
//!   floats with **ryu** (`1.0`, `1e30`, `1.5e-7`, `0.00001`, `1e16`, `0.30000000000000004`).
//!   Newer serde_json releases print `1e+30`, so floats never go through serde_json's
//!   formatter here ([`format_number`]). Integers beyond u64 / below i64::MIN become floats,
//!   `-0` becomes `-0.0`, as in RedisJSON.
//! * Float **parsing is exact** (serde_json's `float_roundtrip`): canonical text is a fixpoint,
//!   so RDB save → load never changes a float. RedisJSON uses serde_json's default parser, which
//!   can be 1 ULP off on rare 17-digit inputs; only such inputs can print differently.
//! * Pretty output ([`Document::to_pretty`]) reformats the canonical text as it streams, with
//!   RedisJSON's INDENT / NEWLINE / SPACE rules (FACTS.md §3.2; empty `{}`/`[]` stay compact).
//!
//! # Edits
//!
//! Every edit takes a [`Location`] (concrete keys and indices), returns a typed result or a
//! [`JsonError`], never panics on user input, and **either applies fully or changes nothing**
//! (checks happen before the first write). Multi-location writes use
//! [`Document::transaction`]: the edits run on a clone that replaces the document only if all
//! succeed. The clone is one `memcpy` for a blob document and O(nodes) for an expanded one; a
//! caller that can validate every location first (types, bounds) may edit in place instead.
//!
//! Differences from RedisJSON by design (issue requirements): integer overflow in NUMINCRBY /
//! NUMMULTBY / NUMPOWBY is an error (`ERR increment or decrement would overflow`) instead of a
//! wrap-around; deleting a member (DEL, MERGE with `null`) keeps the order of the others instead
//! of moving the last member into the hole.
//!
//! # Errors
//!
//! [`JsonError`]'s `Display` is the wire text **including** RedisJSON's `ERR ` prefix where
//! RedisJSON has one, so the module replies with it verbatim; parse errors have no prefix, as in
//! RedisJSON. [`JsonError::NoSuchPath`] and [`JsonError::WrongType`] are markers the module
//! words itself (the texts depend on the path as typed and on the command).
//!
//! # RDB
//!
//! RedisJSON encver 3 saves the whole document as one compact JSON string:
//! [`Document::to_compact`] is that payload and [`Document::from_saved_json`] loads it.
//! Encver 0 and 2 (FACTS.md §1) are the module's business.
//!
//! # Memory accounting
//!
//! [`Document::memory_usage`] sums the boxed `Document`, every blob, `Vec` buffer (by capacity)
//! and key, each rounded to jemalloc's size class: what the allocator really hands out.
//!
//! # Measured
//!
//! Against RedisJSON 2.8 on the same server (callgrind instructions per command, `used_memory`
//! per key): `bench/json.sh`, results in `modules/json/README.md` and `BENCHMARKS.md`.
//!
//! `memory_usage`: 1056 B for the 958-byte `testdata/mem_doc.json` (test
//! `memory_of_a_1kb_document`); 100k appends of `{"id":1,"name":"x"}` → ≈84 B/element, with
//! 422 505 bytes of blob text rewritten in total (all before the array crossed 4 KiB). Indicative
//! release timings on the build machine (wall clock, not a test): `from_json` of the 1 KB
//! document 5.6 µs (a serde_json `Value` parse + write: 10.2 µs), `to_compact` 29 ns, reading
//! the last top-level member 0.7 µs, `num_incr_by` 0.11 µs, `arr_append` onto a big array 75 ns.
//!
//! # Missing
//!
//! * A key index for expanded objects with many members (lookups are linear in the members of
//!   an expanded object; fine up to a few hundred, slow for 100k-member objects).
//! * Expanded arrays hold one `Node` (32 B) + one blob allocation per element: 100k small objects
//!   cost ≈84 B/element. Chunking runs of small elements into shared blobs would cut that.
//! * JSON.MERGE materialises the target subtree as a `serde_json::Value`.
//! * Documents RedisJSON built deeper than [`MAX_TRUSTED_DEPTH`] (512) by repeated path SETs
//!   do not load (the key fails with a log line); an iterative parser would lift that.

#[cfg(target_arch = "x86_64")]
mod blocks;
mod canon_fast;
mod document;
mod error;
mod location;
mod node;
pub mod path;
mod relocate;
mod text;
mod value;

pub use document::{Document, MAX_DEPTH, MAX_TRUSTED_DEPTH, NumOp, apply_num_op, merge_patch};
pub use error::JsonError;
pub use location::{At, Location, Segment, Spot};
pub use node::{COLLAPSE_BYTES, COLLAPSE_MAX_CHILDREN, EXPAND_BYTES};
pub use relocate::{RELOCATE_BATCH, Relocate, RelocatePosition};
pub use text::{PrettyFormat, format_number, plain_integer, write_number};
pub use value::{JsonType, ValueRef};

#[cfg(test)]
mod tests;
