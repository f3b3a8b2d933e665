"""The model registry from inside real sessions, as a curious researcher would try it: a model
saved from one project's session is kept outside every sandbox (its document cannot be read
from a session), is loaded back through the data service, and is refused to a session whose
project's approval does not cover the data it was trained on; a session cannot hand the
service a pickle or a document of rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.hub.harness import Hub
from tests.world import World
from wgs_tre.store.models import AuditEvent, RegisteredModel

FIT_AND_SAVE = """
import numpy as np, pandas as pd
from wgs_tre import models, open_project
project = open_project()
rng = np.random.default_rng(3)
x = rng.normal(size=400)
time = rng.exponential(100 / np.exp(0.5 * x))
frame = pd.DataFrame({"time": time, "event": rng.random(400) < 0.8, "x": x})
provenance = models.Provenance(project.project, ("wgs@1",), 400, int(frame["event"].sum()))
audit = models.governed.fit_recorder(project, provenance.datasets)  # as analysis_table's do
fit = models.cox(models.AnalysisTable(frame, ("x",), provenance, on_fit=audit))
entry = models.save(project, fit, "session model")
print(entry.ref, round(float(fit.coefficients["x"]), 6))
"""

ATTEMPTS = """
import base64, json, os, pickle
from wgs_tre import models, open_project, wire
from wgs_tre.errors import WgsTreError
ref = %REF%
found = {}
try:
    models.load(open_project(), ref)
    found["load"] = "loaded"
except WgsTreError as error:
    found["load"] = type(error).__name__ + ": " + error.message
url, token = wire.session_service()
body = {"name": "pickle", "datasets": ["cohort@1"], "code_version": "x", "metrics": {},
        "data_read_at": "2026-01-01T00:00:00+00:00",
        "document": base64.b64encode(pickle.dumps({"a": 1})).decode()}
try:
    wire.call(url, token, "api/models", body)
    found["pickle"] = "accepted"
except WgsTreError as error:
    found["pickle"] = type(error).__name__
try:
    open(%PATH%).read()
    found["read"] = "read"
except OSError as error:
    found["read"] = type(error).__name__
print(json.dumps(found))
"""


@pytest.fixture(scope="module", autouse=True)
def data_dir(hub_data_dir: Path) -> Path:
    """The hub's data directory (where the registry keeps documents), set before it starts."""
    return hub_data_dir


def test_a_model_saved_in_one_session_is_governed_in_the_others(
    hub: Hub, hub_world: World, data_dir: Path
) -> None:
    assert hub.start_server("alice", "brca-study")[0] == 201
    ref, coefficient = hub.execute("alice", "brca-study", FIT_AND_SAVE).split()
    stored = data_dir / "models" / "brca-study" / f"{ref}.json"
    document = json.loads(stored.read_text())
    assert document["kind"] == "cox" and document["parameters"]["coefficients"] == [
        pytest.approx(float(coefficient), abs=1e-6)
    ]
    with hub_world.store.session() as session:
        row = session.scalars(select(RegisteredModel).where(RegisteredModel.ref == ref)).one()
        assert (row.project.slug, row.saved_by.username) == ("brca-study", "alice")
        actions = [e.action for e in session.scalars(select(AuditEvent).where(
            AuditEvent.actor == "alice", AuditEvent.project == "brca-study"))]  # fmt: skip
    assert "model.fit" in actions and "model.save" in actions

    # carol's project is approved for cohort@1 only: the model (trained on wgs@1) is not hers
    assert hub.start_server("carol", "carol-study")[0] == 201
    code = ATTEMPTS.replace("%REF%", repr(ref)).replace("%PATH%", repr(str(stored)))
    found = json.loads(hub.execute("carol", "carol-study", code))
    assert found["load"].startswith("Refused: ") and "does not cover wgs@1" in found["load"]
    assert found["pickle"] == "InvalidInput"
    assert found["read"] in ("FileNotFoundError", "PermissionError")
    # alice's own session cannot read the document either: it is outside every sandbox
    code = ATTEMPTS.replace("%REF%", repr(ref)).replace("%PATH%", repr(str(stored)))
    found = json.loads(hub.execute("alice", "brca-study", code))
    assert found["load"] == "loaded"
    assert found["read"] in ("FileNotFoundError", "PermissionError")
    with hub_world.store.session() as session:
        assert (
            session.scalars(select(RegisteredModel)).all() == [row]
            or len(session.scalars(select(RegisteredModel)).all()) == 1
        )
