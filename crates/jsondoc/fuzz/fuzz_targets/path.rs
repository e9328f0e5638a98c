//! The path engine on arbitrary path text and documents. The input is split at the first NUL:
//! path text, then JSON. Never panics; a `$` path that `serde_json_path` also accepts selects
//! the same locations; every location resolves in the stored document.
#![no_main]

use jsondoc::path::Path;
use jsondoc::{Document, Segment};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|bytes: &[u8]| {
    let (path_bytes, json) = match bytes.iter().position(|&b| b == 0) {
        Some(at) => (&bytes[..at], &bytes[at + 1..]),
        None => (
            bytes,
            &br#"{"a":[1,{"b":2,"a":"x"}],"b":{"a":[3,[4]],"c":null},"c":2.5}"#[..],
        ),
    };
    let Ok(text) = std::str::from_utf8(path_bytes) else {
        return;
    };
    let Ok(document) = serde_json::from_slice::<Value>(json) else {
        return;
    };
    let Ok(path) = Path::parse(text) else {
        return;
    };
    // Over the budget is an answer too (the default budget; small inputs rarely reach it).
    let Ok(ours) = path.query(&document) else {
        return;
    };
    assert_eq!(path.query_first(&document).unwrap(), ours.first().cloned());
    let doc = Document::from_value(&document);
    for location in &ours {
        assert!(doc.value_at(location).is_some(), "{text} at {location:?}");
    }
    // The `$` dialect is RFC 9535 as serde_json_path implements it; `=~` is our rewrite.
    if !path.is_legacy() && !text.contains("=~") {
        if let Ok(reference) = serde_json_path::JsonPath::parse(text) {
            let theirs: Vec<Vec<Segment>> = reference
                .query_located(&document)
                .iter()
                .map(|node| {
                    node.location()
                        .iter()
                        .map(|element| match element {
                            serde_json_path::PathElement::Name(name) => {
                                Segment::Key((*name).to_owned())
                            }
                            serde_json_path::PathElement::Index(index) => Segment::Index(*index),
                        })
                        .collect()
                })
                .collect();
            assert_eq!(ours, theirs, "{text}");
        }
    }
});
