"""A dataset kind is one module and one registration. This file adds a kind the library does
not know (daily step counts from wearables, as CSV) and a project dispenses it end to end: the
view on the host, materialised by the data service for a session, read back in the session
through ``open_project()``; nothing outside this file changes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from tests.data_service import TOKEN, data_service
from tests.fhir_factory import bundle, consent
from tests.world import World
from wgs_tre.access import Gate, Grant, pseudonym
from wgs_tre.consent import registry
from wgs_tre.dispense import Dispenser, Progress, dispenser_for, register
from wgs_tre.errors import InvalidInput
from wgs_tre.governance import datasets
from wgs_tre.project import open_project
from wgs_tre.store.models import Project, ProjectKey
from wgs_tre.types import DatasetKind


class StepCounts(Dispenser):
    kind = "step_counts"
    description = "daily step counts from wearables, as CSV"

    def view(self, grant: Grant, part: str | None = None) -> pd.DataFrame:
        frame = pd.read_csv(Path(grant.uri) / "steps.csv", dtype={"participant_id": str})
        frame = frame[frame["participant_id"].isin(grant.participants)]
        frame.insert(0, "sample_id", [pseudonym(grant.key, p) for p in frame["participant_id"]])
        frame = frame.drop(columns="participant_id").sort_values("sample_id")
        return frame.reset_index(drop=True)

    def write(self, grant: Grant, directory: Path, progress: Progress | None = None) -> None:
        self.view(grant).to_csv(directory / "steps.csv", index=False)

    def read(self, directory: Path, part: str | None = None) -> pd.DataFrame:
        return pd.read_csv(directory / "steps.csv")


register(StepCounts())

PARTICIPANTS = [f"P{i:06d}" for i in range(6)]
CONSENTED = PARTICIPANTS[:4]  # P000004 and P000005 never consented


@pytest.fixture
def study(world: World, tmp_path: Path) -> World:
    release = tmp_path / "steps-release"
    release.mkdir()
    steps = pd.DataFrame({"participant_id": PARTICIPANTS, "steps": range(1000, 7000, 1000)})
    steps.to_csv(release / "steps.csv", index=False)
    consents = tmp_path / "consents.json"
    consents.write_text(json.dumps(bundle(*(consent(p) for p in CONSENTED))))
    registry.import_file(world.ctx("sam"), consents)
    kind = DatasetKind.parse("step_counts")
    datasets.register_version(
        world.ctx("sam"), "steps", release, kind=kind, participants=PARTICIPANTS
    )
    world.approved("wear-study", datasets=["steps"])
    return world


def _expected(world: World) -> pd.DataFrame:
    """Independently of the dispenser: the consented rows under the project's key."""
    with world.store.session() as session:
        project = session.scalar(select(Project).where(Project.slug == "wear-study"))
        assert project is not None
        key = session.get(ProjectKey, project.id)
        assert key is not None
        names = [pseudonym(key.key, p) for p in CONSENTED]
    steps = [1000 * (i + 1) for i in range(len(CONSENTED))]
    frame = pd.DataFrame({"sample_id": names, "steps": steps})
    return frame.sort_values("sample_id").reset_index(drop=True)


def test_a_new_kind_is_dispensed_on_the_host_and_in_a_session(
    study: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = open_project("wear-study", user="alice", settings=study.settings())
    assert host.datasets() == [("steps@1", "step_counts")]
    on_host = host.open("steps")
    pd.testing.assert_frame_equal(on_host, _expected(study))
    assert study.last_event().dataset == "steps@1"  # the gate audited the grant

    sessions = tmp_path / "sessions"
    with data_service(Gate(study.store, study.policies), sessions, "alice", "wear-study") as url:
        monkeypatch.setenv("WGS_TRE_DATA_SERVICE", url)
        monkeypatch.setenv("JUPYTERHUB_API_TOKEN", TOKEN)
        monkeypatch.setenv("WGS_TRE_PROJECT", "wear-study")
        monkeypatch.setenv("WGS_TRE_USER", "alice")
        in_session = open_project().open("steps")
    pd.testing.assert_frame_equal(in_session, _expected(study))
    (written,) = sessions.rglob("steps-v1-*")  # in the project's dispensal
    assert [p.name for p in written.iterdir()] == ["steps.csv"]
    assert (
        oct(os.stat(written / "steps.csv").st_mode & 0o777) == "0o640"
    )  # the project's, read-only


def test_opening_a_dataset_as_another_kind_is_a_clear_error(study: World) -> None:
    handle = open_project("wear-study", user="alice", settings=study.settings())
    with pytest.raises(InvalidInput, match="steps@1: is step_counts data, not variants"):
        handle.variants("steps")


def test_kinds_are_registered_once_and_unknown_ones_are_named() -> None:
    assert "step_counts" in DatasetKind.registered()
    assert isinstance(dispenser_for("step_counts"), StepCounts)
    with pytest.raises(InvalidInput, match="unknown dataset kind 'pedigrees'; registered kinds"):
        DatasetKind.parse("pedigrees")
    with pytest.raises(InvalidInput, match="nothing dispenses it"):
        dispenser_for("pedigrees")

    class Imposter(StepCounts):
        pass

    with pytest.raises(ValueError, match="dispensed by StepCounts already"):
        register(Imposter())
