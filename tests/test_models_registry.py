"""The model registry through the real path: a Cox model fitted on a project's analysis table
is saved with its provenance, loaded only where the approval covers its data, refused when it
embeds training rows, flagged after a withdrawal; every fit, save and load audited. On the host
(``open_project`` in-process) and from a session (the real data service app)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from lifelines import CoxPHFitter
from lifelines.datasets import load_rossi
from sqlalchemy import func, select

from tests.airlock_cast import request_in
from tests.data_service import TOKEN, data_service
from tests.fhir_factory import bundle, consent
from tests.world import World
from wgs_tre import models, open_project, wire
from wgs_tre.access import Gate
from wgs_tre.cli import main
from wgs_tre.consent import registry as consents
from wgs_tre.consent.impact import impact
from wgs_tre.errors import IntegrityError, InvalidInput, Refused
from wgs_tre.governance import datasets
from wgs_tre.hub.accounts import ensure_project
from wgs_tre.models import governed
from wgs_tre.models.frame import AnalysisTable, Provenance
from wgs_tre.project import ProjectHandle
from wgs_tre.store.models import AuditEvent, RegisteredModel
from wgs_tre.types import DatasetKind, OutputRequestState

FEATURES = ("fin", "age", "race", "wexp", "mar", "paro", "prio")
PEOPLE = [f"P{i}" for i in range(1, 6)]


@pytest.fixture
def projects(world: World) -> World:
    """``trial@1`` holds P1..P5; prog-a's approval covers it, prog-b's covers only cohort@1.
    alice leads both, bob is a member of both."""
    consents.import_file(
        world.ctx("sam"), _consents(world, "initial", [consent(p) for p in PEOPLE])
    )
    data = world.tmp / "trial.txt"
    data.write_text("trial")
    datasets.register_version(
        world.ctx("sam"), "trial", data, kind=DatasetKind.VARIANTS, participants=PEOPLE
    )
    world.approved("prog-a", datasets=["trial"])
    world.approved("prog-b", datasets=["cohort"])
    return world


def _consents(world: World, name: str, resources: list[dict[str, object]]) -> Path:
    path = world.tmp / f"consent-{name}.json"
    path.write_text(json.dumps(bundle(*resources)))
    return path


def _handle(world: World, slug: str, user: str = "alice") -> ProjectHandle:
    return open_project(slug, user=user, settings=world.settings())


def _table(handle: ProjectHandle, slug: str = "prog-a") -> AnalysisTable:
    """Rossi's data as if read from ``trial@1`` of ``slug``: a governed table."""
    frame = load_rossi().rename(columns={"week": "time", "arrest": "event"})
    provenance = Provenance(slug, ("trial@1",), len(frame), int(frame["event"].sum()))
    recorder = governed.fit_recorder(handle, provenance.datasets)
    return AnalysisTable(frame, FEATURES, provenance, on_fit=recorder)


def _events(world: World, action: str) -> list[AuditEvent]:
    with world.store.session() as session:
        found = session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()
        for event in found:
            session.expunge(event)
        return list(found)


def _details(event: AuditEvent) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(event.details)
    return found


def _sent(document: dict[str, Any], dataset: str = "trial@1") -> dict[str, Any]:
    """A save as a session's code could send it to the data service, document and all."""
    return {"name": "crafted", "document": document, "datasets": [dataset], "code_version": "x",
            "metrics": {}, "data_read_at": "2026-01-01T00:00:00+00:00"}  # fmt: skip


def _models(world: World) -> int:
    with world.store.session() as session:
        return int(session.scalar(select(func.count()).select_from(RegisteredModel)) or 0)


def test_a_fit_is_audited_once_and_a_save_records_provenance(projects: World) -> None:
    handle = _handle(projects, "prog-a")
    fit = models.cox(_table(handle))
    (event,) = _events(projects, "model.fit")
    assert (event.actor, event.project, event.decision) == ("alice", "prog-a", "allowed")
    assert _details(event)["rows"] == 432 and _details(event)["events"] == 114
    assert _details(event)["features"] == list(FEATURES)

    metrics = {"cv_concordance": 0.63, "auc@9999": float("nan")}  # NaN: not computable
    entry = models.save(handle, fit, "rossi cox", metrics=metrics)
    assert "auc@9999" not in entry.metrics
    assert (entry.project, entry.datasets, entry.kind) == ("prog-a", ("trial@1",), "cox")
    assert (entry.participants, entry.events, entry.features) == (432, 114, FEATURES)
    assert entry.metrics["cv_concordance"] == 0.63
    assert entry.metrics["concordance"] == pytest.approx(fit.concordance)
    assert "wgs-tre" in entry.code_version and "lifelines" in entry.code_version
    assert not entry.flagged and entry.saved_by == "alice"
    stored = projects.tmp / "models" / "prog-a" / f"{entry.ref}.json"
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == entry.sha256
    document = json.loads(stored.read_bytes())
    assert document["kind"] == "cox" and document["features"] == list(FEATURES)
    (saved,) = _events(projects, "model.save")
    assert (saved.actor, saved.project, _details(saved)["ref"]) == ("alice", "prog-a", entry.ref)
    assert _details(saved)["sha256"] == entry.sha256
    # The record as the store holds it, read back plainly.
    with projects.store.session() as session:
        row = session.scalars(select(RegisteredModel)).one()
        assert [v.label for v in row.dataset_versions] == ["trial@1"]
        assert (row.participants, row.events, row.sha256) == (432, 114, entry.sha256)


def test_a_model_loads_only_where_the_approval_covers_its_data(projects: World) -> None:
    fit = models.cox(_table(_handle(projects, "prog-a")))
    entry = models.save(_handle(projects, "prog-a"), fit, "rossi cox")
    loaded = models.load(_handle(projects, "prog-a", user="bob"), entry.ref)
    frame = load_rossi()
    np.testing.assert_allclose(loaded.predict_risk(frame), fit.predict_risk(frame), rtol=1e-12)
    (event,) = _events(projects, "model.load")
    assert (event.actor, event.project, event.decision) == ("bob", "prog-a", "allowed")
    assert _details(event)["ref"] == entry.ref

    with pytest.raises(Refused, match="does not cover trial@1"):
        models.load(_handle(projects, "prog-b"), entry.ref)
    refused = _events(projects, "model.load")[-1]
    assert (refused.actor, refused.project, refused.decision) == ("alice", "prog-b", "refused")
    assert "does not cover trial@1" in refused.reason


def test_a_model_embedding_training_rows_is_refused(projects: World) -> None:
    handle = _handle(projects, "prog-a")
    frame = load_rossi()
    fitter = CoxPHFitter().fit(frame, "week", "arrest")  # keeps its training data
    with pytest.raises(InvalidInput, match="durations"):
        models.save(handle, fitter, "raw lifelines")
    # A document that carries a value per participant, sent as a session would: refused on
    # the host's side too, and nothing is kept.
    fit = models.cox(_table(handle))
    document = fit.to_document()
    document["parameters"]["baseline_times"] = [float(t) for t in frame["week"]]
    document["parameters"]["baseline_survival"] = [0.5] * len(frame)
    ctx, data_dir = handle.host_governance()  # type: ignore[misc]
    with pytest.raises(InvalidInput):
        governed.save_body(ctx, "prog-a", _sent(document), data_dir / "models")
    assert _models(projects) == 0 and _events(projects, "model.save") == []
    assert not list((data_dir / "models").rglob("*.json"))


def test_a_plain_table_model_has_no_provenance_to_save(projects: World) -> None:
    fit = models.cox(load_rossi(), time="week", event="arrest")
    with pytest.raises(InvalidInput, match="plain table"):
        models.save(_handle(projects, "prog-a"), fit, "no provenance")


def test_a_withdrawal_after_training_flags_the_model(projects: World) -> None:
    handle = _handle(projects, "prog-a")
    entry = models.save(handle, models.cox(_table(handle)), "rossi cox")
    assert [m.flagged for m in models.registered(handle)] == [False]
    leaving = consent("P2", fhir_id="consent-P2", version="2", status="inactive",
                      when="2026-06-01T09:00:00+09:00")  # fmt: skip
    consents.import_file(projects.ctx("sam"), _consents(projects, "withdrawal", [leaving]))
    (listed,) = models.registered(handle)
    assert (listed.ref, listed.withdrawals_since, listed.flagged) == (entry.ref, 1, True)
    with pytest.warns(UserWarning, match="1 participant"):
        models.load(handle, entry.ref)
    assert models.registered(_handle(projects, "prog-a", user="bob"))[0].flagged
    assert models.registered(_handle(projects, "prog-b", user="carol")) == []


def test_a_document_changed_on_disk_is_refused_on_load(projects: World) -> None:
    handle = _handle(projects, "prog-a")
    entry = models.save(handle, models.cox(_table(handle)), "rossi cox")
    stored = projects.tmp / "models" / "prog-a" / f"{entry.ref}.json"
    stored.write_bytes(stored.read_bytes().replace(b'"cox"', b'"cox" '))
    with pytest.raises(IntegrityError, match="changed"):
        models.load(handle, entry.ref)


@pytest.fixture
def session(projects: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """alice's session of prog-a, calling the real data service app with its token."""
    if os.geteuid() != 0:
        pytest.skip("project workspaces need root")
    sessions = projects.tmp / "sessions"
    workspace = ensure_project("prog-a", sessions).workspace
    gate = Gate(projects.store, projects.policies)
    area = projects.tmp / "models"
    others = {"b-token": ("alice", "prog-b")}
    with data_service(gate, sessions, "alice", "prog-a", others, models_area=area) as url:
        monkeypatch.setenv("WGS_TRE_DATA_SERVICE", url)
        monkeypatch.setenv("JUPYTERHUB_API_TOKEN", TOKEN)
        monkeypatch.setenv("WGS_TRE_PROJECT", "prog-a")
        monkeypatch.chdir(workspace)
        yield projects


def test_from_a_session_fits_saves_and_loads_go_through_the_service(
    session: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    handle = open_project()
    assert handle.host_governance() is None
    fit = models.cox(_table(handle))
    assert [e.actor for e in _events(session, "model.fit")] == ["alice"]
    entry = models.save(handle, fit, "from the session")
    assert (entry.project, entry.datasets) == ("prog-a", ("trial@1",))
    assert [m.ref for m in models.registered(handle)] == [entry.ref]
    loaded = models.load(handle, entry.ref)
    np.testing.assert_allclose(loaded.predict_risk(load_rossi()), fit.predict_risk(load_rossi()))
    assert [e.project for e in _events(session, "model.load")] == ["prog-a"]
    # prog-b's session: its approval does not cover trial@1.
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "b-token")
    monkeypatch.setenv("WGS_TRE_PROJECT", "prog-b")
    with pytest.raises(Refused, match="does not cover trial@1"):
        models.load(open_project(), entry.ref)
    # A lifelines fitter never leaves the session.
    with pytest.raises(InvalidInput, match="durations"):
        models.save(open_project(), CoxPHFitter().fit(load_rossi(), "week", "arrest"), "raw")
    assert _models(session) == 1


def test_a_boosted_model_round_trips_through_the_registry(projects: World) -> None:
    handle = _handle(projects, "prog-a")
    fit = models.boosted_forest(_table(handle), n_estimators=20)
    entry = models.save(handle, fit, "rossi boosted")
    assert (entry.kind, entry.features) == ("gradient_boosting", FEATURES)
    loaded = models.load(handle, entry.ref)
    frame = load_rossi()
    np.testing.assert_array_equal(loaded.predict_risk(frame), fit.predict_risk(frame))
    assert [_details(e)["model"] for e in _events(projects, "model.fit")] == ["forest"]


def test_stewards_see_every_model_and_its_flag_in_the_cli(
    projects: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    handle = _handle(projects, "prog-a")
    entry = models.save(handle, models.cox(_table(handle)), "rossi cox")
    leaving = consent("P4", fhir_id="consent-P4", version="2", status="inactive",
                      when="2026-06-01T09:00:00+09:00")  # fmt: skip
    consents.import_file(projects.ctx("sam"), _consents(projects, "withdrawal", [leaving]))
    for key, value in projects.cli_env("sam").items():
        monkeypatch.setenv(key, value)
    capsys.readouterr()
    assert main(["--json", "models", "list"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["ref"], listed["project"], listed["withdrawals_since"]) == (
        entry.ref,
        "prog-a",
        1,
    )
    assert main(["models", "show", entry.ref]) == 0
    shown = capsys.readouterr().out
    assert "FLAGGED" in shown and entry.sha256 in shown and "trial@1" in shown
    monkeypatch.setenv("WGS_TRE_AS", "eve")  # an expert panel member: no model.list
    assert main(["models", "list"]) == 4


def test_a_session_posting_its_own_document_is_checked_on_the_host(session: World) -> None:
    """Code in a session can send the service anything: a document carrying pseudonyms, or
    one that claims data its project's approval does not cover, is refused there."""
    fit = models.cox(_table(open_project()))
    url, token = wire.session_service()  # type: ignore[misc]
    with_ids = fit.to_document()
    with_ids["options"] = {"note": "s" + "a" * 24}  # the shape of a per-project pseudonym
    with pytest.raises(InvalidInput, match="pseudonym"):
        wire.call(url, token, "api/models", _sent(with_ids))
    with pytest.raises(Refused, match="does not cover cohort@1"):
        wire.call(url, token, "api/models", _sent(fit.to_document(), "cohort@1"))
    assert _models(session) == 0


def test_a_withdrawal_impact_report_names_the_models_and_the_releases(projects: World) -> None:
    """The steward's report of what a withdrawal touches: the models trained on the person's
    dataset versions, and what the projects approved to use them have released."""
    handle = _handle(projects, "prog-a")
    entry = models.save(handle, models.cox(_table(handle)), "rossi cox")
    released = request_in(projects, OutputRequestState.RELEASED, slug="prog-a")
    request_in(projects, OutputRequestState.RELEASED, slug="prog-b")  # cohort@1 only
    report = impact(projects.ctx("sam"), "P3")
    assert report.models == [f"{entry.ref} (prog-a)"]
    assert report.released_outputs == [f"{released} (prog-a)"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p["children_left"][0].__setitem__(0, 0), "points back"),
        (lambda p: p["feature"][0].__setitem__(0, 99), "does not have"),
        (lambda p: p.pop("threshold"), "threshold"),
        (lambda p: p["value"].pop(), "differ in shape"),
    ],
    ids=["loop", "feature", "missing", "shape"],
)
def test_a_crafted_boosted_document_is_refused_on_the_host(
    projects: World, change: Any, message: str
) -> None:
    """A session's document must describe trees a prediction can walk to the end: a node that
    points back to itself would never finish."""
    handle = _handle(projects, "prog-a")
    document = models.boosted_forest(_table(handle), n_estimators=3).to_document()
    change(document["parameters"])
    ctx, data_dir = handle.host_governance()  # type: ignore[misc]
    with pytest.raises(InvalidInput, match=message):
        governed.save_body(ctx, "prog-a", _sent(document), data_dir / "models")
    assert _models(projects) == 0
