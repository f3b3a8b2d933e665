"""``open_project()``: a researcher's handle on one approved project's data.

Two ways to reach the data, one interface:

* in a session (the hub sets ``WGS_TRE_DATA_SERVICE``), every open is a call to the hub-side
  data service with the session's token; the service runs the gate (and audits) and hands back
  a read-only, materialised copy of the view. The session holds no store credentials. A view
  that takes a while to write is a job of the service: the session shows its progress.
* on the host (stewards, tests, benchmarks), the gate runs in-process on the store named by the
  settings, and views are built lazily from the registered data.

Either way a refusal names its reason and every decision is audited.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, overload

import pandas as pd
import xarray as xr
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from wgs_tre import compute, wire
from wgs_tre.access import Gate
from wgs_tre.config import Settings, load_settings
from wgs_tre.dispense import dispenser_for
from wgs_tre.errors import ConfigurationError, InvalidInput, NotFound, Refused
from wgs_tre.governance.context import Context
from wgs_tre.governance.identity import check_mapped, host_identity
from wgs_tre.policy import ComputePolicy, load_policies
from wgs_tre.store import Store
from wgs_tre.types import DatasetKind

__all__ = ["ProjectHandle", "open_project"]


class _Source(Protocol):
    def datasets(self) -> list[tuple[str, str]]: ...
    def open(self, dataset: str, part: str | None, expect: DatasetKind | None) -> Any: ...


def _check_kind(dataset: str, kind: str, expect: DatasetKind | None) -> None:
    if expect is not None and kind != expect:
        raise InvalidInput(f"dataset {dataset}", f"is {kind} data, not {expect}")


@dataclass
class _HostSource:
    gate: Gate
    user: str
    project: str
    data_dir: Path

    def context(self) -> Context:
        return Context(self.gate.store, self.gate.policies, self.user, identity=self.gate.identity)

    def datasets(self) -> list[tuple[str, str]]:
        return self.gate.approved_datasets(self.user, self.project)

    def open(self, dataset: str, part: str | None, expect: DatasetKind | None) -> Any:
        grant = self.gate.decide(self.user, self.project, dataset)
        _check_kind(grant.dataset, grant.kind, expect)
        return dispenser_for(grant.kind).view(grant, part)


@dataclass
class _ServiceSource:
    url: str  # the data service, e.g. http://10.231.255.1:8090/services/wgs-tre-data/
    token: str = field(repr=False)  # the session's credential: never in a notebook's output
    poll_seconds: float = 0.5

    def _call(self, path: str, body: dict[str, str] | None) -> object:
        """POST ``body`` to ``path`` (GET without one); the answer, or the service's error."""
        return wire.call(self.url, self.token, path, body)

    def datasets(self) -> list[tuple[str, str]]:
        found = self._call("api/datasets", {})
        assert isinstance(found, list)
        return [(item["dataset"], item["kind"]) for item in found]

    def open(self, dataset: str, part: str | None, expect: DatasetKind | None) -> Any:
        answer = self._call("api/open", {"dataset": dataset})
        assert isinstance(answer, dict)
        _check_kind(answer["dataset"], answer["kind"], expect)
        if answer.get("state") == "running":
            answer = self._follow(answer)
        return dispenser_for(answer["kind"]).read(Path(answer["path"]), part)

    def _follow(self, job: dict[str, Any]) -> dict[str, Any]:
        """Poll the service's job until the view is written, showing its progress."""
        with _progress_bar(f"preparing {job['dataset']}") as show:
            while job.get("state") == "running":
                show(job["done"], job["total"])
                time.sleep(self.poll_seconds)
                try:
                    answer = self._call(f"api/jobs/{job['job']}", None)
                except NotFound:  # the service restarted and forgot its jobs: ask again
                    answer = self._call("api/open", {"dataset": job["dataset"]})
                assert isinstance(answer, dict)
                job = answer
            show(job["done"], job["total"])
        return job


@contextmanager
def _progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr (a notebook shows it under the cell)."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total or None)


@dataclass
class ProjectHandle:
    """One user's governed view of one project. Nothing is read until a method is called."""

    project: str
    user: str
    source: _Source
    policy_dir: Path  # compute.yaml is read from here when a cluster is asked for

    def datasets(self) -> list[tuple[str, str]]:
        """The dataset versions the project's approval covers, as (name@version, kind)."""
        return self.source.datasets()

    def open(self, dataset: str, part: str | None = None) -> Any:
        """Any dataset the approval covers, as its kind's dispenser presents it.

        Parameters
        ----------
        dataset
            ``name`` or ``name@version``.
        part
            The piece to open, for kinds with several (a clinical table).

        Returns
        -------
        object
            The project's view: an xarray Dataset for variants, a pandas DataFrame for a
            clinical table, what the kind's dispenser returns for others.
        """
        return self.source.open(dataset, part, None)

    def host_governance(self) -> tuple[Context, Path] | None:
        """On the host, the governed context of this handle's user and the data directory
        (for steps such as the model registry's); None in a session, where the data service
        takes those steps."""
        if isinstance(self.source, _HostSource):
            return self.source.context(), self.source.data_dir
        return None

    def _only(self, kind: str) -> str:
        found = [label for label, k in self.datasets() if k == kind]
        if len(found) != 1:
            listed = ", ".join(found) or "none"
            raise InvalidInput(
                f"project {self.project}", f"name the {kind} dataset to open (approved: {listed})"
            )
        return found[0]

    @overload
    def variants(
        self, dataset: str | None = None, *, engine: Literal["xarray"] = "xarray"
    ) -> xr.Dataset: ...
    @overload
    def variants(
        self, dataset: str | None = None, *, engine: Literal["hail"], compute: str | None = None
    ) -> Any: ...
    def variants(
        self, dataset: str | None = None, *, engine: str = "xarray", compute: str | None = None
    ) -> Any:
        """Genotypes of the consenting participants, pseudonymised.

        Parameters
        ----------
        dataset
            ``name@version`` of a variants dataset the approval covers; may be left out when
            there is only one.
        engine
            ``"xarray"`` (default) or ``"hail"``.
        compute
            For Hail: the Spark profile of ``compute.yaml`` to run on (default its first).

        Returns
        -------
        xarray.Dataset or hail.MatrixTable
            A lazy view in VCF Zarr names: ``call_genotype`` (variants, samples, ploidy),
            ``call_dosage_packed`` (variants, samples_packed), ``sample_id`` (samples:
            per-project pseudonyms, in pseudonym order), ``variant_contig``,
            ``variant_position``, ``variant_allele`` and the annotations; or the same as a
            MatrixTable (column key ``s``, loci on GRCh38 where the contigs fit it, GT, row
            fields ``GENE``, ``CSQ``, ``CLNSIG``).
        """
        if engine not in ("xarray", "hail"):
            raise InvalidInput("engine", f"{engine!r} is not one of: xarray, hail")
        kind = DatasetKind.VARIANTS
        view = self.source.open(dataset or self._only(kind), None, kind)
        if engine == "xarray":
            return view
        from wgs_tre.genomics.hail import to_hail

        master, conf = _spark(load_policies(self.policy_dir).compute, compute)
        return to_hail(view, master=master, spark_conf=conf)

    def clinical(self, table: str, dataset: str | None = None) -> pd.DataFrame:
        """One clinical table for the consenting participants.

        Parameters
        ----------
        table
            ``patients``, ``conditions``, ``observations``, ``medications``, ``specimens``,
            ``questionnaire`` or ``survival``.
        dataset
            ``name@version`` of a clinical dataset; may be left out when there is only one.

        Returns
        -------
        pandas.DataFrame
            One row per participant-event, keyed by ``sample_id`` (the same pseudonyms as the
            genotypes, so the two join); birth dates are birth years, no direct identifiers.
        """
        kind = DatasetKind.CLINICAL
        frame: pd.DataFrame = self.source.open(dataset or self._only(kind), table, kind)
        return frame

    @contextmanager
    def cluster(self, profile: str | None = None) -> Iterator[Any]:
        """A Dask cluster from a ``compute.yaml`` profile (default: the policy's default), as
        a ``distributed.Client``; analyses inside the ``with`` run on it. Batch jobs are named
        after this project."""
        policy = load_policies(self.policy_dir).compute
        with compute.cluster(policy, profile, project=self.project) as client:
            yield client


def _spark(policy: ComputePolicy, name: str | None) -> tuple[str, dict[str, str]]:
    if name is None:
        spark = [n for n, profile in policy.profiles.items() if profile.kind == "spark"]
        if not spark:
            raise ConfigurationError("the Hail engine needs a spark profile in compute.yaml")
        name = spark[0]
    return compute.spark_master(policy, name)


def open_project(
    project: str | None = None,
    *,
    user: str | None = None,
    settings: Settings | None = None,
) -> ProjectHandle:
    """A handle on one approved project's governed data.

    In a session, the project and the user come from the session and cannot be changed; every
    open asks the hub's data service, which runs the gate and audits. On the host (stewards,
    tests, benchmarks) the gate runs in-process on the store the settings name.

    Parameters
    ----------
    project
        The project's slug; default ``$WGS_TRE_PROJECT`` (set in every session).
    user
        On the host, root only: act as this account (audited as root acting as it); default
        the account of the OS login (or of a ``wgs-tre login`` hub token), as in the CLI.
    settings
        Store and policy locations, on the host; default from the environment.

    Returns
    -------
    ProjectHandle
        Nothing is read yet: ``datasets()`` lists what the approval covers, ``variants()``
        opens genotypes as an xarray Dataset (dims variants, samples, ploidy; VCF Zarr names,
        ``sample_id`` are per-project pseudonyms) or a Hail MatrixTable, ``clinical(table)`` a
        pandas DataFrame keyed by ``sample_id``, ``cluster()`` a Dask cluster.

    Raises
    ------
    Refused
        With the reason (not a member, no approval, expired, ...), audited.
    ConfigurationError
        No project named and not in a session, or the store is not set up.
    """
    service = os.environ.get("WGS_TRE_DATA_SERVICE")
    token = os.environ.get("JUPYTERHUB_API_TOKEN")
    if service and token and settings is None:
        session_project = os.environ.get("WGS_TRE_PROJECT", "")
        if project not in (None, session_project):
            raise Refused(f"this session belongs to {session_project}; it cannot open {project}")
        who = os.environ.get("WGS_TRE_USER", "")
        source = _ServiceSource(service, token)
        return ProjectHandle(session_project, who, source, load_settings().policy_dir)
    slug = project or os.environ.get("WGS_TRE_PROJECT")
    if not slug:
        raise ConfigurationError(
            "no project: pass open_project('<project>') or run inside a project session"
        )
    config = settings or load_settings()
    store = Store(config.store_url)
    store.check_ready()
    identity = host_identity(user, audit_in=lambda: store)  # only root names another
    check_mapped(store, identity)
    gate = Gate(store, load_policies(config.policy_dir), identity)
    who = identity.account
    host = _HostSource(gate, who, slug, config.data_dir)
    return ProjectHandle(slug, who, host, config.policy_dir)
