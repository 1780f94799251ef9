"""Lints, installs and validates the Helm chart for tests/helm_chart.rs.

Reads one JSON request on stdin and prints one JSON answer on stdout (every
request key but kube_version is optional):

  request: {"chart": DIR, "kubeconfig": FILE, "kube_version": "1.33",
            "lint": [DIR, ...],
            "installs": [{"release": NAME, "namespace": NS, "values": {...}}],
            "objects": [OBJECT, ...]}
  answer:  {"helm_sdkpy": VERSION, "kubernetes_validate": VERSION,
            "lint": [{"chart": DIR, "errors": N, "warnings": N, "messages": [...]}],
            "crds": [{"name": ..., "result": ...}],
            "installs": [{"release": ..., "error": TEXT|null, "manifest": YAML,
                          "notes": TEXT, "validation": [{"kind", "name", "result"}]}],
            "objects": [RESULT, ...]}

Rendering is a real `helm install` (the helm-sdkpy bindings embed Helm's Go
library, which has no template-only action) against the API server the test
started; the rendered manifest is read back from the release. Each object is
then checked with kubernetes-validate against the Kubernetes JSON schemas it
bundles (strict: unknown fields are errors). "no schema" marks kinds it has
no schema for (custom resources such as ServiceMonitor).
"""

import asyncio
import glob
import json
import os
import sys
from importlib.metadata import version

import helm_sdkpy
import kubernetes_validate
import yaml
from kubernetes_validate.utils import SchemaNotFoundError, ValidationError

# helm's support.Severity: 1 info, 2 warning, 3 error.
WARNING, ERROR = 2, 3


def validate(obj, kube_version):
    try:
        kubernetes_validate.validate(obj, kube_version, strict=True)
        return "ok"
    except SchemaNotFoundError:
        return "no schema"
    except ValidationError as e:
        path = ".".join(str(p) for p in e.path)
        return f"error: {path}: {e.message}"


def lint(config, chart):
    result = asyncio.run(helm_sdkpy.Lint(config).run(chart))
    messages = result.get("Messages") or []
    return {
        "chart": chart,
        "errors": sum(1 for m in messages if m.get("Severity", 0) >= ERROR)
        + len(result.get("Errors") or []),
        "warnings": sum(1 for m in messages if m.get("Severity") == WARNING),
        # helm-sdkpy passes each message's error as an empty object: only
        # the severity and the path survive.
        "messages": [{"severity": m.get("Severity"), "path": m.get("Path")} for m in messages],
    }


def install(request, spec):
    config = helm_sdkpy.Configuration(namespace=spec["namespace"], kubeconfig=request["kubeconfig"])
    answer = {"release": spec["release"], "error": None, "manifest": "", "notes": "", "validation": []}
    try:
        release = asyncio.run(
            helm_sdkpy.Install(config).run(
                spec["release"],
                request["chart"],
                values=spec.get("values") or None,
                create_namespace=True,
                wait=False,
                timeout=120,
            )
        )
    except helm_sdkpy.HelmError as e:
        answer["error"] = str(e)
        return answer
    answer["manifest"] = release.get("manifest", "")
    answer["notes"] = (release.get("info") or {}).get("notes", "")
    for obj in yaml.safe_load_all(answer["manifest"]):
        if obj:
            answer["validation"].append(
                {
                    "kind": obj["kind"],
                    "name": obj["metadata"]["name"],
                    "result": validate(obj, request["kube_version"]),
                }
            )
    return answer


def main():
    request = json.load(sys.stdin)
    kube_version = request["kube_version"]
    answer = {
        "helm_sdkpy": version("helm-sdkpy"),
        "kubernetes_validate": version("kubernetes-validate"),
        "lint": [],
        "crds": [],
        "installs": [],
    }
    if request.get("lint"):
        config = helm_sdkpy.Configuration(namespace="default", kubeconfig=request["kubeconfig"])
        answer["lint"] = [lint(config, chart) for chart in request["lint"]]
    for path in sorted(glob.glob(os.path.join(request.get("chart", ""), "crds", "*.yaml"))):
        with open(path) as f:
            for obj in yaml.safe_load_all(f):
                answer["crds"].append({"name": obj["metadata"]["name"], "result": validate(obj, kube_version)})
    for spec in request.get("installs", []):
        answer["installs"].append(install(request, spec))
    # Objects the caller wants checked as they are (the checker's own test).
    answer["objects"] = [validate(obj, kube_version) for obj in request.get("objects", [])]
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
