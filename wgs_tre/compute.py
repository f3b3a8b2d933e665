"""Compute clusters from ``policies/compute.yaml``: local Dask, Slurm or PBS via dask-jobqueue,
and Hail on Spark.

A researcher names a profile, never a scheduler's options: the stewards' policy decides queues,
sizes and accounts. Batch jobs carry the project (job name ``wgs-tre-<project>``, and the account
if the profile's template uses ``{project}``), so the site's accounting sees which project used
what. The client a cluster yields is Dask's default, so every ``wgs_tre.genomics`` analysis
inside the ``with`` runs on its workers, with a progress bar.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator
from typing import Any

from wgs_tre.errors import ConfigurationError, InvalidInput
from wgs_tre.policy import ComputePolicy, ComputeProfile, JobQueueProfile, LocalProfile

__all__ = ["cluster", "job_name", "job_script", "profile", "spark_master"]


def job_name(project: str) -> str:
    """The batch job name for a project's workers: what ``squeue``/``qstat`` and accounting show."""
    return "wgs-tre-" + re.sub(r"[^A-Za-z0-9_.-]", "-", project)


def profile(policy: ComputePolicy, name: str | None) -> ComputeProfile:
    """The profile called ``name`` (default: the policy's default), or a clear error."""
    chosen = name or policy.default
    available = ", ".join(policy.profiles) or "none"
    if chosen is None:
        raise ConfigurationError(
            f"no compute profile named and no default in compute.yaml (profiles: {available})"
        )
    if chosen not in policy.profiles:
        raise InvalidInput(f"compute profile {chosen!r}", f"not in compute.yaml ({available})")
    return policy.profiles[chosen]


def _local(chosen: LocalProfile) -> Any:
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=chosen.workers,
        threads_per_worker=chosen.threads,
        memory_limit=chosen.memory,
        processes=True,
        dashboard_address=":0",
    )


def _job_queue(chosen: JobQueueProfile, project: str) -> Any:
    try:
        from dask_jobqueue.pbs import PBSCluster
        from dask_jobqueue.slurm import SLURMCluster
    except ImportError:
        raise ConfigurationError(
            "batch-scheduler profiles need dask-jobqueue: pip install 'wgs-tre[hpc]'"
        ) from None
    kind = SLURMCluster if chosen.kind == "slurm" else PBSCluster
    scheduler = {"host": chosen.scheduler_host} if chosen.scheduler_host else {}
    return kind(
        queue=chosen.queue,
        account=chosen.account.format(project=project) if chosen.account else None,
        cores=chosen.cores,
        processes=1,
        memory=chosen.memory,
        walltime=chosen.walltime,
        job_name=job_name(project),
        job_extra_directives=list(chosen.directives),
        log_directory=chosen.log_directory,
        python=sys.executable,
        scheduler_options={**scheduler, "dashboard_address": ":0"},
    )


def job_script(policy: ComputePolicy, name: str | None = None, *, project: str) -> str:
    """The batch script a Slurm or PBS profile submits for one of ``project``'s workers, for
    stewards checking a profile before researchers use it. Nothing is submitted."""
    chosen = profile(policy, name)
    if not isinstance(chosen, JobQueueProfile):
        raise InvalidInput(
            f"compute profile {name or policy.default!r}",
            f"is a {chosen.kind} profile; only slurm and pbs profiles submit batch jobs",
        )
    with _job_queue(chosen, project) as built:
        return str(built.job_script())


@contextlib.contextmanager
def cluster(policy: ComputePolicy, name: str | None = None, *, project: str) -> Iterator[Any]:
    """Start the profile's cluster for ``project`` and yield a ``distributed.Client`` on it;
    leaving the ``with`` stops the workers (and cancels their batch jobs)."""
    from distributed import Client

    chosen = profile(policy, name)
    if chosen.kind == "spark":
        raise InvalidInput(
            f"compute profile {name or policy.default!r}",
            "is a Spark profile: use it with variants(engine='hail', compute=...)",
        )
    built = _local(chosen) if chosen.kind == "local" else _job_queue(chosen, project)
    with built, Client(built, set_as_default=True) as client:
        if isinstance(chosen, JobQueueProfile):
            if chosen.max_workers:
                built.adapt(minimum=chosen.workers, maximum=chosen.max_workers)
            else:
                built.scale(chosen.workers)
            _wait_for_a_worker(client, chosen)
        yield client


def _wait_for_a_worker(client: Any, chosen: JobQueueProfile) -> None:
    """Block until one batch job has started a worker, so a wrong queue or a full cluster is an
    error here rather than an analysis that waits forever."""
    try:
        client.wait_for_workers(1, timeout=chosen.start_timeout_seconds)
    except TimeoutError:
        raise ConfigurationError(
            f"no {chosen.kind} worker started within {chosen.start_timeout_seconds} s "
            f"(queue {chosen.queue or 'default'}); check the jobs with "
            + ("squeue" if chosen.kind == "slurm" else "qstat")
        ) from None


def spark_master(policy: ComputePolicy, name: str | None = None) -> tuple[str, dict[str, str]]:
    """A Spark profile's master URL and Spark configuration, for Hail."""
    chosen = profile(policy, name)
    if chosen.kind != "spark":
        raise InvalidInput(
            f"compute profile {name or policy.default!r}", f"is a {chosen.kind} profile, not Spark"
        )
    conf = {"spark.driver.memory": chosen.driver_memory} if chosen.driver_memory else {}
    return chosen.master, conf
