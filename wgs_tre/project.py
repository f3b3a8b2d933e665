"""``open_project()``: a researcher's handle on one approved project's data.

Inside a session the project comes from the environment (``WGS_TRE_PROJECT``, set by the hub's
spawner); outside one, name it. Every read goes through the gate (``wgs_tre.access``), which
checks membership, approval and dataset, applies consent, and audits the decision.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass

import pandas as pd
import xarray as xr

from wgs_tre.access import Gate
from wgs_tre.clinical.views import clinical_view
from wgs_tre.config import Settings, load_settings
from wgs_tre.dispense import variants_view
from wgs_tre.errors import ConfigurationError, InvalidInput
from wgs_tre.policy import load_policies
from wgs_tre.store import Store

__all__ = ["ProjectHandle", "open_project"]


@dataclass
class ProjectHandle:
    """One user's governed view of one project. Nothing is read until a method is called."""

    project: str
    user: str
    gate: Gate

    def datasets(self) -> list[tuple[str, str]]:
        """The dataset versions the project's approval covers, as (name@version, kind)."""
        return self.gate.approved_datasets(self.user, self.project)

    def _only(self, kind: str) -> str:
        found = [label for label, k in self.datasets() if k == kind]
        if len(found) != 1:
            listed = ", ".join(found) or "none"
            raise InvalidInput(
                f"project {self.project}", f"name the {kind} dataset to open (approved: {listed})"
            )
        return found[0]

    def variants(self, dataset: str | None = None) -> xr.Dataset:
        """Genotypes of the consenting participants, pseudonymised, as a lazy xarray Dataset."""
        grant = self.gate.decide(self.user, self.project, dataset or self._only("variants"))
        return variants_view(grant)

    def clinical(self, table: str, dataset: str | None = None) -> pd.DataFrame:
        """One clinical table (patients, conditions, observations, medications, specimens,
        questionnaire, survival) for the consenting participants, keyed by ``sample_id``."""
        grant = self.gate.decide(self.user, self.project, dataset or self._only("clinical"))
        return clinical_view(grant, table)


def open_project(
    project: str | None = None,
    *,
    user: str | None = None,
    settings: Settings | None = None,
) -> ProjectHandle:
    """Open ``project`` (default: ``$WGS_TRE_PROJECT``) as ``user`` (default: ``$WGS_TRE_USER``
    or the login name)."""
    slug = project or os.environ.get("WGS_TRE_PROJECT")
    if not slug:
        raise ConfigurationError(
            "no project: pass open_project('<project>') or run inside a project session"
        )
    config = settings or load_settings()
    store = Store(config.store_url)
    store.check_ready()
    gate = Gate(store, load_policies(config.policy_dir))
    who = user or os.environ.get("WGS_TRE_USER") or getpass.getuser()
    return ProjectHandle(slug, who, gate)
