//! Property tests: canonical round trips, pretty output, and random edit sequences checked
//! against a `serde_json::Value` model, on documents small and big (straddling the expansion
//! threshold).

use jsondoc::{Document, JsonError, JsonType, Location, NumOp, Segment, apply_num_op, merge_patch};
use proptest::prelude::*;
use serde_json::{Number, Value};

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-5i64..5).prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        (-4.0f64..4.0).prop_map(Value::from),
        "\\PC{0,10}".prop_map(Value::from),
        "[\\x00-\\x1f\"\\\\/a\u{e9}\u{1F600}]{0,6}".prop_map(Value::from),
        (0usize..1200).prop_map(|n| Value::from("s".repeat(n))),
    ]
}

fn key_name() -> impl Strategy<Value = String> {
    prop_oneof!["[a-e]", "\\PC{0,4}", "[\"\\\\\\x01]{1,2}"]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 96, 10, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..10).prop_map(Value::Array),
            prop::collection::vec((key_name(), inner), 0..10)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

/// Values as they are stored, sometimes padded to just under or over the expansion threshold.
fn document_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        value(),
        (3500usize..4700, value()).prop_map(|(pad, inner)| {
            serde_json::json!({"pad": "p".repeat(pad), "v": inner, "w": [inner.clone(), 1]})
        }),
        prop::collection::vec(value(), 20..120).prop_map(Value::Array),
    ]
}

fn has_float(value: &Value) -> bool {
    match value {
        Value::Number(number) => number.is_f64(),
        Value::Array(items) => items.iter().any(has_float),
        Value::Object(members) => members.values().any(has_float),
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn canonical_round_trip(value in document_value()) {
        let input = serde_json::to_string_pretty(&value).unwrap();
        let document = Document::from_json(input.as_bytes()).unwrap();
        let compact = document.to_compact_string();
        prop_assert_eq!(serde_json::from_str::<Value>(&compact).unwrap(), value.clone());
        // A fixpoint: canonical text re-canonicalises to itself.
        prop_assert_eq!(Document::from_json(compact.as_bytes()).unwrap().to_compact_string(), compact.clone());
        prop_assert_eq!(Document::from_value(&value).to_compact_string(), compact.clone());
        if !has_float(&value) {
            // Floats aside (RedisJSON's `1e30` vs newer serde_json's `1e+30`), serde_json's
            // compact output is the canonical form.
            prop_assert_eq!(serde_json::to_string(&value).unwrap(), compact.clone());
        }
        let mut pretty = Vec::new();
        document.to_pretty(b"  ", b"\n", b" ", &mut pretty);
        prop_assert_eq!(serde_json::from_slice::<Value>(&pretty).unwrap(), value.clone());
        let mut odd = Vec::new();
        document.to_pretty(b"\t", b"\r\n", b"", &mut odd);
        prop_assert_eq!(serde_json::from_slice::<Value>(&odd).unwrap(), value);
    }

    #[test]
    fn edits_match_the_value_model(initial in document_value(), ops in prop::collection::vec(op(), 1..14)) {
        let mut document = Document::from_value(&initial);
        let mut model = initial;
        for op in ops {
            let locations = all_locations(&model);
            let before = model.clone();
            let expected = apply_model(&mut model, &op, &locations);
            let got = apply_document(&mut document, &op, &locations);
            prop_assert_eq!(&got, &expected, "op {:?} on {}", op, before);
            if got.is_err() {
                prop_assert_eq!(&model, &before, "a failed op changes nothing");
            }
            prop_assert_eq!(document.to_compact_string(), Document::from_value(&model).to_compact_string());
            prop_assert_eq!(document.to_value(), model.clone());
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Set(usize, Value),
    AddMember(usize, String, Value),
    Delete(usize),
    Num(usize, NumOp, Number),
    StrAppend(usize, String),
    ArrAppend(usize, Vec<Value>),
    ArrInsert(usize, i64, Vec<Value>),
    ArrPop(usize, i64),
    ArrTrim(usize, i64, i64),
    Clear(usize),
    Toggle(usize),
    Merge(usize, Value),
}

fn number_arg() -> impl Strategy<Value = Number> {
    prop_oneof![
        (-3i64..4).prop_map(Number::from),
        any::<i64>().prop_map(Number::from),
        (-2.5f64..2.5).prop_map(|f| Number::from_f64(f).unwrap()),
        Just(Number::from(u64::MAX)),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let at = any::<usize>();
    let small_values = || prop::collection::vec(value(), 1..4);
    prop_oneof![
        (at, value()).prop_map(|(a, v)| Op::Set(a, v)),
        (at, key_name(), value()).prop_map(|(a, k, v)| Op::AddMember(a, k, v)),
        at.prop_map(Op::Delete),
        (
            at,
            prop_oneof![Just(NumOp::Add), Just(NumOp::Mul)],
            number_arg()
        )
            .prop_map(|(a, o, n)| Op::Num(a, o, n)),
        (at, "\\PC{0,6}|\"\\n").prop_map(|(a, s)| Op::StrAppend(a, s)),
        (at, small_values()).prop_map(|(a, v)| Op::ArrAppend(a, v)),
        (at, -6i64..6, small_values()).prop_map(|(a, i, v)| Op::ArrInsert(a, i, v)),
        (at, -6i64..6).prop_map(|(a, i)| Op::ArrPop(a, i)),
        (at, -8i64..8, -8i64..8).prop_map(|(a, s, e)| Op::ArrTrim(a, s, e)),
        at.prop_map(Op::Clear),
        at.prop_map(Op::Toggle),
        (at, value()).prop_map(|(a, v)| Op::Merge(a, v)),
    ]
}

fn all_locations(value: &Value) -> Vec<Location> {
    fn walk(value: &Value, here: &mut Location, out: &mut Vec<Location>) {
        out.push(here.clone());
        match value {
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    here.push(Segment::Index(index));
                    walk(item, here, out);
                    here.pop();
                }
            }
            Value::Object(members) => {
                for (key, item) in members {
                    here.push(Segment::Key(key.clone()));
                    walk(item, here, out);
                    here.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

fn pick(locations: &[Location], index: usize) -> Location {
    locations[index % locations.len()].clone()
}

fn get_mut<'a>(value: &'a mut Value, location: &[Segment]) -> Option<&'a mut Value> {
    let mut current = value;
    for segment in location {
        current = match (current, segment) {
            (Value::Array(items), Segment::Index(index)) => items.get_mut(*index)?,
            (Value::Object(members), Segment::Key(key)) => members.get_mut(key)?,
            _ => return None,
        };
    }
    Some(current)
}

fn type_of(value: &Value) -> JsonType {
    match value {
        Value::Null => JsonType::Null,
        Value::Bool(_) => JsonType::Boolean,
        Value::Number(number) if number.is_f64() => JsonType::Number,
        Value::Number(_) => JsonType::Integer,
        Value::String(_) => JsonType::String,
        Value::Array(_) => JsonType::Array,
        Value::Object(_) => JsonType::Object,
    }
}

fn wrong(expected: JsonType, found: &Value) -> JsonError {
    JsonError::WrongType {
        expected,
        found: type_of(found),
    }
}

fn model_set(model: &mut Value, location: &[Segment], new: Value) -> Result<String, JsonError> {
    let Some((last, parent)) = location.split_last() else {
        *model = new;
        return Ok(String::new());
    };
    match (get_mut(model, parent).ok_or(JsonError::NoSuchPath)?, last) {
        (Value::Array(items), Segment::Index(index)) => {
            *items
                .get_mut(*index)
                .ok_or(JsonError::ArrayIndexOutOfRange)? = new;
        }
        (Value::Object(members), Segment::Key(key)) => {
            members.insert(key.clone(), new);
        }
        _ => return Err(JsonError::NoSuchPath),
    }
    Ok(String::new())
}

/// The model: what each edit does to a plain `Value`, written independently of the document.
fn apply_model(model: &mut Value, op: &Op, locations: &[Location]) -> Result<String, JsonError> {
    match op {
        Op::Set(at, new) => model_set(model, &pick(locations, *at), new.clone()),
        Op::AddMember(at, key, new) => {
            let mut location = pick(locations, *at);
            location.push(Segment::Key(key.clone()));
            model_set(model, &location, new.clone())
        }
        Op::Delete(at) => {
            let location = pick(locations, *at);
            let Some((last, parent)) = location.split_last() else {
                return Err(JsonError::RootDelete);
            };
            match (get_mut(model, parent).unwrap(), last) {
                (Value::Array(items), Segment::Index(index)) => {
                    items.remove(*index);
                }
                (Value::Object(members), Segment::Key(key)) => {
                    members.shift_remove(key);
                }
                _ => unreachable!(),
            }
            Ok(String::new())
        }
        Op::Num(at, num_op, by) => {
            let target = get_mut(model, &pick(locations, *at)).unwrap();
            let Value::Number(current) = target else {
                return Err(wrong(JsonType::Number, target));
            };
            let result = apply_num_op(current, by, *num_op)?;
            *target = Value::Number(result.clone());
            Ok(jsondoc::format_number(&result))
        }
        Op::StrAppend(at, suffix) => {
            let target = get_mut(model, &pick(locations, *at)).unwrap();
            let Value::String(string) = target else {
                return Err(wrong(JsonType::String, target));
            };
            string.push_str(suffix);
            Ok(string.len().to_string())
        }
        Op::ArrAppend(at, values) => {
            let target = get_mut(model, &pick(locations, *at)).unwrap();
            let Value::Array(items) = target else {
                return Err(wrong(JsonType::Array, target));
            };
            items.extend(values.iter().cloned());
            Ok(items.len().to_string())
        }
        Op::ArrInsert(at, index, values) => {
            let target = get_mut(model, &pick(locations, *at)).unwrap();
            let Value::Array(items) = target else {
                return Err(wrong(JsonType::Array, target));
            };
            let length = items.len() as i64;
            let position = if *index < 0 { length + index } else { *index };
            if position < 0 || position > length {
                return Err(JsonError::IndexOutOfBounds);
            }
            for (offset, value) in values.iter().enumerate() {
                items.insert(position as usize + offset, value.clone());
            }
            Ok(items.len().to_string())
        }
        Op::ArrPop(at, index) => {
            let target = get_mut(model, &pick(locations, *at)).unwrap();
            let Value::Array(items) = target else {
                return Err(wrong(JsonType::Array, target));
            };
            if items.is_empty() {
                return Ok("none".to_owned());
            }
            let length = items.len() as i64;
            let position = if *index < 0 { length + index } else { *index }.clamp(0, length - 1);
            let popped = items.remove(position as usize);
            Ok(Document::from_value(&popped).to_compact_string())
        }
        Op::ArrTrim(at, start, stop) => {
            let target = get_mut(model, &pick(locations, *at)).unwrap();
            let Value::Array(items) = target else {
                return Err(wrong(JsonType::Array, target));
            };
            let length = items.len() as i64;
            let start = if *start < 0 { length + start } else { *start }.max(0);
            let stop = if *stop < 0 { length + stop } else { *stop }.min(length - 1);
            *items = if start >= length || start > stop {
                Vec::new()
            } else {
                items[start as usize..=stop as usize].to_vec()
            };
            Ok(items.len().to_string())
        }
        Op::Clear(at) => {
            let target = get_mut(model, &pick(locations, *at)).unwrap();
            let cleared = match target {
                Value::Array(items) if !items.is_empty() => {
                    items.clear();
                    true
                }
                Value::Object(members) if !members.is_empty() => {
                    members.clear();
                    true
                }
                // A number that is zero already stays as it is (RedisJSON).
                Value::Number(n) if n.as_f64() != Some(0.0) => {
                    *target = Value::from(0);
                    true
                }
                _ => false,
            };
            Ok(cleared.to_string())
        }
        Op::Toggle(at) => {
            let target = get_mut(model, &pick(locations, *at)).unwrap();
            let Value::Bool(flag) = target else {
                return Err(wrong(JsonType::Boolean, target));
            };
            *flag = !*flag;
            Ok(flag.to_string())
        }
        Op::Merge(at, patch) => {
            let location = pick(locations, *at);
            let mut merged = get_mut(model, &location).unwrap().clone();
            merge_patch(&mut merged, patch);
            model_set(model, &location, merged)
        }
    }
}

fn apply_document(
    document: &mut Document,
    op: &Op,
    locations: &[Location],
) -> Result<String, JsonError> {
    let value_doc = |value: &Value| Document::from_value(value);
    let docs = |values: &[Value]| values.iter().map(Document::from_value).collect::<Vec<_>>();
    match op {
        Op::Set(at, new) => document
            .set(&pick(locations, *at), &value_doc(new))
            .map(|()| String::new()),
        Op::AddMember(at, key, new) => {
            let mut location = pick(locations, *at);
            location.push(Segment::Key(key.clone()));
            document
                .set(&location, &value_doc(new))
                .map(|()| String::new())
        }
        Op::Delete(at) => document
            .delete(&pick(locations, *at))
            .map(|()| String::new()),
        Op::Num(at, num_op, by) => document
            .num_op(&pick(locations, *at), *num_op, by)
            .map(|n| jsondoc::format_number(&n)),
        Op::StrAppend(at, suffix) => document
            .str_append(&pick(locations, *at), suffix)
            .map(|n| n.to_string()),
        Op::ArrAppend(at, values) => document
            .arr_append(&pick(locations, *at), &docs(values))
            .map(|n| n.to_string()),
        Op::ArrInsert(at, index, values) => document
            .arr_insert(&pick(locations, *at), *index, &docs(values))
            .map(|n| n.to_string()),
        Op::ArrPop(at, index) => document
            .arr_pop(&pick(locations, *at), *index)
            .map(|popped| popped.unwrap_or_else(|| "none".to_owned())),
        Op::ArrTrim(at, start, stop) => document
            .arr_trim(&pick(locations, *at), *start, *stop)
            .map(|n| n.to_string()),
        Op::Clear(at) => document.clear(&pick(locations, *at)).map(|c| c.to_string()),
        Op::Toggle(at) => document
            .toggle(&pick(locations, *at))
            .map(|b| b.to_string()),
        Op::Merge(at, patch) => document
            .merge(&pick(locations, *at), &value_doc(patch))
            .map(|()| String::new()),
    }
}
