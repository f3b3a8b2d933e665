"""The Kubernetes equivalent of a session's network namespace: Zero to JupyterHub Helm values
whose ``singleuser.networkPolicy`` is generated from ``policies/egress.yaml``, so the two
enforcement points can never disagree (``tests/hub/test_k8s.py`` checks the committed file).

On Kubernetes the hub runs KubeSpawner; a NetworkPolicy replaces nftables: single-user pods may
reach the hub (Z2JH allows that itself), the package proxy and the data service pods, and the
allowlisted addresses, and nothing else: no DNS, no cloud metadata, no internet.

The pod is the session's sandbox (what bubblewrap is on one machine): a read-only root file
system, no capabilities, no privilege escalation, no service account token, and only these
volumes: a home per (user, project), the project's workspace, its dispensal read-only, and a
private ``/tmp``. Memory and CPU limits come from ``policies/sessions.yaml``.
"""

from __future__ import annotations

from typing import Any

import yaml

from wgs_tre.policy import EgressPolicy, SessionPolicy

__all__ = ["helm_values"]

HEADER = """\
# Generated from policies/egress.yaml and sessions.yaml by `wgs-tre hub helm-values`; do not edit.
# Zero to JupyterHub values for the WGS TRE's single-user pods (see images/README.md).
"""


def _sandbox(sessions: SessionPolicy) -> dict[str, Any]:
    """The pod as a session's sandbox: see the module docstring."""
    values: dict[str, Any] = {
        "storage": {
            "type": "dynamic",  # the home: one claim per (user, project)
            "dynamic": {"pvcNameTemplate": "home-{username}--{servername}"},
            "homeMountPath": "/home/jovyan",
            "extraVolumes": [
                {
                    "name": "workspace",
                    "persistentVolumeClaim": {"claimName": "workspace-{servername}"},
                },
                {
                    "name": "dispensal",
                    "persistentVolumeClaim": {
                        "claimName": "dispensal-{servername}",
                        "readOnly": True,
                    },
                },
                {"name": "tmp", "emptyDir": {"sizeLimit": "10Gi"}},
            ],
            "extraVolumeMounts": [
                {"name": "workspace", "mountPath": "/workspace"},
                {"name": "dispensal", "mountPath": "/dispensal", "readOnly": True},
                {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - the pod's own
            ],
        },
        "extraContainerConfig": {
            "securityContext": {
                "readOnlyRootFilesystem": True,
                "allowPrivilegeEscalation": False,
                "runAsNonRoot": True,
                "capabilities": {"drop": ["ALL"]},
            }
        },
    }
    if sessions.memory:
        values["memory"] = {"limit": f"{sessions.memory // 2**20}M"}
    if sessions.cpus:
        values["cpu"] = {"limit": sessions.cpus}
    return values


def helm_values(
    egress: EgressPolicy,
    sessions: SessionPolicy | None = None,
    *,
    image: str = "wgs-tre/singleuser:latest",
) -> str:
    name, tag = image.rsplit(":", 1)
    rules: list[dict[str, Any]] = [
        {
            "to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/component": component}}}],
            "ports": [{"protocol": "TCP", "port": port}],
        }
        for component, port in (("wgs-tre-packages", 3128), ("wgs-tre-data", 8090))
    ]
    rules += [
        {
            "to": [{"ipBlock": {"cidr": f"{endpoint.address}/32"}}],
            "ports": [{"protocol": "TCP", "port": endpoint.port}],
        }
        for endpoint in egress.allow
    ]
    values = {
        "singleuser": {
            "image": {"name": name, "tag": tag},
            "networkPolicy": {
                "enabled": True,
                "egressAllowRules": {
                    "cloudMetadataServer": False,
                    "dnsPortsCloudMetadataServer": False,
                    "dnsPortsKubeSystemNamespace": False,
                    "dnsPortsPrivateIPs": False,
                    "nonPrivateIPs": False,
                    "privateIPs": False,
                },
                "egress": rules,
            },
            "extraEnv": {
                "HTTP_PROXY": "http://wgs-tre-packages:3128",
                "HTTPS_PROXY": "http://wgs-tre-packages:3128",
                "NO_PROXY": "hub,wgs-tre-data,127.0.0.1,localhost",
            },
            **_sandbox(sessions or SessionPolicy()),
        },
        "hub": {
            "allowNamedServers": True,
            "config": {
                "JupyterHub": {"authenticator_class": "generic-oauth"},
                "Authenticator": {"manage_groups": True},
                "KubeSpawner": {"automount_service_account_token": False},
            },
        },
        "proxy": {"https": {"enabled": True, "type": "letsencrypt"}},
        "x-wgs-tre-package-proxy-hosts": list(egress.proxy.hosts),
    }
    return HEADER + yaml.safe_dump(values, sort_keys=False)
