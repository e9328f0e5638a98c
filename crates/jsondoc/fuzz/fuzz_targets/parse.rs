//! The strict parser against serde_json on arbitrary bytes: the same accept/reject decision and
//! error text, the same value, and canonical output that is a fixpoint.
#![no_main]

use jsondoc::Document;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|bytes: &[u8]| {
    let ours = Document::from_json(bytes);
    let theirs = serde_json::from_slice::<Value>(bytes);
    match (ours, theirs) {
        (Ok(doc), Ok(value)) => {
            let compact = doc.to_compact_string();
            let reread: Value = serde_json::from_str(&compact).expect("our output is JSON");
            assert_eq!(reread, value, "{compact}");
            assert_eq!(doc.to_value(), value);
            let again = Document::from_json(compact.as_bytes()).expect("canonical text parses");
            assert_eq!(again.to_compact_string(), compact, "not a fixpoint");
            let mut pretty = Vec::new();
            doc.to_pretty(b"  ", b"\n", b" ", &mut pretty);
            let from_pretty = Document::from_json(&pretty).expect("pretty text parses");
            assert_eq!(from_pretty.to_compact_string(), compact);
        }
        (Err(ours), Err(theirs)) => assert_eq!(ours.to_string(), theirs.to_string()),
        (ours, theirs) => panic!(
            "{:?}: ours {:?}, serde_json {theirs:?}",
            String::from_utf8_lossy(bytes),
            ours.map(|doc| doc.to_compact_string())
        ),
    }
});
