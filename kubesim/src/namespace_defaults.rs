//! What kube-controller-manager and kube-apiserver put in a cluster
//! without being asked: in every namespace the `default` ServiceAccount
//! (the service-account controller) and the `kube-root-ca.crt` ConfigMap
//! (the root-CA publisher), and in `default` the `kubernetes` Service. A
//! client listing ServiceAccounts or ConfigMaps, or mounting the CA, sees
//! them as on a real cluster. They are made at once, where the controllers
//! take a moment.

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::rest::{self, WriteOptions};
use crate::store::Store;

/// The CA bundle published in every namespace. kubesim serves plain HTTP,
/// so nothing is signed by it: a self-signed stand-in (P-256, `CN=kubesim-ca`)
/// that parses as a certificate wherever a client reads one.
pub const ROOT_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBgjCCASegAwIBAgIUT6aHDNRAy8jjbcMtUFvb2gOK4GUwCgYIKoZIzj0EAwIw
FTETMBEGA1UEAwwKa3ViZXNpbS1jYTAgFw0yNjEyMDcwMTM3NDNaGA8yMTI2MTEx
MzAxMzc0M1owFTETMBEGA1UEAwwKa3ViZXNpbS1jYTBZMBMGByqGSM49AgEGCCqG
SM49AwEHA0IABCQ4N7W9eLU2at+/OajHutupPlW2+T/dq6ArkYxmET5VdY7PzwMK
/WN+wKo9ivu52dDU3d7zdwjjyIr8+/J3NTmjUzBRMB0GA1UdDgQWBBS4J9CTmkrt
k6UJtO8aGbjDTxBohDAfBgNVHSMEGDAWgBS4J9CTmkrtk6UJtO8aGbjDTxBohDAP
BgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0kAMEYCIQDhH+1m/g0vgsEzUoaP
bH1D1zqZvH4SmOycNFNZgjVvEQIhAJdxfY+DGpBWJ1qrmDcjGMpX3euDcNP7RKvA
6eAzDHd9
-----END CERTIFICATE-----
";

/// The `default` ServiceAccount and the `kube-root-ca.crt` ConfigMap of a
/// namespace just made (either already there is left as it is).
pub fn populate(store: &mut Store, namespace: &str) {
    create(
        store,
        "serviceaccounts",
        namespace,
        json!({"metadata": {"name": "default"}}),
    );
    create(
        store,
        "configmaps",
        namespace,
        json!({
            "metadata": {
                "name": "kube-root-ca.crt",
                "annotations": {
                    "kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."
                }
            },
            "data": {"ca.crt": ROOT_CA}
        }),
    );
}

/// The `kubernetes` Service in `default`, as kube-apiserver keeps it.
pub fn seed_kubernetes_service(store: &mut Store) {
    create(
        store,
        "services",
        "default",
        json!({
            "metadata": {
                "name": "kubernetes",
                "labels": {"component": "apiserver", "provider": "kubernetes"}
            },
            "spec": {
                "type": "ClusterIP",
                "clusterIP": "10.96.0.1",
                "clusterIPs": ["10.96.0.1"],
                "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
                "sessionAffinity": "None",
                "internalTrafficPolicy": "Cluster",
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]
            }
        }),
    );
}

fn create(store: &mut Store, plural: &str, namespace: &str, obj: Value) {
    let info = store
        .registry
        .get("", "v1", plural)
        .cloned()
        .expect("built in");
    let opts = WriteOptions {
        field_manager: "kube-controller-manager".into(),
        ..WriteOptions::default()
    };
    match rest::create(store, &info, namespace, obj, &opts) {
        Ok(_) | Err(ApiError::AlreadyExists(_)) => {}
        Err(e) => panic!("{plural} of namespace {namespace}: {e:?}"),
    }
}
