//! Usage lines → `COMMAND DOCS` arguments, read with the grammar of Redis's command docs.
//!
//! | written | meaning | becomes |
//! |---|---|---|
//! | `field` (has a lower-case letter) | a value | `string` named `field` |
//! | `key`, `destkey`, `key2` | a key name | `key` with `key_spec_index` 0 |
//! | `NX`, `=`, `*` (no lower-case letter) | a literal token | `pure-token` |
//! | `EX seconds` | a token and its value | `seconds` with token `EX` |
//! | `LIMIT offset count` | a token and its values | block `limit`, token `LIMIT` |
//! | `[x]` | optional | `x` with the `optional` flag |
//! | `a \| b` (spaces or not) | one of | `oneof`; `\|` binds loosest: `[EX s \| PX ms]` |
//! | `<a \| b>` | a required group | as `[...]` but not optional |
//! | `x [x ...]`, `x ...` | one or more | `x` with `multiple` |
//! | `[x ...]` | zero or more | `x` with `optional` and `multiple` |
//! | `score member [score member ...]` | a repeated group | block `score_member`, `multiple` |
//! | `GET pattern [GET pattern ...]` | token repeated too | `pattern`, `multiple_token` |
//! | `<a \| b [a \| b ...]>`, `<a \| b> [a \| b ...]` | a repeated choice | `oneof`, `multiple` |
//!
//! A `...` that ends a bracket repeats the bracket's whole content; anywhere else it repeats
//! the element just before it. A token takes the values that follow it up to the next token,
//! optional bracket or end (Redis's `[COUNT count [ANY]]` is `count` with token `COUNT`, then
//! `ANY`). Names of blocks and choices are made from their parts (`score_member`, `nx_xx`):
//! a choice or block a token introduces is named after the token (`TYPE <NORMAL | MASTER>` is
//! `type`). Only what a usage line shows can be read back from it.
//!
//! A command with several forms (`CMD key value | CMD key path value [NX | XX]`: `|` at the
//! top, each form may repeat the command's name) is documented as Redis documents `CLIENT
//! KILL`'s old and new forms: what all forms start and end with once, and a `oneof` of what
//! differs (a `block` per form of several arguments; optional when a form has nothing
//! there). So `COMMAND DOCS` keeps every form, says which arguments they share, and a
//! client's hints see the shared arguments first; a union of the forms would accept
//! combinations the command refuses, and keeping only the longest would lose forms.
//!
//! What a usage line cannot say: value types other than `string` (`integer`, `double`,
//! `unix-time`, `pattern`), `since` and `deprecated_since` per argument, summaries, and the
//! names Redis gives groups (SET's `condition` for `NX | XX`) or tokens (ZADD's `change` for
//! `CH`). `<` and `>` always delimit groups, so they cannot be part of a word.

use std::fmt;

/// One documented argument.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Arg {
    pub(crate) name: String,
    pub(crate) kind: ArgKind,
    pub(crate) token: Option<String>,
    pub(crate) optional: bool,
    pub(crate) multiple: bool,
    pub(crate) multiple_token: bool,
}

/// What an argument is (`COMMAND DOCS` type).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ArgKind {
    Key,
    String,
    PureToken,
    OneOf(Vec<Arg>),
    Block(Vec<Arg>),
}

/// How many keys the command declares ([`Command::keys`](crate::Command::keys)).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Keys {
    /// None: `key` words are documented as plain strings.
    None,
    /// Exactly one (first key = last key): the usage may name one key.
    One,
    /// A range: the usage may name several keys.
    Many,
}

/// Why a usage line cannot be read.
#[derive(Debug, PartialEq)]
pub(crate) struct UsageError(String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn error<T>(message: impl Into<String>) -> Result<T, UsageError> {
    Err(UsageError(message.into()))
}

/// The arguments `usage` documents for `command` (whose name may start each form).
pub(crate) fn parse(command: &str, usage: &str, keys: Keys) -> Result<Vec<Arg>, UsageError> {
    let lexemes = lex(usage);
    let mut parser = Parser {
        lexemes: &lexemes,
        at: 0,
        command,
    };
    let forms = parser.alternatives(None)?;
    let sequence = match forms.len() {
        0 => return Ok(Vec::new()),
        1 => forms.into_iter().next().unwrap_or_default(),
        _ => factor_forms(forms)?,
    };
    let args = convert_sequence(&sequence);
    let named = count_keys(&args);
    match keys {
        Keys::None => Ok(args.into_iter().map(without_keys).collect()),
        Keys::One if named > 1 => error(
            "it names more than one key (a repeated or several `key` words) but the command \
             declares one key",
        ),
        _ => Ok(args),
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Lexeme {
    Word(String),
    Open(char),
    Close(char),
    Bar,
    Ellipsis,
}

fn lex(usage: &str) -> Vec<Lexeme> {
    let mut lexemes = Vec::new();
    let mut word = String::new();
    let mut rest = usage;
    while let Some(c) = rest.chars().next() {
        let (lexeme, len) = match c {
            '[' | '<' => (Some(Lexeme::Open(c)), 1),
            ']' | '>' => (Some(Lexeme::Close(c)), 1),
            '|' => (Some(Lexeme::Bar), 1),
            '.' if rest.starts_with("...") => (Some(Lexeme::Ellipsis), 3),
            c if c.is_whitespace() => (None, c.len_utf8()),
            c => {
                word.push(c);
                rest = &rest[c.len_utf8()..];
                continue;
            }
        };
        if !word.is_empty() {
            lexemes.push(Lexeme::Word(std::mem::take(&mut word)));
        }
        lexemes.extend(lexeme);
        rest = &rest[len..];
    }
    if !word.is_empty() {
        lexemes.push(Lexeme::Word(word));
    }
    lexemes
}

/// One element of a sequence before conversion: a word or a bracketed group of alternatives.
#[derive(Clone, Debug, PartialEq)]
struct Element {
    kind: ElementKind,
    optional: bool,
    multiple: bool,
}

#[derive(Clone, Debug, PartialEq)]
enum ElementKind {
    Word(String),
    Group(Vec<Vec<Element>>),
}

impl Element {
    fn group(alternatives: Vec<Vec<Element>>, optional: bool, multiple: bool) -> Element {
        Element {
            kind: ElementKind::Group(alternatives),
            optional,
            multiple,
        }
    }
}

struct Parser<'a> {
    lexemes: &'a [Lexeme],
    at: usize,
    command: &'a str,
}

/// A sequence as parsed, whether a `...` ended it just before its closing bracket, and
/// whether it started with the command's name (a form of the whole command).
struct Sequence {
    elements: Vec<Element>,
    repeats: bool,
    named: bool,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Lexeme> {
        self.lexemes.get(self.at)
    }

    /// Alternatives up to `close` (or the end at the top): each a non-empty sequence.
    fn alternatives(&mut self, close: Option<char>) -> Result<Vec<Vec<Element>>, UsageError> {
        let (alternatives, _) = self.alternatives_repeating(close)?;
        Ok(alternatives)
    }

    fn alternatives_repeating(
        &mut self,
        close: Option<char>,
    ) -> Result<(Vec<Vec<Element>>, bool), UsageError> {
        let mut alternatives = Vec::new();
        loop {
            let sequence = self.sequence(close)?;
            let end = self.peek().cloned();
            let last = end != Some(Lexeme::Bar);
            let nothing = close.is_none() && alternatives.is_empty() && last;
            if sequence.elements.is_empty() && !sequence.named && !nothing {
                return error("an empty alternative (nothing before or after a `|`, or `[]`)");
            }
            alternatives.push(sequence.elements);
            match end {
                Some(Lexeme::Bar) => self.at += 1,
                _ => return Ok((alternatives, sequence.repeats)),
            }
        }
    }

    /// Elements up to a `|`, the closing bracket or the end.
    fn sequence(&mut self, close: Option<char>) -> Result<Sequence, UsageError> {
        let mut elements: Vec<Element> = Vec::new();
        let named = close.is_none()
            && matches!(self.peek(), Some(Lexeme::Word(word)) if word.eq_ignore_ascii_case(self.command));
        if named {
            self.at += 1; // each form may start with the command's name
        }
        let done = |elements, repeats| {
            Ok(Sequence {
                elements,
                repeats,
                named,
            })
        };
        loop {
            let Some(lexeme) = self.peek().cloned() else {
                return match close {
                    Some(close) => {
                        error(format!("a bracket opened is never closed with `{close}`"))
                    }
                    None => done(elements, false),
                };
            };
            match lexeme {
                Lexeme::Bar => return done(elements, false),
                Lexeme::Close(c) => {
                    return match close {
                        Some(expected) if expected == c => done(elements, false),
                        Some(expected) => error(format!("`{c}` where `{expected}` closes")),
                        None => error(format!("`{c}` closes a bracket never opened")),
                    };
                }
                Lexeme::Ellipsis => {
                    self.at += 1;
                    let Some(last) = elements.last_mut() else {
                        return error("`...` with nothing before it to repeat");
                    };
                    if close.is_some_and(|close| self.peek() == Some(&Lexeme::Close(close))) {
                        return done(elements, true); // `[x y ...]`: the whole content repeats
                    }
                    if last.multiple {
                        return error("`...` repeats an element that already repeats");
                    }
                    last.multiple = true;
                }
                Lexeme::Word(word) => {
                    self.at += 1;
                    elements.push(Element {
                        kind: ElementKind::Word(word),
                        optional: false,
                        multiple: false,
                    });
                }
                Lexeme::Open(open) => {
                    self.at += 1;
                    let close = if open == '[' { ']' } else { '>' };
                    let (mut alternatives, repeats) = self.alternatives_repeating(Some(close))?;
                    self.at += 1; // the closing bracket
                    let optional = open == '[';
                    if !repeats && repeats_inside(&mut alternatives) {
                        elements.push(Element::group(alternatives, optional, true));
                    } else if repeats {
                        repeat_group(&mut elements, alternatives, optional)?;
                    } else {
                        elements.push(Element::group(alternatives, optional, false));
                    }
                }
            }
        }
    }
}

/// `x [x ...]`: the bracket repeats what precedes it, which becomes one repeated element;
/// otherwise (`[x ...]`) the bracket is its content repeated, optional or not as written.
fn repeat_group(
    elements: &mut Vec<Element>,
    alternatives: Vec<Vec<Element>>,
    optional: bool,
) -> Result<(), UsageError> {
    if let [content] = alternatives.as_slice() {
        let n = content.len();
        let once = |element: &Element| Element {
            multiple: false,
            ..element.clone()
        };
        let repeats_last = n == 1 && elements.last().map(once).as_ref() == Some(&content[0]);
        if repeats_last || (elements.len() >= n && elements[elements.len() - n..] == content[..]) {
            if n == 1 {
                let last = elements.last_mut().expect("n == 1");
                if last.multiple {
                    return error("`...` repeats an element that already repeats");
                }
                last.multiple = true;
            } else {
                let repeated = elements.split_off(elements.len() - n);
                elements.push(Element::group(vec![repeated], false, true));
            }
            return Ok(());
        }
    } else if let Some(last) = elements.last_mut() {
        if last.kind == ElementKind::Group(alternatives.clone()) && !last.optional {
            if last.multiple {
                return error("`...` repeats an element that already repeats");
            }
            last.multiple = true;
            return Ok(());
        }
    }
    elements.push(Element::group(alternatives, optional, true));
    Ok(())
}

/// `<a | b [a | b ...]>`, how Redis's docs write a repeated choice (`CLIENT KILL`'s filters):
/// the repetition of all the alternatives ends the last one. Takes it out and says so.
fn repeats_inside(alternatives: &mut [Vec<Element>]) -> bool {
    let Some((last, others)) = alternatives.split_last_mut() else {
        return false;
    };
    let Some((repeated, head)) = last.split_last() else {
        return false;
    };
    let ElementKind::Group(repeats) = &repeated.kind else {
        return false;
    };
    let same = repeated.multiple
        && repeats.len() == others.len() + 1
        && repeats[..others.len()] == *others
        && repeats[others.len()] == head;
    if same {
        last.pop();
    }
    same
}

/// Several forms of the whole command: what they all start and end with, once, around a
/// choice of what differs (optional when some form has nothing there).
fn factor_forms(forms: Vec<Vec<Element>>) -> Result<Vec<Element>, UsageError> {
    let shortest = forms.iter().map(Vec::len).min().unwrap_or(0);
    let prefix = (0..shortest)
        .take_while(|&i| forms.iter().all(|form| form[i] == forms[0][i]))
        .count();
    let suffix = (0..shortest - prefix)
        .take_while(|&i| {
            let at = |form: &Vec<Element>| form[form.len() - 1 - i].clone();
            forms.iter().all(|form| at(form) == at(&forms[0]))
        })
        .count();
    let mut sequence = forms[0][..prefix].to_vec();
    let end = forms[0][forms[0].len() - suffix..].to_vec();
    let mut optional = false;
    let mut middles: Vec<Vec<Element>> = Vec::new();
    for form in &forms {
        let middle = form[prefix..form.len() - suffix].to_vec();
        if middle.is_empty() {
            optional = true;
        } else if !middles.contains(&middle) {
            middles.push(middle);
        }
    }
    if middles.is_empty() {
        return error("its forms are all the same");
    }
    sequence.push(Element::group(middles, optional, false));
    sequence.extend(end);
    Ok(sequence)
}

fn is_token(word: &str) -> bool {
    !word.chars().any(|c| c.is_lowercase())
}

/// `key`, `key2`, `key-name`, `destkey`, `newkey`: names of keys.
fn is_key(word: &str) -> bool {
    word.ends_with("key")
        || word
            .strip_prefix("key")
            .is_some_and(|rest| rest.starts_with(|c: char| !c.is_alphabetic()))
}

fn leaf(name: &str, kind: ArgKind) -> Arg {
    Arg {
        name: name.to_owned(),
        kind,
        token: None,
        optional: false,
        multiple: false,
        multiple_token: false,
    }
}

fn token_arg(word: &str) -> Arg {
    let mut arg = leaf(&word.to_lowercase(), ArgKind::PureToken);
    arg.token = Some(word.to_owned());
    arg
}

fn joined(args: &[Arg]) -> String {
    args.iter()
        .map(|arg| arg.name.as_str())
        .collect::<Vec<_>>()
        .join("_")
}

fn block(args: Vec<Arg>) -> Arg {
    leaf(&joined(&args), ArgKind::Block(args))
}

/// A sequence's arguments: each token takes the required values right after it.
fn convert_sequence(elements: &[Element]) -> Vec<Arg> {
    let mut args = Vec::new();
    let mut i = 0;
    while i < elements.len() {
        let element = &elements[i];
        i += 1;
        let ElementKind::Word(word) = &element.kind else {
            args.push(convert(element));
            continue;
        };
        if !is_token(word) || element.optional || element.multiple {
            args.push(convert(element));
            continue;
        }
        let start = i;
        while i < elements.len() && takes_token(&elements[i]) {
            i += 1;
        }
        let mut values: Vec<Arg> = elements[start..i].iter().map(convert).collect();
        args.push(match values.len() {
            0 => token_arg(word),
            1 if values[0].token.is_none() => {
                let mut value = values.remove(0);
                if matches!(value.kind, ArgKind::OneOf(_) | ArgKind::Block(_)) {
                    value.name = word.to_lowercase(); // `TYPE <NORMAL | MASTER>`: `type`
                }
                value.token = Some(word.clone());
                value
            }
            _ => {
                let mut block = leaf(&word.to_lowercase(), ArgKind::Block(values));
                block.token = Some(word.clone());
                block
            }
        });
    }
    args
}

/// Whether `element` is a value a token before it introduces: required, and not a token.
fn takes_token(element: &Element) -> bool {
    !element.optional
        && match &element.kind {
            ElementKind::Word(word) => !is_token(word),
            ElementKind::Group(_) => true,
        }
}

fn convert(element: &Element) -> Arg {
    let mut arg = match &element.kind {
        ElementKind::Word(word) if is_token(word) => token_arg(word),
        ElementKind::Word(word) if is_key(word) => leaf(word, ArgKind::Key),
        ElementKind::Word(word) => leaf(word, ArgKind::String),
        ElementKind::Group(alternatives) => {
            let mut branches: Vec<Arg> = alternatives
                .iter()
                .map(|sequence| {
                    let mut args = convert_sequence(sequence);
                    if args.len() == 1 {
                        args.remove(0)
                    } else {
                        block(args)
                    }
                })
                .collect();
            if branches.len() == 1 {
                branches.remove(0)
            } else {
                leaf(&joined(&branches), ArgKind::OneOf(branches))
            }
        }
    };
    if element.multiple {
        if arg.multiple {
            arg = block(vec![arg]); // `[[x ...] ...]`
        }
        arg.multiple = true;
        // The group repeats with its token: `GET pattern [GET pattern ...]`.
        arg.multiple_token = matches!(element.kind, ElementKind::Group(_)) && arg.token.is_some();
    }
    arg.optional |= element.optional;
    arg
}

/// How many keys the arguments can name: a choice names its branches' most, a repeated key
/// counts as many.
fn count_keys(args: &[Arg]) -> usize {
    args.iter()
        .map(|arg| {
            let keys = match &arg.kind {
                ArgKind::Key => 1,
                ArgKind::Block(args) => count_keys(args),
                ArgKind::OneOf(args) => args
                    .iter()
                    .map(|arg| count_keys(std::slice::from_ref(arg)))
                    .max()
                    .unwrap_or(0),
                ArgKind::String | ArgKind::PureToken => 0,
            };
            if arg.multiple { keys * 2 } else { keys }
        })
        .sum()
}

/// `key` words of a command that declares no keys are documented as strings.
fn without_keys(mut arg: Arg) -> Arg {
    arg.kind = match arg.kind {
        ArgKind::Key => ArgKind::String,
        ArgKind::Block(args) => ArgKind::Block(args.into_iter().map(without_keys).collect()),
        ArgKind::OneOf(args) => ArgKind::OneOf(args.into_iter().map(without_keys).collect()),
        kind => kind,
    };
    arg
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compact rendering of arguments: `name:type` with `token=`, `?` optional, `+`
    /// multiple, `*` multiple token, sub-arguments in braces.
    fn show(args: &[Arg]) -> String {
        args.iter()
            .map(|arg| {
                let (kind, sub) = match &arg.kind {
                    ArgKind::Key => ("key", None),
                    ArgKind::String => ("string", None),
                    ArgKind::PureToken => ("pure-token", None),
                    ArgKind::OneOf(args) => ("oneof", Some(args)),
                    ArgKind::Block(args) => ("block", Some(args)),
                };
                let mut text = format!("{}:{kind}", arg.name);
                if let Some(token) = &arg.token {
                    text += &format!(" token={token}");
                }
                for (flag, mark) in [
                    (arg.optional, "?"),
                    (arg.multiple, "+"),
                    (arg.multiple_token, "*"),
                ] {
                    if flag {
                        text += mark;
                    }
                }
                if let Some(sub) = sub {
                    text += &format!(" {{{}}}", show(sub));
                }
                text
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn docs(command: &str, usage: &str) -> String {
        parse(command, usage, Keys::Many)
            .map(|args| show(&args))
            .unwrap_or_else(|e| panic!("{usage}: {e}"))
    }

    fn problem(usage: &str, keys: Keys) -> String {
        match parse("cmd", usage, keys) {
            Ok(args) => panic!("{usage} parsed: {}", show(&args)),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn words_are_values_keys_and_tokens() {
        assert_eq!(
            docs("hgetset", "HGETSET key field value"),
            "key:key, field:string, value:string"
        );
        assert_eq!(docs("c", ""), "");
        assert_eq!(docs("c", "C"), "");
        assert_eq!(
            docs("c", "destkey newkey key2 key-name keyspace monkey-business"),
            "destkey:key, newkey:key, key2:key, key-name:key, keyspace:string, \
             monkey-business:string"
        );
        // Without declared keys, key words are plain strings.
        assert_eq!(
            show(&parse("c", "key [key ...]", Keys::None).unwrap()),
            "key:string+"
        );
    }

    #[test]
    fn redis_core_usage_lines() {
        assert_eq!(
            docs(
                "set",
                "SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | \
                 EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]"
            ),
            "key:key, value:string, nx_xx:oneof? {nx:pure-token token=NX, xx:pure-token \
             token=XX}, get:pure-token token=GET?, seconds_milliseconds_unix-time-seconds_\
             unix-time-milliseconds_keepttl:oneof? {seconds:string token=EX, \
             milliseconds:string token=PX, unix-time-seconds:string token=EXAT, \
             unix-time-milliseconds:string token=PXAT, keepttl:pure-token token=KEEPTTL}"
        );
        assert_eq!(
            docs(
                "zadd",
                "ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]"
            ),
            "key:key, nx_xx:oneof? {nx:pure-token token=NX, xx:pure-token token=XX}, \
             gt_lt:oneof? {gt:pure-token token=GT, lt:pure-token token=LT}, \
             ch:pure-token token=CH?, incr:pure-token token=INCR?, \
             score_member:block+ {score:string, member:string}"
        );
        assert_eq!(
            docs(
                "xadd",
                "XADD key [NOMKSTREAM] [<MAXLEN | MINID> [= | ~] threshold [LIMIT count]] \
                 <* | id> field value [field value ...]"
            ),
            "key:key, nomkstream:pure-token token=NOMKSTREAM?, \
             maxlen_minid_=_~_threshold_count:block? {maxlen_minid:oneof {maxlen:pure-token \
             token=MAXLEN, minid:pure-token token=MINID}, =_~:oneof? {=:pure-token token==, \
             ~:pure-token token=~}, threshold:string, count:string token=LIMIT?}, \
             *_id:oneof {*:pure-token token=*, id:string}, \
             field_value:block+ {field:string, value:string}"
        );
        assert_eq!(
            docs(
                "zrangebyscore",
                "ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]"
            ),
            "key:key, min:string, max:string, withscores:pure-token token=WITHSCORES?, \
             limit:block token=LIMIT? {offset:string, count:string}"
        );
        assert_eq!(
            docs(
                "sort",
                "SORT key [BY pattern] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA]"
            ),
            "key:key, pattern:string token=BY?, pattern:string token=GET?+*, \
             asc_desc:oneof? {asc:pure-token token=ASC, desc:pure-token token=DESC}, \
             alpha:pure-token token=ALPHA?"
        );
        assert_eq!(
            docs(
                "xread",
                "XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]"
            ),
            "count:string token=COUNT?, milliseconds:string token=BLOCK?, \
             streams:block token=STREAMS {key:key+, id:string+}"
        );
        assert_eq!(
            docs(
                "zunionstore",
                "ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]]"
            ),
            "destination:string, numkeys:string, key:key+, weight:string token=WEIGHTS?+"
        );
        // A token before an optional part keeps it apart: GEOSEARCH's [COUNT count [ANY]].
        assert_eq!(
            docs("c", "[COUNT count [ANY]]"),
            "count_any:block? {count:string token=COUNT, any:pure-token token=ANY?}"
        );
    }

    #[test]
    fn client_kill_nests_choices_and_repeats_a_choice() {
        let filters = "[ID client-id] | [TYPE <NORMAL | MASTER | SLAVE | REPLICA | PUBSUB>] | \
                       [USER username] | [SKIPME <YES | NO>]";
        let usage = format!("CLIENT <ip:port | <{filters}> [{filters} ...]>");
        // As redis.io writes it: the repetition inside the choice it repeats.
        let redis_io = format!("CLIENT <ip:port | <{filters} [{filters} ...]>>");
        assert_eq!(docs("client", &usage), docs("client", &redis_io));
        assert_eq!(
            docs("client", &usage),
            "ip:port_client-id_type_username_skipme:oneof {ip:port:string, \
             client-id_type_username_skipme:oneof+ {client-id:string token=ID?, type:oneof \
             token=TYPE? {normal:pure-token token=NORMAL, master:pure-token token=MASTER, \
             slave:pure-token token=SLAVE, replica:pure-token token=REPLICA, \
             pubsub:pure-token token=PUBSUB}, username:string token=USER?, skipme:oneof \
             token=SKIPME? {yes:pure-token token=YES, no:pure-token token=NO}}}"
        );
    }

    #[test]
    fn spaces_around_bars_and_brackets_do_not_matter() {
        let spaced = docs("c", "key [ NX | XX ] [EX s | PX ms] [path ...]");
        assert_eq!(docs("c", "key [NX|XX] [EX s|PX ms] [path...]"), spaced);
        assert_eq!(docs("c", "key [NX|XX][EX s|PX ms][path ...]"), spaced);
    }

    #[test]
    fn repetition() {
        assert_eq!(docs("c", "member [member ...]"), "member:string+");
        assert_eq!(docs("c", "member ..."), "member:string+");
        assert_eq!(docs("c", "key... path"), "key:key+, path:string");
        assert_eq!(docs("c", "[path ...]"), "path:string?+");
        assert_eq!(docs("c", "[path [path ...]]"), "path:string?+");
        assert_eq!(
            docs("c", "key path value [key path value ...]"),
            "key_path_value:block+ {key:key, path:string, value:string}"
        );
        assert_eq!(
            docs("c", "[key path value ...]"),
            "key_path_value:block?+ {key:key, path:string, value:string}"
        );
        // The token repeats with each value.
        assert_eq!(
            docs("c", "[WEIGHT weight ...]"),
            "weight:string token=WEIGHT?+*"
        );
        assert_eq!(
            docs("c", "<a | b> [a | b ...]"),
            "a_b:oneof+ {a:string, b:string}"
        );
        assert_eq!(docs("c", "[[x ...] ...]"), "x:block?+ {x:string?+}");
        assert_eq!(
            docs("c", "[start [stop]]"),
            "start_stop:block? {start:string, stop:string?}"
        );
    }

    #[test]
    fn forms_of_the_whole_command_share_their_common_parts() {
        // JSON.SET: the shared key once, then one of the two forms' remainders.
        assert_eq!(
            docs(
                "json.set",
                "JSON.SET key value | JSON.SET key path value [NX | XX] [KEEPTTL]"
            ),
            "key:key, value_path_value_nx_xx_keepttl:oneof {value:string, \
             path_value_nx_xx_keepttl:block {path:string, value:string, nx_xx:oneof? \
             {nx:pure-token token=NX, xx:pure-token token=XX}, keepttl:pure-token \
             token=KEEPTTL?}}"
        );
        // The same ends on both sides: what differs is optional where one form lacks it.
        assert_eq!(
            docs("json.set", "JSON.SET key value | JSON.SET key path value"),
            "key:key, path:string?, value:string"
        );
        assert_eq!(
            docs(
                "m",
                "M [host:port] [JSON] | STOP [host:port|ALL] [JSON] | LIST [JSON]"
            ),
            "host:port_stop_host:port_all_list:oneof {host:port:string?, stop_host:port_all:block \
             {stop:pure-token token=STOP, host:port_all:oneof? {host:port:string, \
             all:pure-token token=ALL}}, list:pure-token token=LIST}, json:pure-token \
             token=JSON?"
        );
        // A form that is the name alone makes the rest optional.
        assert_eq!(docs("m", "M | M JSON"), "json:pure-token token=JSON?");
        assert_eq!(
            docs("d", "D MEMORY key [path] | D HELP"),
            "key_path_help:oneof {key_path:block {key:key token=MEMORY, path:string?}, \
             help:pure-token token=HELP}"
        );
        // One key in each of two forms is one key.
        assert!(parse("d", "D MEMORY key | D key", Keys::One).is_ok());
    }

    #[test]
    fn what_cannot_be_read_is_an_error() {
        for (usage, keys, expected) in [
            ("key [NX", Keys::Many, "never closed with `]`"),
            ("key <NX | XX", Keys::Many, "never closed with `>`"),
            ("key NX]", Keys::Many, "`]` closes a bracket never opened"),
            ("key [NX>", Keys::Many, "`>` where `]` closes"),
            ("key [NX | XX>", Keys::Many, "`>` where `]` closes"),
            ("key [NX ...>", Keys::Many, "`>` where `]` closes"),
            ("key [NX |]", Keys::Many, "empty alternative"),
            ("key [| XX]", Keys::Many, "empty alternative"),
            ("key [NX || XX]", Keys::Many, "empty alternative"),
            ("key []", Keys::Many, "empty alternative"),
            ("key <>", Keys::Many, "empty alternative"),
            ("key |", Keys::Many, "empty alternative"),
            ("| key", Keys::Many, "empty alternative"),
            ("...", Keys::Many, "nothing before it to repeat"),
            ("key [...]", Keys::Many, "nothing before it to repeat"),
            ("key | ... x", Keys::Many, "nothing before it to repeat"),
            ("key ... ...", Keys::Many, "already repeats"),
            ("key [key ...] ...", Keys::Many, "already repeats"),
            ("key ... [key ...]", Keys::Many, "already repeats"),
            ("cmd key | cmd key", Keys::Many, "forms are all the same"),
            ("key [key ...]", Keys::One, "more than one key"),
            ("key value destkey", Keys::One, "more than one key"),
            ("key | key value key", Keys::One, "more than one key"),
        ] {
            let message = problem(usage, keys);
            assert!(message.contains(expected), "{usage}: {message}");
        }
    }
}
