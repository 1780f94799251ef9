//! Who a stack is in AWS: the identity tags every resource carries, and the
//! deterministic, length-safe names of its resources. Every layer uses it;
//! it imports none of them.
//!
//! A name is `<stack name>-<hash>-<suffix>`: the stack name is sanitised to
//! what every service accepts (lowercase letters, digits, single hyphens,
//! starting with a letter) and truncated so the whole fits the service's
//! limit; the hash (8 hex characters of SHA-256 over the stack's uid) keeps
//! names of equal stacks apart and makes S3 bucket names globally unique.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// Tag naming the stack (`<namespace>/<name>`) on every AWS resource.
pub const TAG_STACK: &str = "stackops.io/stack";
/// Tag holding the stack's uid.
pub const TAG_UID: &str = "stackops.io/uid";
/// Tag holding the node key of the resource in the stack's graph.
pub const TAG_COMPONENT: &str = "stackops.io/component";

/// AWS naming rules of the services whose names stackops chooses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// Load balancers and target groups: 32 characters.
    LoadBalancer,
    /// ElastiCache replication groups: 40 characters.
    Cache,
    /// RDS instances, subnet and parameter groups: 63 characters.
    Database,
    /// S3 buckets: 63 characters, globally unique.
    Bucket,
    /// IAM roles: 64 characters.
    IamRole,
    /// Everything else (security groups, alarms, launch templates...): 128.
    Generic,
}

impl NameRule {
    pub fn max_len(self) -> usize {
        match self {
            Self::LoadBalancer => 32,
            Self::IamRole => 64,
            Self::Cache => 40,
            Self::Database | Self::Bucket => 63,
            Self::Generic => 128,
        }
    }

    /// Whether `name` satisfies this rule: length, charset, letter first,
    /// no trailing or doubled hyphen.
    pub fn accepts(self, name: &str) -> bool {
        !name.is_empty()
            && name.len() <= self.max_len()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && !name.ends_with('-')
            && !name.contains("--")
    }
}

/// 8 hex characters identifying a stack, from its uid.
pub fn short_hash(uid: &str) -> String {
    let digest = Sha256::digest(uid.as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// The name of one resource of a stack under `rule`.
pub fn resource_name(stack_name: &str, uid: &str, suffix: &str, rule: NameRule) -> String {
    let hash = short_hash(uid);
    let suffix = sanitise(suffix);
    let fixed = hash.len()
        + 1
        + if suffix.is_empty() {
            0
        } else {
            suffix.len() + 1
        };
    let room = rule.max_len().saturating_sub(fixed);
    let mut base = sanitise(stack_name);
    if !base.starts_with(|c: char| c.is_ascii_lowercase()) {
        base = format!("s{base}");
    }
    base.truncate(room);
    let base = base.trim_end_matches('-');
    let mut name = format!("{base}-{hash}");
    if !suffix.is_empty() {
        name.push('-');
        name.push_str(&suffix);
    }
    name
}

/// `stackops-<hash>-<stack name>`: the stem of names (alarms, dashboard,
/// alarm topic) that start with one fixed prefix, so IAM can scope them by
/// `stackops-*`, followed by the stack's hash, so one prefix-filtered list
/// call finds this stack's resources and no other's. The stack name (for
/// people reading an alarm e-mail) is cut to 63 characters.
pub fn owned_stem(stack_name: &str, uid: &str) -> String {
    let mut base = sanitise(stack_name);
    base.truncate(63);
    let base = base.trim_end_matches('-');
    if base.is_empty() {
        format!("stackops-{}", short_hash(uid))
    } else {
        format!("stackops-{}-{base}", short_hash(uid))
    }
}

/// Lowercase letters, digits and single hyphens; anything else becomes a hyphen.
fn sanitise(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = c.to_ascii_lowercase();
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if !(c == '-' && (out.is_empty() || out.ends_with('-'))) {
            out.push(c);
        }
    }
    out.trim_end_matches('-').to_string()
}

/// The identity every AWS resource of a stack carries in its tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackIdentity {
    pub namespace: String,
    pub name: String,
    /// The custom resource's uid (the CLI derives a stable one).
    pub uid: String,
    /// User tags from the spec, put on every resource.
    pub extra_tags: BTreeMap<String, String>,
}

impl StackIdentity {
    /// Value of the `stackops.io/stack` tag.
    pub fn stack_tag(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// All tags of the resource for node `component`, identity last so user
    /// tags can never override it.
    pub fn tags(&self, component: &str) -> Vec<(String, String)> {
        let mut tags: Vec<(String, String)> = self
            .extra_tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        tags.push((
            "Name".into(),
            format!("{}-{}", self.name, component.replace('/', "-")),
        ));
        tags.push((TAG_STACK.into(), self.stack_tag()));
        tags.push((TAG_UID.into(), self.uid.clone()));
        tags.push((TAG_COMPONENT.into(), component.into()));
        tags
    }

    /// The tags as comparable fields (`tag:<key>`), for drift detection.
    pub fn tag_fields(&self, component: &str) -> BTreeMap<String, String> {
        self.tags(component)
            .into_iter()
            .map(|(k, v)| (format!("tag:{k}"), v))
            .collect()
    }

    /// A deterministic, length-safe AWS name for one of the stack's resources.
    pub fn resource_name(&self, suffix: &str, rule: NameRule) -> String {
        resource_name(&self.name, &self.uid, suffix, rule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: [NameRule; 6] = [
        NameRule::LoadBalancer,
        NameRule::IamRole,
        NameRule::Cache,
        NameRule::Database,
        NameRule::Bucket,
        NameRule::Generic,
    ];

    #[test]
    fn names_are_deterministic_and_hashed_by_uid() {
        let a = resource_name("shop", "uid-1", "alb", NameRule::LoadBalancer);
        assert_eq!(
            a,
            resource_name("shop", "uid-1", "alb", NameRule::LoadBalancer)
        );
        assert_ne!(
            a,
            resource_name("shop", "uid-2", "alb", NameRule::LoadBalancer)
        );
        assert!(a.starts_with("shop-") && a.ends_with("-alb"), "{a}");
    }

    #[test]
    fn every_name_fits_every_rule_whatever_the_stack_name() {
        let long = "a".repeat(40);
        let names = [
            "shop",
            "9shop",
            "shop.prod",
            "a-b--c",
            long.as_str(),
            "x",
            "web-",
        ];
        for stack in names {
            for rule in RULES {
                for suffix in ["", "alb", "tg-app", "media", "db-replica-5"] {
                    let name = resource_name(stack, "0f3c", suffix, rule);
                    assert!(
                        rule.accepts(&name),
                        "{rule:?} refuses {name:?} from {stack:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn owned_stems_start_with_the_prefix_and_the_hash() {
        let stem = owned_stem("Shop.Prod", "uid-1");
        assert_eq!(stem, format!("stackops-{}-shop-prod", short_hash("uid-1")));
        assert_eq!(
            owned_stem("...", "u"),
            format!("stackops-{}", short_hash("u"))
        );
        assert!(owned_stem(&"a".repeat(300), "u").len() <= 9 + 8 + 1 + 63);
    }

    #[test]
    fn sanitising_folds_dots_and_repeats() {
        assert_eq!(sanitise("Shop.Prod__1"), "shop-prod-1");
        assert_eq!(sanitise("--a--"), "a");
    }
}
