"""Compute profiles: a real single-node Slurm runs a GWAS on dask-jobqueue workers through the
gate, a local Dask cluster gives the same numbers, and broken profiles are clear errors."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from distributed import get_task_stream

from tests.slurm import PARTITION, SlurmCluster
from tests.world import World
from wgs_tre import compute
from wgs_tre.consent import registry
from wgs_tre.errors import ConfigurationError, ExitCode, InvalidInput, PolicyError
from wgs_tre.genomics import gwas_linear, variant_stats
from wgs_tre.ingest.vcf import ingest_vcf
from wgs_tre.policy import load_policies
from wgs_tre.project import open_project
from wgs_tre.store import Store
from wgs_tre.synth import GenotypeSpec, make_cohort

REPO = Path(__file__).resolve().parent.parent
KERNEL = "linear-"  # task keys are <kernel name>-<token>
QC_KERNEL = "_variant_task-"

COMPUTE_YAML = f"""\
default: local
profiles:
  local:
    kind: local
    workers: 2
    threads: 1
    memory: 2GB
  slurm:
    kind: slurm
    queue: {PARTITION}
    account: "tre-{{project}}"
    cores: 1
    memory: 1GB
    walltime: "00:10:00"
    workers: 2
    scheduler_host: 127.0.0.1
    start_timeout_seconds: 120
    log_directory: {{logs}}
  hail:
    kind: spark
    master: local[1]
"""


@pytest.fixture(scope="module")
def slurm() -> Iterator[SlurmCluster]:
    server = SlurmCluster.start()
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(server.conf)  # what dask-jobqueue's sbatch/scancel read
    yield server
    if previous is None:
        os.environ.pop("SLURM_CONF", None)
    else:
        os.environ["SLURM_CONF"] = previous
    server.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    tmp = tmp_path_factory.mktemp("compute")
    policies = tmp / "policies"
    shutil.copytree(REPO / "policies", policies)
    (policies / "compute.yaml").write_text(COMPUTE_YAML.replace("{logs}", str(tmp / "jobs")))
    store = Store(f"sqlite:///{tmp / 'governance.db'}")
    store.upgrade()
    world = World.build(store, load_policies(policies), tmp)
    cohort = make_cohort(tmp / "cohort", GenotypeSpec(samples=200, variants=3_000, seed=11))
    ingest_vcf(world.ctx("sam"), cohort.vcf, "wgs", root=tmp / "datasets")
    registry.import_file(world.ctx("sam"), cohort.consent)
    world.approved("hpc-study", datasets=["wgs"])
    return world


def _traits(view: xr.Dataset) -> tuple[object, object]:
    import pandas as pd

    rng = np.random.default_rng(1)
    index = pd.Index([str(s) for s in view.sample_id.values])
    traits = pd.DataFrame({"height": rng.normal(170, 10, len(index))}, index=index)
    covariates = pd.DataFrame(
        {"age": rng.normal(50, 10, len(index)), "sex": rng.integers(0, 2, len(index))},
        index=index,
    )
    return traits, covariates


def test_a_gwas_runs_on_slurm_workers_through_the_gate(slurm: SlurmCluster, world: World) -> None:
    project = open_project("hpc-study", user="alice", settings=world.settings())
    view = project.variants()
    traits, covariates = _traits(view)
    expected = gwas_linear(view, traits, covariates, progress=False)

    with project.cluster("slurm") as client, get_task_stream(client) as stream:
        jobs = {job["id"]: job for job in slurm.jobs()}
        ours = gwas_linear(view, traits, covariates, progress=False)
        job_ids = set(client.run(lambda: os.environ.get("SLURM_JOB_ID")).values())

    # The workers were the project's Slurm jobs, named and accounted to it ...
    assert job_ids and job_ids <= set(jobs)
    for job_id in job_ids:
        assert jobs[job_id]["name"] == "wgs-tre-hpc-study"
        assert jobs[job_id]["account"] == "tre-hpc-study"
    # ... wrote their output where the profile says ...
    logs = world.tmp / "jobs"
    assert {p.name for p in logs.iterdir()} >= {f"wgs-tre-hpc-study-{j}.out" for j in job_ids}
    # ... they ran the analysis's kernels ...
    keys = [str(task["key"]) for task in stream.data]
    assert any(KERNEL in key for key in keys), keys[:5]
    # ... and got the numbers local threads get.
    for name in ("variant_linreg_beta", "variant_linreg_p_value"):
        np.testing.assert_allclose(ours[name].values, expected[name].values, rtol=1e-12)
    # Leaving the with ends the jobs.
    deadline = time.monotonic() + 30
    while any(job["state"] in ("RUNNING", "PENDING") for job in slurm.jobs()):
        assert time.monotonic() < deadline, slurm.jobs()
        time.sleep(0.5)


def test_a_local_cluster_gives_the_same_numbers(world: World) -> None:
    project = open_project("hpc-study", user="alice", settings=world.settings())
    view = project.variants()
    expected = variant_stats(view, progress=False)
    with (
        project.cluster() as client,  # the default profile: local, 2 worker processes
        get_task_stream(client) as stream,
    ):
        workers = set(client.scheduler_info()["workers"])
        assert len(workers) == 2
        ours = variant_stats(view, progress=False)
    # The analysis's kernels ran on the cluster's workers, not in this process's threads.
    ran = [task for task in stream.data if QC_KERNEL in str(task["key"])]
    assert ran and {task["worker"] for task in ran} <= workers, stream.data[:3]
    xr.testing.assert_identical(ours, expected)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("profiles:\n  x: {kind: kubernetes}\n", "profiles.x"),
        ("profiles:\n  x: {kind: local, memory: lots}\n", "profiles.x.local.memory"),
        ("profiles:\n  x: {kind: slurm, walltime: '1 hour'}\n", "profiles.x.slurm.walltime"),
        ("profiles:\n  x: {kind: slurm, account: '{user}'}\n", "placeholder {project}"),
        ("profiles:\n  x: {kind: spark, master: 'http://x'}\n", "profiles.x.spark.master"),
        ("default: big\nprofiles:\n  x: {kind: local}\n", "default: Value error, names no"),
    ],
)
def test_broken_compute_policies_name_the_field(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "compute.yaml").write_text(content)
    with pytest.raises(PolicyError) as error:
        load_policies(tmp_path)
    assert str(tmp_path / "compute.yaml") in error.value.message
    assert message in error.value.message


def test_profiles_are_chosen_by_name_with_clear_errors(tmp_path: Path) -> None:
    empty = load_policies(tmp_path).compute  # no compute.yaml: no profiles at all
    with pytest.raises(ConfigurationError, match="no compute profile named"):
        compute.profile(empty, None)
    (tmp_path / "compute.yaml").write_text(COMPUTE_YAML.replace("{logs}", str(tmp_path / "jobs")))
    policy = load_policies(tmp_path).compute
    assert compute.profile(policy, None).kind == "local"
    with pytest.raises(InvalidInput, match="not in compute.yaml .local, slurm, hail"):
        compute.profile(policy, "gpu")
    assert compute.spark_master(policy, "hail") == ("local[1]", {})
    with pytest.raises(InvalidInput, match="is a slurm profile, not Spark"):
        compute.spark_master(policy, "slurm")
    with (
        pytest.raises(InvalidInput, match="Spark profile"),
        compute.cluster(policy, "hail", project="p"),
    ):
        pass
    assert compute.job_name("brca study/2") == "wgs-tre-brca-study-2"


def test_pbs_jobs_carry_the_profile_and_the_project(tmp_path: Path) -> None:
    """PBS is not packaged for Debian, so no server runs here: the job script dask-jobqueue
    would hand to qsub is checked instead (the Slurm test above submits for real)."""
    (tmp_path / "compute.yaml").write_text(
        "profiles:\n"
        "  pbs:\n"
        "    kind: pbs\n"
        "    queue: workq\n"
        "    account: 'tre-{project}'\n"
        "    cores: 2\n"
        "    memory: 3GB\n"
        "    walltime: '02:30:00'\n"
        "    directives: ['-l place=scatter']\n"
        f"    log_directory: {tmp_path / 'jobs'}\n"
    )
    script = compute.job_script(load_policies(tmp_path).compute, "pbs", project="rare-disease")
    lines = set(script.splitlines())
    assert {
        "#PBS -N wgs-tre-rare-disease",
        "#PBS -q workq",
        "#PBS -A tre-rare-disease",
        "#PBS -l walltime=02:30:00",
        "#PBS -l place=scatter",
    } <= lines, script
    assert any(line.startswith("#PBS -l select=1:ncpus=2:mem=") for line in lines), script
    assert f"#PBS -e {tmp_path / 'jobs'}/" in script
    assert "--nthreads 2" in script and sys.executable in script


def test_stewards_see_profiles_and_job_scripts_from_the_cli(
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from wgs_tre.cli import main

    policies = tmp_path / "policies"
    shutil.copytree(REPO / "policies", policies)
    (policies / "compute.yaml").write_text(COMPUTE_YAML.replace("{logs}", str(tmp_path / "jobs")))
    monkeypatch.setenv("WGS_TRE_POLICY_DIR", str(policies))
    monkeypatch.setenv("WGS_TRE_DATA_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("WGS_TRE_DATABASE_URL", world.settings().database_url or "")
    assert main(["--json", "compute", "profiles"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(p["profile"], p["kind"], p["default"]) for p in listed] == [
        ("local", "local", True), ("slurm", "slurm", False), ("hail", "spark", False)
    ]  # fmt: skip
    assert main(["compute", "job-script", "slurm", "--project", "hpc-study"]) == 0
    script = capsys.readouterr().out
    assert "#SBATCH -J wgs-tre-hpc-study" in script and "#SBATCH -A tre-hpc-study" in script
    assert f"#SBATCH -p {PARTITION}" in script
    hail_script = ["compute", "job-script", "hail", "--project", "hpc-study"]
    assert main(hail_script) == ExitCode.INVALID_INPUT
    assert "only slurm and pbs profiles submit batch jobs" in capsys.readouterr().err
    # A project nobody applied for gets no script: its account would belong to no one.
    assert main(["compute", "job-script", "slurm", "--project", "hpc-stdy"]) == ExitCode.NOT_FOUND
    assert "no project named 'hpc-stdy'" in capsys.readouterr().err
