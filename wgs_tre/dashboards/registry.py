"""Which dashboards the hub serves, and who may open each: one entry per dashboard.

``hub/jupyterhub_config.py`` turns each entry into a hub-managed service (Voila on loopback,
behind the hub's OAuth sign-in) and a role granting ``access:services!service=<service>`` to
the hub group of one TRE role, the only group that may open it. JupyterHub lists a service in
its Services menu only for people holding that scope, so nobody else is even shown it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wgs_tre.types import Role

__all__ = ["DASHBOARDS", "WAITING_KERNELS", "Dashboard", "hub_roles", "hub_services"]

# How many kernels each dashboard keeps started and warmed for the next pages (default 2)
WAITING_KERNELS = "WGS_TRE_DASHBOARD_WAITING_KERNELS"


@dataclass(frozen=True)
class Dashboard:
    name: str  # short name: the service is wgs-tre-<name>
    notebook: str  # in the repository's dashboards/ directory
    role: Role  # the TRE role (a hub group of the same name) whose members may open it
    default_port: int  # on 127.0.0.1; WGS_TRE_<NAME>_DASHBOARD_PORT overrides it

    @property
    def service(self) -> str:
        return f"wgs-tre-{self.name}"

    @property
    def port_variable(self) -> str:
        return f"WGS_TRE_{self.name.upper()}_DASHBOARD_PORT"

    def port(self, environ: Mapping[str, str]) -> int:
        return int(environ.get(self.port_variable, self.default_port))


DASHBOARDS: tuple[Dashboard, ...] = (
    Dashboard("steward", "steward.ipynb", Role.STEWARD, 8092),
    Dashboard("panel", "panel.ipynb", Role.EXPERT_PANEL, 8093),
)


def hub_services(
    notebooks: Path, environment: Mapping[str, str], environ: Mapping[str, str] = os.environ
) -> list[dict[str, Any]]:
    """JupyterHub service entries, one per dashboard. Loopback only: sessions (in their own
    network namespaces) cannot reach it, people reach it through the hub's proxy."""
    return [
        {
            "name": board.service,
            "url": f"http://127.0.0.1:{board.port(environ)}",
            "display": True,  # JupyterHub shows it only to those who may open it
            "oauth_no_confirm": True,  # the hub's own page, not a third party asking for consent
            "command": [
                sys.executable,
                "-m",
                "wgs_tre.dashboards.serve",
                str(notebooks / board.notebook),
            ],
            "environment": {
                **environment,
                **{name: environ[name] for name in (WAITING_KERNELS,) if name in environ},
            },
        }
        for board in DASHBOARDS
    ]


def hub_roles(dashboards: Sequence[Dashboard] = DASHBOARDS) -> list[dict[str, Any]]:
    """One role per dashboard: its TRE role's hub group may open it, no one else."""
    return [
        {
            "name": f"{board.service}-users",
            "groups": [board.role.value],
            "scopes": [f"access:services!service={board.service}"],
        }
        for board in dashboards
    ]
