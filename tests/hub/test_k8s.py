"""The Kubernetes NetworkPolicy is generated from the same egress policy as the nftables rules,
and the committed Helm values are what the generator produces."""

from __future__ import annotations

from pathlib import Path

import yaml

from wgs_tre.hub.k8s import helm_values
from wgs_tre.policy import EgressPolicy, SessionPolicy, load_policies

REPO = Path(__file__).resolve().parents[2]


def test_committed_values_match_the_policy() -> None:
    policies = load_policies(REPO / "policies")
    expected = helm_values(policies.egress, policies.sessions)
    assert (REPO / "images" / "helm-values.yaml").read_text() == expected, (
        "images/helm-values.yaml is stale: run wgs-tre hub helm-values -o images/helm-values.yaml"
    )


def test_the_network_policy_mirrors_the_allowlist() -> None:
    egress = EgressPolicy.model_validate(
        {"allow": [{"address": "10.20.0.5", "port": 443}], "proxy": {"hosts": ["pypi.org"]}}
    )
    values = yaml.safe_load(helm_values(egress))
    policy = values["singleuser"]["networkPolicy"]
    assert policy["enabled"] is True
    assert not any(policy["egressAllowRules"].values())  # no DNS, metadata or internet
    blocks = [rule for rule in policy["egress"] if "ipBlock" in rule["to"][0]]
    assert blocks == [{"to": [{"ipBlock": {"cidr": "10.20.0.5/32"}}],
                       "ports": [{"protocol": "TCP", "port": 443}]}]  # fmt: skip
    assert values["x-wgs-tre-package-proxy-hosts"] == ["pypi.org"]
    empty = yaml.safe_load(helm_values(EgressPolicy()))["singleuser"]["networkPolicy"]["egress"]
    assert all("podSelector" in rule["to"][0] for rule in empty)  # default deny: TRE pods only


def test_the_pod_is_the_sessions_sandbox() -> None:
    """What bubblewrap gives a session on one machine, the pod gives it on Kubernetes: a
    read-only root, no capabilities or escalation, no service account token, only its own
    volumes, and the policy's memory and CPU limits."""
    sessions = SessionPolicy.model_validate({"memory": "4GiB", "cpus": 2, "processes": 512})
    values = yaml.safe_load(helm_values(EgressPolicy(), sessions))
    pod = values["singleuser"]
    security = pod["extraContainerConfig"]["securityContext"]
    assert security == {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                        "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}  # fmt: skip
    assert values["hub"]["config"]["KubeSpawner"]["automount_service_account_token"] is False
    mounts = {m["mountPath"]: m.get("readOnly", False) for m in pod["storage"]["extraVolumeMounts"]}
    assert mounts == {"/workspace": False, "/dispensal": True, "/tmp": False}
    assert "{servername}" in pod["storage"]["dynamic"]["pvcNameTemplate"]  # home per project
    assert (pod["memory"], pod["cpu"]) == ({"limit": "4096M"}, {"limit": 2.0})


def test_the_production_sign_in_is_installed() -> None:
    """WGS_TRE_AUTHENTICATOR=generic-oauth (OIDC) must resolve to an installed authenticator."""
    from importlib.metadata import entry_points

    names = {e.name for e in entry_points(group="jupyterhub.authenticators")}
    assert {"generic-oauth", "native"} <= names
