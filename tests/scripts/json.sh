#!/usr/bin/env bash
# The json module as a redis-cli transcript shows it: the seed demo (json.set, json.get,
# json.path, json.fmt), RESP3 reply shapes as `redis-cli -3` prints them, COMMAND DOCS.
# Every other case is a Rust test's (modules/json/tests/):
# - json.fmt errors, strict parsing, WRONGTYPE and arity: json.rs seed_commands,
#   strict_parsing_leaves_the_key_unchanged, bad_input_is_a_clear_error_and_changes_nothing;
# - JSON.SET/GET/DEL/FORGET/TYPE: json.rs redisjson_set_get_del_type;
# - NUMINCRBY/NUMMULTBY, STRLEN/ARRLEN/OBJLEN, ARRAPPEND: json.rs lengths_numbers_and_appends;
# - bad input (overflow, NaN, invalid UTF-8, bad paths, 512 levels): json.rs
#   bad_input_is_a_clear_error_and_changes_nothing,
#   path_sets_nest_up_to_512_levels_and_every_document_reloads;
# - expiry (JSON.SET EX…, JSON.GETEX): json_expiry.rs;
# - DUMP bytes, DEBUG RELOAD, DUMP/RESTORE, COPY: json.rs dump_is_byte_identical_to_redisjson,
#   persistence_round_trips;
# - replication only of what changed something: json.rs events_and_replication_only_on_change.
# Run alone with defaults (redis-server from PATH) or via run-all.sh.

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODULE=$MODULES_DIR/json.so
require_file "$MODULE" "build the json module first, or set MODULES_DIR"

start_server --loadmodule "$MODULE"

test_case "seed transcript: json.set, json.get, json.path, json.fmt"
assert_reply 'OK' json.set p '{"name":"ann","age":30}'
assert_reply '"Hello ann, 30"' json.fmt p 'Hello {{.name}}, {{$.age}}'
assert_reply '"{\"name\":\"ann\",\"age\":30}"' json.get p
assert_reply '"{\n  \"name\": \"ann\",\n  \"age\": 30\n}"' json.get p PRETTY
assert_reply '"\"ann\""' json.path p .name
assert_reply '"[\"ann\",30]"' json.path p '$.*'
assert_reply '"[\n  30\n]"' json.path p '$.age' pretty
assert_reply 'ReJSON-RL' type p

test_case "RESP3 shapes as RedisJSON 2.8's (redis-cli -3)"
assert_reply 'OK' JSON.SET r '$' '{"a":1,"f":2.5,"t":true,"n":null,"o":{"p":[1,"x"]}}'
assert_reply $'1) 1) 1# "a" => (integer) 1\n      2# "f" => (double) 2.5\n      3# "t" => (true)\n      4# "n" => (nil)\n      5# "o" => \n         1# "p" => \n            1) (integer) 1\n            2) "x"' -3 JSON.GET r FORMAT EXPAND
assert_reply $'1) 1) "{\\"p\\":[1,\\"x\\"]}"\n2) 1) (double) 2.5\n3) 1) (true)' -3 JSON.GET r FORMAT EXPAND1 '$.o' .f .t
assert_reply '"{\"a\":1,\"f\":2.5,\"t\":true,\"n\":null,\"o\":{\"p\":[1,\"x\"]}}"' -3 JSON.GET r FORMAT STRING
assert_reply '(error) ERR FORMAT argument is not supported on RESP2' JSON.GET r FORMAT STRING
assert_reply '1) "object"' -3 JSON.TYPE r
assert_reply '1) 1) "array"' -3 JSON.TYPE r '$..p'
assert_reply '1) (nil)' -3 JSON.TYPE r .nope
assert_reply '1) (integer) 2' -3 JSON.NUMINCRBY r ..a 1
assert_reply $'1) (integer) 4\n2) (double) 5\n3) (nil)\n4) (nil)\n5) (nil)' -3 JSON.NUMMULTBY r '$.*' 2
assert_reply '(double) 5' -3 JSON.RESP r .f
assert_reply '"5.0"' JSON.GET r .f

test_case "the commands are in COMMAND INFO / DOCS"
assert_match '1) *1) "json.set"*' command info json.set
assert_match '*) write*' command info json.set
# Docs exist only if the module registered them; a bare command has no "summary" field.
assert_match '1) "json.set"*"summary"*' command docs json.set
assert_match '1) "json.fmt"*"summary"*' command docs json.fmt

finish
