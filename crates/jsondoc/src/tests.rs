//! Unit tests. Expected bytes come from the live RedisJSON 2.8.3 transcripts in
//! docs/research/redisjson-2.8/FACTS.md (section cited per test) unless a test says it checks a
//! place where we deliberately differ.

use serde_json::{Number, Value, json};

use crate::node::{EXPAND_BYTES, REWRITTEN_BYTES};
use crate::{Document, JsonError, JsonType, NumOp, Segment};

fn doc(json: &str) -> Document {
    Document::from_json(json.as_bytes()).unwrap_or_else(|error| panic!("{json}: {error}"))
}

fn compact(document: &Document) -> String {
    document.to_compact_string()
}

fn key(name: &str) -> Segment {
    Segment::Key(name.to_owned())
}

fn parse_error(json: &str) -> String {
    match Document::from_json(json.as_bytes()) {
        Err(JsonError::Parse(message)) => message,
        other => panic!("{json}: expected a parse error, got {other:?}"),
    }
}

/// Wraps `json` so the document is expanded: `{"pad":"xxx…","d":json}`; edits then go to
/// `["d", …]`. Used to run the same scenario on blob and expanded representations.
fn big(json: &str) -> Document {
    let document = doc(&format!(
        r#"{{"pad":"{}","d":{json}}}"#,
        "x".repeat(EXPAND_BYTES)
    ));
    assert!(document.is_expanded());
    document
}

fn unwrap_big(document: &Document) -> String {
    document
        .value_at(&[key("d")])
        .expect("d")
        .to_compact_string()
}

// ----- canonical form -----------------------------------------------------------------------

#[test]
fn number_formatting_matches_redisjson() {
    // FACTS.md §3.2 "Number formatting".
    let input = "[1.0, 1e30, 1E+2, 0.1, 1.5e-7, 123456789012345678901234567890, -0.0, 0, -0, 1e-5, 1e16, 1e15, 12345678.9, 3.0e2, 9007199254740993, 0.30000000000000004, 1.7976931348623157e308, 5e-324, 100000000000000000000, 2e21, 1e21, 1e22]";
    assert_eq!(
        compact(&doc(input)),
        "[1.0,1e30,100.0,0.1,1.5e-7,1.2345678901234568e29,-0.0,0,-0.0,0.00001,1e16,1000000000000000.0,12345678.9,300.0,9007199254740993,0.30000000000000004,1.7976931348623157e308,5e-324,1e20,2e21,1e21,1e22]"
    );
    // §3.1: u64 kept, beyond u64 / below i64 become f64.
    assert_eq!(
        compact(&doc("18446744073709551615")),
        "18446744073709551615"
    );
    assert_eq!(
        compact(&doc("18446744073709551616")),
        "1.8446744073709552e19"
    );
    assert_eq!(
        compact(&doc("-9223372036854775809")),
        "-9.223372036854776e18"
    );
    assert_eq!(
        compact(&doc("-9223372036854775808")),
        "-9223372036854775808"
    );
}

#[test]
fn string_escaping_matches_redisjson() {
    // FACTS.md §3.2 "JSON.GET scalars, strings and unicode escaping".
    let document = doc(r#"{"s":"h\u00e9llo \"q\" \\ / \n\t\u0001 \ud83d\ude00","u":"\u2028"}"#);
    assert_eq!(
        compact(&document),
        "{\"s\":\"héllo \\\"q\\\" \\\\ / \\n\\t\\u0001 😀\",\"u\":\"\u{2028}\"}"
    );
    assert_eq!(compact(&doc(r#""\u0000\u007f""#)), "\"\\u0000\u{7f}\"");
}

#[test]
fn strict_parsing_refuses_trailing_input() {
    // RedisJSON accepts these (FACTS.md §3.0.1); the issue requires errors.
    assert_eq!(parse_error("1 2"), "trailing characters at line 1 column 3");
    assert_eq!(
        parse_error("[1]]"),
        "trailing characters at line 1 column 4"
    );
    assert_eq!(
        parse_error("50asd"),
        "trailing characters at line 1 column 3"
    );
    assert_eq!(
        parse_error(r#"{"a":1,}"#),
        "trailing comma at line 1 column 8"
    );
    // Same texts as RedisJSON for the rest (FACTS.md §3.0 error catalogue).
    assert_eq!(
        parse_error("{bad"),
        "key must be a string at line 1 column 2"
    );
    assert_eq!(
        parse_error(""),
        "EOF while parsing a value at line 1 column 0"
    );
    assert_eq!(parse_error("nan"), "expected ident at line 1 column 2");
    assert_eq!(parse_error("[1,]"), "trailing comma at line 1 column 4");
    assert_eq!(
        parse_error("1e400"),
        "number out of range at line 1 column 5"
    );
    let surrogate = parse_error(r#""\ud800""#);
    assert!(
        surrogate.contains("surrogate") || surrogate.contains("escape"),
        "{surrogate}"
    );
    // Surrounding whitespace is fine.
    assert_eq!(compact(&doc(" \n[1, {\"a\" : 2}]\t ")), r#"[1,{"a":2}]"#);
}

#[test]
fn nesting_limit_is_127_containers() {
    // FACTS.md §3.1 "JSON.SET nesting depth limit": 127 nested OK, 128 refused at column 128.
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    assert!(Document::from_json(nested(127).as_bytes()).is_ok());
    assert_eq!(
        parse_error(&nested(128)),
        "recursion limit exceeded at line 1 column 128"
    );
    assert_eq!(
        parse_error(&nested(200)),
        "recursion limit exceeded at line 1 column 128"
    );
    let objects = format!("{}1{}", r#"{"a":"#.repeat(128), "}".repeat(128));
    assert_eq!(
        parse_error(&objects),
        "recursion limit exceeded at line 1 column 636"
    );
    // Saved (RDB) text is ours and may be deeper (FACTS.md §1.3: RDB load has no 128 limit).
    let deep = Document::from_saved_json(nested(129).as_bytes()).unwrap();
    assert_eq!(compact(&deep), nested(129));
    assert!(Document::from_saved_json(nested(crate::MAX_TRUSTED_DEPTH + 1).as_bytes()).is_err());
    // The deepest saved document loads, materialises and edits without exhausting a 2 MiB
    // (test-thread) stack in a debug build.
    let mut deepest =
        Document::from_saved_json(nested(crate::MAX_TRUSTED_DEPTH).as_bytes()).unwrap();
    assert_eq!(
        deepest.to_value().to_string().len(),
        2 * crate::MAX_TRUSTED_DEPTH
    );
    let inner = vec![Segment::Index(0); crate::MAX_TRUSTED_DEPTH - 1];
    // Edits never make a document deeper than MAX_DEPTH; others still work at any depth.
    assert_eq!(
        deepest.arr_append(&inner, &[doc("[]")]),
        Err(JsonError::TooDeep)
    );
    assert_eq!(deepest.arr_append(&inner, &[doc("1")]), Ok(1));
    assert_eq!(deepest.arr_append(&[], &[doc("1")]), Ok(2));
}

#[test]
fn edits_keep_documents_within_max_depth() {
    let max = crate::MAX_DEPTH;
    // A value MAX_DEPTH - 1 deep (deeper than input parses: built by edits, or loaded from an
    // RDB) placed one level down reaches MAX_DEPTH: allowed.
    let deep = Document::from_saved_json(
        format!("{}{}", "[".repeat(max - 1), "]".repeat(max - 1)).as_bytes(),
    )
    .unwrap();
    let mut target = doc("{}");
    assert_eq!(target.set(&[Segment::Key("a".into())], &deep), Ok(()));
    // One more level (the value's depth counts, including inside text blobs) is refused and
    // leaves the document unchanged.
    let mut target = doc(r#"{"a":{}}"#);
    let path = [Segment::Key("a".into()), Segment::Key("b".into())];
    assert_eq!(target.set(&path, &deep), Err(JsonError::TooDeep));
    assert_eq!(compact(&target), r#"{"a":{}}"#);
    let mut array = doc(r#"{"a":[]}"#);
    assert_eq!(
        array.arr_append(&[Segment::Key("a".into())], std::slice::from_ref(&deep)),
        Err(JsonError::TooDeep)
    );
    assert_eq!(
        array.arr_insert(&[Segment::Key("a".into())], 0, std::slice::from_ref(&deep)),
        Err(JsonError::TooDeep)
    );
    assert_eq!(compact(&array), r#"{"a":[]}"#);
    // Brackets inside strings do not count.
    let strings = doc(r#"["[[[[{{{{", "\"[["]"#);
    assert_eq!(
        array.arr_append(&[Segment::Key("a".into())], &[strings]),
        Ok(1)
    );
    assert_eq!(
        JsonError::TooDeep.to_string(),
        "ERR the document would be nested deeper than 512 levels"
    );
}

#[test]
fn duplicate_keys_keep_first_place_last_value() {
    // FACTS.md §3.0.1: `{"a":1,"b":2,"a":3}` → `{"a":3,"b":2}`.
    assert_eq!(compact(&doc(r#"{"a":1,"b":2,"a":3}"#)), r#"{"a":3,"b":2}"#);
    let many: Vec<String> = (0..40).map(|i| format!(r#""k{i}":{i}"#)).collect();
    let with_duplicate = format!("{{{},\"k3\":\"x\"}}", many.join(","));
    let value: Value = serde_json::from_str(&with_duplicate).unwrap();
    assert_eq!(compact(&doc(&with_duplicate)), value.to_string());
    assert_eq!(
        compact(&doc(r#"{"a":{"x":1},"b":{"x":2}}"#)),
        r#"{"a":{"x":1},"b":{"x":2}}"#
    );
}

// ----- pretty output ------------------------------------------------------------------------

fn pretty(document: &Document, indent: &str, newline: &str, space: &str) -> String {
    let mut out = Vec::new();
    document.to_pretty(
        indent.as_bytes(),
        newline.as_bytes(),
        space.as_bytes(),
        &mut out,
    );
    String::from_utf8(out).unwrap()
}

const GET_DOC: &str =
    r#"{"a":1,"b":{"a":2,"c":"x"},"arr":[1,2.5,"s",null,true,{"z":[]}],"e":{},"ea":[]}"#;

#[test]
fn pretty_matches_redisjson_transcripts() {
    // FACTS.md §3.2 "JSON.GET formatting and paths".
    let document = doc(GET_DOC);
    assert_eq!(
        pretty(&document, "\t", "\n", " "),
        "{\n\t\"a\": 1,\n\t\"b\": {\n\t\t\"a\": 2,\n\t\t\"c\": \"x\"\n\t},\n\t\"arr\": [\n\t\t1,\n\t\t2.5,\n\t\t\"s\",\n\t\tnull,\n\t\ttrue,\n\t\t{\n\t\t\t\"z\": []\n\t\t}\n\t],\n\t\"e\": {},\n\t\"ea\": []\n}"
    );
    assert_eq!(
        pretty(&document, "  ", "\n", " "),
        "{\n  \"a\": 1,\n  \"b\": {\n    \"a\": 2,\n    \"c\": \"x\"\n  },\n  \"arr\": [\n    1,\n    2.5,\n    \"s\",\n    null,\n    true,\n    {\n      \"z\": []\n    }\n  ],\n  \"e\": {},\n  \"ea\": []\n}"
    );
    let b = doc(r#"{"a":2,"c":"x"}"#);
    assert_eq!(pretty(&b, "--", "", ""), r#"{--"a":2,--"c":"x"}"#);
    assert_eq!(pretty(&b, "", "|", ""), r#"{|"a":2,|"c":"x"|}"#);
    assert_eq!(pretty(&b, "", "", "_"), r#"{"a":_2,"c":_"x"}"#);
    assert_eq!(pretty(&b, "--", "|", "_"), r#"{|--"a":_2,|--"c":_"x"|}"#);
    assert_eq!(pretty(&doc("{}"), "  ", "\n", " "), "{}");
    assert_eq!(pretty(&doc("[]"), "  ", "\n", " "), "[]");
    // §3.9: SPACE only.
    let nested = doc(r#"{"a":1,"b":{"c":[1,{"d":{}}],"e":[]},"s":"x"}"#);
    assert_eq!(
        pretty(&nested, "", "", " "),
        r#"{"a": 1,"b": {"c": [1,{"d": {}}],"e": []},"s": "x"}"#
    );
    // Strings holding brackets, commas and colons are copied untouched.
    assert_eq!(
        pretty(&doc(r#"["[,:]\"{"]"#), " ", "\n", " "),
        "[\n \"[,:]\\\"{\"\n]"
    );
}

#[test]
fn pretty_of_expanded_document_equals_pretty_of_blob() {
    let inner = GET_DOC;
    let expanded = big(inner);
    let blob = doc(&format!(r#"{{"pad":"{}","d":{inner}}}"#, "x".repeat(10)));
    let strip = |s: String, pad: usize| s.replacen(&"x".repeat(pad), "", 1);
    assert_eq!(
        strip(pretty(&expanded, "  ", "\n", " "), EXPAND_BYTES),
        strip(pretty(&blob, "  ", "\n", " "), 10)
    );
}

// ----- reads --------------------------------------------------------------------------------

#[test]
fn value_at_and_value_ref_accessors() {
    for document in [doc(GET_DOC), big(GET_DOC)] {
        let base: Vec<Segment> = if document.is_expanded() {
            vec![key("d")]
        } else {
            vec![]
        };
        let at = |path: &[Segment]| {
            let mut location = base.clone();
            location.extend_from_slice(path);
            document.value_at(&location)
        };
        assert_eq!(at(&[]).unwrap().json_type(), JsonType::Object);
        assert_eq!(at(&[key("a")]).unwrap().json_type(), JsonType::Integer);
        assert_eq!(
            at(&[key("arr"), Segment::Index(1)]).unwrap().json_type(),
            JsonType::Number
        );
        assert_eq!(
            at(&[key("arr"), Segment::Index(1)])
                .unwrap()
                .to_compact_string(),
            "2.5"
        );
        assert_eq!(
            at(&[key("arr"), Segment::Index(3)])
                .unwrap()
                .json_type()
                .name(),
            "null"
        );
        assert_eq!(
            at(&[key("arr"), Segment::Index(4)]).unwrap().boolean(),
            Some(true)
        );
        assert_eq!(at(&[key("b"), key("c")]).unwrap().str_len(), Some(1));
        assert_eq!(at(&[key("arr")]).unwrap().array_len(), Some(6));
        assert_eq!(at(&[key("b")]).unwrap().object_keys().unwrap(), ["a", "c"]);
        assert_eq!(at(&[]).unwrap().object_len(), Some(5));
        assert_eq!(at(&[key("a")]).unwrap().number(), Some(Number::from(1)));
        assert!(at(&[key("nope")]).is_none());
        assert!(at(&[key("arr"), Segment::Index(6)]).is_none());
        assert!(at(&[key("arr"), key("0")]).is_none());
        assert!(at(&[key("a"), Segment::Index(0)]).is_none());
        assert_eq!(
            at(&[key("arr"), Segment::Index(5)]).unwrap().to_value(),
            json!({"z": []})
        );
    }
    // STRLEN counts bytes (FACTS.md §3.0.1: "hé" → 3), also through escapes.
    let strings = doc(r#"{"s":"h\u00e9","e":"a\nb"}"#);
    assert_eq!(strings.value_at(&[key("s")]).unwrap().str_len(), Some(3));
    assert_eq!(strings.value_at(&[key("e")]).unwrap().str_len(), Some(3));
    assert_eq!(
        strings.value_at(&[key("e")]).unwrap().as_string().unwrap(),
        "a\nb"
    );
    // Keys with escapes are found by their decoded name.
    let escaped = doc(r#"{"a\"b":1,"c\\":2}"#);
    assert_eq!(
        escaped
            .value_at(&[key("a\"b")])
            .unwrap()
            .to_compact_string(),
        "1"
    );
    assert_eq!(
        escaped.value_at(&[key("c\\")]).unwrap().to_compact_string(),
        "2"
    );
}

#[test]
fn json_eq_is_type_strict_and_order_insensitive() {
    // FACTS.md §3.0.1: ARRINDEX equality is type-strict (2 ≠ 2.0).
    let document = doc(r#"[2,2.0,{"a":1,"b":2}]"#);
    let two = doc("2");
    let object = doc(r#"{"b":2,"a":1}"#);
    let element = |i| document.value_at(&[Segment::Index(i)]).unwrap();
    assert!(element(0).json_eq(&two.root_ref()));
    assert!(!element(1).json_eq(&two.root_ref()));
    assert!(element(2).json_eq(&object.root_ref()));
}

// ----- edits --------------------------------------------------------------------------------

/// Runs `scenario` on the blob form and the expanded form of `json`; both must give `expected`.
fn both(json: &str, expected: &str, scenario: impl Fn(&mut Document, &[Segment])) {
    let mut small = doc(json);
    scenario(&mut small, &[]);
    assert_eq!(compact(&small), expected, "blob form");
    let mut large = big(json);
    scenario(&mut large, &[key("d")]);
    assert_eq!(unwrap_big(&large), expected, "expanded form");
}

fn at(base: &[Segment], path: &[Segment]) -> Vec<Segment> {
    let mut location = base.to_vec();
    location.extend_from_slice(path);
    location
}

#[test]
fn set_replaces_and_adds_members() {
    // FACTS.md §3.1: new keys go at the end; overwriting keeps the place.
    both(r#"{"a":1}"#, r#"{"a":9,"newkey":"v","n2":{}}"#, |d, b| {
        d.set(&at(b, &[key("newkey")]), &doc(r#""v""#)).unwrap();
        d.set(&at(b, &[key("a")]), &doc("9")).unwrap();
        d.set(&at(b, &[key("n2")]), &doc("{}")).unwrap();
    });
    both(r#"{"arr":[1,2,3]}"#, r#"{"arr":[1,20,3]}"#, |d, b| {
        d.set(&at(b, &[key("arr"), Segment::Index(1)]), &doc("20"))
            .unwrap();
        assert_eq!(
            d.set(&at(b, &[key("arr"), Segment::Index(3)]), &doc("1")),
            Err(JsonError::ArrayIndexOutOfRange)
        );
        assert_eq!(
            d.set(&at(b, &[key("x"), key("y")]), &doc("1")),
            Err(JsonError::NoSuchPath)
        );
        assert_eq!(
            d.set(&at(b, &[key("arr"), key("y")]), &doc("1")),
            Err(JsonError::NoSuchPath)
        );
    });
    both(r#"{}"#, r#"{"a\"b":[1]}"#, |d, b| {
        d.set(&at(b, &[key("a\"b")]), &doc("[1]")).unwrap();
    });
    let mut root = doc("1");
    root.set(&[], &doc("[2]")).unwrap();
    assert_eq!(compact(&root), "[2]");
}

#[test]
fn delete_keeps_member_order() {
    // RedisJSON swap-removes (FACTS.md §3.0.1 `{a,b,c,d}` DEL b → `{"a":1,"d":4,"c":3}`); we keep order.
    both(
        r#"{"a":1,"b":2,"c":3,"d":4}"#,
        r#"{"a":1,"c":3,"d":4}"#,
        |d, b| {
            d.delete(&at(b, &[key("b")])).unwrap();
        },
    );
    both(r#"{"a":1,"b":2,"c":3}"#, r#"{"b":2}"#, |d, b| {
        d.delete(&at(b, &[key("a")])).unwrap();
        d.delete(&at(b, &[key("c")])).unwrap();
        assert_eq!(d.delete(&at(b, &[key("zz")])), Err(JsonError::NoSuchPath));
    });
    both(r#"[0,[1],{"x":2},3]"#, r#"[[1],3]"#, |d, b| {
        d.delete(&at(b, &[Segment::Index(2)])).unwrap();
        d.delete(&at(b, &[Segment::Index(0)])).unwrap();
        assert_eq!(
            d.delete(&at(b, &[Segment::Index(2)])),
            Err(JsonError::NoSuchPath)
        );
    });
    both(r#"{"o":{"only":1}}"#, r#"{"o":{}}"#, |d, b| {
        d.delete(&at(b, &[key("o"), key("only")])).unwrap();
    });
    assert_eq!(doc("1").delete(&[]), Err(JsonError::RootDelete));
}

fn number(text: &str) -> Number {
    serde_json::from_str(text).unwrap()
}

#[test]
fn number_arithmetic_follows_redisjson_except_overflow() {
    // FACTS.md §3.4 NUMINCRBY / NUMMULTBY transcripts.
    both(
        r#"{"a":1,"b":{"a":2.5},"c":"s"}"#,
        r#"{"a":10.0,"b":{"a":2.5},"c":"s"}"#,
        |d, b| {
            let incr = |d: &mut Document, path: &[Segment], by: &str| {
                d.num_incr_by(&at(b, path), &number(by))
            };
            assert_eq!(
                incr(d, &[key("a")], "2")
                    .map(|n| crate::format_number(&n))
                    .unwrap(),
                "3"
            );
            assert_eq!(
                incr(d, &[key("a")], "2")
                    .map(|n| crate::format_number(&n))
                    .unwrap(),
                "5"
            );
            assert_eq!(
                incr(d, &[key("a")], "1.5")
                    .map(|n| crate::format_number(&n))
                    .unwrap(),
                "6.5"
            );
            assert_eq!(
                incr(d, &[key("a")], "3.5")
                    .map(|n| crate::format_number(&n))
                    .unwrap(),
                "10.0"
            );
            assert_eq!(
                incr(d, &[key("c")], "1"),
                Err(JsonError::WrongType {
                    expected: JsonType::Number,
                    found: JsonType::String
                })
            );
            assert_eq!(
                incr(d, &[key("b")], "1").unwrap_err().to_string(),
                "WRONGTYPE wrong type of path value - expected number but found object"
            );
            assert_eq!(incr(d, &[key("nope")], "1"), Err(JsonError::NoSuchPath));
        },
    );
    // §3.2: 0.1 + 0.2.
    both("[0.1]", "[0.30000000000000004]", |d, b| {
        d.num_incr_by(&at(b, &[Segment::Index(0)]), &number("0.2"))
            .unwrap();
    });
    // Overflow is an error (RedisJSON wraps); the value stays.
    both(
        "[9223372036854775807,-9223372036854775808,4611686018427387904]",
        "[9223372036854775807,-9223372036854775808,4611686018427387904]",
        |d, b| {
            let err = d
                .num_incr_by(&at(b, &[Segment::Index(0)]), &number("1"))
                .unwrap_err();
            assert_eq!(err.to_string(), "ERR increment or decrement would overflow");
            assert_eq!(
                d.num_incr_by(&at(b, &[Segment::Index(1)]), &number("-1")),
                Err(JsonError::Overflow)
            );
            assert_eq!(
                d.num_mult_by(&at(b, &[Segment::Index(2)]), &number("2")),
                Err(JsonError::Overflow)
            );
        },
    );
    // u64 operands go to f64 like RedisJSON (§3.4: 18446744073709551615 + 1 → 1.8446744073709552e19).
    both(
        "[18446744073709551615,5]",
        "[1.8446744073709552e19,9.223372036854776e18]",
        |d, b| {
            d.num_incr_by(&at(b, &[Segment::Index(0)]), &number("1"))
                .unwrap();
            d.num_incr_by(&at(b, &[Segment::Index(1)]), &number("9223372036854775808"))
                .unwrap();
        },
    );
    // NUMMULTBY §3.4: 6*3=18, *0.5 → 9.0, *2 → 18.0; 1.5*1e308 → 1.5e308, again → error; *-1 of 0.0 → -0.0.
    both(
        r#"{"a":6,"f":1.5,"z":0.0}"#,
        r#"{"a":18.0,"f":1.5e308,"z":-0.0}"#,
        |d, b| {
            let mult = |d: &mut Document, name: &str, by: &str| {
                d.num_mult_by(&at(b, &[key(name)]), &number(by))
            };
            assert_eq!(
                mult(d, "a", "3").map(|n| crate::format_number(&n)).unwrap(),
                "18"
            );
            assert_eq!(
                mult(d, "a", "0.5")
                    .map(|n| crate::format_number(&n))
                    .unwrap(),
                "9.0"
            );
            assert_eq!(
                mult(d, "a", "2").map(|n| crate::format_number(&n)).unwrap(),
                "18.0"
            );
            assert_eq!(
                mult(d, "f", "1e308")
                    .map(|n| crate::format_number(&n))
                    .unwrap(),
                "1.5e308"
            );
            assert_eq!(
                mult(d, "f", "1e308").unwrap_err().to_string(),
                "ERR result is not a number"
            );
            assert_eq!(
                mult(d, "z", "-1")
                    .map(|n| crate::format_number(&n))
                    .unwrap(),
                "-0.0"
            );
        },
    );
    // NUMPOWBY §3.4: 2^3 → 8 (integer), 8^0.5 → float.
    both("[2]", "[8]", |d, b| {
        assert_eq!(
            d.num_op(&at(b, &[Segment::Index(0)]), NumOp::Pow, &number("3"))
                .map(|n| crate::format_number(&n))
                .unwrap(),
            "8"
        );
    });
    assert_eq!(
        crate::apply_num_op(&number("2"), &number("0.5"), NumOp::Pow)
            .map(|n| crate::format_number(&n))
            .unwrap(),
        "1.4142135623730951"
    );
    assert_eq!(
        crate::apply_num_op(&number("2"), &number("64"), NumOp::Pow),
        Err(JsonError::Overflow)
    );
    assert_eq!(
        crate::apply_num_op(&number("0"), &number("-1"), NumOp::Pow),
        Err(JsonError::NotANumber)
    );
}

#[test]
fn string_append_counts_bytes() {
    // FACTS.md §3.4 STRAPPEND: "foo"+"baz" → 6.
    both(
        r#"{"s":"foo","u":"h\u00e9","x":1}"#,
        r#"{"s":"foobaz\n\"","u":"héé","x":1}"#,
        |d, b| {
            assert_eq!(d.str_append(&at(b, &[key("s")]), "baz"), Ok(6));
            assert_eq!(d.str_append(&at(b, &[key("s")]), "\n\""), Ok(8));
            assert_eq!(d.str_append(&at(b, &[key("u")]), "é"), Ok(5));
            assert_eq!(
                d.str_append(&at(b, &[key("x")]), "a"),
                Err(JsonError::WrongType {
                    expected: JsonType::String,
                    found: JsonType::Integer
                })
            );
        },
    );
}

#[test]
fn toggle_flips_booleans_only() {
    both(
        r#"{"a":true,"b":false,"n":1}"#,
        r#"{"a":false,"b":true,"n":1}"#,
        |d, b| {
            assert_eq!(d.toggle(&at(b, &[key("a")])), Ok(false));
            assert_eq!(d.toggle(&at(b, &[key("b")])), Ok(true));
            assert!(matches!(
                d.toggle(&at(b, &[key("n")])),
                Err(JsonError::WrongType { .. })
            ));
        },
    );
}

#[test]
fn clear_matches_redisjson() {
    // FACTS.md §3.6 JSON.CLEAR.
    let input = r#"{"obj":{"a":1,"b":2},"arr":[1,2,3],"str":"foo","bool":true,"int":42,"float":3.14,"nul":null,"e":[]}"#;
    both(
        input,
        r#"{"obj":{},"arr":[],"str":"foo","bool":true,"int":0,"float":0,"nul":null,"e":[]}"#,
        |d, b| {
            let cleared: Vec<bool> = ["obj", "arr", "str", "bool", "int", "float", "nul", "e"]
                .iter()
                .map(|name| d.clear(&at(b, &[key(name)])).unwrap())
                .collect();
            assert_eq!(
                cleared,
                [true, true, false, false, true, true, false, false]
            );
        },
    );
    both(input, "{}", |d, b| {
        assert_eq!(d.clear(b), Ok(true));
        assert_eq!(d.clear(b), Ok(false));
    });
    let mut n = doc("5.5");
    assert_eq!(n.clear(&[]), Ok(true));
    assert_eq!(compact(&n), "0");
}

#[test]
fn array_append_insert_pop_trim() {
    // FACTS.md §3.5 ARRINSERT.
    both(
        r#"{"a":[1,2,3],"s":"x"}"#,
        r#"{"a":[9,9,0,1,2,"x","y",3,9,9],"s":"x"}"#,
        |d, b| {
            let a = at(b, &[key("a")]);
            assert_eq!(d.arr_insert(&a, 0, &[doc("0")]), Ok(4));
            assert_eq!(d.arr_insert(&a, -1, &[doc(r#""x""#), doc(r#""y""#)]), Ok(6));
            assert_eq!(d.arr_insert(&a, 6, &[doc("9")]), Ok(7));
            assert_eq!(d.arr_insert(&a, 7, &[doc("9")]), Ok(8));
            assert_eq!(d.arr_insert(&a, -8, &[doc("9")]), Ok(9));
            assert_eq!(d.arr_insert(&a, -9, &[doc("9")]), Ok(10));
            assert_eq!(
                d.arr_insert(&a, 100, &[doc("9")]),
                Err(JsonError::IndexOutOfBounds)
            );
            assert_eq!(
                d.arr_insert(&a, -100, &[doc("9")]).unwrap_err().to_string(),
                "ERR index out of bounds"
            );
            assert!(matches!(
                d.arr_insert(&at(b, &[key("s")]), 0, &[doc("1")]),
                Err(JsonError::WrongType { .. })
            ));
        },
    );
    // ARRAPPEND (events transcript §4.1 and §3.0 legacy examples).
    both(
        r#"{"a":[],"b":[1],"s":"x"}"#,
        r#"{"a":[1,[2],{"c":3}],"b":[1,"z"],"s":"x"}"#,
        |d, b| {
            assert_eq!(
                d.arr_append(
                    &at(b, &[key("a")]),
                    &[doc("1"), doc("[2]"), doc(r#"{"c":3}"#)]
                ),
                Ok(3)
            );
            assert_eq!(d.arr_append(&at(b, &[key("b")]), &[doc(r#""z""#)]), Ok(2));
            assert_eq!(
                d.arr_append(&at(b, &[key("s")]), &[doc("1")]),
                Err(JsonError::WrongType {
                    expected: JsonType::Array,
                    found: JsonType::String
                })
            );
        },
    );
    // ARRPOP §3.5.
    both(
        r#"{"a":[1,"two",{"t":3},[4],null,5.5]}"#,
        r#"{"a":[]}"#,
        |d, b| {
            let a = at(b, &[key("a")]);
            let popped: Vec<Option<String>> = [-1, -1, 0, 1, -1, 100, -100]
                .iter()
                .map(|&index| d.arr_pop(&a, index).unwrap())
                .collect();
            let expected = ["5.5", "null", "1", r#"{"t":3}"#, "[4]", r#""two""#];
            for (got, want) in popped.iter().zip(expected.iter()) {
                assert_eq!(got.as_deref(), Some(*want));
            }
            assert_eq!(popped[6], None);
        },
    );
    both(
        r#"[1.0,2.5,1e30,"s\u00e9",{"a":[1,{"b":null}]}]"#,
        "[]",
        |d, b| {
            let popped: Vec<String> = (0..5).map(|_| d.arr_pop(b, 0).unwrap().unwrap()).collect();
            assert_eq!(
                popped,
                ["1.0", "2.5", "1e30", "\"sé\"", r#"{"a":[1,{"b":null}]}"#]
            );
        },
    );
    // ARRTRIM §3.5.
    for (start, stop, length, result) in [
        (1, 5, 5, "[1,2,3,4,5]"),
        (-3, -1, 3, "[4,5,6]"),
        (5, 2, 0, "[]"),
        (10, 20, 0, "[]"),
        (2, 100, 5, "[2,3,4,5,6]"),
        (-100, 1, 2, "[0,1]"),
        (3, -100, 0, "[]"),
        (0, -1, 7, "[0,1,2,3,4,5,6]"),
        (1, 0, 0, "[]"),
        (0, 0, 1, "[0]"),
    ] {
        both("[0,1,2,3,4,5,6]", result, |d, b| {
            assert_eq!(d.arr_trim(b, start, stop), Ok(length), "{start} {stop}");
        });
    }
    both("[]", "[]", |d, b| assert_eq!(d.arr_trim(b, 0, 1), Ok(0)));
}

#[test]
fn merge_is_rfc7386_keeping_order() {
    // FACTS.md §3.3 JSON.MERGE, except that a null-delete keeps the order of the others.
    let mut m = doc(r#"{"a":1,"b":{"c":2,"d":3},"e":[1,2],"f":"s"}"#);
    m.merge(&[], &doc(r#"{"a":null}"#)).unwrap();
    assert_eq!(compact(&m), r#"{"b":{"c":2,"d":3},"e":[1,2],"f":"s"}"#);
    m.merge(&[], &doc(r#"{"b":{"c":20,"x":{"y":1}}}"#)).unwrap();
    assert_eq!(
        compact(&m),
        r#"{"b":{"c":20,"d":3,"x":{"y":1}},"e":[1,2],"f":"s"}"#
    );
    m.merge(&[], &doc(r#"{"e":[3]}"#)).unwrap();
    m.merge(&[key("b"), key("c")], &doc("5")).unwrap();
    m.merge(&[key("b"), key("nope")], &doc("5")).unwrap();
    assert_eq!(
        compact(&m),
        r#"{"b":{"c":5,"d":3,"x":{"y":1},"nope":5},"e":[3],"f":"s"}"#
    );
    assert_eq!(
        m.merge(&[key("nope"), key("deeper")], &doc("5")),
        Err(JsonError::NoSuchPath)
    );
    m.merge(&[], &doc(r#"{"z":{"a":null}}"#)).unwrap();
    assert_eq!(
        compact(&m),
        r#"{"b":{"c":5,"d":3,"x":{"y":1},"nope":5},"e":[3],"f":"s","z":{}}"#
    );
    m.merge(&[], &doc("null")).unwrap();
    assert_eq!(compact(&m), "null");
    let mut m4 = doc("[1,2]");
    m4.merge(&[], &doc(r#"{"a":1}"#)).unwrap();
    assert_eq!(compact(&m4), r#"{"a":1}"#);
    let mut m5 = doc(r#"{"a":[1]}"#);
    m5.merge(&[key("a"), Segment::Index(0)], &doc("5")).unwrap();
    assert_eq!(compact(&m5), r#"{"a":[5]}"#);
    assert_eq!(
        m5.merge(&[key("a"), Segment::Index(5)], &doc("5")),
        Err(JsonError::ArrayIndexOutOfRange)
    );
    both(
        r#"{"a":1,"b":2,"c":3}"#,
        r#"{"a":1,"c":3,"n":{"k":1}}"#,
        |d, b| {
            d.merge(b, &doc(r#"{"b":null,"n":{"k":1,"gone":null}}"#))
                .unwrap();
        },
    );
}

#[test]
fn transaction_is_all_or_nothing() {
    let mut document = doc(r#"{"a":1,"b":"s"}"#);
    let result = document.transaction(|d| {
        d.num_incr_by(&[key("a")], &number("1"))?;
        d.num_incr_by(&[key("b")], &number("1"))
    });
    assert!(result.is_err());
    assert_eq!(compact(&document), r#"{"a":1,"b":"s"}"#);
    document
        .transaction(|d| {
            d.num_incr_by(&[key("a")], &number("1"))?;
            d.str_append(&[key("b")], "t")
        })
        .unwrap();
    assert_eq!(compact(&document), r#"{"a":2,"b":"st"}"#);
}

// ----- representation -----------------------------------------------------------------------

#[test]
fn threshold_expands_and_collapses() {
    let small = format!(r#"["{}"]"#, "a".repeat(EXPAND_BYTES - 4));
    assert_eq!(small.len(), EXPAND_BYTES);
    assert!(!doc(&small).is_expanded());
    let large = format!(r#"["{}"]"#, "a".repeat(EXPAND_BYTES - 3));
    assert!(doc(&large).is_expanded());
    // Growing a blob past the threshold expands it; shrinking an expanded one collapses it.
    let mut document = doc("[]");
    for _ in 0..100 {
        document
            .arr_append(&[], &[doc(&format!(r#""{}""#, "b".repeat(60)))])
            .unwrap();
    }
    assert!(document.is_expanded());
    document.arr_trim(&[], 0, 9).unwrap();
    assert!(!document.is_expanded());
    assert_eq!(document.value_at(&[]).unwrap().array_len(), Some(10));
    // Ancestors collapse too once the edited child has shrunk.
    let mut nested = doc(&format!(
        r#"{{"a":1,"list":[{}]}}"#,
        vec!["12345678"; 600].join(",")
    ));
    assert!(nested.is_expanded());
    nested.arr_trim(&[key("list")], 0, 1).unwrap();
    assert!(!nested.is_expanded());
    assert_eq!(compact(&nested), r#"{"a":1,"list":[12345678,12345678]}"#);
    // A big scalar string stays one blob.
    assert!(!doc(&format!(r#""{}""#, "c".repeat(3 * EXPAND_BYTES))).is_expanded());
}

#[test]
fn memory_of_a_1kb_document() {
    let text = include_str!("../testdata/mem_doc.json").trim();
    let document = doc(text);
    assert!(!document.is_expanded());
    let bytes = document.memory_usage();
    println!(
        "mem_doc.json: {} bytes of JSON, memory_usage {} B (RedisJSON JSON.DEBUG MEMORY 3482, FACTS.md §5)",
        text.len(),
        bytes
    );
    // One blob allocation (958 B → 1024-byte class) plus the 32-byte boxed document.
    assert!(bytes <= 1100, "{bytes}");
    assert_eq!(compact(&document), text);
}

#[test]
fn appends_to_a_big_array_are_amortised_constant() {
    let mut document = doc("[]");
    let element = doc(r#"{"id":1,"name":"x"}"#);
    REWRITTEN_BYTES.with(|counter| counter.set(0));
    for _ in 0..100_000 {
        document
            .arr_append(&[], std::slice::from_ref(&element))
            .unwrap();
    }
    let rewritten = REWRITTEN_BYTES.with(|counter| counter.get());
    println!(
        "100k appends: {rewritten} blob bytes rewritten in total, memory_usage {} B ({} B/element)",
        document.memory_usage(),
        document.memory_usage() / 100_000
    );
    // Only the first ~4 KiB are blob splices (each ≤ EXPAND_BYTES); the rest are Vec::push.
    assert!(
        rewritten < (EXPAND_BYTES * EXPAND_BYTES) as u64,
        "{rewritten}"
    );
    assert_eq!(document.value_at(&[]).unwrap().array_len(), Some(100_000));
    // Edits deep inside stay local too.
    REWRITTEN_BYTES.with(|counter| counter.set(0));
    document
        .set(&[Segment::Index(50_000), key("name")], &doc(r#""y""#))
        .unwrap();
    document
        .num_incr_by(&[Segment::Index(7), key("id")], &number("1"))
        .unwrap();
    assert!(REWRITTEN_BYTES.with(|counter| counter.get()) < 100);
    assert_eq!(
        document
            .value_at(&[Segment::Index(50_000)])
            .unwrap()
            .to_compact_string(),
        r#"{"id":1,"name":"y"}"#
    );
}

#[test]
fn errors_display_wire_text() {
    assert_eq!(
        JsonError::ArrayIndexOutOfRange.to_string(),
        "ERR array index out of range"
    );
    assert_eq!(
        JsonError::NotANumber.to_string(),
        "ERR result is not a number"
    );
    assert_eq!(
        JsonError::WrongType {
            expected: JsonType::Array,
            found: JsonType::String
        }
        .to_string(),
        "WRONGTYPE wrong type of path value - expected array but found string"
    );
}

#[test]
fn value_round_trip() {
    let value = json!({"b": [1, 2.5, {"c": null}], "a": "x"});
    let document = Document::from_value(&value);
    assert_eq!(document.to_value(), value);
    assert_eq!(compact(&document), r#"{"b":[1,2.5,{"c":null}],"a":"x"}"#);
}

/// An edit at a [`crate::Spot`] (one walk) does what the same edit at the match's location does,
/// in a blob document and an expanded one, including negative indices, wrong types and misses.
#[test]
fn edits_at_a_spot_match_edits_at_the_location() {
    use crate::path::Path;
    let json =
        r#"{"n":41,"f":1.5,"s":"x","a":[1,[2],{"k":-3}],"o":{"deep":{"n":9007199254740993}}}"#;
    let paths = [
        "$.n",
        "$.f",
        "$.s",
        "$.a",
        "$.a[1]",
        "$.a[-2]",
        "$.a[2].k",
        "$.o.deep.n",
        "$.o",
        "$",
        "$.missing",
        "$.a[9]",
        "$.n.x",
    ];
    for path_text in paths {
        let path = Path::parse(path_text).unwrap();
        let steps = path.as_simple().unwrap();
        for (small, wrapped) in [(doc(json), false), (big(json), true)] {
            let mut by_spot = small.clone();
            let mut by_location = small.clone();
            let mut big_steps = vec![crate::path::Step::Key("d".into())];
            big_steps.extend_from_slice(steps);
            let steps = if wrapped { &big_steps[..] } else { steps };
            let location = by_location.walk_location(steps);
            let spot = by_spot.spot(steps);
            assert_eq!(location.is_some(), spot.is_some(), "{path_text}");
            let (Some(location), Some(spot)) = (location, spot) else {
                continue;
            };
            let by = Number::from(2);
            let spot_result = by_spot.num_op(spot, NumOp::Add, &by);
            let location_result = by_location.num_op(&location, NumOp::Add, &by);
            assert_eq!(
                format!("{spot_result:?}"),
                format!("{location_result:?}"),
                "{path_text}"
            );
            let spot = by_spot.spot(steps).unwrap();
            let values = [doc("7"), doc(r#"{"z":[]}"#)];
            let spot_result = by_spot.arr_append(spot, &values);
            let location_result = by_location.arr_append(&location, &values);
            assert_eq!(
                format!("{spot_result:?}"),
                format!("{location_result:?}"),
                "{path_text}"
            );
            assert_eq!(compact(&by_spot), compact(&by_location), "{path_text}");
        }
    }
}

#[test]
fn plain_integers_are_read_as_json_reads_them() {
    for text in [
        "0",
        "7",
        "-1",
        "1042",
        "-123456789012345678",
        "123456789012345678",
    ] {
        let expected: Number = serde_json::from_str(text).unwrap();
        assert_eq!(
            crate::plain_integer(text).map(Number::from),
            Some(expected),
            "{text}"
        );
    }
    // Floats, non-canonical spellings, too many digits, not numbers: left to serde_json.
    for text in [
        "",
        "-",
        "-0",
        "01",
        "-01",
        "+1",
        "1.0",
        "1e3",
        " 1",
        "1 ",
        "1234567890123456789",
        "a",
    ] {
        assert_eq!(crate::plain_integer(text), None, "{text}");
    }
}

// ---------------------------------------------------------------------------------------------
// Fast paths against the general ones.

mod fast_paths {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use crate::Document;
    use crate::path::{Path, Step};

    /// Strings made of the characters the scanners treat specially, at every offset relative to
    /// the 8-byte chunks of the string scan: quotes, backslashes, controls, non-ASCII.
    fn tricky_string() -> impl Strategy<Value = String> {
        "[ab\"\\\\/\n\t\u{1}\u{7f}üé😀,:\\[\\]{}]{0,20}"
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Every member of an object with tricky keys and values is found by its key, in a blob
        /// document and in an expanded one.
        #[test]
        fn members_with_tricky_keys_are_found(
            members in prop::collection::vec((tricky_string(), tricky_string()), 1..8),
        ) {
            let object: serde_json::Map<String, Value> =
                members.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect();
            let small = Value::Object(object.clone());
            let big = json!({"pad": "p".repeat(5000), "o": small.clone()});
            for (root, prefix) in [(&small, vec![]), (&big, vec![Step::Key("o".into())])] {
                let stored = Document::from_value(root);
                for (name, value) in &object {
                    let mut steps = prefix.clone();
                    steps.push(Step::Key(name.clone()));
                    let found = stored.find(&steps).map(|v| v.to_value());
                    prop_assert_eq!(found.as_ref(), Some(value), "{:?}", name);
                }
                let mut missing = prefix.clone();
                missing.push(Step::Key("\u{0}missing".into()));
                prop_assert!(stored.find(&missing).is_none());
            }
        }
    }

    /// Values with tricky strings (as keys and values), numbers with exponents, nesting.
    fn tricky_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            tricky_string().prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::vec((tricky_string(), inner), 0..5)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The UTF-8 input path (borrowed strings copied as they are) gives the same canonical
        /// text as the byte path and as the reference writer, compact or pretty input.
        #[test]
        fn from_json_str_agrees_with_from_json(value in tricky_value(), pretty in any::<bool>()) {
            let input = if pretty {
                serde_json::to_string_pretty(&value).unwrap()
            } else {
                serde_json::to_string(&value).unwrap()
            };
            let fast = Document::from_json_str(&input).unwrap().to_compact_string();
            let general = Document::from_json(input.as_bytes()).unwrap().to_compact_string();
            prop_assert_eq!(&fast, &general);
            prop_assert_eq!(&fast, &Document::from_value(&value).to_compact_string());
        }

        /// Errors (and successes) are the same on mangled input.
        #[test]
        fn from_json_str_fails_like_from_json(
            value in tricky_value(),
            cut in any::<prop::sample::Index>(),
            insert in r#"[\]\[{}",:\\a0 -]{0,2}"#,
        ) {
            let text = serde_json::to_string(&value).unwrap();
            let mut at = cut.index(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let input = format!("{}{}{}", &text[..at], insert, &text[at..]);
            let fast = Document::from_json_str(&input).map(|d| d.to_compact_string());
            let general = Document::from_json(input.as_bytes()).map(|d| d.to_compact_string());
            prop_assert_eq!(format!("{fast:?}"), format!("{general:?}"), "{}", input);
        }
    }

    #[test]
    fn from_json_str_on_escapes_and_numbers() {
        for (input, canonical) in [
            (r#""a\"b""#, r#""a\"b""#),
            (r#""\u00e9\/\n\u0001\ud83d\ude00""#, "\"é/\\n\\u0001😀\""),
            ("\"\u{7f}ü\"", "\"\u{7f}ü\""),
            (
                r#"{"k\"":1,"k":[1e3,-0,1E-7,12345678901234567890,-9223372036854775809]}"#,
                r#"{"k\"":1,"k":[1000.0,-0.0,1e-7,12345678901234567890,-9.223372036854776e18]}"#,
            ),
            (r#"{"a":1,"b":2,"a":3}"#, r#"{"a":3,"b":2}"#),
            (" [ [ ] , { } ] ", "[[],{}]"),
        ] {
            let fast = Document::from_json_str(input).unwrap().to_compact_string();
            let general = Document::from_json(input.as_bytes())
                .unwrap()
                .to_compact_string();
            assert_eq!(fast, canonical, "{input}");
            assert_eq!(general, canonical, "{input}");
        }
        for bad in [
            "\"\u{1}\"",
            "[1,]",
            "1 2",
            r#""\x""#,
            r#""\ud800""#,
            "1e400",
            r#"{"a" 1}"#,
        ] {
            let fast = Document::from_json_str(bad).map(|_| ());
            assert!(fast.is_err(), "{bad}");
            let general = Document::from_json(bad.as_bytes()).map(|_| ());
            assert_eq!(format!("{fast:?}"), format!("{general:?}"), "{bad}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The word-at-a-time scanners agree with the value: a whole value is skipped to its end,
        /// and an array's elements are counted, whatever strings and nesting it holds.
        #[test]
        fn scanners_measure_values(
            items in prop::collection::vec(tricky_value(), 0..12),
            value in tricky_value(),
        ) {
            let text = Document::from_value(&value).to_compact_string();
            if text.starts_with(['[', '{', '"']) {
                prop_assert_eq!(crate::text::skip_value(text.as_bytes(), 0), text.len());
            }
            let array = Document::from_value(&Value::Array(items.clone())).to_compact_string();
            if array.len() <= crate::EXPAND_BYTES {
                let count = crate::text::element_count(array.as_bytes(), 0..array.len());
                prop_assert_eq!(count, Some(items.len()), "{}", array);
                prop_assert_eq!(crate::text::skip_value(array.as_bytes(), 0), array.len());
            }
            prop_assert_eq!(crate::text::element_count(b"{}", 0..2), None);
        }

        /// Every member and element of a blob is found past values of any kind (the walk skips
        /// numbers, literals, strings and containers in line, 16 bytes at a time).
        #[test]
        fn members_and_elements_are_found_past_any_values(
            members in prop::collection::vec((tricky_string(), tricky_value()), 1..8),
        ) {
            let object: serde_json::Map<String, Value> = members.into_iter().collect();
            let values: Vec<Value> = object.values().cloned().collect();
            let stored = Document::from_value(&json!({"o": object.clone(), "a": values.clone()}));
            for (name, value) in &object {
                let steps = [Step::Key("o".into()), Step::Key(name.clone())];
                let found = stored.find(&steps).map(|v| v.to_value());
                prop_assert_eq!(found.as_ref(), Some(value));
            }
            for (index, value) in values.iter().enumerate() {
                let steps = [Step::Key("a".into()), Step::Index(index as i64)];
                let found = stored.find(&steps).map(|v| v.to_value());
                prop_assert_eq!(found.as_ref(), Some(value));
            }
        }

        /// A container skipped from any offset, with text after it: the 16-byte blocks of the
        /// skip start and end anywhere in it (escapes and brackets in strings across block
        /// boundaries, a container ending inside a block or in the last bytes of the text).
        #[test]
        fn containers_are_skipped_from_any_offset(
            value in tricky_value(),
            before in 0usize..40,
            after in prop_oneof![Just(0usize), 0usize..40],
        ) {
            let inner = Document::from_value(&value).to_compact_string();
            let container = if inner.starts_with(['[', '{']) { inner } else { format!("[{inner}]") };
            let mut text = format!("[\"{}\",", "x".repeat(before));
            let start = text.len();
            text.push_str(&container);
            let end = text.len();
            if after > 0 {
                text.push_str(&format!(",\"{}\"", "]}\\\\".repeat(after)));
            }
            text.push(']');
            prop_assert_eq!(crate::text::skip_value(text.as_bytes(), start), end, "{}", text);
            prop_assert_eq!(crate::text::skip_value(text.as_bytes(), 0), text.len(), "{}", text);
        }

        /// Arrays of numbers, literals and nested arrays (the word-at-a-time path of
        /// `skip_value`), inside an object so the scan starts mid-text.
        #[test]
        fn scanners_measure_number_arrays(
            items in prop::collection::vec(prop_oneof![
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                prop::collection::vec(any::<i32>().prop_map(Value::from), 0..4).prop_map(Value::Array),
                tricky_string().prop_map(Value::from),
            ], 0..300),
        ) {
            let array = Value::Array(items.clone());
            let text = Document::from_value(&json!({"a": array, "b": 1})).to_compact_string();
            let start = "{\"a\":".len();
            let end = text.len() - ",\"b\":1}".len();
            prop_assert_eq!(crate::text::skip_value(text.as_bytes(), start), end);
            prop_assert_eq!(
                crate::text::element_count(text.as_bytes(), start..end),
                Some(items.len())
            );
        }
    }

    #[test]
    fn walk_handles_wrong_types_and_ranges() {
        let stored =
            Document::from_json(br#"{"a":[1,[2,3],{"b\"c":4e5,"\u00fc":"x"}],"s":"t","n":null}"#)
                .unwrap();
        let find = |path: &str| {
            let path = Path::parse(path).unwrap();
            stored
                .find(path.as_simple().unwrap())
                .map(|v| v.to_compact_string())
        };
        assert_eq!(find("$.a[1][-1]").as_deref(), Some("3"));
        assert_eq!(find("$.a[-3]").as_deref(), Some("1"));
        assert_eq!(find("$.a[-4]"), None);
        assert_eq!(find("$.a[3]"), None);
        assert_eq!(find("$.a[2]['b\"c']").as_deref(), Some("400000.0"));
        assert_eq!(find("$.a[2].ü").as_deref(), Some("\"x\""));
        assert_eq!(find("$.s[0]"), None);
        assert_eq!(find("$.s.x"), None);
        assert_eq!(find("$.n.x"), None);
        assert_eq!(find("$.a.x"), None);
        assert_eq!(find("$[0]"), None);
        assert_eq!(find(".a[1]").as_deref(), Some("[2,3]"));
    }
}

#[test]
fn compact_text_is_the_blob_of_a_small_document_only() {
    let small = doc(r#"{ "a" : [1, 2.50, "x"] }"#);
    assert_eq!(small.compact_text(), Some(r#"{"a":[1,2.5,"x"]}"#));
    // Past the expansion threshold the document is nodes: no single text to lend.
    let items: Vec<String> = (0..2000).map(|i| i.to_string()).collect();
    let big = doc(&format!("[{}]", items.join(",")));
    assert_eq!(big.compact_text(), None);
    assert_eq!(compact(&big), format!("[{}]", items.join(",")));
}
