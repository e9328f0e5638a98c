#!/usr/bin/env bash
# Tests for the json module: json.set/json.get/json.path/json.fmt (the seed commands), the
# RedisJSON forms of JSON.SET/GET/DEL/TYPE, strict parsing, expiry options (JSON.SET EX…,
# JSON.GETEX), persistence, replication.
# Run alone with defaults (redis-server from PATH) or via run-all.sh.

# shellcheck source-path=SCRIPTDIR source=lib.sh
# shellcheck disable=SC2317 # helpers are invoked via wait_for
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODULE=$MODULES_DIR/json.so
require_file "$MODULE" "build the json module first, or set MODULES_DIR"

start_server --loadmodule "$MODULE" --repl-diskless-sync-delay 0 --enable-debug-command yes
MASTER_PORT=$PORT

test_case "seed transcript: json.set, json.get, json.path, json.fmt"
assert_reply 'OK' json.set p '{"name":"ann","age":30}'
assert_reply '"Hello ann, 30"' json.fmt p 'Hello {{.name}}, {{$.age}}'
assert_reply '"{\"name\":\"ann\",\"age\":30}"' json.get p
assert_reply '"{\n  \"name\": \"ann\",\n  \"age\": 30\n}"' json.get p PRETTY
assert_reply '"\"ann\""' json.path p .name
assert_reply '"[\"ann\",30]"' json.path p '$.*'
assert_reply '"[\n  30\n]"' json.path p '$.age' pretty
assert_reply 'ReJSON-RL' type p

test_case "json.fmt: a path matching nothing is an error naming it"
assert_reply "(error) ERR Path '.nope' does not exist" json.fmt p 'x {{.nope}} y'
assert_reply "(error) ERR Path '\$.a[9]' does not exist" json.fmt p '{{$.a[9]}}'
assert_reply '"no placeholders"' json.fmt p 'no placeholders'
assert_reply '(nil)' json.fmt missing 'x'

test_case "strict parsing: errors, key unchanged"
assert_reply 'OK' json.set k '[0]'
assert_reply '(error) ERR trailing characters at line 1 column 3' json.set k '1 2'
assert_reply '(error) ERR trailing characters at line 1 column 4' json.set k '[1]]'
assert_reply '(error) ERR trailing characters at line 1 column 3' json.set k '50asd'
assert_reply '(error) ERR trailing comma at line 1 column 8' json.set k '{"a":1,}'
assert_reply '(error) ERR number out of range at line 1 column 5' json.set k '1e400'
assert_reply "(error) ERR Couldn't parse as UTF-8 string" json.set k $'"\xff"'
deep=$(printf '[%.0s' {1..128})$(printf ']%.0s' {1..128})
assert_reply '(error) ERR recursion limit exceeded at line 1 column 128' json.set k "$deep"
assert_reply '"[0]"' json.get k

test_case "WRONGTYPE and arity"
assert_reply 'OK' set s x
assert_reply '(error) WRONGTYPE Operation against a key holding the wrong kind of value' json.set s 1
assert_reply '(error) WRONGTYPE Operation against a key holding the wrong kind of value' json.get s
assert_reply '(error) WRONGTYPE Operation against a key holding the wrong kind of value' json.fmt s x
assert_reply '"x"' get s
assert_match '(error) *wrong number of arguments*' json.set k
assert_match '(error) *wrong number of arguments*' json.get
assert_match '(error) *wrong number of arguments*' json.fmt k
assert_reply '(error) ERR syntax error' json.path k . UGLY

test_case "RedisJSON JSON.SET / JSON.GET / JSON.DEL / JSON.TYPE"
assert_reply '(error) ERR new objects must be created at the root' JSON.SET n '$.a' 1
assert_reply 'OK' JSON.SET n '$' '{"a":1,"b":{"a":2},"c":[1,2]}'
assert_reply '(nil)' JSON.SET n '$' '{}' NX
assert_reply '(nil)' JSON.SET n '$.x' 1 XX
assert_reply 'OK' JSON.SET n '$.x' true NX
assert_reply '(error) ERR array index out of range' JSON.SET n '$.c[5]' 1
assert_reply '(error) ERR wrong static path' JSON.SET n '$..zz' 1
assert_reply 'OK' JSON.SET n '$..a' 0
assert_reply '"[0,0]"' JSON.GET n '$..a'
assert_reply '"{\".a\":0,\".x\":true}"' JSON.GET n .a .x
assert_reply '"[\n\t{\n\t\t\"a\": 0\n\t}\n]"' JSON.GET n INDENT $'\t' NEWLINE $'\n' SPACE ' ' '$.b'
assert_reply "(error) ERR Path '\$.nope' does not exist" JSON.GET n .nope
assert_reply '"object"' JSON.TYPE n
assert_reply $'1) "integer"\n2) "integer"' JSON.TYPE n '$..a'
assert_reply '(integer) 2' JSON.DEL n '$..a'
assert_reply '(integer) 0' JSON.DEL n '$.nope'
assert_reply '"{\"b\":{},\"c\":[1,2],\"x\":true}"' JSON.GET n
assert_reply '(integer) 1' JSON.FORGET n
assert_reply '(integer) 0' exists n

test_case "NUMINCRBY/NUMMULTBY, STRLEN/ARRLEN/OBJLEN, ARRAPPEND"
assert_reply 'OK' JSON.SET m '$' '{"a":1,"b":{"a":2.5},"i":9223372036854775807,"s":"h\u00e9","arr":[1]}'
assert_reply '"[3]"' JSON.NUMINCRBY m '$.a' 2
assert_reply '"5"' JSON.NUMINCRBY m .a 2
assert_reply '"[6,3.5]"' JSON.NUMINCRBY m '$..a' 1
assert_reply '"35.0"' JSON.NUMMULTBY m ..a 10
assert_reply '(error) ERR increment or decrement would overflow' JSON.NUMINCRBY m .i 1
assert_reply '"9223372036854775807"' JSON.GET m .i
assert_reply "(error) ERR Path '\$.s' does not exist or does not contains a number" JSON.NUMINCRBY m .s 1
assert_reply '(integer) 3' JSON.STRLEN m .s
assert_reply $'1) (nil)\n2) (integer) 3' JSON.STRLEN m '$["a","s"]'
assert_reply '(integer) 5' JSON.OBJLEN m
assert_reply '(integer) 3' JSON.ARRAPPEND m .arr 2 '"x"'
assert_reply '(integer) 3' JSON.ARRLEN m .arr
assert_reply "(error) ERR Path '.s' does not exist or not an array" JSON.ARRLEN m .s
assert_reply '"[1,2,\"x\"]"' JSON.GET m .arr

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

test_case "bad input: a clear error with a code, the document unchanged"
assert_reply 'OK' JSON.SET b '$' '{"i":9223372036854775807,"f":1.5e300,"s":"x","o":{}}'
assert_reply '(error) ERR increment or decrement would overflow' JSON.NUMINCRBY b .i 1
assert_reply '(error) ERR increment or decrement would overflow' JSON.NUMMULTBY b '$.i' 2
assert_reply '(error) ERR result is not a number' JSON.NUMMULTBY b .f 1e300
assert_reply '(error) ERR result is not a number' JSON.NUMPOWBY b .f 2
assert_reply '(error) ERR number out of range at line 1 column 5' JSON.NUMINCRBY b .f 1e400
assert_reply "(error) ERR Couldn't parse as UTF-8 string" JSON.GET b $'$.\xff'
assert_reply "(error) ERR Couldn't parse as UTF-8 string" JSON.SET b '$.s' $'"\xc3\x28"'
assert_reply '(error) ERR Error occurred on position 1, "$ ---->>>> [", unexpected input.' JSON.GET b '$['
# Path edits nest deeper than one value may be (three 127-level values stacked: 508), up to 512.
levels127="$(printf '[%.0s' {1..127})$(printf ']%.0s' {1..127})"
at_depth() { printf '$'; printf '[0]%.0s' $(seq 1 "$1"); }
assert_reply 'OK' JSON.SET deep '$' "$levels127"
assert_reply '1) (integer) 1' JSON.ARRAPPEND deep "$(at_depth 126)" "$levels127"
assert_reply '1) (integer) 1' JSON.ARRAPPEND deep "$(at_depth 253)" "$levels127"
assert_reply '1) (integer) 1' JSON.ARRAPPEND deep "$(at_depth 380)" "$levels127"
assert_reply '(error) ERR the document would be nested deeper than 512 levels' JSON.ARRAPPEND deep "$(at_depth 507)" '[[[[[]]]]]'
assert_reply '1) (integer) 1' JSON.ARRAPPEND deep "$(at_depth 507)" '[[[[]]]]'
assert_reply '(error) ERR recursion limit exceeded at line 1 column 128' JSON.SET b '$.o.x' "$(printf '[%.0s' {1..128})$(printf ']%.0s' {1..128})"
assert_reply '(error) ERR wrong number of arguments for '"'"'json.arrinsert'"'"' command' JSON.ARRINSERT b '$.o' 0
assert_reply "(error) ERR Couldn't parse as integer" JSON.ARRTRIM b '$.o' 0 x
assert_reply '"{\"i\":9223372036854775807,\"f\":1.5e300,\"s\":\"x\",\"o\":{}}"' JSON.GET b
assert_reply 'OK' JSON.SET $'\xff' '$' 1
assert_reply '"1"' JSON.GET $'\xff'

test_case "expiry on write: JSON.SET EX|PX|EXAT|PXAT|KEEPTTL, JSON.GETEX (byte-exact replies)"
assert_reply 'OK' JSON.SET e '$' '{"a":1}' EX 100
assert_regex '^\(integer\) (99|100)[0-9]{3}$' pttl e
assert_reply 'OK' JSON.SET e '$' '{"a":2}'
assert_regex '^\(integer\) (99|100)[0-9]{3}$' pttl e
assert_reply 'OK' JSON.SET e '$.a' 3 PXAT 4000000000000
assert_reply '(integer) 4000000000000' pexpiretime e
assert_reply '(nil)' JSON.SET e '$' 1 NX EX 5
assert_reply 'OK' JSON.SET e '$' '{"a":4}' KEEPTTL
assert_reply '(integer) 4000000000000' pexpiretime e
assert_reply "(error) ERR invalid expire time in 'json.set' command" JSON.SET e '$' 1 EX 0
assert_reply '(error) ERR value is not an integer or out of range' JSON.SET e '$' 1 EX x
assert_reply '(error) ERR syntax error' JSON.SET e '$' 1 EX 1 KEEPTTL
assert_reply '"[4]"' JSON.GETEX e EXAT 4100000000 '$.a'
assert_reply '(integer) 4100000000000' pexpiretime e
assert_reply '"{\n\t\"a\": 4\n}"' JSON.GETEX e PERSIST INDENT $'\t' NEWLINE $'\n' SPACE ' '
assert_reply '(integer) -1' pttl e
assert_reply "(error) ERR invalid expire time in 'json.getex' command" JSON.GETEX e PX -1
assert_reply '(error) ERR syntax error' JSON.GETEX e PERSIST EX 1
assert_reply '(nil)' JSON.GETEX nokey EX 1
assert_reply '"4"' JSON.GETEX e PXAT 1 .a
assert_reply '(integer) 0' exists e

test_case "persistence: DEBUG RELOAD, DUMP/RESTORE, COPY"
assert_reply 'OK' json.set d '{"a":[1,2.5,"x",null,true]}'
# Byte for byte what RedisJSON 2.8 dumps (FACTS.md §1.2); the trailer after it is the
# server's: its RDB version (Redis 7.0: 10, 7.2: 11, 7.4+: 12, Valkey 9: 80) and checksum,
# compared whole where recorded.
payload='"\a\x81E\xe2R8\xdf\x91,\x03\x05\x1b{\"a\":[1,2.5,\"x\",null,true]}\x00'
if [[ $SERVER_FLAVOR == valkey && $SERVER_VERSION == 9.* ]]; then
    assert_reply "${payload}P\\x00l\\xbc\\xe3\\x0f\\xdc\\x1a\\x84\\x01\"" dump d
elif [[ $SERVER_FLAVOR == redis && $SERVER_VERSION == 7.0.* ]]; then
    assert_reply "${payload}\\n\\x00\\xa3\\x96*\\x9eBH\\xe3\\xf5\"" dump d
else
    capture r dump d
    assert_equal "$payload" "${OUT:0:${#payload}}" "the module's part of DUMP"
fi
assert_reply 'OK' debug reload
assert_reply '"{\"a\":[1,2.5,\"x\",null,true]}"' json.get d
assert_reply '(integer) 1' copy d d2
assert_reply 'OK' json.set d '$.a[0]' 9
assert_reply '"{\"a\":[1,2.5,\"x\",null,true]}"' json.get d2

test_case "json.set replicates verbatim"
start_server --loadmodule "$MODULE" --replicaof 127.0.0.1 "$MASTER_PORT"
REPLICA_PORT=$PORT
link_up() { [[ $(PORT=$REPLICA_PORT r info replication) == *master_link_status:up* ]]; }
if wait_for 10 link_up; then
    PORT=$MASTER_PORT assert_pipe $'OK\n(integer) 1' 'json.set rk [1]' 'wait 1 5000'
    PORT=$MASTER_PORT assert_pipe $'(nil)\n(integer) 1' 'json.set rk $ 2 NX' 'wait 1 5000'
    PORT=$MASTER_PORT assert_pipe $'(integer) 1\n(integer) 1' 'json.del rk $[0]' 'wait 1 5000'
    assert_reply '"[]"' json.get rk
    # The replica ran the module's commands itself, and only the ones that changed something.
    assert_regex 'cmdstat_json.set:calls=1,' info commandstats
    assert_regex 'cmdstat_json.del:calls=1,' info commandstats
else
    fail "replica on port $REPLICA_PORT: master_link_status not up within 10s"
fi
stop_server

finish
