//! Property tests (proptest, bounded so they run in seconds inside `cargo test`): the parser,
//! the canonical writer, the RDB payload loader and the path engine, on generated documents,
//! paths and byte soup. The long-running counterparts are the cargo-fuzz targets in `fuzz/`
//! (`cargo make fuzz`); inputs they found are kept at the end of this file as plain tests.

use jsondoc::path::Path;
use jsondoc::{Document, Location, Segment};
use proptest::prelude::*;
use serde_json::{Map, Number, Value};

// ---------------------------------------------------------------------------------------------
// Generators

/// Strings that exercise escaping: quotes, backslashes, control characters, non-ASCII, astral.
fn arbitrary_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-c]{0,3}",
        "\\PC{0,12}",
        prop::collection::vec(
            prop_oneof![
                Just('"'),
                Just('\\'),
                Just('/'),
                Just('\n'),
                Just('\u{0}'),
                Just('\u{1f}'),
                Just('\u{7f}'),
                Just('é'),
                Just('\u{2028}'),
                Just('😀'),
                any::<char>(),
            ],
            0..8
        )
        .prop_map(|chars| chars.into_iter().collect()),
    ]
}

fn arbitrary_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        Just(-0.0),
        Just(0.1),
        Just(1e30),
        Just(1e16),
        Just(1e15),
        Just(1.5e-7),
        Just(5e-324),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        (-1000i32..1000).prop_map(|i| f64::from(i) / 8.0),
    ]
}

fn arbitrary_number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<i64>().prop_map(Number::from),
        (-3i64..3).prop_map(Number::from),
        Just(Number::from(i64::MIN)),
        Just(Number::from(i64::MAX)),
        any::<u64>().prop_map(Number::from),
        Just(Number::from(u64::MAX)),
        arbitrary_float().prop_map(|f| Number::from_f64(f).expect("finite")),
    ]
}

fn arbitrary_scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        arbitrary_number().prop_map(Value::Number),
        arbitrary_string().prop_map(Value::String),
    ]
}

/// Member names from a small alphabet (so generated paths hit them) plus odd ones.
fn member_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["a", "b", "c", "x"]).prop_map(str::to_owned),
        1 => arbitrary_string(),
    ]
}

fn arbitrary_document() -> impl Strategy<Value = Value> {
    arbitrary_scalar().prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((member_name(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Documents whose text passes the 4 KiB expansion threshold, so the expanded node tree is
/// exercised, not only single blobs.
fn big_document() -> impl Strategy<Value = Value> {
    prop::collection::vec(arbitrary_document(), 40..80).prop_map(|items| {
        let padding = "p".repeat(4096);
        let mut object = Map::new();
        object.insert("pad".into(), Value::String(padding));
        object.insert("items".into(), Value::Array(items.clone()));
        object.insert(
            "nested".into(),
            Value::Array(vec![Value::Array(items), Value::Null]),
        );
        Value::Object(object)
    })
}

fn has_float(value: &Value) -> bool {
    match value {
        Value::Number(number) => number.is_f64(),
        Value::Array(items) => items.iter().any(has_float),
        Value::Object(members) => members.values().any(has_float),
        _ => false,
    }
}

/// `text` with a few bytes replaced, inserted or removed.
fn mutate(text: &[u8], edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut bytes = text.to_vec();
    for &(at, kind, byte) in edits {
        let at = if bytes.is_empty() {
            0
        } else {
            at % (bytes.len() + 1)
        };
        match kind % 3 {
            0 if at < bytes.len() => bytes[at] = byte,
            1 => bytes.insert(at, byte),
            _ if at < bytes.len() => {
                bytes.remove(at);
            }
            _ => bytes.push(byte),
        }
    }
    bytes
}

/// Bytes a mutation inserts: mostly JSON syntax, sometimes anything.
fn json_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        prop::sample::select(b"{}[]\",:0123456789.eE+-tfnul\\ \t\nab".to_vec()),
        any::<u8>(),
    ]
}

// ---------------------------------------------------------------------------------------------
// Parser and writer

/// What a successful parse must satisfy: the same value as serde_json reads, compact canonical
/// text that is a fixpoint, and serde_json's exact text where no float is involved (floats are
/// written with ryu, RedisJSON's format; serde_json ≥ 1.0.14x writes `1e+30`).
fn check_parsed(doc: &Document, expected: &Value) -> Result<(), TestCaseError> {
    let compact = doc.to_compact_string();
    let reread: Value = serde_json::from_str(&compact)
        .map_err(|e| TestCaseError::fail(format!("our output {compact:?} is not JSON: {e}")))?;
    prop_assert_eq!(&reread, expected, "compact text {}", compact);
    prop_assert_eq!(&doc.to_value(), expected);
    if !has_float(expected) {
        prop_assert_eq!(&compact, &serde_json::to_string(expected).unwrap());
    }
    let again = Document::from_json(compact.as_bytes()).expect("canonical text parses");
    prop_assert_eq!(again.to_compact_string(), compact.clone(), "not a fixpoint");
    let saved = Document::from_saved_json(compact.as_bytes()).expect("payload loads");
    prop_assert_eq!(saved.to_compact_string(), compact);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn parse_then_write_is_serde_json_canonical(value in arbitrary_document(), pretty in any::<bool>()) {
        let text = if pretty {
            serde_json::to_string_pretty(&value).unwrap()
        } else {
            serde_json::to_string(&value).unwrap()
        };
        let doc = Document::from_json(text.as_bytes()).expect("serde_json's output parses");
        check_parsed(&doc, &value)?;
        // The tree built from a Value writes the same canonical text.
        prop_assert_eq!(Document::from_value(&value).to_compact_string(), doc.to_compact_string());
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_agree_with_serde_json(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        agree_with_serde_json(&bytes)?;
    }

    #[test]
    fn mutated_json_never_panics_and_agrees_with_serde_json(
        value in arbitrary_document(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), json_byte()), 1..4),
    ) {
        let text = serde_json::to_vec(&value).unwrap();
        agree_with_serde_json(&mutate(&text, &edits))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn big_documents_round_trip(value in big_document()) {
        let text = serde_json::to_string(&value).unwrap();
        let doc = Document::from_json(text.as_bytes()).unwrap();
        prop_assert!(doc.is_expanded());
        check_parsed(&doc, &value)?;
    }
}

/// The parser accepts exactly what serde_json accepts (both strict, both 128 levels), with the
/// same value, and the RDB loader never panics on the same bytes.
fn agree_with_serde_json(bytes: &[u8]) -> Result<(), TestCaseError> {
    let ours = Document::from_json(bytes);
    let theirs = serde_json::from_slice::<Value>(bytes);
    let _ = Document::from_saved_json(bytes);
    match (&ours, &theirs) {
        (Ok(doc), Ok(value)) => check_parsed(doc, value),
        (Err(ours), Err(theirs)) => {
            prop_assert_eq!(ours.to_string(), theirs.to_string());
            Ok(())
        }
        _ => Err(TestCaseError::fail(format!(
            "{:?}: ours {:?}, serde_json {:?}",
            String::from_utf8_lossy(bytes),
            ours.as_ref().map(Document::to_compact_string),
            theirs
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Path engine

/// One RFC 9535 segment, spelled.
fn segment() -> impl Strategy<Value = String> {
    let name = prop::sample::select(vec!["a", "b", "c", "x"]);
    let index = -3i64..4;
    let bound = prop::option::of(-3i64..4);
    let literal = prop_oneof![
        (-2i64..3).prop_map(|n| n.to_string()),
        Just("1.5".to_owned()),
        Just("'a'".to_owned()),
        Just("true".to_owned()),
        Just("null".to_owned()),
    ];
    let comparison = prop::sample::select(vec!["==", "!=", "<", "<=", ">", ">="]);
    let filter = prop_oneof![
        (name.clone(), comparison.clone(), literal.clone())
            .prop_map(|(n, op, lit)| format!("[?@.{n}{op}{lit}]")),
        (comparison.clone(), literal).prop_map(|(op, lit)| format!("[?@{op}{lit}]")),
        name.clone().prop_map(|n| format!("[?@.{n}]")),
        name.clone().prop_map(|n| format!("[?!@.{n}]")),
        (comparison, 0i64..3).prop_map(|(op, n)| format!("[?length(@){op}{n}]")),
        name.clone()
            .prop_map(|n| format!("[?@.{n} && @.{n} != 1 || count(@.*) > 1]")),
        Just("[?match(@, 'a.*')]".to_owned()),
        Just("[?search(@.a, '[0-9]')]".to_owned()),
        Just("[?value(@..a) == 1]".to_owned()),
    ];
    prop_oneof![
        3 => name.clone().prop_map(|n| format!(".{n}")),
        1 => name.clone().prop_map(|n| format!("['{n}']")),
        2 => index.clone().prop_map(|i| format!("[{i}]")),
        1 => Just(".*".to_owned()),
        1 => Just("[*]".to_owned()),
        1 => name.clone().prop_map(|n| format!("..{n}")),
        1 => Just("..*".to_owned()),
        1 => index.clone().prop_map(|i| format!("..[{i}]")),
        1 => (bound.clone(), bound, prop::option::of(prop_oneof![-2i64..0, 1i64..3]))
            .prop_map(|(start, end, step)| {
                let show = |b: Option<i64>| b.map(|b| b.to_string()).unwrap_or_default();
                match step {
                    Some(step) => format!("[{}:{}:{step}]", show(start), show(end)),
                    None => format!("[{}:{}]", show(start), show(end)),
                }
            }),
        1 => (index, name).prop_map(|(i, n)| format!("[{i},'{n}',0]")),
        2 => filter,
    ]
}

fn jsonpath() -> impl Strategy<Value = String> {
    prop::collection::vec(segment(), 0..4).prop_map(|segments| format!("${}", segments.concat()))
}

fn reference_query(text: &str, document: &Value) -> Vec<Location> {
    let path = serde_json_path::JsonPath::parse(text).expect("generated paths are RFC 9535");
    path.query_located(document)
        .iter()
        .map(|node| {
            node.location()
                .iter()
                .map(|element| match element {
                    serde_json_path::PathElement::Name(name) => Segment::Key((*name).to_owned()),
                    serde_json_path::PathElement::Index(index) => Segment::Index(*index),
                })
                .collect()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Our path engine (the simple-chain shortcut, the `$` dialect handling) selects exactly what
    /// `serde_json_path` (the RFC 9535 reference we build on) selects, in the same order, and
    /// every location it returns resolves in the stored document.
    #[test]
    fn paths_match_serde_json_path(text in jsonpath(), document in arbitrary_document()) {
        let path = Path::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        let ours = path.query(&document).unwrap();
        prop_assert_eq!(&ours, &reference_query(&text, &document), "{}", text);
        prop_assert_eq!(path.query_first(&document).unwrap(), ours.first().cloned(), "{}", text);
        let doc = Document::from_value(&document);
        for location in &ours {
            prop_assert!(doc.value_at(location).is_some(), "{} at {:?}", text, location);
        }
    }

    /// A legacy spelling (`.a[0]..b`) selects what its `$` rewrite selects.
    #[test]
    fn legacy_paths_match_their_rewrite(text in jsonpath(), document in arbitrary_document()) {
        let legacy = match text.strip_prefix('$') {
            Some("") => ".".to_owned(),
            Some(rest) if rest.starts_with('[') => rest.to_owned(),
            Some(rest) => rest.to_owned(),
            None => unreachable!(),
        };
        // Filters and functions in legacy text are RedisJSON's dialect; keep to plain steps.
        prop_assume!(!legacy.contains('?') && !legacy.contains('\''));
        let ours = Path::parse(&legacy).map_err(|e| TestCaseError::fail(format!("{legacy}: {e}")))?;
        prop_assert!(ours.is_legacy());
        prop_assert_eq!(ours.query(&document), Path::parse(&text).unwrap().query(&document), "{}", legacy);
    }

    /// Path text of any shape: parsing and querying never panic.
    #[test]
    fn arbitrary_path_text_never_panics(
        text in prop_oneof![
            "\\PC{0,24}",
            "[$.@\\[\\]?*:,'\"\\\\!=<>~&|()ab0-9 -]{0,24}",
            jsonpath().prop_flat_map(|p| {
                let len = p.len();
                (Just(p), 0..=len, any::<char>())
            }).prop_map(|(mut p, at, c)| {
                let at = (0..=at).rev().find(|&i| p.is_char_boundary(i)).unwrap_or(0);
                p.insert(at, c);
                p
            }),
        ],
        document in arbitrary_document(),
    ) {
        if let Ok(path) = Path::parse(&text) {
            let _ = path.query(&document);
            let _ = path.query_first(&document);
        }
    }
}

/// Pieces of the path shapes that overflowed the stack, backtracked for seconds or evaluated
/// without end: nesting, repetition, descendant chains, unions, slices, root-reading filters.
const HOSTILE_PIECES: &[&str] = &[
    "[?(",
    "[?",
    "($",
    "(",
    ")",
    "]",
    "!(",
    "length(",
    "@",
    "$",
    "..*",
    "..",
    ".*",
    "*",
    "[*,*,*]",
    "[0:100000:1]",
    "[::-1]",
    "[?@..a]",
    "[?@.a==$.b]",
    ".a",
    "['a']",
    "[0,0,0]",
    " && ",
    " || ",
    "==1",
    "'[(\\''",
    "\"]\"",
];

/// A document as deep as the limit on input allows, with siblings at each level.
fn deep_document() -> Value {
    let mut value = Value::from(1);
    for level in 0..120 {
        value = if level % 2 == 0 {
            Value::Array(vec![value, Value::from("x")])
        } else {
            let mut map = Map::new();
            map.insert("a".to_owned(), value);
            map.insert("b".to_owned(), Value::Array(vec![1.into(), 2.into()]));
            Value::Object(map)
        };
    }
    value
}

/// A parsed path on `root` (the deep document, or `document`): within the budget or refused
/// for it, and the same answer through the stored document.
fn assert_bounded(
    path: &Path,
    text: &str,
    deep: bool,
    document: Value,
) -> Result<(), TestCaseError> {
    let root = if deep { deep_document() } else { document };
    let found = path.query(&root);
    let stored = Document::from_value(&root);
    prop_assert_eq!(path.query_document(&stored), found.clone(), "{}", text);
    if let Ok(found) = found {
        prop_assert!(
            found.len() as u64 <= jsondoc::path::budget::DEFAULT_NODES,
            "{}",
            text
        );
    }
    Ok(())
}

/// Whole segments of the costly kinds, so that most generated paths parse and run.
const HOSTILE_SEGMENTS: &[&str] = &[
    "..*",
    ".*",
    "[*,*,*]",
    "[0:100000:1]",
    "[::-1]",
    "[?@..a]",
    "[?@.a==$.b]",
    ".a",
    "['a']",
    "[0,0,0]",
    "[?(@.a)]",
    "[?!(@..*)]",
    "[?count(@.*)>0]",
    "..[?@.b]",
    "[?@[?@[?@.a]]]",
    "..a",
    "[?count($..*)>1]",
    "[-1:]",
    "[?@ == $.b[0]]",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Any mix of hostile pieces parses or is refused, and evaluates within the budget or is
    /// refused for it: never a panic, never an unbounded run (a hang fails the suite's time
    /// limit; the budget's own units are asserted in modules/json/tests/json.rs on real servers).
    #[test]
    fn hostile_path_shapes_stay_bounded(
        pieces in prop::collection::vec(prop::sample::select(HOSTILE_PIECES), 1..60),
        deep in any::<bool>(),
        document in arbitrary_document(),
    ) {
        let text = format!("${}", pieces.concat());
        let Ok(path) = Path::parse(&text) else {
            return Ok(());
        };
        assert_bounded(&path, &text, deep, document)?;
    }

    /// Chains of costly segments on deep and arbitrary documents: within the budget or
    /// refused for it, and the same through the stored document.
    #[test]
    fn hostile_segment_chains_stay_bounded(
        segments in prop::collection::vec(prop::sample::select(HOSTILE_SEGMENTS), 1..12),
        deep in any::<bool>(),
        document in arbitrary_document(),
    ) {
        let text = format!("${}", segments.concat());
        let path = Path::parse(&text);
        // Only the one-descendant-per-filter rule may refuse these.
        let path = match path {
            Ok(path) => path,
            Err(error) => {
                prop_assert!(error.to_string().contains("descendant"), "{}: {}", text, error);
                return Ok(());
            }
        };
        assert_bounded(&path, &text, deep, document)?;
    }
}
