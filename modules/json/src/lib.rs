//! `json`: JSON documents as a key type, the first slice of RedisJSON compatibility.
//!
//! Values are [`jsondoc::Document`]s stored under the data type `ReJSON-RL`, encoding version 3,
//! written exactly as RedisJSON 2.8 writes them (one RDB string holding the compact JSON), so
//! RDB files and `DUMP` payloads interchange with `rejson.so`. See `README.md` next to this
//! crate for the commands, their replies and where they differ from RedisJSON.
#![forbid(unsafe_code)]

mod args;
mod cmd;
mod config;
mod datatype;
mod defrag;
mod expiry;
mod format;
mod legacy_rdb;
mod path_cache;
mod resp3;

use cmd::array::{json_arrappend, json_arrindex, json_arrinsert, json_arrpop, json_arrtrim};
use cmd::debug::json_debug;
use cmd::del::json_del;
use cmd::get::{json_fmt, json_get, json_getex, json_mget, json_path, json_resp};
use cmd::length::{json_arrlen, json_objlen, json_strlen};
use cmd::num::{json_numincrby, json_nummultby, json_numpowby};
use cmd::set::{json_merge, json_mset, json_set};
use cmd::value::{json_clear, json_objkeys, json_strappend, json_toggle, json_type};
use config::register_limits;
use datatype::Json;
use rm::{Command, Module};

/// The metadata every command shares: flags, key position (1,1,1) and how the key is used
/// (key-spec flags as core commands of the same kind have them: a read that returns data is
/// `RO ACCESS`, a length `RO`, an append `RW INSERT`, a pop `RW ACCESS DELETE`), docs.
fn describe(
    command: Command,
    flags: &'static str,
    key_flags: &'static str,
    usage: &'static str,
    summary: &'static str,
) -> Command {
    command
        .usage(usage)
        .summary(summary)
        .since("0.1.0")
        .flags(flags)
        .keys(1, 1, 1)
        .key_flags(key_flags)
        .arity(-2)
}

fn module() -> Module {
    const WRITE: &str = "write deny-oom";
    const READ: &str = "readonly";
    Module::new("json", 1)
        .command(describe(
            Command::new("json.set", json_set),
            WRITE,
            "RW UPDATE",
            "JSON.SET key value | JSON.SET key path value [NX | XX] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]",
            "Sets a whole JSON document, or the value(s) at a path",
        ))
        .command(describe(
            Command::new("json.get", json_get),
            READ,
            "RO ACCESS",
            "JSON.GET key [PRETTY] | JSON.GET key [INDENT indent] [NEWLINE newline] [SPACE space] [path [path ...]]",
            "Returns a JSON document or the values at paths",
        ))
        .command(describe(
            Command::new("json.getex", json_getex),
            // A write: it changes the key's expiry (GETEX's flags).
            "write",
            "RW ACCESS UPDATE",
            "JSON.GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST] [INDENT indent] [NEWLINE newline] [SPACE space] [path [path ...]]",
            "Returns the values at paths, like JSON.GET, and sets or removes the key's expiry",
        ))
        .command(describe(
            Command::new("json.path", json_path),
            READ,
            "RO ACCESS",
            "JSON.PATH key path [PRETTY]",
            "Returns the value(s) at a path",
        ))
        .command(describe(
            Command::new("json.fmt", json_fmt),
            READ,
            "RO ACCESS",
            "JSON.FMT key template",
            "Fills a template's {{path}} placeholders from a JSON document",
        ))
        .command(describe(
            Command::new("json.del", json_del),
            "write",
            "RW DELETE",
            "JSON.DEL key [path]",
            "Deletes the values at a path (the key for the root)",
        ))
        .command(describe(
            Command::new("json.forget", json_del),
            "write",
            "RW DELETE",
            "JSON.FORGET key [path]",
            "Deletes the values at a path (alias of JSON.DEL)",
        ))
        .command(describe(
            Command::new("json.type", json_type),
            READ,
            "RO",
            "JSON.TYPE key [path]",
            "Returns the JSON type of the value(s) at a path",
        ))
        .command(describe(
            Command::new("json.strlen", json_strlen),
            READ,
            "RO",
            "JSON.STRLEN key [path]",
            "Returns the byte length of the string(s) at a path",
        ))
        .command(describe(
            Command::new("json.arrlen", json_arrlen),
            READ,
            "RO",
            "JSON.ARRLEN key [path]",
            "Returns the length of the array(s) at a path",
        ))
        .command(describe(
            Command::new("json.objlen", json_objlen),
            READ,
            "RO",
            "JSON.OBJLEN key [path]",
            "Returns the number of members of the object(s) at a path",
        ))
        .command(describe(
            Command::new("json.numincrby", json_numincrby),
            "write",
            "RW ACCESS UPDATE",
            "JSON.NUMINCRBY key path number",
            "Adds a number to the number(s) at a path",
        ))
        .command(describe(
            Command::new("json.nummultby", json_nummultby),
            "write",
            "RW ACCESS UPDATE",
            "JSON.NUMMULTBY key path number",
            "Multiplies the number(s) at a path",
        ))
        .command(describe(
            Command::new("json.arrappend", json_arrappend),
            WRITE,
            "RW INSERT",
            "JSON.ARRAPPEND key path value [value ...]",
            "Appends values to the array(s) at a path",
        ))
        .command(describe(
            Command::new("json.strappend", json_strappend),
            WRITE,
            "RW INSERT",
            "JSON.STRAPPEND key [path] json-string",
            "Appends a string to the string(s) at a path",
        ))
        .command(describe(
            Command::new("json.toggle", json_toggle),
            WRITE,
            "RW ACCESS UPDATE",
            "JSON.TOGGLE key path",
            "Flips the boolean(s) at a path",
        ))
        .command(describe(
            Command::new("json.clear", json_clear),
            "write",
            "RW UPDATE",
            "JSON.CLEAR key [path]",
            "Empties the containers and zeroes the numbers at a path",
        ))
        .command(describe(
            Command::new("json.objkeys", json_objkeys),
            READ,
            "RO ACCESS",
            "JSON.OBJKEYS key [path]",
            "Returns the member names of the object(s) at a path",
        ))
        .command(describe(
            Command::new("json.arrpop", json_arrpop),
            "write",
            "RW ACCESS DELETE",
            "JSON.ARRPOP key [FORMAT <STRINGS | EXPAND1 | EXPAND>] [path [index]]",
            "Removes and returns an element of the array(s) at a path",
        ))
        .command(describe(
            Command::new("json.arrinsert", json_arrinsert),
            WRITE,
            "RW INSERT",
            "JSON.ARRINSERT key path index value [value ...]",
            "Inserts values before an index of the array(s) at a path",
        ))
        .command(describe(
            Command::new("json.arrtrim", json_arrtrim),
            "write",
            "RW DELETE",
            "JSON.ARRTRIM key path start stop",
            "Keeps only the elements start..=stop of the array(s) at a path",
        ))
        .command(describe(
            Command::new("json.arrindex", json_arrindex),
            READ,
            "RO",
            "JSON.ARRINDEX key path value [start [stop]]",
            "Returns the first index of a value in the array(s) at a path",
        ))
        .command(
            describe(
                Command::new("json.mget", json_mget),
                READ,
                "RO ACCESS",
                "JSON.MGET key [key ...] path",
                "Returns the value(s) at a path in several keys",
            )
            .keys(1, -2, 1)
            .arity(-3),
        )
        .command(
            describe(
                Command::new("json.mset", json_mset),
                WRITE,
                "RW UPDATE",
                "JSON.MSET key path value [key path value ...]",
                "Sets values at paths in several keys, all or nothing",
            )
            .keys(1, -1, 3)
            .arity(-4),
        )
        .command(describe(
            Command::new("json.merge", json_merge),
            WRITE,
            "RW UPDATE",
            "JSON.MERGE key path value",
            "Merges a JSON value into the value(s) at a path (RFC 7386)",
        ))
        .command(describe(
            Command::new("json.numpowby", json_numpowby),
            "write",
            "RW ACCESS UPDATE",
            "JSON.NUMPOWBY key path number",
            "Raises the number(s) at a path to a power",
        ))
        .command(describe(
            Command::new("json.resp", json_resp),
            READ,
            "RO ACCESS",
            "JSON.RESP key [path]",
            "Returns the value(s) at a path as RESP structures",
        ))
        .command(
            describe(
                Command::new("json.debug", json_debug),
                READ,
                "RO",
                "JSON.DEBUG MEMORY key [path] | JSON.DEBUG DEFRAG_INFO | JSON.DEBUG HELP",
                "Reports the memory used by JSON values",
            )
            .keys(2, 2, 1),
        )
        .on_load(|ctx, _args| ctx.create_data_type::<Json>())
        .on_load(register_limits)
}

rm::module!(module);
// Documents live on the heap: allocate through the server so they count in `used_memory`.
rm::server_allocator!();

#[cfg(test)]
mod definition {
    /// Usage lines and key flags as the load checks them (a bad one would refuse the load).
    #[test]
    fn is_valid() {
        super::module().check().unwrap();
    }
}
