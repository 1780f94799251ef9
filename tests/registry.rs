//! The kind registry is complete: every kind a blueprint can produce is
//! registered under its name (teardown and pruning observe exactly the
//! registered kinds, so a missing one would never be deleted), and every
//! registered kind is produced by some spec.

use std::collections::BTreeSet;

use serde_json::Value;
use stackops::api::manifest;
use stackops::aws::registry;
use stackops::blueprint;

fn example(name: &str) -> Value {
    let path = format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    manifest::documents(&text).remove(0).unwrap()
}

/// Specs that together ask for every tier and option: both examples, the
/// booking example with a CDN front end and every replica, and the
/// ecommerce example on MySQL, and one in an existing network.
fn specs() -> Vec<Value> {
    let mut booking = example("booking.yaml");
    booking["spec"]["frontend"] = example("ecommerce.yaml")["spec"]["frontend"].clone();
    booking["spec"]["database"]["readReplicas"] = 5.into();
    let mut mysql = example("ecommerce.yaml");
    mysql["spec"]["database"]["engine"] = "mysql".into();
    mysql["spec"]["database"]
        .as_object_mut()
        .unwrap()
        .remove("engineVersion");
    let mut existing = example("ecommerce.yaml");
    let ids = |tier: u8| -> Value {
        (0..2)
            .map(|az| format!("subnet-{tier}{az}aaaaaa").into())
            .collect::<Vec<Value>>()
            .into()
    };
    existing["spec"]["network"] = serde_json::json!({
        "azCount": 2,
        "existing": {
            "vpcId": "vpc-0123abcd",
            "publicSubnetIds": ids(1),
            "appSubnetIds": ids(2),
            "dataSubnetIds": ids(3),
        },
    });
    vec![
        existing,
        example("ecommerce.yaml"),
        example("booking.yaml"),
        booking,
        mysql,
    ]
}

/// Kind names of every node the specs' blueprints hold.
fn produced() -> BTreeSet<&'static str> {
    let zones: Vec<String> = ["a", "b", "c"].map(|z| format!("eu-west-1{z}")).into();
    let mut kinds = BTreeSet::new();
    for object in specs() {
        let stack = manifest::admit(1, &object).unwrap();
        // Priced, so that a budget whose limit derives from the estimate is built.
        let blueprint = blueprint::build(&stack, "uid-1", &zones)
            .unwrap()
            .with_estimate(Some(100.0))
            .unwrap();
        kinds.extend(blueprint.graph.nodes().iter().map(|n| n.kind().name()));
    }
    kinds
}

#[test]
fn every_kind_a_blueprint_produces_is_registered() {
    let zones: Vec<String> = ["a", "b", "c"].map(|z| format!("eu-west-1{z}")).into();
    for object in specs() {
        let stack = manifest::admit(1, &object).unwrap();
        let blueprint = blueprint::build(&stack, "uid-1", &zones).unwrap();
        for node in blueprint.graph.nodes() {
            let kind = node.kind();
            let registered = registry::kind(kind.name())
                .unwrap_or_else(|| panic!("{} ({}) is not registered", node.key, kind.name()));
            assert!(
                std::ptr::addr_eq(registered, kind),
                "{}: another kind is registered as {}",
                node.key,
                kind.name()
            );
        }
    }
}

#[test]
fn every_registered_kind_is_produced_by_some_spec() {
    let produced = produced();
    let unused: Vec<&str> = registry::all_kinds()
        .iter()
        .map(|k| k.name())
        .filter(|name| !produced.contains(name))
        .collect();
    assert!(unused.is_empty(), "registered but never built: {unused:?}");
}

#[test]
fn graphs_also_observe_every_registered_kind() {
    // Leftovers of a changed spec are found only for kinds the graph observes.
    let zones: Vec<String> = ["a", "b"].map(|z| format!("eu-west-1{z}")).into();
    let stack = manifest::admit(1, &example("ecommerce.yaml")).unwrap();
    let unpriced = blueprint::build(&stack, "uid-1", &zones).unwrap();
    let registered: BTreeSet<&str> = registry::all_kinds().iter().map(|k| k.name()).collect();
    // Unpriced, the budget is the one kind a graph leaves alone: its limit
    // derives from the estimate, so it is neither made nor pruned.
    let observed: BTreeSet<&str> = unpriced.graph.kinds().iter().map(|k| k.name()).collect();
    let all_but_budgets: BTreeSet<&str> = registered
        .iter()
        .copied()
        .filter(|k| *k != "Budget")
        .collect();
    assert_eq!(observed, all_but_budgets);
    let priced = unpriced.with_estimate(Some(100.0)).unwrap();
    let observed: BTreeSet<&str> = priced.graph.kinds().iter().map(|k| k.name()).collect();
    assert_eq!(observed, registered);
}
