//! The RDB payload loader (`from_saved_json`: the string RedisJSON encver 3 saves) on arbitrary
//! bytes: an error or a sound document, never a panic or a stack overflow.
#![no_main]

use jsondoc::Document;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(doc) = Document::from_saved_json(bytes) {
        let compact = doc.to_compact_string();
        let again =
            Document::from_saved_json(compact.as_bytes()).expect("a saved document reloads");
        assert_eq!(again.to_compact_string(), compact);
    }
});
