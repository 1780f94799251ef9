//! RBAC for impersonated users: what a ServiceAccount's bindings allow, and
//! 403s shaped like kube-apiserver's.

use crate::common::{Sim, api_error, widget};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;

const SA: &str = "system:serviceaccount:default:op";

async fn client_as(sim: &Sim, user: &str) -> kube::Client {
    let kubeconfig = Kubeconfig::from_yaml(&sim.handle.kubeconfig()).unwrap();
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .unwrap();
    config.auth_info.impersonate = Some(user.to_string());
    kube::Client::try_from(config).unwrap()
}

async fn apply_rbac(sim: &Sim) {
    let manifest = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: widget-operator}
rules:
- apiGroups: ["test.kubesim.io"]
  resources: ["widgets"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["test.kubesim.io"]
  resources: ["widgets/status"]
  verbs: ["patch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: widget-operator, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: widget-operator}
subjects: [{kind: ServiceAccount, name: op, namespace: default}]
"#;
    let out = sim.kubectl(&["apply", "-f", "-"], Some(manifest)).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn impersonated_service_account_gets_what_its_bindings_allow() {
    let sim = Sim::start().await;
    sim.install_widget_crd().await;
    sim.widgets("default")
        .create(&PostParams::default(), &widget("w", 1))
        .await
        .unwrap();
    apply_rbac(&sim).await;

    let op = client_as(&sim, SA).await;
    let widgets: Api<crate::common::Widget> = Api::namespaced(op.clone(), "default");
    assert_eq!(
        widgets
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    let status = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
    widgets
        .patch_status("w", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();

    let denied = api_error(
        widgets
            .patch(
                "w",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"size": 2}})),
            )
            .await,
    );
    assert_eq!((denied.code, denied.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        denied.message,
        "widgets.test.kubesim.io \"w\" is forbidden: User \"system:serviceaccount:default:op\" cannot patch resource \"widgets\" in API group \"test.kubesim.io\" in the namespace \"default\""
    );
    // The RoleBinding grants nothing outside its namespace.
    let everywhere: Api<crate::common::Widget> = Api::all(op.clone());
    let denied = api_error(everywhere.list(&ListParams::default()).await);
    assert_eq!(
        denied.message,
        "widgets.test.kubesim.io is forbidden: User \"system:serviceaccount:default:op\" cannot list resource \"widgets\" in API group \"test.kubesim.io\" at the cluster scope"
    );
    // Unimpersonated requests stay cluster-admin; kubectl --as is RBAC-checked.
    let out = sim
        .kubectl(&["--as", SA, "delete", "widget", "w"], None)
        .await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Error from server (Forbidden)"));
    let out = sim.kubectl(&["--as", SA, "get", "widgets"], None).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    sim.stop().await;
}

#[tokio::test]
async fn kubectl_auth_can_i_answers_from_rbac() {
    let sim = Sim::start().await;
    sim.install_widget_crd().await;
    apply_rbac(&sim).await;
    let can = |args: &'static [&'static str]| {
        let sim = &sim;
        async move {
            let out = sim.kubectl(args, None).await;
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        }
    };
    assert_eq!(
        can(&[
            "auth",
            "can-i",
            "patch",
            "widgets.test.kubesim.io",
            "--subresource=status",
            "--as",
            SA
        ])
        .await,
        "yes"
    );
    assert_eq!(
        can(&[
            "auth",
            "can-i",
            "delete",
            "widgets.test.kubesim.io",
            "--as",
            SA
        ])
        .await,
        "no"
    );
    assert_eq!(
        can(&[
            "auth",
            "can-i",
            "list",
            "widgets.test.kubesim.io",
            "-n",
            "kube-system",
            "--as",
            SA
        ])
        .await,
        "no"
    );
    assert_eq!(
        can(&["auth", "can-i", "delete", "widgets.test.kubesim.io"]).await,
        "yes"
    );
    sim.stop().await;
}
