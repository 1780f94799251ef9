//! Checks no CRD schema can express, made before any AWS call: the region
//! is known and the ARNs named live there (`placement`), the subnet plan
//! fits, the engine version belongs to the engine, lifecycle transitions
//! only go to colder storage, names are unique, and every name stackops
//! derives fits its service's limits.

use std::collections::BTreeSet;

use crate::api::common::{
    AppSpec, BucketSpec, DatabaseEngine, DatabaseSpec, FrontendSpec, LoadBalancerSpec, NetworkSpec,
    StorageClass,
};
use crate::api::{FieldError, StackManifest};

use super::network_plan;
use crate::identity::{NameRule, resource_name};

/// Every semantic problem of `stack`, with field paths.
pub fn check(stack: &StackManifest) -> Vec<FieldError> {
    let mut errors = names(stack);
    errors.extend(super::placement::check(stack));
    match stack {
        StackManifest::Ecommerce(s) => {
            let spec = &s.spec;
            errors.extend(network(&spec.network));
            errors.extend(app(&spec.app));
            errors.extend(database(&spec.database));
            errors.extend(frontend(&spec.frontend, "spec.frontend"));
            errors.extend(origin(&spec.load_balancer, Some(&spec.frontend)));
        }
        StackManifest::Booking(s) => {
            let spec = &s.spec;
            errors.extend(network(&spec.network));
            errors.extend(app(&spec.app));
            errors.extend(database(&spec.database));
            errors.extend(bucket(&spec.media, "spec.media"));
            if let Some(frontend_spec) = &spec.frontend {
                errors.extend(frontend(frontend_spec, "spec.frontend"));
            }
            errors.extend(origin(&spec.load_balancer, spec.frontend.as_ref()));
        }
    }
    errors
}

fn network(spec: &NetworkSpec) -> Vec<FieldError> {
    let Some(existing) = &spec.existing else {
        return network_plan::plan(spec).err().unwrap_or_default();
    };
    // Each subnet serves one tier in one zone: a subnet named twice would
    // put the servers beside the database, or two "zones" in one.
    let mut errors = Vec::new();
    let mut seen = std::collections::BTreeMap::new();
    for (_, field, ids) in existing.tiers() {
        for (i, id) in ids.iter().enumerate() {
            let path = format!("spec.network.existing.{field}[{i}]");
            if let Some(first) = seen.insert(id.as_str(), path.clone()) {
                errors.push(FieldError::new(
                    path,
                    format!("Duplicate value: {id:?} is also {first}"),
                ));
            }
        }
    }
    errors
}

fn app(spec: &AppSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, action) in spec.scaling.scheduled_actions.iter().enumerate() {
        if !seen.insert(action.name.as_str()) {
            errors.push(FieldError::new(
                format!("spec.app.scaling.scheduledActions[{i}].name"),
                format!("duplicate name {:?}", action.name),
            ));
        }
        // An action may raise the maximum itself; what it asks for must fit under it.
        let max = action.max_size.unwrap_or(spec.max_size);
        for (field, value) in [
            ("minSize", action.min_size),
            ("desiredCapacity", action.desired_capacity),
        ] {
            if value.is_some_and(|v| v > max) {
                errors.push(FieldError::new(
                    format!("spec.app.scaling.scheduledActions[{i}].{field}"),
                    format!("exceeds the maximum size in force ({max})"),
                ));
            }
        }
    }
    if spec.ami.is_none() {
        errors.extend(architecture(spec));
    }
    errors
}

/// Whether EC2 instance type `instance_type` runs on Arm (Graviton): `a1`,
/// or a `g` among the attribute letters after the generation (m7g, c7gn,
/// t4g, r8gd; not g5 or g4dn, whose `g` is the family).
fn is_arm(instance_type: &str) -> bool {
    let family = instance_type.split('.').next().unwrap_or_default();
    if family == "a1" {
        return true;
    }
    let attributes = family.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let attributes = attributes.trim_start_matches(|c: char| c.is_ascii_digit());
    !family.contains('-') && attributes.contains('g')
}

/// An image parameter naming one architecture with an instance type of the
/// other would launch nothing: refuse it before any AWS call.
fn architecture(spec: &AppSpec) -> Option<FieldError> {
    let parameter = &spec.ami_parameter;
    let (arm_image, x86_image) = (parameter.contains("arm64"), parameter.contains("x86_64"));
    let arm_type = is_arm(&spec.instance_type);
    let mismatch = (arm_type && x86_image) || (!arm_type && arm_image);
    mismatch.then(|| {
        FieldError::new(
            "spec.app.amiParameter",
            format!(
                "{parameter} names an {} image but {} is an {} instance type",
                if arm_image { "arm64" } else { "x86_64" },
                spec.instance_type,
                if arm_type { "Arm (Graviton)" } else { "x86_64" },
            ),
        )
    })
}

/// Major versions RDS offers per engine.
fn version_belongs(engine: DatabaseEngine, version: &str) -> bool {
    let major: u32 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    match engine {
        DatabaseEngine::Postgres => (11..=18).contains(&major),
        DatabaseEngine::Mysql => {
            version.starts_with("5.7") || version.starts_with("8.0") || version.starts_with("8.4")
        }
    }
}

fn database(spec: &DatabaseSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(version) = &spec.engine_version
        && !version_belongs(spec.engine, version)
    {
        errors.push(FieldError::new(
            "spec.database.engineVersion",
            format!("{version} is not a version of {:?}", spec.engine).to_lowercase(),
        ));
    }
    errors
}

fn frontend(spec: &FrontendSpec, path: &str) -> Vec<FieldError> {
    let mut errors = bucket(&spec.bucket, &format!("{path}.bucket"));
    let mut seen = BTreeSet::new();
    for (i, alias) in spec.cdn.aliases.iter().enumerate() {
        if !seen.insert(alias) {
            errors.push(FieldError::new(
                format!("{path}.cdn.aliases[{i}]"),
                format!("duplicate alias {alias}"),
            ));
        }
    }
    errors
}

/// Behind a CDN, a load balancer with a certificate is reached over HTTPS
/// at a name the certificate covers: its AWS host name is covered by none.
fn origin(load_balancer: &LoadBalancerSpec, frontend: Option<&FrontendSpec>) -> Vec<FieldError> {
    let behind_cdn = frontend.is_some_and(|f| f.cdn.fronts_load_balancer());
    if behind_cdn && load_balancer.certificate_arn.is_some() && load_balancer.domain_name.is_none()
    {
        return vec![FieldError::new(
            "spec.loadBalancer.domainName",
            "Required value: with a certificate and the CDN's API paths, CloudFront reaches the \
             load balancer over HTTPS at a name the certificate covers",
        )];
    }
    Vec::new()
}

/// Colder classes rank higher; S3 only moves objects to colder storage.
fn coldness(class: StorageClass) -> u8 {
    match class {
        StorageClass::STANDARD_IA => 1,
        StorageClass::INTELLIGENT_TIERING => 1,
        StorageClass::GLACIER_IR => 2,
        StorageClass::GLACIER => 3,
        StorageClass::DEEP_ARCHIVE => 4,
    }
}

fn bucket(spec: &BucketSpec, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (r, rule) in spec.lifecycle_rules.iter().enumerate() {
        let mut transitions: Vec<_> = rule.transitions.iter().flatten().enumerate().collect();
        transitions.sort_by_key(|(_, t)| t.days);
        for pair in transitions.windows(2) {
            let ((_, earlier), (index, later)) = (pair[0], pair[1]);
            if coldness(later.storage_class) <= coldness(earlier.storage_class) {
                errors.push(FieldError::new(
                    format!("{path}.lifecycleRules[{r}].transitions[{index}].storageClass"),
                    format!(
                        "{:?} after day {} cannot follow {:?} after day {}: S3 only moves objects to colder storage",
                        later.storage_class, later.days, earlier.storage_class, earlier.days
                    ),
                ));
            }
        }
        if rule.noncurrent_expiration_days.is_some() && !spec.versioning {
            errors.push(FieldError::new(
                format!("{path}.lifecycleRules[{r}].noncurrentExpirationDays"),
                "needs versioning: there are no noncurrent versions without it",
            ));
        }
    }
    errors
}

/// Derived names are length-safe by construction; this proves it for the
/// names of this stack before anything is created.
fn names(stack: &StackManifest) -> Vec<FieldError> {
    let probes = [
        ("alb", NameRule::LoadBalancer),
        ("app", NameRule::LoadBalancer),
        ("db-replica-5", NameRule::Database),
        ("cache", NameRule::Cache),
        ("media", NameRule::Bucket),
        ("web", NameRule::Bucket),
    ];
    probes
        .iter()
        .map(|(suffix, rule)| (resource_name(stack.name(), "probe", suffix, *rule), rule))
        .filter(|(name, rule)| !rule.accepts(name))
        .map(|(name, rule)| {
            FieldError::new(
                "metadata.name",
                format!(
                    "derives {name:?}, which AWS refuses ({rule:?} names: at most {} characters)",
                    rule.max_len()
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::is_arm;

    #[test]
    fn graviton_types_are_told_from_x86_ones() {
        for arm in [
            "m7g.large",
            "c7gn.xlarge",
            "t4g.small",
            "r8gd.2xlarge",
            "a1.medium",
            "g5g.xlarge",
        ] {
            assert!(is_arm(arm), "{arm}");
        }
        for x86 in [
            "t3.small",
            "m7i.large",
            "g5.xlarge",
            "g4dn.xlarge",
            "m7i-flex.large",
            "c6in.large",
        ] {
            assert!(!is_arm(x86), "{x86}");
        }
    }
}
