//! From a pass outcome to the stack's status, in Kubernetes conventions.
//! A condition keeps its `lastTransitionTime` while its status stays the
//! same, so an unchanged stack yields an identical status and no write.

use crate::api::FieldError;
use crate::api::status::{Condition, ResourceState, ResourceStatus, StackStatus};
use crate::engine::{EngineOptions, PassOutcome};

pub const READY: &str = "Ready";
pub const PROGRESSING: &str = "Progressing";
pub const DEGRADED: &str = "Degraded";
/// Whether the load balancer finds servers to send traffic to. Separate
/// from Ready (the AWS resources are as specified): servers that never pass
/// their health checks are the application's problem, which stackops
/// reports but cannot fix.
pub const SERVING: &str = "Serving";

/// Node whose outputs carry the load balancer's view of the servers.
const TARGET_GROUP_KEY: &str = "app/target-group";

/// Whether `status` holds `Ready=True`.
pub fn is_ready(status: &StackStatus) -> bool {
    status
        .conditions
        .iter()
        .any(|c| c.type_ == READY && c.status == "True")
}

/// One condition's wanted state.
struct Want {
    type_: &'static str,
    status: bool,
    reason: &'static str,
    message: String,
}

fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn build(wants: Vec<Want>, old: Option<&StackStatus>, generation: Option<i64>) -> Vec<Condition> {
    wants
        .into_iter()
        .map(|want| {
            let status = if want.status { "True" } else { "False" }.to_string();
            let previous = old.and_then(|o| o.conditions.iter().find(|c| c.type_ == want.type_));
            let last_transition_time = match previous {
                Some(p) if p.status == status => p.last_transition_time.clone(),
                _ => now(),
            };
            Condition {
                type_: want.type_.into(),
                status,
                reason: want.reason.into(),
                message: want.message,
                observed_generation: generation,
                last_transition_time,
            }
        })
        .collect()
}

/// Status after an apply pass. `not_implemented` names spec parts not built yet.
pub fn after_apply(
    pass: &PassOutcome,
    options: &EngineOptions,
    old: Option<&StackStatus>,
    generation: Option<i64>,
    not_implemented: &[String],
) -> StackStatus {
    let total = pass.nodes.len();
    let ready = pass.nodes.iter().filter(|n| n.is_ready()).count();
    let drifted: Vec<String> = pass
        .nodes
        .iter()
        .filter(|n| n.state == ResourceState::Drifted)
        .map(|n| n.message.clone().unwrap_or_else(|| n.key.clone()))
        .collect();
    let pending = if not_implemented.is_empty() {
        String::new()
    } else {
        format!("; not yet implemented: {}", not_implemented.join(", "))
    };
    let wants = if pass.converged {
        vec![
            Want {
                type_: READY,
                status: true,
                reason: "Ready",
                message: format!("{total} resources ready{pending}"),
            },
            Want {
                type_: PROGRESSING,
                status: false,
                reason: "Ready",
                message: String::new(),
            },
            // Built as far as stackops can: what it cannot yet is named.
            Want {
                type_: DEGRADED,
                status: !not_implemented.is_empty(),
                reason: if not_implemented.is_empty() {
                    "Ready"
                } else {
                    "NotImplemented"
                },
                message: pending.trim_start_matches("; ").to_string(),
            },
        ]
    } else if let Some(error) = &pass.terminal {
        let message = error.to_string();
        vec![
            Want {
                type_: READY,
                status: false,
                reason: "AwsError",
                message: message.clone(),
            },
            Want {
                type_: PROGRESSING,
                status: false,
                reason: "AwsError",
                message: String::new(),
            },
            Want {
                type_: DEGRADED,
                status: true,
                reason: "AwsError",
                message,
            },
        ]
    } else if options.paused || !options.managed {
        // Nothing will progress by itself: say why, and what differs.
        let (reason, why) = if options.paused {
            ("Paused", "spec.paused is true: no AWS writes")
        } else {
            (
                "Drifted",
                "managementPolicy is ObserveOnly: differences are reported, not corrected",
            )
        };
        let missing = pass.nodes.iter().filter(|n| n.id.is_none()).count();
        let mut message =
            format!("{why}; {ready} of {total} resources as specified, {missing} missing");
        if !drifted.is_empty() {
            message.push_str(&format!("; {}", drifted.join("; ")));
        }
        vec![
            Want {
                type_: READY,
                status: false,
                reason,
                message: message.clone(),
            },
            Want {
                type_: PROGRESSING,
                status: false,
                reason,
                message: String::new(),
            },
            Want {
                type_: DEGRADED,
                status: reason == "Drifted",
                reason,
                message,
            },
        ]
    } else if !drifted.is_empty() {
        let message = drifted.join("; ");
        vec![
            Want {
                type_: READY,
                status: false,
                reason: "Drifted",
                message: message.clone(),
            },
            Want {
                type_: PROGRESSING,
                status: false,
                reason: "Drifted",
                message: String::new(),
            },
            Want {
                type_: DEGRADED,
                status: true,
                reason: "Drifted",
                message,
            },
        ]
    } else {
        let waiting: Vec<&str> = pass
            .nodes
            .iter()
            .filter(|n| !n.is_ready())
            .map(|n| n.key.as_str())
            .take(5)
            .collect();
        let message = format!(
            "{ready} of {total} resources ready; waiting for {}",
            waiting.join(", ")
        );
        vec![
            Want {
                type_: READY,
                status: false,
                reason: "Progressing",
                message: message.clone(),
            },
            Want {
                type_: PROGRESSING,
                status: true,
                reason: "Reconciling",
                message,
            },
            Want {
                type_: DEGRADED,
                status: false,
                reason: "Progressing",
                message: String::new(),
            },
        ]
    };
    let mut wants = wants;
    wants.push(serving(pass));
    let (outputs, endpoint) = crate::blueprint::outputs::collect(pass);
    StackStatus {
        observed_generation: generation,
        conditions: build(wants, old, generation),
        resources: resources(pass),
        outputs,
        endpoint,
        connection_secret: old.and_then(|o| o.connection_secret.clone()),
        account_id: old.and_then(|o| o.account_id.clone()),
        estimated_monthly_cost: old.and_then(|o| o.estimated_monthly_cost.clone()),
    }
}

/// Whether `status` is Degraded for `reason`.
pub fn degraded_for(status: &StackStatus, reason: &str) -> bool {
    status
        .conditions
        .iter()
        .any(|c| c.type_ == DEGRADED && c.status == "True" && c.reason == reason)
}

/// Marks `status` Degraded for `reason` (a problem beside the pass, such as
/// a name conflict in Kubernetes), keeping the transition time when it was
/// Degraded already.
pub fn degrade(status: &mut StackStatus, reason: &str, message: &str) {
    if let Some(c) = status.conditions.iter_mut().find(|c| c.type_ == DEGRADED) {
        if c.status != "True" {
            c.status = "True".into();
            c.last_transition_time = now();
        }
        c.reason = reason.into();
        c.message = message.into();
    }
}

/// The Serving condition from the target group's health outputs: True with
/// at least one healthy server; otherwise False, reason `Waiting` (no target
/// group or no servers registered yet), `ServersStarting` (servers still in
/// their first health checks) or `NoHealthyServers` (AWS's reason named).
fn serving(pass: &PassOutcome) -> Want {
    let outputs = pass.node(TARGET_GROUP_KEY).map(|n| &n.outputs);
    let count = |key: &str| -> usize {
        outputs
            .and_then(|o| o.get(key))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let (total, healthy, starting) = (
        count("targets"),
        count("healthyTargets"),
        count("startingTargets"),
    );
    let summary = format!("{healthy} of {total} servers pass the load balancer's health checks");
    let issue = outputs.and_then(|o| o.get("targetIssue")).cloned();
    let (status, reason, message) = if healthy > 0 {
        let message = match &issue {
            Some(issue) => format!("{summary}; {issue}"),
            None => summary,
        };
        (true, "Serving", message)
    } else if total == 0 {
        (
            false,
            "Waiting",
            "no servers registered with the load balancer yet".into(),
        )
    } else if starting > 0 {
        (false, "ServersStarting", summary)
    } else {
        let why = issue.unwrap_or_default();
        (false, "NoHealthyServers", format!("{summary}: {why}"))
    };
    Want {
        type_: SERVING,
        status,
        reason,
        message,
    }
}

/// Status of a spec refused before any AWS call.
pub fn invalid(
    errors: &[FieldError],
    old: Option<&StackStatus>,
    generation: Option<i64>,
) -> StackStatus {
    let message = errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    refused("InvalidSpec", message, old, generation)
}

/// Status of a stack refused before any AWS write, for `reason`.
pub fn refused(
    reason: &'static str,
    message: String,
    old: Option<&StackStatus>,
    generation: Option<i64>,
) -> StackStatus {
    StackStatus {
        observed_generation: generation,
        conditions: build(
            vec![
                Want {
                    type_: READY,
                    status: false,
                    reason,
                    message: message.clone(),
                },
                Want {
                    type_: PROGRESSING,
                    status: false,
                    reason,
                    message: String::new(),
                },
                Want {
                    type_: DEGRADED,
                    status: true,
                    reason,
                    message,
                },
            ],
            old,
            generation,
        ),
        ..old.cloned().unwrap_or_default()
    }
}

/// Status while the stack is being torn down.
pub fn deleting(
    pass: &PassOutcome,
    old: Option<&StackStatus>,
    generation: Option<i64>,
) -> StackStatus {
    let left = pass.nodes.len();
    let blocked: Vec<String> = pass
        .nodes
        .iter()
        .filter(|n| n.state == ResourceState::Blocked || n.error.is_some())
        .filter_map(|n| n.message.clone())
        .collect();
    let message = if blocked.is_empty() {
        format!("deleting; {left} resources left")
    } else {
        format!("deleting; {left} resources left; {}", blocked.join("; "))
    };
    StackStatus {
        observed_generation: generation,
        conditions: build(
            vec![
                Want {
                    type_: READY,
                    status: false,
                    reason: "Deleting",
                    message: message.clone(),
                },
                Want {
                    type_: PROGRESSING,
                    status: true,
                    reason: "Deleting",
                    message,
                },
                Want {
                    type_: DEGRADED,
                    status: !blocked.is_empty(),
                    reason: "Deleting",
                    message: blocked.join("; "),
                },
            ],
            old,
            generation,
        ),
        resources: resources(pass),
        ..old.cloned().unwrap_or_default()
    }
}

fn resources(pass: &PassOutcome) -> Vec<ResourceStatus> {
    pass.nodes
        .iter()
        .map(|n| ResourceStatus {
            kind: n.kind.to_string(),
            key: n.key.clone(),
            id: n.id.clone(),
            arn: n.arn.clone(),
            state: n.state,
            message: n.message.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::NodeOutcome;

    fn pass_with(targets: &[(&str, &str)]) -> PassOutcome {
        let mut node = NodeOutcome::new(TARGET_GROUP_KEY, "TargetGroup");
        node.outputs = targets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        PassOutcome {
            nodes: vec![node],
            ..PassOutcome::default()
        }
    }

    #[test]
    fn a_ready_stack_with_unbuilt_parts_is_degraded_and_says_which() {
        let pass = PassOutcome {
            converged: true,
            ..PassOutcome::default()
        };
        let todo = ["spec.cache.deletionPolicy Retain".to_string()];
        let status = after_apply(&pass, &EngineOptions::default(), None, Some(1), &todo);
        let degraded = status
            .conditions
            .iter()
            .find(|c| c.type_ == DEGRADED)
            .unwrap();
        assert_eq!(
            (degraded.status.as_str(), degraded.reason.as_str()),
            ("True", "NotImplemented")
        );
        assert!(degraded.message.contains("spec.cache.deletionPolicy"));
        let clean = after_apply(&pass, &EngineOptions::default(), None, Some(1), &[]);
        let degraded = clean
            .conditions
            .iter()
            .find(|c| c.type_ == DEGRADED)
            .unwrap();
        assert_eq!(
            (degraded.status.as_str(), degraded.message.as_str()),
            ("False", "")
        );
    }

    #[test]
    fn serving_follows_the_load_balancer_health_checks() {
        let cases = [
            (vec![], false, "Waiting"),
            (vec![("targets", "0")], false, "Waiting"),
            (
                vec![
                    ("targets", "2"),
                    ("healthyTargets", "0"),
                    ("startingTargets", "2"),
                ],
                false,
                "ServersStarting",
            ),
            (
                vec![
                    ("targets", "2"),
                    ("healthyTargets", "0"),
                    ("startingTargets", "0"),
                    ("targetIssue", "i-1: unhealthy (Health checks failed)"),
                ],
                false,
                "NoHealthyServers",
            ),
            (
                vec![("targets", "2"), ("healthyTargets", "1")],
                true,
                "Serving",
            ),
        ];
        for (outputs, status, reason) in cases {
            let want = serving(&pass_with(&outputs));
            assert_eq!((want.status, want.reason), (status, reason), "{outputs:?}");
        }
        let failing = serving(&pass_with(&[
            ("targets", "2"),
            ("healthyTargets", "0"),
            ("targetIssue", "i-1: unhealthy (Health checks failed)"),
        ]));
        assert!(
            failing.message.contains("Health checks failed"),
            "{}",
            failing.message
        );
    }
}
