//! Tests of the path engine: the RFC 9535 Compliance Test Suite, RedisJSON 2.8 legacy behaviour recorded live
//! (docs/research/redisjson-2.8/out/jsonpath.md), simple-chain detection, and properties.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::Segment;

/// The value at `location`, which must exist.
fn value_at<'a>(root: &'a Value, location: &Location) -> &'a Value {
    location
        .iter()
        .fold(root, |current, segment| match segment {
            Segment::Key(name) => &current[name.as_str()],
            Segment::Index(index) => &current[*index],
        })
}

fn values(path: &str, root: &Value) -> Vec<Value> {
    let path = Path::parse(path).unwrap_or_else(|error| panic!("{path}: {error}"));
    path.query(root)
        .unwrap()
        .iter()
        .map(|location| value_at(root, location).clone())
        .collect()
}

fn first_value(path: &str, root: &Value) -> Option<Value> {
    let path = Path::parse(path).unwrap_or_else(|error| panic!("{path}: {error}"));
    path.query_first(root)
        .unwrap()
        .map(|location| value_at(root, &location).clone())
}

/// RFC 9535 §2.7 normalized path text, to compare with the suite's `result_paths`.
fn normalized_text(location: &Location) -> String {
    let mut text = String::from("$");
    for segment in location {
        match segment {
            Segment::Index(index) => text.push_str(&format!("[{index}]")),
            Segment::Key(name) => {
                text.push_str("['");
                for c in name.chars() {
                    match c {
                        '\u{8}' => text.push_str("\\b"),
                        '\u{c}' => text.push_str("\\f"),
                        '\n' => text.push_str("\\n"),
                        '\r' => text.push_str("\\r"),
                        '\t' => text.push_str("\\t"),
                        '\'' => text.push_str("\\'"),
                        '\\' => text.push_str("\\\\"),
                        c if u32::from(c) < 0x20 => {
                            text.push_str(&format!("\\u{:04x}", u32::from(c)))
                        }
                        c => text.push(c),
                    }
                }
                text.push_str("']");
            }
        }
    }
    text
}

/// Every case of the JSONPath Compliance Test Suite (testdata/cts.json, the copy shipped in the
/// jsonpath-rfc9535 0.1.2 crate package), through our `Path::parse` and `Path::query`: invalid selectors must
/// fail to parse, valid ones must give the expected values *and* normalized paths (one of the allowed
/// orders where the suite allows several).
#[test]
fn rfc9535_compliance_test_suite() {
    let failures = compliance_failures(Dialect::Rfc9535);
    assert!(failures.is_empty(), "{failures:#?}");
}

/// RedisJSON's dialect reads `$` paths as RedisJSON does; of the 703 compliance cases it
/// differs only on selectors RFC 9535 declares invalid that RedisJSON's dialect accepts (a
/// shorthand name starting with a digit or holding `-`, `$`, …; a dot before a bracket). Every
/// valid case gives RFC 9535's result.
#[test]
fn redisjson_dialect_differs_from_rfc9535_only_where_it_must() {
    let failures = compliance_failures(Dialect::RedisJson);
    let expected: Vec<String> = REDISJSON_DIALECT_ACCEPTS
        .iter()
        .map(|case| format!("{case} should be rejected"))
        .collect();
    assert_eq!(failures, expected);
}

/// The compliance cases (name: selector) RFC 9535 rejects and RedisJSON's dialect accepts.
const REDISJSON_DIALECT_ACCEPTS: &[&str] = &["basic, name shorthand, number: \"$.1\""];

/// The compliance cases `dialect` gets wrong ("name: selector ...").
fn compliance_failures(dialect: Dialect) -> Vec<String> {
    let suite: Value = serde_json::from_str(include_str!("testdata/cts.json")).unwrap();
    let cases = suite["tests"].as_array().unwrap();
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let selector = case["selector"].as_str().unwrap();
        let document = case.get("document").cloned().unwrap_or(Value::Null);
        let parsed = Path::parse_in(selector, dialect);
        if case.get("invalid_selector").is_some() {
            if parsed.is_ok() {
                failures.push(format!("{name}: {selector:?} should be rejected"));
            }
            continue;
        }
        let path = match parsed {
            Ok(path) => path,
            Err(error) => {
                failures.push(format!("{name}: {selector:?} rejected: {error}"));
                continue;
            }
        };
        assert!(!path.is_legacy(), "{selector}");
        let locations = path.query(&document).unwrap();
        let got_values: Vec<&Value> = locations
            .iter()
            .map(|location| value_at(&document, location))
            .collect();
        let got_paths: Vec<String> = locations.iter().map(normalized_text).collect();
        let allowed: Vec<(&Value, &Value)> = match case.get("result") {
            Some(result) => vec![(result, &case["result_paths"])],
            None => case["results"]
                .as_array()
                .unwrap()
                .iter()
                .zip(case["results_paths"].as_array().unwrap())
                .collect(),
        };
        let matches_one = allowed.iter().any(|(values, paths)| {
            let values: Vec<&Value> = values.as_array().unwrap().iter().collect();
            let paths: Vec<&str> = paths
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap())
                .collect();
            values == got_values && paths == got_paths
        });
        if !matches_one {
            failures.push(format!(
                "{name}: {selector:?} gave {got_values:?} at {got_paths:?}"
            ));
        }
    }
    let passed = cases.len() - failures.len();
    println!(
        "RFC 9535 compliance ({dialect:?}): {passed} of {} cases pass",
        cases.len()
    );
    assert_eq!(cases.len(), 703);
    failures
}

/// The documents of the live RedisJSON 2.8.3 transcripts.
fn descent_document() -> Value {
    json!({"a":1,"b":{"a":2,"c":{"a":3}},"d":[{"a":4},{"b":{"a":5}}],"a2":{"a":6}})
}

fn filter_document() -> Value {
    json!({"arr":[{"a":1,"n":"x"},{"a":2,"n":"y"},{"a":3,"n":"zz"},{"b":4},{"a":"2"},{"a":null},{"a":true},{"a":2.0},{"a":[1]}],
           "o":{"p":{"a":5},"q":{"a":0}},"nums":[1,5,10,-1]})
}

fn names_document() -> Value {
    json!({"arr":[0,1,2,3,4,5,6,7,8,9],"o":{"a b":1,"c.d":2,"e\"f":3,"$":4,"@":5,"":6,"0":7,"ü":8}})
}

#[test]
fn dollar_paths_agreeing_with_redisjson_transcripts() {
    let k = descent_document();
    assert_eq!(
        values("$..a", &k),
        [json!(1), json!(2), json!(3), json!(4), json!(5), json!(6)]
    );
    assert_eq!(
        values("$..*", &k),
        [
            json!(1),
            k["b"].clone(),
            k["d"].clone(),
            k["a2"].clone(),
            json!(2),
            k["b"]["c"].clone(),
            json!(3),
            k["d"][0].clone(),
            k["d"][1].clone(),
            json!(4),
            k["d"][1]["b"].clone(),
            json!(5),
            json!(6)
        ]
    );
    assert_eq!(values("$..b", &k), [k["b"].clone(), json!({"a":5})]);
    assert_eq!(values("$..b.a", &k), [json!(2), json!(5)]);
    assert_eq!(values("$..[0]", &k), [json!({"a":4})]);
    assert_eq!(values("$..d[*].a", &k), [json!(4)]);
    assert_eq!(values("$.d..a", &k), [json!(4), json!(5)]);

    let f = filter_document();
    let arr = |indices: &[usize]| -> Vec<Value> {
        indices.iter().map(|&i| f["arr"][i].clone()).collect()
    };
    assert_eq!(values("$.arr[?(@.a>1)]", &f), arr(&[1, 2, 7]));
    assert_eq!(values("$.arr[?(@.a>=2)]", &f), arr(&[1, 2, 7]));
    assert_eq!(values("$.arr[?(@.a==2)]", &f), arr(&[1, 7]));
    assert_eq!(values("$.arr[?(@.a==\"2\")]", &f), arr(&[4]));
    assert_eq!(values("$.arr[?(@.a!=2)]", &f), arr(&[0, 2, 3, 4, 5, 6, 8]));
    assert_eq!(values("$.arr[?(@.a<2)]", &f), arr(&[0]));
    assert_eq!(values("$.arr[?(@.a<=2)]", &f), arr(&[0, 1, 7]));
    assert_eq!(values("$.arr[?(@.a)]", &f), arr(&[0, 1, 2, 4, 5, 6, 7, 8]));
    assert_eq!(values("$.arr[?(@.a==null)]", &f), arr(&[5]));
    assert_eq!(values("$.arr[?(@.a==true)]", &f), arr(&[6]));
    assert_eq!(values("$.arr[?(@.a>1 && @.a<3)]", &f), arr(&[1, 7]));
    assert_eq!(values("$.arr[?(@.a==1 || @.b==4)]", &f), arr(&[0, 3]));
    assert_eq!(values("$.arr[?(@.a>1&&@.n==\"zz\")]", &f), arr(&[2]));
    assert_eq!(values("$.arr[?(@.a>$.nums[0])]", &f), arr(&[1, 2, 7]));
    assert_eq!(values("$.arr[?((@.a>1) && (@.a<3))]", &f), arr(&[1, 7]));
    assert_eq!(values("$.arr[?(@.a>1)].n", &f), [json!("y"), json!("zz")]);
    assert_eq!(values("$.o[?(@.a>1)]", &f), [json!({"a":5})]);
    assert!(values("$.o.*[?(@.a>1)]", &f).is_empty());
    assert_eq!(
        values("$.o[?(@.a>=0)]", &f),
        [json!({"a":5}), json!({"a":0})]
    );
    assert_eq!(values("$.nums[?(@>2)]", &f), [json!(5), json!(10)]);
    assert_eq!(values("$.nums[?@>2]", &f), [json!(5), json!(10)]);
    assert_eq!(values("$.nums[?(@ > 2)]", &f), [json!(5), json!(10)]);
    assert_eq!(values("$..[?(@.a==5)]", &f), [json!({"a":5})]);
    assert_eq!(values("$.arr[?(@.a==2.0)]", &f), arr(&[1, 7]));
    assert_eq!(values("$.arr[?(@.a>1.5)]", &f), arr(&[1, 2, 7]));
    assert_eq!(values("$.arr[?(@[\"a\"]>1)]", &f), arr(&[1, 2, 7]));
    assert_eq!(values("$.arr[?(@.n=='x')]", &f), arr(&[0]));

    let n = names_document();
    let ints = |items: &[i64]| -> Vec<Value> { items.iter().map(|&i| json!(i)).collect() };
    assert_eq!(values("$.arr[1:3]", &n), ints(&[1, 2]));
    assert_eq!(values("$.arr[:3]", &n), ints(&[0, 1, 2]));
    assert_eq!(values("$.arr[7:]", &n), ints(&[7, 8, 9]));
    assert_eq!(values("$.arr[-3:]", &n), ints(&[7, 8, 9]));
    assert_eq!(values("$.arr[:-7]", &n), ints(&[0, 1, 2]));
    assert_eq!(values("$.arr[::3]", &n), ints(&[0, 3, 6, 9]));
    assert_eq!(values("$.arr[1:8:2]", &n), ints(&[1, 3, 5, 7]));
    assert_eq!(values("$.arr[0,0,1]", &n), ints(&[0, 0, 1]));
    assert_eq!(values("$.arr[-1,-2]", &n), ints(&[9, 8]));
    assert!(values("$.arr[100]", &n).is_empty());
    assert_eq!(
        values("$.arr[1:100]", &n),
        ints(&[1, 2, 3, 4, 5, 6, 7, 8, 9])
    );
    assert_eq!(values("$.arr[ 1 ]", &n), ints(&[1]));
    assert_eq!(
        values("$.arr[*]", &n),
        ints(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    );
    assert_eq!(values("$.arr.*", &n), ints(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    assert!(values("$.arr.length", &n).is_empty());
    assert_eq!(values("$.o[\"a b\"]", &n), ints(&[1]));
    assert_eq!(values("$.o['a b']", &n), ints(&[1]));
    assert_eq!(values("$.o[\"c.d\"]", &n), ints(&[2]));
    assert_eq!(values("$.o[\"e\\\"f\"]", &n), ints(&[3]));
    assert_eq!(values("$.o[\"$\"]", &n), ints(&[4]));
    assert_eq!(values("$.o[\"\"]", &n), ints(&[6]));
    assert!(values("$.o[0]", &n).is_empty());
    assert_eq!(values("$.o[\"0\"]", &n), ints(&[7]));
    assert_eq!(values("$.o[\"ü\"]", &n), ints(&[8]));
    assert_eq!(values("$.o[\"a b\",\"c.d\"]", &n), ints(&[1, 2]));
    assert_eq!(values("$.o[*]", &n), ints(&[1, 2, 3, 4, 5, 6, 7, 8]));
    assert_eq!(values("$[\"o\"][\"a b\"]", &n), ints(&[1]));

    let r = json!([1, [2, 3]]);
    assert_eq!(values("$[1][0]", &r), ints(&[2]));
}

/// The places where we follow RFC 9535 and RedisJSON 2.8.3 does not (see the module docs).
#[test]
fn dollar_paths_where_we_follow_rfc9535() {
    let f = filter_document();
    let n = names_document();
    // RedisJSON: parse errors. RFC 9535: valid.
    assert_eq!(values("$.arr[?(!@.a)]", &f), [json!({"b":4})]);
    assert_eq!(values("$.nums[?(length(@)>0)]", &f), Vec::<Value>::new());
    assert_eq!(values("$.arr[?(length(@.n)>1)]", &f), [f["arr"][2].clone()]);
    assert_eq!(
        values("$.arr[?(count(@.*)>1)]", &f),
        [
            f["arr"][0].clone(),
            f["arr"][1].clone(),
            f["arr"][2].clone()
        ]
    );
    assert_eq!(
        values("$.arr[?(match(@.n,\"z+\"))]", &f),
        [f["arr"][2].clone()]
    );
    assert_eq!(
        values("$.arr[?(search(@.n,\"z\"))]", &f),
        [f["arr"][2].clone()]
    );
    assert_eq!(values("$.arr[?value(@.a)==3]", &f), [f["arr"][2].clone()]);
    assert_eq!(values("$.arr[::-1]", &n).len(), 10);
    assert_eq!(
        values("$.arr[5:1:-1]", &n),
        [json!(5), json!(4), json!(3), json!(2)]
    );
    assert!(values("$.arr[::0]", &n).is_empty());
    assert_eq!(values("$.o.ü", &n), [json!(8)]);
    assert_eq!(values("$.arr[0:2,5]", &n), [json!(0), json!(1), json!(5)]);
    // Engine gap (module docs): lowercase surrogate-pair escapes are refused, uppercase ones work.
    assert!(Path::parse("$['\\ud83d\\ude00']").is_err());
    assert_eq!(values("$['\\uD83D\\uDE00']", &json!({"😀": 1})), [json!(1)]);
    // RedisJSON: the first element. RFC 9535: nothing.
    assert!(values("$.arr[-100]", &n).is_empty());
    // RedisJSON accepts these RedisJSON-only spellings in `$` paths; RFC 9535 does not.
    for refused in [
        "$.o.$",
        "$.o.0",
        "$.a-b",
        "$.1a",
        "$.arr.[0]",
        "$.o ",
        "$.o.@",
    ] {
        assert!(Path::parse(refused).is_err(), "{refused}");
    }
    // RedisJSON's own parse errors that RFC 9535 shares.
    for refused in [
        "$.arr[0:2,5]x",
        "$.arr[?(@.a in [1,3])]",
        "$.arr[?(@.a==[1])]",
        "$.o.a b",
        "$..",
        "$.",
        "$[",
    ] {
        assert!(Path::parse(refused).is_err(), "{refused}");
    }
}

/// RedisJSON's `=~`, accepted as `search()`; transcripts: `$.arr[?(@.n=~"^z")]`, `$.arr[?(@.n =~ "(?i)Y")]`,
/// `$.arr[?(@.n=~"[")]` (an invalid regex matches nothing).
#[test]
fn regex_operator_as_in_redisjson() {
    let f = filter_document();
    assert_eq!(values("$.arr[?(@.n=~\"^z\")]", &f), [f["arr"][2].clone()]);
    assert_eq!(
        values("$.arr[?(@.n =~ \"(?i)Y\")]", &f),
        [f["arr"][1].clone()]
    );
    assert!(values("$.arr[?(@.n=~\"[\")]", &f).is_empty());
    assert_eq!(
        values("$.arr[?@.a>1 && @['n'] =~ 'z']", &f),
        [f["arr"][2].clone()]
    );
    assert_eq!(
        values("$.arr[?(@.n=~'y' || @.n=~'x')]", &f),
        [f["arr"][0].clone(), f["arr"][1].clone()]
    );
    assert_eq!(values("$.arr[?(@.a=~'2')]", &f), [f["arr"][4].clone()]);
    assert_eq!(first_value(".arr[?(@.n=~\"z$\")].a", &f), Some(json!(3)));
    // A regex taken from the document.
    let doc = json!({"re": "^b", "xs": ["ab", "bc"]});
    assert_eq!(values("$.xs[?@ =~ $.re]", &doc), [json!("bc")]);
    // The rewrite is visible, and strings that merely contain `=~` are left alone.
    assert_eq!(
        Path::parse("$[?@.n=~'a']").unwrap().query_text(),
        "$[?search(@.n, 'a')]"
    );
    assert_eq!(
        Path::parse("$[?@.n=='=~']").unwrap().query_text(),
        "$[?@.n=='=~']"
    );
    assert_eq!(
        values("$[?@.n=='=~']", &json!([{"n": "=~"}])),
        [json!({"n": "=~"})]
    );
    // Malformed uses still fail, with positions in the text as written.
    for refused in ["$[?@.n=~]", "$[?=~'a']", "$[?@.n=~1]", "$.a=~'x'"] {
        assert!(Path::parse(refused).is_err(), "{refused}");
    }
    let error = Path::parse("$[?@.n=~'a' &&]").unwrap_err();
    assert_eq!(error.shown_text(), "$[?@.n=~'a' &&]");
    assert!(error.position() <= error.shown_text().len());
}

#[test]
fn dialect_selection_follows_redisjson() {
    for dollar in [
        "$", "$.a", "$[0]", "$..a", "$.[0]x", "$ .a", "$\t['a']", "$ ",
    ] {
        if let Ok(path) = Path::parse(dollar) {
            assert!(!path.is_legacy(), "{dollar}");
        }
    }
    for legacy in [
        ".", ".a", "a", "a.b", "[0]", "..a", "$$", "$a", "$@", "1a", "@x",
    ] {
        match Path::parse(legacy) {
            Ok(path) => assert!(path.is_legacy(), "{legacy}"),
            Err(error) => assert!(error.shown_text().starts_with('$'), "{legacy}"),
        }
    }
}

#[test]
fn legacy_paths_from_redisjson_transcripts() {
    let k = descent_document();
    // Legacy reads use the first match.
    assert_eq!(first_value("..a", &k), Some(json!(1)));
    assert_eq!(first_value("..b.a", &k), Some(json!(2)));
    // Legacy writes apply to every match: the engine returns them all.
    assert_eq!(Path::parse("..a").unwrap().query(&k).unwrap().len(), 6);

    let f = filter_document();
    assert_eq!(first_value(".arr[?(@.a>1)]", &f), Some(f["arr"][1].clone()));

    let n = names_document();
    assert_eq!(first_value(".o[\"a b\"]", &n), Some(json!(1)));
    assert_eq!(first_value("o[\"a b\"]", &n), Some(json!(1)));
    assert_eq!(first_value("arr[0]", &n), Some(json!(0)));
    assert_eq!(first_value(".arr.[0]", &n), Some(json!(0)));
    assert_eq!(first_value("[0]", &n), None);
    assert_eq!(first_value("$$", &n), None);
    assert_eq!(first_value("$a", &n), None);
    // RedisJSON: the legacy member `$ .o`, which does not exist. RFC 9535: `$.o`.
    assert_eq!(first_value("$ .o", &n), Some(n["o"].clone()));
    assert_eq!(first_value(".o.$", &n), Some(json!(4)));
    assert_eq!(first_value(".o.0", &n), Some(json!(7)));
    assert_eq!(first_value(".o.ü", &n), Some(json!(8)));
    assert_eq!(first_value(".o ", &n), Some(n["o"].clone()));
    assert_eq!(first_value(".", &n), Some(n.clone()));
    assert_eq!(first_value(".arr[-1]", &n), Some(json!(9)));
    assert_eq!(first_value(".o.*", &n), Some(json!(1)));
    assert_eq!(first_value("..*", &n), Some(n["arr"].clone()));

    let k2 = json!({"a-b":1,"_x":2,"a1":3,"1a":4});
    assert_eq!(first_value(".a-b", &k2), Some(json!(1)));
    assert_eq!(first_value("1a", &k2), Some(json!(4)));
    assert_eq!(first_value("a1", &k2), Some(json!(3)));
    assert_eq!(first_value("_x", &k2), Some(json!(2)));
    assert_eq!(first_value("$$", &json!({"$$": 1})), Some(json!(1)));

    let r = json!([1, [2, 3]]);
    assert_eq!(first_value("[1][0]", &r), Some(json!(2)));
    assert_eq!(first_value(".[1]", &r), Some(json!([2, 3])));

    let rewritten = |text: &str| Path::parse(text).unwrap().rewritten_text().to_owned();
    assert_eq!(rewritten("."), "$");
    assert_eq!(rewritten(".nope"), "$.nope");
    assert_eq!(rewritten("nope"), "$.nope");
    assert_eq!(rewritten("$.nope"), "$.nope");
}

#[test]
fn error_texts_have_redisjson_shape() {
    let message = |text: &str| Path::parse(text).unwrap_err().to_string();
    // Where RedisJSON 2.8.3 and we agree on the position (its transcripts), the prefix is the same.
    assert!(message("$.").starts_with("Error occurred on position 2, \"$. <<<<----\", "));
    assert!(message("$..").starts_with("Error occurred on position 3, \"$.. <<<<----\", "));
    assert!(message("$.o.@").starts_with("Error occurred on position 4, \"$.o. ---->>>> @\", "));
    // Legacy errors are shown in the rewritten `$.` text, as RedisJSON shows them.
    assert!(
        message(".arr[0].").starts_with("Error occurred on position 9, \"$.arr[0]. <<<<----\", ")
    );
    assert!(message("@").starts_with("Error occurred on position 2, \"$. ---->>>> @\", "));
    let error = Path::parse("a b").unwrap_err();
    assert_eq!(error.shown_text(), "$.a b");
    assert_eq!(error.position(), 3);
    assert_eq!(error.reason(), "unexpected input");
    // RedisJSON says position 2 here; our parser points at the bracket.
    assert_eq!(
        message("$["),
        "Error occurred on position 1, \"$ ---->>>> [\", unexpected input."
    );
    assert_eq!(
        message("$.1a"),
        "Error occurred on position 2, \"$. ---->>>> 1a\", in dot member name, must start with a letter, '_' or a non-ASCII character."
    );
}

#[test]
fn simple_chain_detection() {
    let steps = |text: &str| Path::parse(text).unwrap().as_simple().map(<[Step]>::to_vec);
    let key = |name: &str| Step::Key(name.to_owned());
    assert_eq!(
        steps("$.friends[1].name"),
        Some(vec![key("friends"), Step::Index(1), key("name")])
    );
    assert_eq!(steps("$"), Some(vec![]));
    assert_eq!(steps("."), Some(vec![]));
    assert_eq!(steps(".a.b"), Some(vec![key("a"), key("b")]));
    assert_eq!(steps("a[0]"), Some(vec![key("a"), Step::Index(0)]));
    assert_eq!(steps("a[-1]"), Some(vec![key("a"), Step::Index(-1)]));
    assert_eq!(steps(".a-b.0"), Some(vec![key("a-b"), key("0")]));
    assert_eq!(
        steps("$[\"a b\"]['c\\'d'] [ -2 ]"),
        Some(vec![key("a b"), key("c'd"), Step::Index(-2)])
    );
    assert_eq!(
        steps("$['\\u00fc\\uD83D\\uDE00\\n']"),
        Some(vec![key("ü😀\n")])
    );
    assert_eq!(steps("$.ü"), Some(vec![key("ü")]));
    for not_simple in [
        "$..a",
        "$[*]",
        "$.*",
        "$.a[?@>1]",
        "$[0,1]",
        "$[0:1]",
        "$['a','b']",
        "..a",
        ".*",
        "a[*]",
        "$.a..b",
    ] {
        assert_eq!(steps(not_simple), None, "{not_simple}");
        assert!(!Path::parse(not_simple).unwrap().is_static());
    }
    assert!(Path::parse("$").unwrap().is_root());
    assert!(Path::parse(".").unwrap().is_root());
    assert!(!Path::parse("$.a").unwrap().is_root());
}

#[test]
fn simple_chain_resolution() {
    let doc = json!({"friends":[{"name":"a"},{"name":"b"}],"n":1});
    let resolved = |text: &str| Path::parse(text).unwrap().query(&doc).unwrap();
    assert_eq!(
        resolved("$.friends[1].name"),
        [vec![
            Segment::Key("friends".into()),
            Segment::Index(1),
            Segment::Key("name".into())
        ]]
    );
    assert_eq!(
        resolved("$.friends[-2]"),
        [vec![Segment::Key("friends".into()), Segment::Index(0)]]
    );
    assert!(resolved("$.friends[-3]").is_empty());
    assert!(resolved("$.friends[2]").is_empty());
    assert!(resolved("$.n.x").is_empty());
    assert!(resolved("$.n[0]").is_empty());
    assert!(resolved("$[0]").is_empty());
    assert_eq!(resolved("$"), [Location::new()]);
    assert_eq!(Step::array_position(i64::MIN, 3), None);
    assert_eq!(Step::array_position(-3, 3), Some(0));
}

/// Documents whose keys come from a small alphabet, so that random chains often find something.
fn arbitrary_document() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-5i64..5).prop_map(Value::from),
        "[a-c]{0,2}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 40, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((arbitrary_key(), inner), 0..4)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

fn arbitrary_key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-c]",
        Just("a b".to_owned()),
        Just("q'\"\\".to_owned()),
        Just("ü".to_owned())
    ]
}

fn arbitrary_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        arbitrary_key().prop_map(Step::Key),
        (-4i64..4).prop_map(Step::Index)
    ]
}

/// One spelling of `steps` as path text: `$` with bracket or dot notation, or a legacy path.
fn spell(steps: &[Step], style: u8) -> String {
    let bracketed = |step: &Step| match step {
        Step::Index(index) => format!("[{index}]"),
        Step::Key(name) => format!("[{}]", serde_json::to_string(name).unwrap()),
    };
    let dotted = |step: &Step| match step {
        Step::Key(name)
            if name
                .chars()
                .all(|c| c.is_ascii_lowercase() || !c.is_ascii()) =>
        {
            format!(".{name}")
        }
        other => bracketed(other),
    };
    let body: String = steps
        .iter()
        .map(|step| {
            if style == 0 {
                bracketed(step)
            } else {
                dotted(step)
            }
        })
        .collect();
    match style {
        0 | 1 => format!("${body}"),
        _ if body.is_empty() => ".".to_owned(),
        _ if body.starts_with('.') => body,
        // A legacy path may start with a bare name or a bracket: `a[0]`, `[0]`.
        _ => match body.strip_prefix('.') {
            Some(rest) => rest.to_owned(),
            None => body,
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics(text in "\\PC{0,40}") {
        let _ = Path::parse(&text);
    }

    #[test]
    fn parse_never_panics_on_path_like_text(text in "\\$?[$.@\\[\\]?*:,'\"\\\\ab0-9()<>=~!&| -]{0,30}") {
        if let Ok(path) = Path::parse(&text) {
            let _ = path.query(&json!({"a":[1,{"b":2}],"b":{"a":"x"}}));
        }
    }

    #[test]
    fn simple_chains_resolve_like_the_engine(
        steps in prop::collection::vec(arbitrary_step(), 0..5),
        style in 0u8..3,
        document in arbitrary_document(),
    ) {
        let text = spell(&steps, style);
        let path = Path::parse(&text).unwrap();
        prop_assert_eq!(path.as_simple(), Some(steps.as_slice()), "{}", text);
        assert_fast_agrees(&text);
        let by_engine = Path::parse_general(&text, Dialect::Rfc9535).unwrap().query_with_engine(&document).unwrap();
        let by_resolution: Vec<Location> = resolve(&document, &steps).into_iter().collect();
        prop_assert_eq!(by_engine, by_resolution, "{}", text);
    }
}

/// If the fast recogniser accepts `text`, the general parse must accept it with the same meaning. Returns
/// whether it was accepted.
fn assert_fast_agrees(text: &str) -> bool {
    let Some(fast) = simple::recognise_text(text) else {
        return false;
    };
    let general = Path::parse_general(text, Dialect::Rfc9535)
        .unwrap_or_else(|error| panic!("{text:?}: {error}"));
    let parsed = Path::parse(text).unwrap();
    assert_eq!(fast.legacy, general.is_legacy(), "{text:?}");
    assert_eq!(Some(fast.steps.as_slice()), general.as_simple(), "{text:?}");
    assert_eq!(parsed.query_text(), general.query_text(), "{text:?}");
    assert_eq!(
        parsed.rewritten_text(),
        general.rewritten_text(),
        "{text:?}"
    );
    assert_eq!(parsed.as_simple(), general.as_simple(), "{text:?}");
    assert_eq!(parsed.is_root(), general.is_root(), "{text:?}");
    true
}

#[test]
fn fast_recognition_agrees_with_the_general_parse() {
    for accepted in [
        "$",
        ".",
        "$.friends[1].name",
        "$.a[0][-1]._b9",
        "$.ü.ñ1",
        "$[3]",
        "$[-15]",
        "$[999999999999999]",
        ".a.b",
        "a",
        "a[0]",
        "a[-1].b",
        ".a-b.0",
        ".0",
        "$a",
        ".$",
        ".a:b.c~d",
        "x.ü",
        "$['a']",
        "$[\"web-app\"].servlet[0][\"servlet-name\"]",
        "$['a\"b'][\"a'b\"]",
        "$['']",
        "$['a b.c[0]*']",
        "$.a['ü'][-1]",
    ] {
        assert!(
            assert_fast_agrees(accepted),
            "{accepted:?} should take the fast path"
        );
    }
    for declined in [
        "",
        "$.",
        "$..a",
        "$.a.",
        "$[01]",
        "$[-0]",
        "$[+1]",
        "$[1 ]",
        "$ .a",
        "$.a ",
        "$.1a",
        "$.a-b",
        "$['a\\'b']",
        "$['a\\u0062']",
        "$['a\u{1}']",
        "$[ 'a']",
        "$['a' ]",
        "$['a]",
        "$['a'",
        "$['a\"]",
        "$[*]",
        "$.*",
        "$[0,1]",
        "$[1:2]",
        "$[9999999999999999]",
        "..a",
        ".a..b",
        ".a ",
        "[0]",
        ".[0]",
        "a.[0]",
        "a[01]",
        "a[x]",
        "a['b']",
        "a*",
        ".a[?@>1]",
    ] {
        assert!(
            !assert_fast_agrees(declined),
            "{declined:?} should take the general parse"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn fast_recognition_agrees_on_path_like_text(text in "[$.\\[\\]0-9ab\\-_:ü' ]{0,12}") {
        assert_fast_agrees(&text);
    }

    #[test]
    fn fast_recognition_agrees_on_dollar_text(text in "\\$[.\\[\\]0-9ab\\-_ü'\" ]{0,12}") {
        assert_fast_agrees(&text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Walking the document's storage finds what [`resolve`] finds in its value, for blob documents and for
    /// documents with expanded containers above the walked part.
    #[test]
    fn document_walk_agrees_with_resolve(
        steps in prop::collection::vec(arbitrary_step(), 0..5),
        document in arbitrary_document(),
    ) {
        let pad = Value::from("p".repeat(5000));
        let big = json!({"big": [document.clone(), pad.clone()], "pad": pad});
        for (root, prefix) in [
            (&document, vec![]),
            (&big, vec![Step::Key("big".into()), Step::Index(0)]),
            (&big, vec![Step::Key("big".into()), Step::Index(-2)]),
        ] {
            let all: Vec<Step> = prefix.iter().cloned().chain(steps.iter().cloned()).collect();
            let stored = crate::Document::from_value(root);
            prop_assert_eq!(stored.is_expanded(), !prefix.is_empty());
            let walked = stored.walk(&all).map(|(location, value)| (location, value.to_value()));
            let expected = resolve(root, &all).map(|location| {
                let value = value_at(root, &location).clone();
                (location, value)
            });
            prop_assert_eq!(&walked, &expected, "{:?}", all);
            let found = stored.find(&all).map(|value| value.to_value());
            prop_assert_eq!(found, expected.map(|(_, value)| value));
            let path = Path::parse(&spell(&all, 0)).unwrap();
            prop_assert_eq!(path.query_document(&stored), path.query(root));
            prop_assert_eq!(path.query_first_document(&stored), path.query_first(root));
        }
    }
}
