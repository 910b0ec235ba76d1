"""The Kubernetes manifests (deploy/kubernetes/): valid against Kubernetes' own OpenAPI schema
(kubernetes-validate, strict: an unknown field fails), wired together (selectors, ports, the
ConfigMap), probing the routes the Rasa server really serves, non-root, and secret-free."""

from __future__ import annotations

import re
from typing import Any, Dict, FrozenSet, List

import kubernetes_validate
import pytest

from nlu_components.paths import PROJECT_ROOT
from tests.deploy.conftest import (
    KUBERNETES,
    LIVENESS_PATH,
    READINESS_PATH,
    endpoint_variables,
    kubernetes_documents,
)

KUBERNETES_VERSION = "1.28"  # the newest schema kubernetes-validate 1.28 carries
DOCUMENTS = kubernetes_documents()


def by_kind(kind: str) -> List[Dict[str, Any]]:
    return [document for document in DOCUMENTS if document["kind"] == kind]


def deployment(name: str) -> Dict[str, Any]:
    (found,) = [document for document in by_kind("Deployment") if document["metadata"]["name"] == name]
    return found


def container(name: str) -> Dict[str, Any]:
    (found,) = deployment(name)["spec"]["template"]["spec"]["containers"]
    return found


@pytest.mark.parametrize(
    "document", DOCUMENTS, ids=[f"{d['_file']}:{d['kind']}/{d['metadata']['name']}" for d in DOCUMENTS]
)
def test_manifest_is_valid_against_the_kubernetes_schema(document: Dict[str, Any]) -> None:
    manifest = {key: value for key, value in document.items() if key != "_file"}
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_schema_validation_catches_a_wrong_field() -> None:
    """The check above can fail: a misspelt field in the Rasa Deployment is refused."""
    manifest = {key: value for key, value in deployment("rasa").items() if key != "_file"}
    broken = {**manifest, "spec": {**manifest["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_rasa_and_action_servers_run_several_replicas_behind_cluster_services() -> None:
    for name, port in (("rasa", 5005), ("actions", 5055)):
        spec = deployment(name)["spec"]
        assert spec["replicas"] >= 2
        pod_labels = spec["template"]["metadata"]["labels"]
        assert spec["selector"]["matchLabels"].items() <= pod_labels.items()
        (service,) = [s for s in by_kind("Service") if s["metadata"]["name"] == name]
        assert service["spec"]["type"] == "ClusterIP"  # nothing published but through the Ingress
        assert service["spec"]["selector"].items() <= pod_labels.items()
        (service_port,) = service["spec"]["ports"]
        named_ports = {p["name"]: p["containerPort"] for p in container(name)["ports"]}
        assert named_ports[service_port["targetPort"]] == port == service_port["port"]
        # the image's own command (deploy/*.Dockerfile, deploy/rasa-run.sh: no HTTP API) runs
        assert "command" not in container(name) and "args" not in container(name)


def test_nothing_is_published_but_the_ingress() -> None:
    assert {service["spec"]["type"] for service in by_kind("Service")} == {"ClusterIP"}
    for document in by_kind("Deployment"):
        for spec in document["spec"]["template"]["spec"]["containers"]:
            assert all("hostPort" not in port for port in spec["ports"])
        assert not document["spec"]["template"]["spec"].get("hostNetwork", False)
    (ingress,) = by_kind("Ingress")
    backends = {
        (path["backend"]["service"]["name"], path["backend"]["service"]["port"]["name"])
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert backends == {("rasa", "http")}


def test_rasa_probes_use_the_served_readiness_and_liveness_routes(
    served_routes: Dict[str, FrozenSet[str]],
) -> None:
    rasa = container("rasa")
    assert rasa["readinessProbe"]["httpGet"]["path"] == READINESS_PATH
    assert served_routes[f"readiness {READINESS_PATH}"] == {"GET"}
    for probe in ("livenessProbe", "startupProbe"):
        assert rasa[probe]["httpGet"]["path"] == LIVENESS_PATH
    assert served_routes[f"health {LIVENESS_PATH.rstrip('/')}"] == {"GET"}
    assert {rasa[p]["httpGet"]["port"] for p in ("readinessProbe", "livenessProbe", "startupProbe")} == {
        "http"
    }


def test_action_servers_are_reachable_from_the_rasa_servers_only() -> None:
    (policy,) = by_kind("NetworkPolicy")
    assert (
        policy["spec"]["podSelector"]["matchLabels"]
        == deployment("actions")["spec"]["selector"]["matchLabels"]
    )
    (rule,) = policy["spec"]["ingress"]
    (source,) = rule["from"]
    assert source["podSelector"]["matchLabels"] == deployment("rasa")["spec"]["selector"]["matchLabels"]
    settings = {c["metadata"]["name"]: c["data"] for c in by_kind("ConfigMap")}["kyphoplasty-settings"]
    assert settings["ACTION_SERVER_URL"] == "http://actions:5055/webhook"


def test_pods_run_as_non_root_with_a_read_only_file_system_and_limits() -> None:
    for document in by_kind("Deployment"):
        pod = document["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["automountServiceAccountToken"] is False
        for spec in pod["containers"]:
            security = spec["securityContext"]
            assert security["allowPrivilegeEscalation"] is False
            assert security["readOnlyRootFilesystem"] is True
            assert security["capabilities"]["drop"] == ["ALL"]
            assert {"cpu", "memory"} <= set(spec["resources"]["requests"])
            assert "memory" in spec["resources"]["limits"]
            # the only writable place is a scratch volume: /tmp (also HOME in the images)
            mounts = {mount["name"]: mount["mountPath"] for mount in spec["volumeMounts"]}
            volumes = {volume["name"]: volume for volume in pod["volumes"]}
            assert all("emptyDir" in volumes[name] for name in mounts)
            assert "/tmp" in mounts.values()


def test_no_secret_is_committed_only_referenced() -> None:
    assert by_kind("Secret") == []
    for document in by_kind("Deployment"):
        for spec in document["spec"]["template"]["spec"]["containers"]:
            assert "env" not in spec  # settings come only from ConfigMaps and Secrets by reference
            for source in spec["envFrom"]:
                (kind,) = [key for key in source if key.endswith("Ref")]
                if kind == "configMapRef" and not source[kind].get("optional"):
                    assert source[kind]["name"] in {c["metadata"]["name"] for c in by_kind("ConfigMap")}
    for config_map in by_kind("ConfigMap"):
        for key in config_map["data"]:
            assert not any(word in key for word in ("PASSWORD", "SECRET", "TOKEN")), key


def test_rasa_servers_get_every_variable_the_endpoints_read() -> None:
    """deploy/endpoints.scale.yml's ${VAR}s: each in the ConfigMap or among the keys of the
    `kyphoplasty-stores` Secret that settings.yaml (and the README) tell you to create."""
    settings = {c["metadata"]["name"]: c["data"] for c in by_kind("ConfigMap")}["kyphoplasty-settings"]
    comment = re.search(
        r"#\s+kyphoplasty-stores\s+(.*?)\n#\s+kyphoplasty-channels",
        (KUBERNETES / "settings.yaml").read_text(),
        re.S,
    )
    assert comment is not None
    secret_keys = set(re.findall(r"[A-Z][A-Z_]+", comment.group(1)))
    assert endpoint_variables() <= set(settings) | secret_keys
    assert not set(settings) & secret_keys
    rasa_sources = {next(iter(source.values()))["name"] for source in container("rasa")["envFrom"]}
    assert {"kyphoplasty-settings", "kyphoplasty-stores"} <= rasa_sources
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert all(f"`{key}`" in readme for key in secret_keys)
