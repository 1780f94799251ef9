//! Label and field selectors, parsed as `k8s.io/apimachinery/pkg/labels` parses them.

use crate::error::ApiError;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

impl Requirement {
    fn key(&self) -> &str {
        match self {
            Self::Equals(k, _)
            | Self::NotEquals(k, _)
            | Self::In(k, _)
            | Self::NotIn(k, _)
            | Self::Exists(k)
            | Self::DoesNotExist(k) => k,
        }
    }

    fn values(&self) -> Vec<&str> {
        match self {
            Self::Equals(_, v) | Self::NotEquals(_, v) => vec![v.as_str()],
            Self::In(_, vs) | Self::NotIn(_, vs) => vs.iter().map(String::as_str).collect(),
            Self::Exists(_) | Self::DoesNotExist(_) => Vec::new(),
        }
    }
}

/// A label value as apimachinery validates it: at most 63 characters,
/// empty or alphanumeric at both ends with `-`, `_`, `.` between.
fn valid_value(value: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    value.is_empty()
        || (value.len() <= 63
            && value.starts_with(alnum)
            && value.ends_with(alnum)
            && value
                .chars()
                .all(|c| alnum(c) || matches!(c, '-' | '_' | '.')))
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(Vec<Requirement>);

impl LabelSelector {
    pub fn parse(input: &str) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        for term in split_terms(input) {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            let requirement = parse_requirement(term).ok_or_else(|| {
                ApiError::BadRequest(format!("unable to parse requirement: {term:?}"))
            })?;
            if let Some(bad) = requirement.values().iter().find(|v| !valid_value(v)) {
                return Err(ApiError::BadRequest(format!(
                    "unable to parse requirement: values[0][{}]: Invalid value: {bad:?}: \
                     a valid label must be an empty string or consist of alphanumeric \
                     characters, '-', '_' or '.', and must start and end with an alphanumeric \
                     character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for \
                     validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                    requirement.key()
                )));
            }
            reqs.push(requirement);
        }
        Ok(LabelSelector(reqs))
    }

    pub fn matches(&self, labels: &Value) -> bool {
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            // Upstream: `!=` also matches objects that lack the label.
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| vs.iter().all(|v| v != x)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
        })
    }
}

/// Splits on commas that are not inside a `(...)` value set.
fn split_terms(input: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in input.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(&input[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&input[start..]);
    out
}

fn parse_requirement(term: &str) -> Option<Requirement> {
    if let Some(key) = term.strip_prefix('!') {
        return valid_key(key.trim()).map(|k| Requirement::DoesNotExist(k.into()));
    }
    for (op, ctor) in [
        (
            " notin ",
            Requirement::NotIn as fn(String, Vec<String>) -> Requirement,
        ),
        (" in ", Requirement::In),
    ] {
        if let Some(idx) = term.find(op) {
            let key = valid_key(term[..idx].trim())?;
            let set = term[idx + op.len()..].trim();
            let inner = set.strip_prefix('(')?.strip_suffix(')')?;
            let values = inner
                .split(',')
                .map(|v| v.trim().to_string())
                .collect::<Vec<_>>();
            return Some(ctor(key.into(), values));
        }
    }
    for (op, eq) in [("!=", false), ("==", true), ("=", true)] {
        if let Some(idx) = term.find(op) {
            let key = valid_key(term[..idx].trim())?;
            let value = term[idx + op.len()..].trim().to_string();
            return Some(if eq {
                Requirement::Equals(key.into(), value)
            } else {
                Requirement::NotEquals(key.into(), value)
            });
        }
    }
    valid_key(term).map(|k| Requirement::Exists(k.into()))
}

fn valid_key(key: &str) -> Option<&str> {
    let ok = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    ok.then_some(key)
}

/// A field selector over `metadata.name`, `metadata.namespace` (which every
/// resource supports) and the resource's own selectable fields (a CRD's
/// `selectableFields`, a few per built-in kind); other fields are refused as
/// upstream refuses them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    pub fn parse(input: &str, selectable: &[String]) -> Result<Self, ApiError> {
        let mut terms = Vec::new();
        for term in input.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (field, eq, value) = if let Some((f, v)) = term.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = term.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = term.split_once('=') {
                (f, true, v)
            } else {
                return Err(ApiError::BadRequest(format!(
                    "invalid selector: '{input}'; can't understand '{term}'"
                )));
            };
            let field = field.trim();
            if field != "metadata.name"
                && field != "metadata.namespace"
                && !selectable.iter().any(|s| s == field)
            {
                return Err(ApiError::BadRequest(format!(
                    "field label not supported: {field}"
                )));
            }
            terms.push((field.to_string(), eq, value.trim().to_string()));
        }
        Ok(FieldSelector(terms))
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(field, eq, value)| {
            let found = field.split('.').try_fold(obj, |cur, part| cur.get(part));
            // A missing field reads as the empty string.
            let actual = match found {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (&actual == value) == *eq
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(sel: &str, labels: Value) -> bool {
        LabelSelector::parse(sel).unwrap().matches(&labels)
    }

    #[test]
    fn label_operators() {
        let l = json!({"app": "web", "tier": "front"});
        assert!(m("app=web", l.clone()));
        assert!(m("app==web,tier", l.clone()));
        assert!(!m("app!=web", l.clone()));
        assert!(m("missing!=x", l.clone()));
        assert!(m("tier in (front, back)", l.clone()));
        assert!(!m("tier notin (front,back)", l.clone()));
        assert!(m("!missing", l.clone()));
        assert!(!m("!app", l.clone()));
        assert!(m("", l));
    }

    #[test]
    fn bad_selector_is_rejected() {
        assert!(LabelSelector::parse("a in b").is_err());
        // A value is a label value: `b=c` is not one (upstream: 400).
        for bad in [
            "a=b=c",
            "a!=b=c",
            "a in (x,b=c)",
            "a=-b",
            "a=b.",
            &format!("a={}", "v".repeat(64)),
        ] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad}");
        }
        for good in ["a=", "a=b", "a==b-c.d_e", "a notin (x, y)", "!a", "a"] {
            assert!(LabelSelector::parse(good).is_ok(), "{good}");
        }
        assert!(FieldSelector::parse("spec.x=1", &[]).is_err());
    }

    #[test]
    fn selectable_fields() {
        let fields = vec!["spec.color".to_string(), "spec.size".to_string()];
        let obj = json!({"spec": {"color": "red", "size": 3}});
        assert!(
            FieldSelector::parse("spec.color=red,spec.size=3", &fields)
                .unwrap()
                .matches(&obj)
        );
        assert!(
            FieldSelector::parse("spec.color!=blue", &fields)
                .unwrap()
                .matches(&obj)
        );
        assert!(FieldSelector::parse("spec.other=x", &fields).is_err());
    }

    #[test]
    fn field_selector() {
        let obj = json!({"metadata": {"name": "a", "namespace": "ns"}});
        assert!(
            FieldSelector::parse("metadata.name=a", &[])
                .unwrap()
                .matches(&obj)
        );
        assert!(
            !FieldSelector::parse("metadata.namespace!=ns", &[])
                .unwrap()
                .matches(&obj)
        );
    }
}
