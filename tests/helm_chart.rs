//! The Helm chart (`charts/stackops`): linted and installed by real Helm
//! (the helm-sdkpy bindings, which embed Helm's Go library) into kubesim,
//! every rendered object checked with kubernetes-validate against the
//! Kubernetes 1.33 schemas, and its RBAC compared with the API calls the
//! controller makes. The Python side is `tests/tools/helm_chart.py`.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use kube::{Client, Config};
use serde_json::{Value, json};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const KUBE_VERSION: &str = "1.33";

fn chart_dir() -> PathBuf {
    Path::new(ROOT).join("charts/stackops")
}

/// Runs `tests/tools/helm_chart.py` with `request` (plus the chart, the
/// kubeconfig and the Kubernetes version) and returns its answer.
async fn helm(kubeconfig: &Path, mut request: Value) -> Value {
    request["chart"] = json!(chart_dir());
    request["kubeconfig"] = json!(kubeconfig);
    request["kube_version"] = json!(KUBE_VERSION);
    let python = support::moto::test_venv().join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-test-deps.sh",
        python.display()
    );
    let script = Path::new(ROOT).join("tests/tools/helm_chart.py");
    let output = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start python");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(request.to_string().as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "helm_chart.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("helm_chart.py prints JSON")
}

/// An API server for Helm to install into, and a client of it.
struct Cluster {
    sim: kubesim::Handle,
    client: Client,
    _dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Cluster {
    async fn start() -> Self {
        let sim = kubesim::start(kubesim::Config::default()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig).unwrap();
        let parsed = kube::config::Kubeconfig::from_yaml(&sim.kubeconfig()).unwrap();
        let config = Config::from_custom_kubeconfig(parsed, &Default::default())
            .await
            .unwrap();
        let client = Client::try_from(config).unwrap();
        Self {
            sim,
            client,
            _dir: dir,
            kubeconfig,
        }
    }

    async fn namespace(&self, name: &str) {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        api.create(&PostParams::default(), &ns).await.unwrap();
    }

    /// Registers a schemaless CRD for a kind kubesim does not serve, so
    /// Helm can create it; kubernetes-validate checks the object itself.
    async fn stand_in(&self, group: &str, kind: &str, plural: &str) {
        let api: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        let crd = json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {
                "name": format!("{plural}.{group}"),
                "annotations": {"api-approved.kubernetes.io": "unapproved, test stand-in"}
            },
            "spec": {
                "group": group,
                "scope": "Namespaced",
                "names": {"kind": kind, "plural": plural, "singular": kind.to_lowercase(),
                          "listKind": format!("{kind}List")},
                "versions": [{"name": "v1", "served": true, "storage": true,
                              "schema": {"openAPIV3Schema": {"type": "object",
                                         "x-kubernetes-preserve-unknown-fields": true}}}]
            }
        });
        let crd: CustomResourceDefinition = serde_json::from_value(crd).unwrap();
        api.create(&PostParams::default(), &crd).await.unwrap();
        // Discovery must list the new kind before Helm maps it.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }

    /// Installs the chart as `release` into `namespace` with `values`.
    async fn install(&self, release: &str, namespace: &str, values: Value) -> Release {
        let answer = helm(
            &self.kubeconfig,
            json!({"installs": [{"release": release, "namespace": namespace, "values": values}]}),
        )
        .await;
        let install = answer["installs"][0].clone();
        Release {
            error: install["error"].as_str().map(String::from),
            objects: documents(install["manifest"].as_str().unwrap_or_default()),
            notes: install["notes"].as_str().unwrap_or_default().to_string(),
            validation: install["validation"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
            answer,
        }
    }

    async fn stop(self) {
        self.sim.shutdown().await;
    }
}

struct Release {
    error: Option<String>,
    objects: Vec<Value>,
    notes: String,
    validation: Vec<Value>,
    answer: Value,
}

impl Release {
    fn installed(self) -> Self {
        if let Some(error) = &self.error {
            panic!("helm install failed: {error}");
        }
        self
    }

    fn kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self
            .objects
            .iter()
            .map(|o| o["kind"].as_str().unwrap().to_string())
            .collect();
        kinds.sort();
        kinds
    }

    fn one(&self, kind: &str) -> &Value {
        let found: Vec<&Value> = self.objects.iter().filter(|o| o["kind"] == kind).collect();
        assert_eq!(found.len(), 1, "exactly one {kind} in {:?}", self.kinds());
        found[0]
    }

    fn all(&self, kind: &str) -> Vec<&Value> {
        self.objects.iter().filter(|o| o["kind"] == kind).collect()
    }

    /// Every object passed kubernetes-validate (strict), except the kinds
    /// in `unchecked`, which it has no schema for.
    fn assert_valid(&self, unchecked: &[&str]) {
        assert_eq!(self.validation.len(), self.objects.len());
        for v in &self.validation {
            let kind = v["kind"].as_str().unwrap();
            let expected = if unchecked.contains(&kind) {
                "no schema"
            } else {
                "ok"
            };
            assert_eq!(
                v["result"], expected,
                "kubernetes-validate {KUBE_VERSION} on {kind}/{}",
                v["name"]
            );
        }
    }

    fn container(&self) -> &Value {
        let pod = &self.one("Deployment")["spec"]["template"]["spec"];
        let containers = pod["containers"].as_array().unwrap();
        assert_eq!(containers.len(), 1);
        &containers[0]
    }

    fn env(&self) -> BTreeMap<String, Value> {
        self.container()["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["name"].as_str().unwrap().to_string(), e.clone()))
            .collect()
    }

    fn args(&self) -> Vec<String> {
        self.container()["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    }
}

fn documents(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
        .filter(|v: &Value| !v.is_null())
        .collect()
}

#[test]
fn chart_crds_are_byte_identical_to_the_repository_crds() {
    let list = |dir: &Path| -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect()
    };
    let repo = Path::new(ROOT).join("crds");
    let chart = chart_dir().join("crds");
    assert_eq!(
        list(&chart),
        list(&repo),
        "charts/stackops/crds/ must hold the same files as crds/: cp crds/*.yaml charts/stackops/crds/"
    );
    for name in list(&repo) {
        assert!(
            std::fs::read(repo.join(&name)).unwrap() == std::fs::read(chart.join(&name)).unwrap(),
            "charts/stackops/crds/{name} differs from crds/{name}: cp crds/*.yaml charts/stackops/crds/"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn chart_lints_clean_and_lint_finds_a_broken_template() {
    let cluster = Cluster::start().await;
    let broken = tempfile::tempdir().unwrap();
    let copy = broken.path().join("stackops");
    copy_dir(&chart_dir(), &copy);
    std::fs::write(
        copy.join("templates/broken.yaml"),
        "kind: ConfigMap\nname: {{ .Values.nothing.here }}\n",
    )
    .unwrap();
    let answer = helm(&cluster.kubeconfig, json!({"lint": [chart_dir(), copy]})).await;
    let lint = &answer["lint"];
    assert_eq!(lint[0]["errors"], 0, "helm lint: {}", lint[0]);
    assert_eq!(lint[0]["warnings"], 0, "helm lint: {}", lint[0]);
    assert!(
        lint[1]["errors"].as_u64().unwrap() > 0,
        "helm lint must report the broken template: {}",
        lint[1]
    );
    // The chart's CRDs are valid CustomResourceDefinitions for 1.33.
    let crds = answer["crds"].as_array().unwrap();
    assert_eq!(crds.len(), 2);
    for crd in crds {
        assert_eq!(crd["result"], "ok", "{crd}");
    }
    cluster.stop().await;
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kubernetes_validate_refuses_a_broken_object() {
    let cluster = Cluster::start().await;
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"replicas": "two", "selector": {}, "template": {}}
    });
    let unknown_field = json!({
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "x"}, "automountToken": true
    });
    let answer = helm(
        &cluster.kubeconfig,
        json!({"objects": [deployment, unknown_field]}),
    )
    .await;
    let results = answer["objects"].as_array().unwrap();
    assert!(
        results[0]
            .as_str()
            .unwrap()
            .starts_with("error: spec.replicas"),
        "{results:?}"
    );
    assert!(
        results[1].as_str().unwrap().starts_with("error"),
        "{results:?}"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn default_install_is_a_valid_restricted_two_replica_operator() {
    let cluster = Cluster::start().await;
    let release = cluster
        .install("stackops", "stackops-system", json!({}))
        .await
        .installed();
    eprintln!(
        "helm-sdkpy {}, kubernetes-validate {}",
        release.answer["helm_sdkpy"], release.answer["kubernetes_validate"]
    );
    assert_eq!(
        release.kinds(),
        [
            "ClusterRole",
            "ClusterRole",
            "ClusterRoleBinding",
            "ClusterRoleBinding",
            "Deployment",
            "PodDisruptionBudget",
            "Role",
            "RoleBinding",
            "Service",
            "ServiceAccount"
        ]
    );
    release.assert_valid(&[]);

    // Helm installed the CRDs of the chart's crds/ directory.
    let crds: Api<CustomResourceDefinition> = Api::all(cluster.client.clone());
    for name in [
        "ecommercestacks.stackops.io",
        "bookingplatforms.stackops.io",
    ] {
        crds.get(name).await.unwrap();
    }

    let deployment = release.one("Deployment");
    assert_eq!(deployment["metadata"]["namespace"], "stackops-system");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let args = release.args();
    assert_eq!(args[0], "run");
    assert!(!args.contains(&"--leader-elect".to_string()), "{args:?}");
    for arg in [
        "--shard",
        "--lease-seconds=15",
        "--resync-seconds=600",
        "--concurrency=4",
        "--metrics-addr=0.0.0.0:8080",
        "--shared-read-seconds=600",
        "--settings-read-every=12",
        "--shared-read-mib=16",
        "--aws-calls-per-second=10",
        "--aws-service-calls-per-second=ec2=20,",
    ] {
        assert!(args.contains(&arg.to_string()), "{arg} in {args:?}");
    }
    assert!(!args.iter().any(|a| a.starts_with("--namespace")));
    let env = release.env();
    for (name, field) in [
        ("POD_NAMESPACE", "metadata.namespace"),
        ("POD_NAME", "metadata.name"),
    ] {
        assert_eq!(env[name]["valueFrom"]["fieldRef"]["fieldPath"], field);
    }
    for absent in [
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
        // Nothing assumed until an admin allows it.
        "STACKOPS_ALLOWED_ROLE_ARNS",
        "STACKOPS_REQUIRE_NAMESPACE_ROLE",
    ] {
        assert!(!env.contains_key(absent), "{absent} is not set by default");
    }

    // Restricted Pod Security Standard.
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let container = release.container();
    let security = &container["securityContext"];
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(security["capabilities"]["drop"], json!(["ALL"]));
    assert!(security["capabilities"].get("add").is_none());
    assert!(container["resources"]["requests"]["cpu"].is_string());
    assert!(container["resources"]["limits"]["memory"].is_string());

    // Probes on the metrics port the operator serves /healthz and /readyz on.
    assert_eq!(container["ports"][0]["name"], "metrics");
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["livenessProbe"]["httpGet"]["port"], "metrics");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["readinessProbe"]["httpGet"]["port"], "metrics");

    let pdb = release.one("PodDisruptionBudget");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    let account = release.one("ServiceAccount");
    assert_eq!(
        pod["serviceAccountName"], account["metadata"]["name"],
        "the pod runs as the chart's ServiceAccount"
    );
    assert!(account["metadata"].get("annotations").is_none());
    assert!(
        release.notes.contains("all namespaces"),
        "{}",
        release.notes
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn options_render_irsa_secret_credentials_endpoint_namespace_monitoring_and_network_policy() {
    let cluster = Cluster::start().await;
    cluster
        .stand_in("monitoring.coreos.com", "ServiceMonitor", "servicemonitors")
        .await;
    cluster
        .stand_in("networking.k8s.io", "NetworkPolicy", "networkpolicies")
        .await;
    cluster.namespace("shop").await;
    let role = "arn:aws:iam::123456789012:role/stackops";
    let values = json!({
        "watchNamespace": "shop",
        "serviceAccount": {"roleArn": role},
        "aws": {
            "region": "eu-west-1",
            "endpointUrl": "http://moto.aws:5000",
            "roleBoundary": "arn:aws:iam::123456789012:policy/team/Boundary",
            "credentials": {"existingSecret": "aws-creds", "sessionTokenKey": "token"},
            "sharedReads": {"enabled": false, "settingsEvery": 6},
            "callBudget": {"callsPerSecond": 5, "perService": {"ec2": 15, "rds": 4}}
        },
        "tenancy": {
            "allowedRoleArns": ["arn:aws:iam::*:role/stackops-tenant", "arn:aws:iam::111111111111:role/shop"],
            "requireNamespaceRole": true
        },
        "serviceMonitor": {"enabled": true, "labels": {"release": "prometheus"}},
        "networkPolicy": {
            "enabled": true,
            "metricsFrom": [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}],
            "egressPorts": [443, 6443, 5000]
        }
    });
    let release = cluster.install("ops", "ops", values).await.installed();
    release.assert_valid(&["ServiceMonitor"]);
    assert_eq!(
        release.one("ServiceAccount")["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        role
    );
    let env = release.env();
    assert_eq!(env["AWS_ENDPOINT_URL"]["value"], "http://moto.aws:5000");
    assert_eq!(env["AWS_REGION"]["value"], "eu-west-1");
    assert_eq!(
        env["STACKOPS_ROLE_BOUNDARY"]["value"],
        "arn:aws:iam::123456789012:policy/team/Boundary"
    );
    for (name, key) in [
        ("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
        ("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
        ("AWS_SESSION_TOKEN", "token"),
    ] {
        let secret = &env[name]["valueFrom"]["secretKeyRef"];
        assert_eq!(secret["name"], "aws-creds", "{name}");
        assert_eq!(secret["key"], key, "{name}");
    }
    let args = release.args();
    for arg in [
        "--namespace=shop",
        "--shared-read-seconds=0",
        "--aws-calls-per-second=5",
        "--aws-service-calls-per-second=ec2=15,rds=4,",
    ] {
        assert!(args.contains(&arg.to_string()), "{arg} in {args:?}");
    }
    // Shared reads turned off: their tuning is not passed.
    assert!(
        !args.iter().any(|a| a.starts_with("--settings-read-every")),
        "{args:?}"
    );

    // Watching one namespace: nothing cluster-wide but reading that one
    // Namespace (cluster-scoped), for its AWS role annotation.
    let cluster_roles = release.all("ClusterRole");
    assert_eq!(cluster_roles.len(), 1);
    assert_eq!(
        cluster_roles[0]["rules"],
        json!([{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"], "resourceNames": ["shop"]}])
    );
    assert_eq!(release.all("ClusterRoleBinding").len(), 1);
    assert_eq!(
        env["STACKOPS_ALLOWED_ROLE_ARNS"]["value"],
        "arn:aws:iam::*:role/stackops-tenant,arn:aws:iam::111111111111:role/shop"
    );
    assert_eq!(env["STACKOPS_REQUIRE_NAMESPACE_ROLE"]["value"], "true");
    let namespaces: BTreeSet<&str> = release
        .all("Role")
        .iter()
        .map(|r| r["metadata"]["namespace"].as_str().unwrap())
        .collect();
    assert_eq!(namespaces, BTreeSet::from(["ops", "shop"]));

    let monitor = release.one("ServiceMonitor");
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "metrics");
    // The stack's own namespace label on stackops_stack_ready is kept.
    assert_eq!(monitor["spec"]["endpoints"][0]["honorLabels"], true);
    assert_eq!(monitor["metadata"]["labels"]["release"], "prometheus");
    let policy = release.one("NetworkPolicy");
    assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    assert_eq!(policy["spec"]["ingress"][0]["ports"][0]["port"], "metrics");
    let egress_ports: BTreeSet<i64> = policy["spec"]["egress"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|rule| rule["ports"].as_array().unwrap().clone())
        .map(|p| p["port"].as_i64().unwrap())
        .collect();
    assert_eq!(egress_ports, BTreeSet::from([53, 443, 5000, 6443]));
    assert!(
        release.notes.contains("namespace shop"),
        "{}",
        release.notes
    );
    assert!(release.notes.contains("http://moto.aws:5000"));
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn values_schema_refuses_wrong_values() {
    let cluster = Cluster::start().await;
    for (n, (values, field)) in [
        (json!({"replicaCount": "two"}), "/replicaCount"),
        (json!({"replicas": 2}), "replicas"),
        (
            json!({"aws": {"endpointUrl": "moto:5000"}}),
            "/aws/endpointUrl",
        ),
        (
            json!({"aws": {"roleBoundary": "arn:aws:iam::123456789012:role/x"}}),
            "/aws/roleBoundary",
        ),
        (
            json!({"serviceAccount": {"roleArn": "stackops"}}),
            "/serviceAccount/roleArn",
        ),
        (json!({"watchNamespace": "Shop"}), "/watchNamespace"),
        (
            json!({"tenancy": {"allowedRoleArns": ["stackops-tenant"]}}),
            "/tenancy/allowedRoleArns/0",
        ),
        (
            json!({"grafanaDashboard": {"enabled": "yes"}}),
            "/grafanaDashboard/enabled",
        ),
        (json!({"prometheusRule": {"rules": []}}), "/prometheusRule"),
    ]
    .into_iter()
    .enumerate()
    {
        let release = cluster
            .install(&format!("bad{n}"), &format!("bad{n}"), values.clone())
            .await;
        let error = release
            .error
            .unwrap_or_else(|| panic!("{values} was accepted"));
        assert!(
            error.contains("schema") && error.contains(field),
            "{values}: {error}"
        );
    }
    cluster.stop().await;
}

/// One RBAC grant: API group, resource (with subresource), verb.
type Grant = (String, String, String);

fn grants(group: &str, resources: &[&str], verbs: &[&str]) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    for resource in resources {
        for verb in verbs {
            out.insert((group.into(), resource.to_string(), verb.to_string()));
        }
    }
    out
}

const STACKS: &[&str] = &["ecommercestacks", "bookingplatforms"];
const STATUS: &[&str] = &["ecommercestacks/status", "bookingplatforms/status"];
const FINALIZERS: &[&str] = &["ecommercestacks/finalizers", "bookingplatforms/finalizers"];

/// A grant the controller needs, and the code that needs it: if the code
/// is gone, the grant must go too.
struct Need {
    file: &'static str,
    evidence: &'static str,
    group: &'static str,
    resources: &'static [&'static str],
    verbs: &'static [&'static str],
}

const NEEDS: &[Need] = &[
    // kube-runtime's Controller lists and watches each kind.
    Need {
        file: "src/controller/run.rs",
        evidence: "Controller::new(",
        group: "stackops.io",
        resources: STACKS,
        verbs: &["list", "watch"],
    },
    // kube::runtime::finalizer adds and removes the finalizer with a JSON patch.
    Need {
        file: "src/controller/reconcile.rs",
        evidence: "finalizer(&finalizer_api",
        group: "stackops.io",
        resources: STACKS,
        verbs: &["patch"],
    },
    Need {
        file: "src/controller/reconcile.rs",
        evidence: "api.patch_status(",
        group: "stackops.io",
        resources: STATUS,
        verbs: &["patch"],
    },
    // kube::runtime::events::Recorder creates events.k8s.io/v1 Events and
    // patches a repeated one's series.
    Need {
        file: "src/controller/context.rs",
        evidence: "Recorder::new(",
        group: "events.k8s.io",
        resources: &["events"],
        verbs: &["create", "patch"],
    },
    // The per-stack connection Secret: read to compare, then server-side
    // apply (patch, and create when it does not exist yet). Kubernetes'
    // garbage collector deletes it with the stack.
    Need {
        file: "src/controller/connection.rs",
        evidence: "api.get_opt(&name)",
        group: "",
        resources: &["secrets"],
        verbs: &["get"],
    },
    Need {
        file: "src/controller/connection.rs",
        evidence: "Patch::Apply(&secret)",
        group: "",
        resources: &["secrets"],
        verbs: &["create", "patch"],
    },
    // Leader election: read, create and replace the Lease.
    // The namespace's role annotation, read per reconcile.
    Need {
        file: "src/controller/tenancy.rs",
        evidence: "namespaces\n        .get_opt(namespace)",
        group: "",
        resources: &["namespaces"],
        verbs: &["get"],
    },
    Need {
        file: "src/controller/leader.rs",
        evidence: "self.api.get_opt(",
        group: "coordination.k8s.io",
        resources: &["leases"],
        verbs: &["get"],
    },
    Need {
        file: "src/controller/leader.rs",
        evidence: "self.api.create(",
        group: "coordination.k8s.io",
        resources: &["leases"],
        verbs: &["create"],
    },
    Need {
        file: "src/controller/leader.rs",
        evidence: ".replace(&self.config.name",
        group: "coordination.k8s.io",
        resources: &["leases"],
        verbs: &["update"],
    },
    // Sharded: the leader lists the membership Leases, labels the stacks,
    // and a replica removes its label from a stack it lets go (merge
    // patches, granted above for the finalizer).
    Need {
        file: "src/controller/shards.rs",
        evidence: ".list(&ListParams::default().labels(MEMBER_LABEL))",
        group: "coordination.k8s.io",
        resources: &["leases"],
        verbs: &["list"],
    },
    Need {
        file: "src/controller/shards.rs",
        evidence: "&Patch::Merge(&patch)",
        group: "stackops.io",
        resources: STACKS,
        verbs: &["patch"],
    },
];

/// The file whose needs only a sharded operator has.
const SHARDED_ONLY: &str = "src/controller/shards.rs";

/// Granted although no code calls it yet, each for a stated reason.
fn granted_ahead() -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    // Reading one stack and writing it whole (conflict handling, finalizer
    // writes by update) are part of the chart's contract.
    out.extend(grants("stackops.io", STACKS, &["get", "update"]));
    out.extend(grants("stackops.io", STATUS, &["get", "update"]));
    // Setting blockOwnerDeletion on the connection Secret's owner reference
    // needs update on the owner's finalizers (OwnerReferencesPermissionEnforcement).
    out.extend(grants("stackops.io", FINALIZERS, &["update"]));
    // core/v1 and events.k8s.io/v1 Events are one storage; recorders of
    // either API work.
    out.extend(grants("", &["events"], &["create", "patch"]));
    // Lease renewal by patch, as client-go's lock does.
    out.extend(grants("coordination.k8s.io", &["leases"], &["patch"]));
    out
}

/// Every `Api<T>` type the operator's code uses must be one the table
/// above accounts for, so a new kind of API call cannot slip past RBAC.
const KNOWN_API_TYPES: &[(&str, &str)] = &[
    ("K", "the stack kinds (generic)"),
    ("EcommerceStack", "a stack kind"),
    ("BookingPlatform", "a stack kind"),
    ("Lease", "leader election and shard membership"),
    ("A", "a stack kind (generic, the sharder)"),
    ("B", "a stack kind (generic, the sharder)"),
    ("Secret", "the connection Secret"),
    ("Namespace", "the namespace's AWS role annotation"),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn needed(sharded: bool) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    for need in NEEDS.iter().filter(|n| sharded || n.file != SHARDED_ONLY) {
        let code = std::fs::read_to_string(Path::new(ROOT).join(need.file)).unwrap();
        assert!(
            code.contains(need.evidence),
            "{} no longer contains `{}`: if the controller stopped needing {} {:?} on {:?}, \
             remove the grant from the chart and this need from tests/helm_chart.rs",
            need.file,
            need.evidence,
            need.group,
            need.verbs,
            need.resources
        );
        out.extend(grants(need.group, need.resources, need.verbs));
    }
    out
}

/// The chart's rules as grants, per namespace of the binding ("*" for a
/// ClusterRole), with the resource names a rule is limited to.
fn chart_grants(release: &Release) -> BTreeMap<Grant, Vec<String>> {
    let mut out = BTreeMap::new();
    for role in release
        .objects
        .iter()
        .filter(|o| o["kind"] == "Role" || o["kind"] == "ClusterRole")
    {
        for rule in role["rules"].as_array().unwrap() {
            let names: Vec<String> = rule["resourceNames"]
                .as_array()
                .map(|n| n.iter().map(|s| s.as_str().unwrap().to_string()).collect())
                .unwrap_or_default();
            for group in rule["apiGroups"].as_array().unwrap() {
                for resource in rule["resources"].as_array().unwrap() {
                    for verb in rule["verbs"].as_array().unwrap() {
                        let (g, r, v) = (
                            group.as_str().unwrap(),
                            resource.as_str().unwrap(),
                            verb.as_str().unwrap(),
                        );
                        assert!(
                            g != "*" && r != "*" && v != "*",
                            "no wildcard in {}",
                            role["metadata"]["name"]
                        );
                        out.insert((g.into(), r.into(), v.into()), names.clone());
                    }
                }
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn rbac_grants_exactly_what_the_controller_needs() {
    let mut files = Vec::new();
    rust_files(&Path::new(ROOT).join("src"), &mut files);
    for file in &files {
        let code = std::fs::read_to_string(file).unwrap();
        for (i, _) in code.match_indices("Api<") {
            let rest = &code[i + 4..];
            let ty = &rest[..rest.find(['>', ',']).unwrap()];
            let ty = ty.rsplit("::").next().unwrap().trim();
            assert!(
                KNOWN_API_TYPES.iter().any(|(known, _)| *known == ty),
                "{} uses Api<{ty}>: add what the operator does with it to NEEDS in \
                 tests/helm_chart.rs and the matching rule to charts/stackops/templates",
                file.display()
            );
        }
    }
    let ahead = granted_ahead();

    let cluster = Cluster::start().await;
    cluster.namespace("shop").await;
    for (release, values, sharded) in [
        ("cluster-wide", json!({}), true),
        (
            "one-namespace",
            json!({"watchNamespace": "shop", "sharding": {"enabled": false}}),
            false,
        ),
    ] {
        let needed = needed(sharded);
        let installed = cluster.install(release, release, values).await.installed();
        let granted = chart_grants(&installed);
        let missing: Vec<&Grant> = needed
            .iter()
            .filter(|g| !granted.contains_key(*g))
            .collect();
        assert!(
            missing.is_empty(),
            "{release}: the controller needs {missing:?}"
        );
        let extra: Vec<&Grant> = granted
            .keys()
            .filter(|g| !needed.contains(*g) && !ahead.contains(*g))
            .collect();
        assert!(
            extra.is_empty(),
            "{release}: granted beyond need: {extra:?}"
        );
        // Unsharded, the lease rules name the one Lease (create cannot be
        // limited by name); sharded, each replica's Lease is named after
        // its pod, unknown to the chart.
        for ((group, resource, verb), names) in &granted {
            if group == "coordination.k8s.io" {
                assert_eq!(resource, "leases");
                let expected: Vec<String> = if verb == "create" || sharded {
                    vec![]
                } else {
                    vec!["stackops-leader".into()]
                };
                assert_eq!(names, &expected, "leases {verb}");
            } else if resource == "namespaces" {
                // One namespace read when the operator watches one.
                let expected: Vec<String> = if release == "one-namespace" {
                    vec!["shop".into()]
                } else {
                    vec![]
                };
                assert_eq!(names, &expected, "namespaces {verb}");
            } else {
                assert!(names.is_empty(), "{group} {resource} {verb}");
            }
        }
        // Leases only in the operator's namespace; everything else where
        // the stacks are.
        for role in installed.all("Role") {
            let leases = role["rules"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["resources"] == json!(["leases"]));
            let namespace = role["metadata"]["namespace"].as_str().unwrap();
            if leases {
                assert_eq!(namespace, release);
            } else {
                assert_eq!(namespace, "shop");
            }
        }
        for cluster_role in installed.all("ClusterRole") {
            let text = cluster_role["rules"].to_string();
            assert!(!text.contains("leases"), "leases are never cluster-wide");
        }
    }
    cluster.stop().await;
}

// Observability: the Grafana dashboard and the PrometheusRule.

/// Every series name the operator exports, derived from its own
/// exposition: a `Metrics` with every family touched, rendered, and its
/// `# TYPE` lines read. Returns family -> the series names it exposes.
fn exported_families() -> BTreeMap<String, BTreeSet<String>> {
    use stackops::aws::calls::CallCounter;
    use stackops::controller::metrics::Metrics;
    let metrics = Metrics::default();
    metrics.reconciled("EcommerceStack", "ok", std::time::Duration::from_secs(1));
    metrics.stack_resources("EcommerceStack", "default", "shop", 1);
    metrics.stack_ready("EcommerceStack", "default", "shop", true);
    metrics.drift_corrected("EcommerceStack", 1);
    metrics.set_leader(true);
    let text = metrics.render(&CallCounter::default());
    let mut families = BTreeMap::new();
    for line in text.lines() {
        let Some(declared) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let (family, kind) = declared.split_once(' ').unwrap();
        // OpenMetrics: a counter's samples end in _total, a histogram's in
        // _bucket, _sum and _count.
        let series: BTreeSet<String> = match kind {
            "counter" => [format!("{family}_total")].into(),
            "gauge" => [family.to_string()].into(),
            "histogram" => ["bucket", "sum", "count"]
                .iter()
                .map(|s| format!("{family}_{s}"))
                .collect(),
            other => panic!("{family}: metric type {other} is not handled here"),
        };
        families.insert(family.to_string(), series);
    }
    assert!(families.len() >= 10, "{text}");
    families
}

/// The metric names an expression selects, from promql-parser's syntax
/// tree. Panics on PromQL that does not parse or a selector without a name.
fn selected_metrics(expr: &str) -> BTreeSet<String> {
    use promql_parser::parser::Expr;
    use promql_parser::util::{ExprVisitor, walk_expr};

    struct Names(BTreeSet<String>);
    impl ExprVisitor for Names {
        type Error = String;
        fn pre_visit(&mut self, expr: &Expr) -> Result<bool, String> {
            let selector = match expr {
                Expr::VectorSelector(vs) => vs,
                Expr::MatrixSelector(ms) => &ms.vs,
                _ => return Ok(true),
            };
            let name = selector
                .name
                .clone()
                .ok_or("a selector without a metric name")?;
            self.0.insert(name);
            Ok(true)
        }
    }
    let ast = promql_parser::parser::parse(expr).unwrap_or_else(|e| panic!("PromQL `{expr}`: {e}"));
    let mut names = Names(BTreeSet::new());
    walk_expr(&mut names, &ast).unwrap_or_else(|e| panic!("`{expr}`: {e}"));
    assert!(!names.0.is_empty(), "`{expr}` selects no metric");
    names.0
}

/// Checks that `exprs` name only exported series; returns the families they use.
fn families_used(
    exprs: &[String],
    families: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for expr in exprs {
        for name in selected_metrics(expr) {
            let family = families
                .iter()
                .find(|(_, series)| series.contains(&name))
                .map(|(family, _)| family.clone())
                .unwrap_or_else(|| {
                    panic!("`{expr}` uses {name}, which the operator does not export: {families:?}")
                });
            used.insert(family);
        }
    }
    used
}

fn dashboard() -> Value {
    let text = std::fs::read_to_string(chart_dir().join("dashboards/stackops.json")).unwrap();
    serde_json::from_str(&text).expect("the dashboard is JSON")
}

#[test]
fn dashboard_shows_every_exported_metric_and_nothing_else() {
    let dashboard = dashboard();
    assert_eq!(dashboard["uid"], "stackops-operator");
    assert!(dashboard["title"].as_str().is_some_and(|t| !t.is_empty()));
    let panels: Vec<&Value> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] != "row")
        .collect();
    assert!(panels.len() >= 10, "{} panels", panels.len());
    let mut ids = BTreeSet::new();
    let mut exprs = Vec::new();
    for panel in &panels {
        let title = panel["title"].as_str().unwrap();
        assert!(
            ids.insert(panel["id"].as_u64().unwrap()),
            "{title}: id taken"
        );
        for key in ["x", "y", "w", "h"] {
            assert!(panel["gridPos"][key].is_u64(), "{title}: gridPos.{key}");
        }
        // Every query goes to the data source the viewer picks.
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}");
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title} has no query");
        for target in targets {
            let expr = target["expr"].as_str().unwrap();
            // Grafana's one interval variable, as Grafana would expand it.
            let expr = expr.replace("$__rate_interval", "5m");
            assert!(!expr.contains('$'), "{title}: unknown variable in {expr}");
            exprs.push(expr);
        }
    }
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    assert!(
        variables
            .iter()
            .any(|v| v["name"] == "datasource" && v["query"] == "prometheus")
    );

    let families = exported_families();
    let used = families_used(&exprs, &families);
    let unused: Vec<&String> = families.keys().filter(|f| !used.contains(*f)).collect();
    assert!(unused.is_empty(), "no panel shows {unused:?}");
    // p50 and p95 come from the duration histogram.
    for quantile in ["0.5", "0.95"] {
        assert!(
            exprs.iter().any(|e| e.starts_with(&format!(
                "histogram_quantile({quantile}, sum by (le, kind) (rate(stackops_reconcile_duration_seconds_bucket"
            ))),
            "p{quantile}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboard_and_alerts_render_for_grafana_and_the_prometheus_operator() {
    let cluster = Cluster::start().await;
    cluster
        .stand_in("monitoring.coreos.com", "PrometheusRule", "prometheusrules")
        .await;
    cluster.namespace("grafana").await;
    let values = json!({
        "grafanaDashboard": {
            "enabled": true,
            "namespace": "grafana",
            "labels": {"grafana_dashboard": "1", "team": "platform"},
            "annotations": {"grafana_folder": "Operators"}
        },
        "prometheusRule": {
            "enabled": true,
            "labels": {"release": "prometheus"},
            "alertLabels": {"team": "platform"}
        }
    });
    let release = cluster.install("obs", "obs", values).await.installed();
    release.assert_valid(&["PrometheusRule"]);

    // The dashboard ConfigMap: where and how the sidecar finds it, and the
    // chart's file unchanged.
    let config_map = release.one("ConfigMap");
    let metadata = &config_map["metadata"];
    assert_eq!(metadata["namespace"], "grafana");
    assert_eq!(metadata["labels"]["grafana_dashboard"], "1");
    assert_eq!(metadata["labels"]["team"], "platform");
    assert_eq!(metadata["annotations"]["grafana_folder"], "Operators");
    let shipped: Value =
        serde_json::from_str(config_map["data"]["stackops.json"].as_str().unwrap()).unwrap();
    assert_eq!(shipped, dashboard());

    // The alerts.
    let rule = release.one("PrometheusRule");
    assert_eq!(rule["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(rule["metadata"]["namespace"], "obs");
    assert_eq!(rule["metadata"]["labels"]["release"], "prometheus");
    let rules: Vec<&Value> = rule["spec"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .collect();
    let by_name: BTreeMap<&str, &Value> = rules
        .iter()
        .map(|r| (r["alert"].as_str().expect("alerting rules only"), *r))
        .collect();
    let expected = [
        (
            "StackopsReconcileErrors",
            "15m",
            "warning",
            "stackops_reconciles",
        ),
        (
            "StackopsStackNotReady",
            "30m",
            "warning",
            "stackops_stack_ready",
        ),
        (
            "StackopsAWSThrottling",
            "10m",
            "warning",
            "stackops_aws_throttled",
        ),
        ("StackopsLeaderMissing", "5m", "critical", "stackops_leader"),
    ];
    assert_eq!(
        by_name.keys().copied().collect::<BTreeSet<_>>(),
        expected.iter().map(|e| e.0).collect::<BTreeSet<_>>()
    );
    let families = exported_families();
    for (name, wait, severity, family) in expected {
        let alert = by_name[name];
        assert_eq!(alert["for"], wait, "{name}");
        assert_eq!(alert["labels"]["severity"], severity, "{name}");
        assert_eq!(alert["labels"]["team"], "platform", "{name}");
        for annotation in ["summary", "description"] {
            assert!(
                alert["annotations"][annotation]
                    .as_str()
                    .is_some_and(|t| t.len() > 10),
                "{name}: {annotation}"
            );
        }
        let expr = alert["expr"].as_str().unwrap().to_string();
        let used = families_used(&[expr], &families);
        assert_eq!(used, BTreeSet::from([family.to_string()]), "{name}");
    }
    // The conditions themselves, as the alerts promise them.
    let expr = |name: &str| by_name[name]["expr"].as_str().unwrap();
    assert!(expr("StackopsReconcileErrors").contains(r#"{result="error"}"#));
    assert_eq!(expr("StackopsStackNotReady"), "stackops_stack_ready == 0");
    assert!(expr("StackopsLeaderMissing").contains("absent(stackops_leader)"));
    // Prometheus' own templates reach the alert untouched by Helm.
    assert!(
        by_name["StackopsStackNotReady"]["annotations"]["summary"]
            .as_str()
            .unwrap()
            .contains("{{ $labels.namespace }}/{{ $labels.name }}")
    );
    cluster.stop().await;
}
