"""Writing a view is a job of the data service, which a session follows with progress.

The data service runs for real (tests/data_service.py: its tornado app, with the hub's token
check standing in); the session's client is the real one. ``answer_within=0`` makes every open
a job, as a view of 10,000 x 1,000,000 is in production.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.data_service import TOKEN, data_service
from tests.world import World
from wgs_tre.access import Gate
from wgs_tre.consent import registry
from wgs_tre.dispense.variants import VariantsDispenser
from wgs_tre.errors import IntegrityError, NotFound
from wgs_tre.ingest.vcf import ingest_vcf
from wgs_tre.policy import load_policies
from wgs_tre.project import _ServiceSource, open_project
from wgs_tre.services.jobs import Jobs
from wgs_tre.store import Store
from wgs_tre.synth import GenotypeSpec, make_cohort

REPO = Path(__file__).resolve().parent.parent
OTHER_TOKEN = "other-project-token"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    tmp = tmp_path_factory.mktemp("jobs")
    store = Store(f"sqlite:///{tmp / 'governance.db'}")
    store.upgrade()
    world = World.build(store, load_policies(REPO / "policies"), tmp)
    cohort = make_cohort(tmp / "cohort", GenotypeSpec(samples=200, variants=25_000, seed=3))
    ingest_vcf(world.ctx("sam"), cohort.vcf, "wgs", root=tmp / "datasets")
    registry.import_file(world.ctx("sam"), cohort.consent)
    world.approved("study", datasets=["wgs"])
    return world


@pytest.fixture
def service(world: World, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    sessions = tmp_path / "sessions"
    others = {OTHER_TOKEN: ("bob", "other-study")}
    gate = Gate(world.store, world.policies)
    with data_service(gate, sessions, "alice", "study", others, answer_within=0) as url:
        yield url, sessions


def test_a_session_follows_the_job_and_gets_the_same_view(
    world: World, service: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, sessions = service
    client = _ServiceSource(url, TOKEN)
    started = client._call("api/open", {"dataset": "wgs"})
    assert isinstance(started, dict) and started["state"] == "running" and started["path"] is None
    seen, job = [], started
    while job["state"] == "running":
        seen.append((job["done"], job["total"]))
        answer = client._call(f"api/jobs/{started['job']}", None)
        assert isinstance(answer, dict)
        job = answer
    assert job["state"] == "done" and job["done"] == job["total"] > 0
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)  # progress only goes forward
    assert any(0 < done < total for done, total in seen)  # and was seen part-way
    assert Path(job["path"]).is_dir() and not list(sessions.rglob(".writing-*"))

    monkeypatch.setenv("WGS_TRE_DATA_SERVICE", url)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", TOKEN)
    monkeypatch.setenv("WGS_TRE_PROJECT", "study")
    monkeypatch.setenv("WGS_TRE_USER", "alice")
    in_session = open_project().variants("wgs")  # the real client, through a job again
    on_host = open_project("study", user="alice", settings=world.settings()).variants("wgs")
    assert list(in_session.sample_id.values) == list(on_host.sample_id.values)
    np.testing.assert_array_equal(in_session.call_genotype.values, on_host.call_genotype.values)


def test_another_projects_session_cannot_see_the_job(service: tuple[str, Path]) -> None:
    url, _ = service
    started = _ServiceSource(url, TOKEN)._call("api/open", {"dataset": "wgs"})
    assert isinstance(started, dict)
    with pytest.raises(NotFound, match="materialisation job"):
        _ServiceSource(url, OTHER_TOKEN)._call(f"api/jobs/{started['job']}", None)


def test_a_failed_write_reaches_the_session_as_its_error_and_leaves_nothing(
    service: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, sessions = service

    def broken(self: VariantsDispenser, grant: object, directory: Path, progress: object) -> None:
        (directory / "half.zarr").write_text("half a view")
        raise IntegrityError("wgs@1 differs from what was registered")

    monkeypatch.setattr(VariantsDispenser, "write", broken)
    with pytest.raises(IntegrityError, match="differs from what was registered"):
        _ServiceSource(url, TOKEN, poll_seconds=0.05).open("wgs", None, None)
    assert [p.name for p in sessions.rglob("*") if "wgs" in p.name] == []


def test_a_second_request_joins_the_running_job() -> None:
    jobs, release = Jobs(), threading.Event()
    writes: list[Path] = []

    def work(progress: object) -> Path:
        release.wait(10)
        writes.append(Path("/dispensal/wgs-v1-abc"))
        return writes[-1]

    target = Path("/dispensal/wgs-v1-abc")
    first = jobs.start(target, "study", "wgs@1", "variants", work)
    second = jobs.start(target, "study", "wgs@1", "variants", work)
    assert second is first and first.state == "running"
    release.set()
    assert first.finished.wait(10) and first.state == "done" and len(writes) == 1
    with pytest.raises(NotFound):
        jobs.get(first.id, "other-study")
    assert jobs.get(first.id, "study") is first


def test_a_job_the_service_forgot_is_asked_for_again(service: tuple[str, Path]) -> None:
    """A restarted data service knows no job: the session opens the dataset again."""
    url, _ = service
    forgotten = {"job": "feed", "dataset": "wgs@1", "kind": "variants", "state": "running"}
    done = _ServiceSource(url, TOKEN, poll_seconds=0.05)._follow(
        {**forgotten, "done": 0, "total": 0}
    )
    assert done["state"] == "done" and Path(done["path"]).is_dir()
