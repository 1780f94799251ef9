//! The public contract: generated CRDs are in sync, the examples are valid,
//! and invalid specs are refused for the right field.

use serde_json::{Value, json};
use stackops::api::admission::Admission;
use stackops::api::manifest::{self, ManifestError};
use stackops::api::{FieldError, StackManifest, crds};
use stackops::blueprint::validate;

const CRD_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/crds");

fn example(name: &str) -> Value {
    let path = format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut docs = manifest::documents(&text);
    assert_eq!(docs.len(), 1, "{path} holds one stack");
    docs.remove(0).unwrap()
}

/// Admission, then the semantic checks: every problem the CLI would report.
fn problems(object: &Value) -> Vec<FieldError> {
    match manifest::admit(1, object) {
        Ok(stack) => validate::check(&stack),
        Err(ManifestError::Invalid { errors, .. }) => errors,
        Err(other) => vec![FieldError::new("", other.to_string())],
    }
}

#[test]
fn crds_directory_matches_the_generated_crds() {
    let generated = crds::all();
    let mut expected: Vec<String> = generated.iter().map(crds::file_name).collect();
    expected.sort();
    let mut present: Vec<String> = std::fs::read_dir(CRD_DIR)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    present.sort();
    assert_eq!(present, expected, "crds/ holds exactly one file per CRD");
    for crd in &generated {
        let on_disk =
            std::fs::read_to_string(format!("{CRD_DIR}/{}", crds::file_name(crd))).unwrap();
        assert!(
            on_disk == crds::to_yaml(crd),
            "crds/{} is out of date: run `stackops crds --out-dir crds`",
            crds::file_name(crd)
        );
    }
}

#[test]
fn crds_carry_printer_columns_short_names_category_and_status() {
    for crd in crds::all() {
        let version = &crd.spec.versions[0];
        let columns: Vec<_> = version
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            columns,
            [
                "Ready",
                "Reason",
                "Serving",
                "Endpoint",
                "Cost/Month",
                "Age"
            ]
        );
        assert_eq!(
            crd.spec.names.categories.as_deref(),
            Some(&["stackops".to_string()][..])
        );
        assert_eq!(crd.spec.names.short_names.as_ref().map(Vec::len), Some(1));
        assert!(version.subresources.as_ref().unwrap().status.is_some());
        assert_eq!(crd.spec.scope, "Namespaced");
    }
}

#[test]
fn every_spec_field_is_documented() {
    fn walk(path: &str, schema: &Value, missing: &mut Vec<String>) {
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (name, prop) in props {
                let here = format!("{path}.{name}");
                if prop
                    .get("description")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    missing.push(here.clone());
                }
                walk(&here, prop, missing);
            }
        }
        if let Some(items) = schema.get("items") {
            walk(&format!("{path}[]"), items, missing);
        }
    }
    for crd in crds::all() {
        let mut missing = Vec::new();
        walk(
            "spec",
            &crds::schema_of(&crd)["properties"]["spec"],
            &mut missing,
        );
        assert!(
            missing.is_empty(),
            "{}: undocumented fields {missing:?}",
            crd.spec.names.kind
        );
    }
}

#[test]
fn examples_parse_into_the_types_and_pass_every_check() {
    for (file, kind) in [
        ("ecommerce.yaml", "EcommerceStack"),
        ("booking.yaml", "BookingPlatform"),
    ] {
        let object = example(file);
        let stack = manifest::admit(1, &object).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(stack.kind(), kind);
        let problems = validate::check(&stack);
        assert!(problems.is_empty(), "{file}: {problems:?}");
    }
}

#[test]
fn defaults_are_production_safe() {
    let minimal = json!({
        "apiVersion": "stackops.io/v1alpha1", "kind": "BookingPlatform",
        "metadata": {"name": "minimal"}, "spec": {"region": "us-east-1"}
    });
    let StackManifest::Booking(stack) = manifest::admit(1, &minimal).unwrap() else {
        panic!("kind")
    };
    let db = &stack.spec.database;
    assert!(db.multi_az && db.deletion_protection);
    assert_eq!(
        db.deletion_policy,
        stackops::api::common::DeletionPolicy::Snapshot
    );
    assert!(db.backup_retention_days >= 7);
    assert_eq!(
        stack.spec.media.deletion_policy, None,
        "resolved to Retain for the media bucket"
    );
    assert!(stack.spec.media.versioning);
    assert!(stack.spec.monitoring.dashboard);
    assert!(validate::check(&StackManifest::Booking(stack)).is_empty());
}

/// One invalid variant: what to change in which example, and the field the
/// refusal must name.
struct Variant {
    what: &'static str,
    example: &'static str,
    change: fn(&mut Value),
    field: &'static str,
}

fn set(object: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let parent = object
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("no {parent}"));
    match parent {
        Value::Object(map) => {
            map.insert(key.to_string(), value);
        }
        Value::Array(items) => items[key.parse::<usize>().unwrap()] = value,
        _ => panic!("{pointer} is not in a container"),
    }
}

/// A network of an existing VPC with `az_count` subnets per tier.
fn existing_network(az_count: usize) -> Value {
    let ids = |tier: usize| -> Vec<String> {
        (0..az_count)
            .map(|az| format!("subnet-{tier}{az}abcdef"))
            .collect()
    };
    json!({
        "azCount": az_count,
        "existing": {
            "vpcId": "vpc-0a1b2c3d",
            "publicSubnetIds": ids(1),
            "appSubnetIds": ids(2),
            "dataSubnetIds": ids(3),
        },
    })
}

const VARIANTS: &[Variant] = &[
    Variant {
        what: "existing network with a NAT mode",
        example: "ecommerce.yaml",
        change: |o| {
            set(o, "/spec/network", existing_network(2));
            set(o, "/spec/network/natMode", json!("single"));
        },
        field: "spec.network.existing",
    },
    Variant {
        what: "existing network with fewer subnets than AZs",
        example: "booking.yaml",
        change: |o| {
            set(o, "/spec/network", existing_network(2));
            set(o, "/spec/network/azCount", json!(3));
        },
        field: "spec.network.existing",
    },
    Variant {
        what: "existing network whose VPC id is not one",
        example: "ecommerce.yaml",
        change: |o| {
            set(o, "/spec/network", existing_network(2));
            set(o, "/spec/network/existing/vpcId", json!("sg-0a1b2c3d"));
        },
        field: "spec.network.existing.vpcId",
    },
    Variant {
        what: "existing network naming a subnet twice",
        example: "ecommerce.yaml",
        change: |o| {
            set(o, "/spec/network", existing_network(2));
            set(
                o,
                "/spec/network/existing/dataSubnetIds/0",
                json!("subnet-20abcdef"),
            );
        },
        field: "spec.network.existing.dataSubnetIds[0]",
    },
    Variant {
        what: "CIDR prefix out of range",
        example: "booking.yaml",
        change: |o| set(o, "/spec/network/cidr", json!("10.0.0.0/33")),
        field: "spec.network.cidr",
    },
    Variant {
        what: "CIDR that is not an address",
        example: "booking.yaml",
        change: |o| set(o, "/spec/network/cidr", json!("10.0.300.0/16")),
        field: "spec.network.cidr",
    },
    Variant {
        what: "CIDR with host bits",
        example: "ecommerce.yaml",
        change: |o| set(o, "/spec/network/cidr", json!("10.20.0.1/16")),
        field: "spec.network.cidr",
    },
    Variant {
        what: "VPC too small for the AZ count",
        example: "booking.yaml",
        change: |o| {
            set(o, "/spec/network/cidr", json!("10.30.0.0/24"));
            set(o, "/spec/network/azCount", json!(6));
        },
        field: "spec.network.cidr",
    },
    Variant {
        what: "one AZ",
        example: "ecommerce.yaml",
        change: |o| set(o, "/spec/network/azCount", json!(1)),
        field: "spec.network.azCount",
    },
    Variant {
        what: "unknown NAT mode",
        example: "ecommerce.yaml",
        change: |o| set(o, "/spec/network/natMode", json!("double")),
        field: "spec.network.natMode",
    },
    Variant {
        what: "subnet outside the VPC",
        example: "ecommerce.yaml",
        change: |o| {
            set(
                o,
                "/spec/network/subnets",
                json!({"public": ["10.20.0.0/24", "10.20.1.0/24"], "app": ["10.20.16.0/20", "10.99.0.0/20"], "data": ["10.20.2.0/24", "10.20.3.0/24"]}),
            )
        },
        field: "spec.network.subnets.app[1]",
    },
    Variant {
        what: "overlapping subnets",
        example: "ecommerce.yaml",
        change: |o| {
            set(
                o,
                "/spec/network/subnets",
                json!({"public": ["10.20.0.0/24", "10.20.1.0/24"], "app": ["10.20.0.0/20", "10.20.32.0/20"], "data": ["10.20.64.0/24", "10.20.65.0/24"]}),
            )
        },
        field: "spec.network.subnets.app[0]",
    },
    Variant {
        what: "min > max",
        example: "booking.yaml",
        change: |o| set(o, "/spec/app/minSize", json!(20)),
        field: "spec.app.minSize",
    },
    Variant {
        what: "desired above max",
        example: "booking.yaml",
        change: |o| set(o, "/spec/app/desiredCapacity", json!(13)),
        field: "spec.app.desiredCapacity",
    },
    Variant {
        what: "port out of range",
        example: "ecommerce.yaml",
        change: |o| set(o, "/spec/app/port", json!(70000)),
        field: "spec.app.port",
    },
    Variant {
        what: "bad instance type",
        example: "ecommerce.yaml",
        change: |o| set(o, "/spec/app/instanceType", json!("T3 Small")),
        field: "spec.app.instanceType",
    },
    Variant {
        what: "x86 image parameter for a Graviton instance type",
        example: "booking.yaml",
        change: |o| {
            set(
                o,
                "/spec/app/amiParameter",
                json!("/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"),
            )
        },
        field: "spec.app.amiParameter",
    },
    Variant {
        what: "bad AMI id",
        example: "booking.yaml",
        change: |o| set(o, "/spec/app/ami", json!("image-1")),
        field: "spec.app.ami",
    },
    Variant {
        what: "health check timeout not below interval",
        example: "booking.yaml",
        change: |o| set(o, "/spec/app/healthCheck/timeoutSeconds", json!(10)),
        field: "spec.app.healthCheck.timeoutSeconds",
    },
    Variant {
        what: "misspelt field",
        example: "booking.yaml",
        change: |o| set(o, "/spec/app/minSise", json!(2)),
        field: "spec.app.minSise",
    },
    Variant {
        what: "unknown database engine",
        example: "ecommerce.yaml",
        change: |o| set(o, "/spec/database/engine", json!("oracle")),
        field: "spec.database.engine",
    },
    Variant {
        what: "engine version of another engine",
        example: "ecommerce.yaml",
        change: |o| set(o, "/spec/database/engineVersion", json!("8.0.39")),
        field: "spec.database.engineVersion",
    },
    Variant {
        what: "backup retention 40",
        example: "booking.yaml",
        change: |o| set(o, "/spec/database/backupRetentionDays", json!(40)),
        field: "spec.database.backupRetentionDays",
    },
    Variant {
        what: "replicas without backups",
        example: "booking.yaml",
        change: |o| set(o, "/spec/database/backupRetentionDays", json!(0)),
        field: "spec.database.backupRetentionDays",
    },
    Variant {
        what: "max storage below storage",
        example: "booking.yaml",
        change: |o| set(o, "/spec/database/maxAllocatedStorageGiB", json!(50)),
        field: "spec.database.maxAllocatedStorageGiB",
    },
    Variant {
        what: "bad maintenance window",
        example: "booking.yaml",
        change: |o| set(o, "/spec/database/maintenanceWindow", json!("sunday 4am")),
        field: "spec.database.maintenanceWindow",
    },
    Variant {
        what: "cache multiAz without replicas",
        example: "booking.yaml",
        change: |o| set(o, "/spec/cache/replicas", json!(0)),
        field: "spec.cache.multiAz",
    },
    Variant {
        what: "name too long",
        example: "booking.yaml",
        change: |o| {
            set(
                o,
                "/metadata/name",
                json!("a-booking-platform-name-that-is-far-too-long"),
            )
        },
        field: "metadata.name",
    },
    Variant {
        what: "name not RFC 1123",
        example: "ecommerce.yaml",
        change: |o| set(o, "/metadata/name", json!("Shop_1")),
        field: "metadata.name",
    },
    Variant {
        what: "lifecycle days negative",
        example: "booking.yaml",
        change: |o| {
            set(
                o,
                "/spec/media/lifecycleRules/0/transitions/1/days",
                json!(-5),
            )
        },
        field: "spec.media.lifecycleRules[0].transitions[1].days",
    },
    Variant {
        what: "STANDARD_IA before 30 days",
        example: "booking.yaml",
        change: |o| {
            set(
                o,
                "/spec/media/lifecycleRules/0/transitions/0/days",
                json!(10),
            )
        },
        field: "spec.media.lifecycleRules[0].transitions[0].days",
    },
    Variant {
        what: "transition to warmer storage",
        example: "booking.yaml",
        change: |o| {
            set(
                o,
                "/spec/media/lifecycleRules/0/transitions/2/storageClass",
                json!("STANDARD_IA"),
            )
        },
        field: "spec.media.lifecycleRules[0].transitions[2].storageClass",
    },
    Variant {
        what: "expiration before a transition",
        example: "booking.yaml",
        change: |o| set(o, "/spec/media/lifecycleRules/0/expirationDays", json!(100)),
        field: "spec.media.lifecycleRules[0].expirationDays",
    },
    Variant {
        what: "unknown storage class",
        example: "booking.yaml",
        change: |o| {
            set(
                o,
                "/spec/media/lifecycleRules/0/transitions/1/storageClass",
                json!("TAPE"),
            )
        },
        field: "spec.media.lifecycleRules[0].transitions[1].storageClass",
    },
    Variant {
        what: "snapshot policy on a bucket",
        example: "booking.yaml",
        change: |o| set(o, "/spec/media/deletionPolicy", json!("Snapshot")),
        field: "spec.media.deletionPolicy",
    },
    Variant {
        what: "aliases without a certificate",
        example: "ecommerce.yaml",
        change: |o| set(o, "/spec/frontend/cdn/aliases", json!(["shop.example.com"])),
        field: "spec.frontend.cdn.certificateArn",
    },
    Variant {
        what: "CDN certificate outside us-east-1",
        example: "ecommerce.yaml",
        change: |o| {
            set(
                o,
                "/spec/frontend/cdn/certificateArn",
                json!("arn:aws:acm:eu-west-1:123456789012:certificate/abc-123"),
            )
        },
        field: "spec.frontend.cdn.certificateArn",
    },
    Variant {
        what: "unknown price class",
        example: "ecommerce.yaml",
        change: |o| {
            set(
                o,
                "/spec/frontend/cdn/priceClass",
                json!("PriceClass_Cheap"),
            )
        },
        field: "spec.frontend.cdn.priceClass",
    },
    Variant {
        what: "log retention 45",
        example: "booking.yaml",
        change: |o| set(o, "/spec/monitoring/logRetentionDays", json!(45)),
        field: "spec.monitoring.logRetentionDays",
    },
    Variant {
        what: "emails and a topic",
        example: "booking.yaml",
        change: |o| {
            set(
                o,
                "/spec/monitoring/notifications/snsTopicArn",
                json!("arn:aws:sns:eu-west-1:123456789012:alerts"),
            )
        },
        field: "spec.monitoring.notifications.emails",
    },
    Variant {
        what: "reserved tag key",
        example: "ecommerce.yaml",
        change: |o| set(o, "/spec/tags/aws:owner", json!("me")),
        field: "spec.tags",
    },
    Variant {
        what: "bad region",
        example: "ecommerce.yaml",
        change: |o| set(o, "/spec/region", json!("mars")),
        field: "spec.region",
    },
    Variant {
        what: "missing region",
        example: "ecommerce.yaml",
        change: |o| {
            o["spec"].as_object_mut().unwrap().remove("region");
        },
        field: "spec.region",
    },
    Variant {
        what: "duplicate scheduled action",
        example: "booking.yaml",
        change: |o| {
            set(
                o,
                "/spec/app/scaling/scheduledActions/1/name",
                json!("business-hours"),
            )
        },
        field: "spec.app.scaling.scheduledActions[1].name",
    },
    Variant {
        what: "Spot types without the launch template's own",
        example: "ecommerce.yaml",
        change: |o| {
            set(
                o,
                "/spec/app/purchase/instanceTypes",
                json!(["t3a.small", "t2.small", "t3a.medium"]),
            )
        },
        field: "spec.app.purchase.instanceTypes",
    },
    Variant {
        what: "Spot over fewer than three types",
        example: "ecommerce.yaml",
        change: |o| {
            set(
                o,
                "/spec/app/purchase/instanceTypes",
                json!(["t3.small", "t3a.small"]),
            )
        },
        field: "spec.app.purchase.instanceTypes",
    },
    Variant {
        what: "an On-Demand share over 100 %",
        example: "ecommerce.yaml",
        change: |o| {
            set(
                o,
                "/spec/app/purchase/onDemandPercentageAboveBaseCapacity",
                json!(120),
            )
        },
        field: "spec.app.purchase.onDemandPercentageAboveBaseCapacity",
    },
    Variant {
        what: "a budget of nothing",
        example: "booking.yaml",
        change: |o| set(o, "/spec/budget", json!({"monthlyLimitUSD": 0})),
        field: "spec.budget.monthlyLimitUSD",
    },
];

#[test]
fn invalid_variants_are_each_refused_for_the_right_field() {
    assert!(VARIANTS.len() >= 20);
    let mut failures = Vec::new();
    for variant in VARIANTS {
        let mut object = example(variant.example);
        (variant.change)(&mut object);
        let problems = problems(&object);
        let named = problems
            .iter()
            .any(|p| p.path == variant.field && !p.message.is_empty());
        if !named {
            failures.push(format!(
                "{}: expected {}, got {problems:?}",
                variant.what, variant.field
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn immutable_fields_are_refused_on_update() {
    let crd = crds::all()
        .into_iter()
        .find(|c| c.spec.names.kind == "BookingPlatform")
        .unwrap();
    let admission = Admission::new(&crd);
    let old = example("booking.yaml");
    for (pointer, value, field) in [
        ("/spec/region", json!("us-east-1"), "spec.region"),
        (
            "/spec/network/cidr",
            json!("10.31.0.0/16"),
            "spec.network.cidr",
        ),
        (
            "/spec/database/engine",
            json!("mysql"),
            "spec.database.engine",
        ),
        ("/spec/cache/engine", json!("valkey"), "spec.cache.engine"),
    ] {
        let mut new = old.clone();
        set(&mut new, pointer, value);
        assert!(
            admission.check(&new, None).is_empty(),
            "{field} is valid on create"
        );
        let errors = admission.check(&new, Some(&old));
        assert!(
            errors.iter().any(|e| e.path == field),
            "{field}: {errors:?}"
        );
    }
    let mut scaled = old.clone();
    set(&mut scaled, "/spec/app/maxSize", json!(20));
    assert!(
        admission.check(&scaled, Some(&old)).is_empty(),
        "mutable fields may change"
    );
}

#[test]
fn a_stack_cannot_move_between_its_own_and_an_existing_network() {
    let crd = crds::all()
        .into_iter()
        .find(|c| c.spec.names.kind == "EcommerceStack")
        .unwrap();
    let admission = Admission::new(&crd);
    let own = example("ecommerce.yaml");
    let mut existing = own.clone();
    set(&mut existing, "/spec/network", existing_network(2));
    assert!(admission.check(&existing, None).is_empty());
    for (new, old) in [(&existing, &own), (&own, &existing)] {
        let errors = admission.check(new, Some(old));
        assert!(
            errors
                .iter()
                .any(|e| e.path.starts_with("spec.network")
                    && e.message.contains("cannot move between")),
            "{errors:?}"
        );
    }
    let mut moved = existing.clone();
    set(
        &mut moved,
        "/spec/network/existing/appSubnetIds/0",
        json!("subnet-99abcdef"),
    );
    let errors = admission.check(&moved, Some(&existing));
    assert!(
        errors.iter().any(|e| e.path == "spec.network.existing"),
        "{errors:?}"
    );
}

#[test]
fn refusals_read_like_the_api_server() {
    let mut object = example("ecommerce.yaml");
    set(&mut object, "/spec/app/minSize", json!(9));
    let error = manifest::admit(1, &object).unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with(r#"EcommerceStack.stackops.io "shop" is invalid: spec.app.minSize: "#),
        "{text}"
    );
}

#[test]
fn wrong_kind_and_api_version_are_refused() {
    let mut object = example("ecommerce.yaml");
    object["kind"] = json!("Shop");
    assert!(matches!(
        manifest::admit(1, &object),
        Err(ManifestError::Kind { .. })
    ));
    object["apiVersion"] = json!("stackops.io/v1");
    assert!(matches!(
        manifest::admit(1, &object),
        Err(ManifestError::ApiVersion { .. })
    ));
}

#[test]
fn examples_serve_what_the_load_balancer_health_checks() {
    // The example servers run `python3 -m http.server PORT --directory DIR`
    // and write the health check file into DIR: the port must be the app
    // port the target group sends to, the file the health check's path.
    for file in ["ecommerce.yaml", "booking.yaml"] {
        let app = &example(file)["spec"]["app"];
        let user_data = app["userData"].as_str().unwrap();
        let exec = user_data
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("ExecStart=/usr/bin/python3 -m http.server ")
            })
            .unwrap_or_else(|| panic!("{file}: no server in the user data"));
        let (port, dir) = exec.split_once(" --directory ").unwrap();
        assert_eq!(
            port.parse::<i64>().unwrap(),
            app["port"].as_i64().unwrap(),
            "{file}"
        );
        let path = app["healthCheck"]["path"].as_str().unwrap();
        assert!(
            user_data.contains(&format!("echo ok > {dir}{path}\n")),
            "{file}: the server does not answer {path}"
        );
    }
}
