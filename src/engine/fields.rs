//! Comparable state and its differences: the vocabulary every kind and the
//! engine share, so the diff is generic.

use std::collections::BTreeMap;
use std::fmt;

/// Comparable state of a resource: field name -> canonical value. Desired
/// and observed states are both `Fields`.
pub type Fields = BTreeMap<String, String>;

/// Value a plan shows for something only known once a dependency exists.
pub const KNOWN_AFTER_APPLY: &str = "(known after apply)";

/// One field that differs: what AWS has and what the spec wants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub field: String,
    pub from: Option<String>,
    pub to: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.from {
            Some(from) => write!(f, "{}: {from:?} -> {:?}", self.field, self.to),
            None => write!(f, "{}: (unset) -> {:?}", self.field, self.to),
        }
    }
}

/// Fields of `desired` that `observed` lacks or holds differently.
pub fn diff(desired: &Fields, observed: &Fields) -> Vec<Change> {
    desired
        .iter()
        .filter(|(field, value)| observed.get(*field) != Some(value))
        .map(|(field, value)| Change {
            field: field.clone(),
            from: observed.get(field).cloned(),
            to: value.clone(),
        })
        .collect()
}

/// Questions an update asks of its changes.
pub trait Changes {
    /// The change of `field`, if it differs.
    fn at(&self, field: &str) -> Option<&Change>;
    /// Whether `field` differs.
    fn touches(&self, field: &str) -> bool {
        self.at(field).is_some()
    }
    /// Changes of anything but tags (`tag:<key>` fields).
    fn except_tags(&self) -> impl Iterator<Item = &Change>;
    /// Changes of tags only, as (key, wanted value).
    fn tags(&self) -> impl Iterator<Item = (&str, &str)>;
}

impl Changes for [Change] {
    fn at(&self, field: &str) -> Option<&Change> {
        self.iter().find(|c| c.field == field)
    }

    fn except_tags(&self) -> impl Iterator<Item = &Change> {
        self.iter().filter(|c| !c.field.starts_with("tag:"))
    }

    fn tags(&self) -> impl Iterator<Item = (&str, &str)> {
        self.iter()
            .filter_map(|c| c.field.strip_prefix("tag:").map(|key| (key, c.to.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_found_by_field_and_split_from_tags() {
        let desired = Fields::from([
            ("size".into(), "2".into()),
            ("tag:team".into(), "web".into()),
            ("same".into(), "x".into()),
        ]);
        let observed = Fields::from([("size".into(), "1".into()), ("same".into(), "x".into())]);
        let changes = diff(&desired, &observed);
        assert_eq!(changes.len(), 2);
        assert_eq!(
            changes.at("size").and_then(|c| c.from.as_deref()),
            Some("1")
        );
        assert!(!changes.touches("same"));
        let fields: Vec<_> = changes.except_tags().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["size"]);
        assert_eq!(changes.tags().collect::<Vec<_>>(), [("team", "web")]);
    }
}
