//! Several handles on one key and commands run under open handles (`rmtest.handles`): each
//! handle sees the key as it is now, and the server neither crashes nor reads freed memory.

mod common;

use common::{Server, reply, servers};

#[test]
fn every_handle_sees_the_key_as_it_is_now() {
    let long = "a string too long to be embedded in its object header: ".repeat(3);
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let k = kind.name.clone();
        // Two handles creating the same key: before, the second write tripped a server assert.
        assert_eq!(
            reply(&mut con, &["rmtest.handles", "create-twice", "h:new"]),
            r#"["2", "2"]"#,
            "{k}"
        );
        assert_eq!(reply(&mut con, &["hlen", "h:new"]), "2", "{k}");

        for value in ["hello", "12345", long.as_str()] {
            assert_eq!(reply(&mut con, &["set", "h:s", value]), "+OK");
            let len = value.len().to_string();
            assert_eq!(
                reply(&mut con, &["rmtest.handles", "delete-under", "h:s"]),
                format!(r#"["string {len}", "empty 0"]"#),
                "{k} {value}"
            );
            assert_eq!(reply(&mut con, &["exists", "h:s"]), "0", "{k}");

            assert_eq!(reply(&mut con, &["set", "view:h", value]), "+OK");
            assert_eq!(
                reply(&mut con, &["rmtest.handles", "notify-under", "view:h"]),
                format!(r#"["string {len}", "empty 0"]"#),
                "{k} {value}"
            );
            assert_eq!(reply(&mut con, &["exists", "view:h"]), "0", "{k}");

            assert_eq!(reply(&mut con, &["set", "h:s", value]), "+OK");
            assert_eq!(
                reply(&mut con, &["rmtest.handles", "call-under", "h:s"]),
                r#"["string", "hash 1"]"#,
                "{k} {value}"
            );
            assert_eq!(reply(&mut con, &["hget", "h:s", "f"]), r#""v""#, "{k}");

            assert_eq!(reply(&mut con, &["set", "h:s", value]), "+OK");
            assert_eq!(
                reply(&mut con, &["rmtest.handles", "unshare-under", "h:s"]),
                format!("[{len:?}, {value:?}, {value:?}]"),
                "{k} {value}"
            );
            assert_eq!(
                reply(&mut con, &["get", "h:s"]),
                format!("{value:?}"),
                "{k}"
            );
        }

        // Nine keys at once: past the context's inline slots.
        let names: Vec<String> = (0..9).map(|n| format!("h:many:{n}")).collect();
        let mut args = vec!["rmtest.handles", "many"];
        args.extend(names.iter().map(String::as_str));
        let expected: Vec<String> = (0..9).map(|n| format!("\"{n}\"")).collect();
        assert_eq!(
            reply(&mut con, &args),
            format!("[{}]", expected.join(", ")),
            "{k}"
        );
        assert_eq!(reply(&mut con, &["hget", "h:many:8", "n"]), r#""8""#, "{k}");
        // The same key twice among many.
        assert_eq!(
            reply(
                &mut con,
                &[
                    "rmtest.handles",
                    "many",
                    "h:a",
                    "h:b",
                    "h:a",
                    "h:c",
                    "h:d",
                    "h:e"
                ]
            ),
            r#"["2", "1", "2", "3", "4", "5"]"#,
            "{k}"
        );

        assert_eq!(reply(&mut con, &["set", "h:scan", "scanned"]), "+OK");
        assert_eq!(
            reply(&mut con, &["rmtest.handles", "scan-under", "h:scan"]),
            r#"["string 7"]"#,
            "{k}"
        );
        assert_eq!(
            reply(&mut con, &["rmtest.handles", "forget-name", "h:scan"]),
            r#"["string"]"#,
            "{k}"
        );

        // A leaked handle is closed with its callback: the key is written and usable.
        assert_eq!(
            reply(&mut con, &["rmtest.handles", "forget", "h:f"]),
            r#"["forgotten"]"#,
            "{k}"
        );
        assert_eq!(reply(&mut con, &["hget", "h:f", "f"]), r#""v""#, "{k}");
        assert_eq!(reply(&mut con, &["ping"]), "+PONG", "{k}");
    }
}
