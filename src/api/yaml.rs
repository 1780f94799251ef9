//! YAML read the way kubectl reads it.
//!
//! kubectl turns a manifest into JSON with sigs.k8s.io/yaml, which resolves
//! plain (unquoted) scalars by go-yaml v2's YAML 1.1 rules: `yes`, `no`,
//! `on`, `off`, `y`, `n` (in the case variants below) are booleans, `0755`
//! is octal, `~` is null, map keys are resolved too. A YAML 1.2 reader keeps
//! `no` a string, so a file the API server refuses (`name: no` in a string
//! field) would pass offline. The parser gives each scalar's style, so quoted
//! and block scalars stay strings as they do under kubectl.
//!
//! One difference on purpose: a key given twice in one mapping is refused
//! (kubectl keeps the last silently), for the reason unknown fields are: a
//! typo must not vanish.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span, StrInput, Tag};
use serde_json::{Map, Number, Value};
use thiserror::Error;

/// Why a YAML stream could not be read as kubectl would.
#[derive(Debug, Error, PartialEq)]
pub enum YamlError {
    #[error("{0}")]
    Syntax(String),
    #[error("line {line}: unknown anchor in alias")]
    UnknownAnchor { line: usize },
    #[error("line {line}: {what}")]
    Unsupported { line: usize, what: String },
}

impl From<ScanError> for YamlError {
    fn from(e: ScanError) -> Self {
        Self::Syntax(e.to_string())
    }
}

/// A parsed node, before scalars are resolved.
#[derive(Clone, Debug)]
enum Node {
    Scalar {
        text: String,
        plain: bool,
        tag: Option<Tag>,
        line: usize,
    },
    Sequence(Vec<Node>),
    Mapping(Vec<(Node, Node)>, usize),
}

/// The documents of `text`, each as kubectl would send it (JSON), in order;
/// empty documents are kept as `Null`. Reading stops at the first error,
/// which is returned after the documents read before it.
pub fn documents(text: &str) -> Vec<Result<Value, YamlError>> {
    let mut reader = Reader {
        events: Parser::new(StrInput::new(text)),
        anchors: HashMap::new(),
    };
    let mut out = Vec::new();
    loop {
        match reader.document() {
            Ok(Some(node)) => match to_json(&node) {
                Ok(value) => out.push(Ok(value)),
                Err(e) => {
                    out.push(Err(e));
                    return out;
                }
            },
            Ok(None) => return out,
            Err(e) => {
                out.push(Err(e));
                return out;
            }
        }
    }
}

struct Reader<'a> {
    events: Parser<'a, StrInput<'a>>,
    anchors: HashMap<usize, Node>,
}

impl<'a> Reader<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), YamlError> {
        match self.events.next() {
            Some(event) => Ok(event?),
            None => Ok((Event::StreamEnd, Span::default())),
        }
    }

    /// The next document's root node, `None` at the end of the stream.
    fn document(&mut self) -> Result<Option<Node>, YamlError> {
        loop {
            let (event, _) = self.next()?;
            match event {
                Event::StreamEnd => return Ok(None),
                Event::DocumentStart(_) => {
                    self.anchors.clear();
                    let (event, span) = self.next()?;
                    let root = match event {
                        // An empty document.
                        Event::DocumentEnd => return Ok(Some(null(span))),
                        other => self.node(other, span)?,
                    };
                    // The DocumentEnd event.
                    self.next()?;
                    return Ok(Some(root));
                }
                _ => continue,
            }
        }
    }

    fn node(&mut self, event: Event<'a>, span: Span) -> Result<Node, YamlError> {
        let line = span.start.line();
        let (node, anchor) = match event {
            Event::Scalar(text, style, anchor, tag) => (
                Node::Scalar {
                    text: text.into_owned(),
                    plain: style == ScalarStyle::Plain,
                    tag: tag.map(|t| t.into_owned()),
                    line,
                },
                anchor,
            ),
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    match self.next()? {
                        (Event::SequenceEnd, _) => break,
                        (event, span) => items.push(self.node(event, span)?),
                    }
                }
                (Node::Sequence(items), anchor)
            }
            Event::MappingStart(anchor, _) => {
                let mut pairs = Vec::new();
                loop {
                    match self.next()? {
                        (Event::MappingEnd, _) => break,
                        (event, span) => {
                            let key = self.node(event, span)?;
                            let (event, span) = self.next()?;
                            pairs.push((key, self.node(event, span)?));
                        }
                    }
                }
                (Node::Mapping(pairs, line), anchor)
            }
            Event::Alias(id) => {
                return self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or(YamlError::UnknownAnchor { line });
            }
            other => {
                return Err(YamlError::Syntax(format!(
                    "line {line}: unexpected {other:?}"
                )));
            }
        };
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }
}

fn null(span: Span) -> Node {
    Node::Scalar {
        text: String::new(),
        plain: true,
        tag: None,
        line: span.start.line(),
    }
}

fn to_json(node: &Node) -> Result<Value, YamlError> {
    match node {
        Node::Scalar {
            text,
            plain,
            tag,
            line,
        } => scalar(text, *plain, tag.as_ref(), *line),
        Node::Sequence(items) => items.iter().map(to_json).collect::<Result<_, _>>(),
        Node::Mapping(pairs, line) => {
            let mut map = Map::new();
            let mut explicit = Vec::new();
            for (key, value) in pairs {
                if is_merge_key(key) {
                    merge(&mut map, value, *line)?;
                    continue;
                }
                let key = key_string(key)?;
                if explicit.contains(&key) {
                    return Err(YamlError::Unsupported {
                        line: *line,
                        what: format!("mapping key {key:?} given twice"),
                    });
                }
                map.insert(key.clone(), to_json(value)?);
                explicit.push(key);
            }
            Ok(Value::Object(map))
        }
    }
}

fn is_merge_key(node: &Node) -> bool {
    matches!(node, Node::Scalar { text, plain: true, tag: None, .. } if text == "<<")
}

/// `<<: *anchor` or `<<: [*a, *b]`: go-yaml v2 sets the merged keys where
/// the merge stands (later keys override them), the first of a list winning.
fn merge(map: &mut Map<String, Value>, value: &Node, line: usize) -> Result<(), YamlError> {
    let sources: Vec<&Node> = match value {
        Node::Sequence(items) => items.iter().rev().collect(),
        other => vec![other],
    };
    for source in sources {
        match (source, to_json(source)?) {
            (Node::Mapping(..), Value::Object(entries)) => map.extend(entries),
            _ => {
                return Err(YamlError::Unsupported {
                    line,
                    what: "map merge requires map or sequence of maps as the value".into(),
                });
            }
        }
    }
    Ok(())
}

/// Keys are resolved like values, then written as JSON strings (a key `on`
/// becomes `"true"`, as under kubectl).
fn key_string(key: &Node) -> Result<String, YamlError> {
    let line = match key {
        Node::Scalar { line, .. } | Node::Mapping(_, line) => *line,
        Node::Sequence(_) => 0,
    };
    match to_json(key)? {
        Value::String(s) => Ok(s),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(YamlError::Unsupported {
            line,
            what: format!("unsupported map key {other}"),
        }),
    }
}

/// go-yaml v2's booleans and nulls (resolve.go), exactly these spellings.
const TRUE: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
];
const FALSE: &[&str] = &[
    "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF",
];
const NULL: &[&str] = &["", "~", "null", "Null", "NULL"];
const SPECIAL_FLOATS: &[&str] = &[
    ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN",
    ".NAN",
];

fn scalar(text: &str, plain: bool, tag: Option<&Tag>, line: usize) -> Result<Value, YamlError> {
    let str_tag =
        tag.is_some_and(|t| t.suffix == "str" || (t.handle == "!" && t.suffix.is_empty()));
    if str_tag || (!plain && tag.is_none()) {
        return Ok(Value::String(text.into()));
    }
    if SPECIAL_FLOATS.contains(&text) {
        // JSON has no infinity or NaN: kubectl refuses the file too.
        return Err(YamlError::Unsupported {
            line,
            what: format!("{text} has no JSON form"),
        });
    }
    Ok(resolve(text).unwrap_or_else(|| Value::String(text.into())))
}

/// The non-string value a plain scalar stands for, if any.
fn resolve(text: &str) -> Option<Value> {
    if TRUE.contains(&text) {
        return Some(Value::Bool(true));
    }
    if FALSE.contains(&text) {
        return Some(Value::Bool(false));
    }
    if NULL.contains(&text) {
        return Some(Value::Null);
    }
    if !text.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '.')) {
        return None;
    }
    let plain = text.replace('_', "");
    if let Some(n) = go_int(&plain) {
        return Some(Value::Number(n));
    }
    if is_yaml_float(&plain) {
        let f: f64 = plain.parse().ok()?;
        return Some(float(f));
    }
    None
}

/// Go's `strconv.ParseInt(s, 0, 64)`, then `ParseUint`: a sign, then `0x`,
/// `0o`, `0b` or a leading `0` (octal) choose the base.
fn go_int(s: &str) -> Option<Number> {
    let (negative, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = digits.to_ascii_lowercase();
    let (radix, body) = if let Some(rest) = lower.strip_prefix("0x") {
        (16, rest)
    } else if let Some(rest) = lower.strip_prefix("0o") {
        (8, rest)
    } else if let Some(rest) = lower.strip_prefix("0b") {
        (2, rest)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if body.is_empty() || body.starts_with(['+', '-']) {
        return None;
    }
    let magnitude = u64::from_str_radix(body, radix).ok()?;
    if negative {
        let value = i64::try_from(i128::from(magnitude).checked_neg()?).ok()?;
        Some(Number::from(value))
    } else {
        Some(Number::from(magnitude))
    }
}

/// go-yaml v2's float syntax: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => digits(frac),
        Some((int, frac)) => digits(int) && (frac.is_empty() || digits(frac)),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

/// A float as it reaches the API server: Go's JSON writes `8.0` as `8`,
/// which the server reads back as an integer.
fn float(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        Value::Number(Number::from(f as i64))
    } else {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(text: &str) -> Value {
        documents(text).remove(0).unwrap()
    }

    #[test]
    fn yaml_1_1_booleans_are_booleans_unless_quoted() {
        for word in TRUE {
            assert_eq!(read(&format!("a: {word}")), json!({"a": true}), "{word}");
        }
        for word in FALSE {
            assert_eq!(read(&format!("a: {word}")), json!({"a": false}), "{word}");
        }
        assert_eq!(
            read("a: 'no'\nb: \"yes\"\nc: |\n  on\nd: !!str off\ne: tRue\nf: nO"),
            json!({"a": "no", "b": "yes", "c": "on\n", "d": "off", "e": "tRue", "f": "nO"})
        );
    }

    #[test]
    fn numbers_and_nulls_follow_yaml_1_1() {
        // What `kubectl label --local -o json` (v1.37) printed for these.
        assert_eq!(
            read(
                "a: 0755\nb: 0x1F\nc: 08\nd: 1_000\ne: 0o17\nf: 0b101\ng: 1e3\nh: +12\n\
                 i: 12.50\nj: ~\nk: Null\nl:\nm: 2024-01-01\np: -0755\no: 1.2.3"
            ),
            json!({
                "a": 493, "b": 31, "c": 8, "d": 1000, "e": 15, "f": 5, "g": 1000,
                "h": 12, "i": 12.5, "j": null, "k": null, "l": null,
                "m": "2024-01-01", "p": -493, "o": "1.2.3"
            })
        );
        assert!(documents("a: .inf").remove(0).is_err());
    }

    #[test]
    fn keys_resolve_like_values() {
        assert_eq!(
            read("on: a\n1: b\nn: c"),
            json!({"true": "a", "1": "b", "false": "c"})
        );
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        assert_eq!(
            read("b: &m {x: 1, z: 2}\nc:\n  x: 0\n  <<: *m\n  z: 3\nd: *m"),
            json!({"b": {"x": 1, "z": 2}, "c": {"x": 1, "z": 3}, "d": {"x": 1, "z": 2}})
        );
        assert_eq!(
            read("a: &a {x: 1}\nb: &b {x: 2, w: 2}\nc:\n  <<: [*a, *b]"),
            json!({"a": {"x": 1}, "b": {"x": 2, "w": 2}, "c": {"x": 1, "w": 2}})
        );
    }

    #[test]
    fn documents_errors_and_duplicates() {
        let docs = documents("---\na: 1\n---\n---\nb: [1\n");
        assert_eq!(docs[0], Ok(json!({"a": 1})));
        assert_eq!(docs[1], Ok(Value::Null));
        assert!(docs[2].is_err());
        assert!(documents("a: 1\na: 2").remove(0).is_err());
        assert_eq!(documents("").len(), 0);
    }
}
