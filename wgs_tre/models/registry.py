"""The model registry, on the host: governed steps that keep fitted models with their provenance.

A model is kept as its document (``to_document()``: JSON numbers and feature names, never a
pickle, so loading one runs no code), written whole under ``<data_dir>/models/<project>/`` and
hashed. Its record names the project it was trained in, the dataset versions it read (each must
be covered by that project's approval), the number of participants and events, its features,
the code that fitted it and its metrics.

- ``model.fit``, ``model.save``, ``model.load``: active members of the project, each audited;
- a load is refused unless the loading project's approval covers every dataset version the
  model was trained on (a model is derived from its data: it goes where the data may go);
- a consent withdrawal imported after the model's data was read, of a participant in one of
  its dataset versions, flags the model (``withdrawals_since``): it was trained on data that
  may no longer be used, and the stewards decide what to do with it.

In a session the same steps are reached through the data service (``wgs_tre.models.governed``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select

from wgs_tre.consent.impact import model_withdrawals
from wgs_tre.errors import IntegrityError, InvalidInput, NotFound, Refused
from wgs_tre.governance.context import Context, Tx
from wgs_tre.governance.lookup import get_project
from wgs_tre.governance.projects import visible
from wgs_tre.governance.refs import random_ref
from wgs_tre.governance.rules import ProjectAccess
from wgs_tre.models.leaks import KINDS
from wgs_tre.models.portable import FORMAT
from wgs_tre.store.models import (
    DatasetVersion,
    RegisteredModel,
)
from wgs_tre.types import Action

__all__ = ["ModelEntry", "load", "record_fit", "registered", "save"]

MAX_DOCUMENT = 64 * 1024 * 1024  # bytes; a boosted model of a few thousand trees fits


@dataclass(frozen=True)
class ModelEntry:
    """A registered model as people see it: its provenance, never its numbers."""

    ref: str
    name: str
    kind: str
    project: str
    datasets: tuple[str, ...]
    participants: int
    events: int
    features: tuple[str, ...]
    code_version: str
    metrics: dict[str, Any]
    sha256: str
    saved_by: str
    saved_at: dt.datetime
    data_read_at: dt.datetime
    withdrawals_since: int  # participants of its versions who withdrew after its data was read

    @property
    def flagged(self) -> bool:
        return self.withdrawals_since > 0

    def __str__(self) -> str:
        flag = f"; FLAGGED: {self.withdrawals_since} withdrawal(s) since" if self.flagged else ""
        return (
            f"{self.ref} {self.name!r} ({self.kind}, project {self.project}, "
            f"{', '.join(self.datasets)}; {self.participants} participants, {self.events} "
            f"events, {len(self.features)} features{flag})"
        )


def record_fit(ctx: Context, project: str, fit: Mapping[str, Any]) -> None:
    """The audit event of one fit: the model, its features and the numbers of participants and
    events (never a row)."""
    details = {
        "model": str(fit.get("model", ""))[:40],
        "features": [str(f)[:100] for f in fit.get("features", [])][:500],
        "rows": int(fit.get("participants", 0)),  # a count: audit keys never say "participant"
        "events": int(fit.get("events", 0)),
        "datasets": [str(d)[:100] for d in fit.get("datasets", [])][:20],
    }
    with ctx.transaction(Action.MODEL_FIT, project=project) as tx:
        tx.audit(f"{details['model']} fitted", details=details)


def _envelope(document: Mapping[str, Any]) -> tuple[str, list[str], int, int]:
    """The document's kind, features, participants and events, or a clear refusal."""
    if not isinstance(document, Mapping) or document.get("format") != FORMAT:
        raise InvalidInput("model", f"not a model document (format {FORMAT}): save a model "
                           "fitted by wgs_tre.models")  # fmt: skip
    kind, features = document.get("kind"), document.get("features")
    if kind not in KINDS:
        raise InvalidInput("model", f"unknown kind {kind!r}; the registry keeps {', '.join(KINDS)}")
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise InvalidInput("model", "its features must be a list of names")
    counts = [document.get("participants"), document.get("events")]
    if not all(isinstance(c, int) and c >= 0 for c in counts):
        raise InvalidInput("model", "its numbers of participants and events are missing")
    return str(kind), features, int(counts[0]), int(counts[1])  # type: ignore[arg-type]


def _covered(tx: Tx, labels: Sequence[str]) -> list[DatasetVersion]:
    """The dataset versions named, each covered by the approval in force of ``tx``'s project."""
    access = tx.found
    assert isinstance(access, ProjectAccess)
    approved = {v.label: v for v in access.approval.dataset_versions}
    missing = [label for label in labels if label not in approved]
    if missing:
        raise Refused(
            f"project {tx.project}'s approval does not cover {', '.join(missing)}, "
            "which the model was trained on"
        )
    return [approved[label] for label in labels]


def _write(area: Path, project: str, ref: str, content: bytes) -> Path:
    """The document written whole: a reader sees no file or the complete one."""
    directory = area / project
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f"{ref}.json"
    partial = directory / f".{ref}.partial"
    with partial.open("xb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    partial.rename(path)
    return path


def save(
    ctx: Context,
    project: str,
    document: Mapping[str, Any],
    *,
    name: str,
    datasets: Sequence[str],
    code_version: str,
    metrics: Mapping[str, float],
    data_read_at: dt.datetime,
    area: Path,
) -> ModelEntry:
    """Keep ``document`` (a model trained in ``project`` on ``datasets``) in the registry."""
    kind, features, participants, events = _envelope(document)
    if not name.strip() or len(name) > 200:
        raise InvalidInput("name", "give the model a name of at most 200 characters")
    if not datasets:
        raise InvalidInput("model", "no dataset versions: fit it on an analysis table")
    # JSON has no NaN: a metric that could not be computed is left out
    scores = {str(k)[:100]: float(v) for k, v in metrics.items() if math.isfinite(float(v))}
    content = orjson.dumps(dict(document), option=orjson.OPT_SORT_KEYS)
    if len(content) > MAX_DOCUMENT:
        raise InvalidInput("model", f"the document is over {MAX_DOCUMENT // 2**20} MiB")
    path: Path | None = None
    try:
        with ctx.transaction(Action.MODEL_SAVE, project=project) as tx:
            versions = _covered(tx, datasets)
            taken = set(tx.session.scalars(select(RegisteredModel.ref)))
            ref = random_ref("M", taken)
            path = _write(area, project, ref, content)
            row = RegisteredModel(
                ref=ref, name=name.strip(), kind=kind,
                project_id=get_project(tx.session, project).id, saved_by_id=tx.user.id,
                saved_at=tx.now, data_read_at=min(data_read_at, tx.now),
                participants=participants, events=events, features=features,
                code_version=code_version[:500], metrics=scores,
                sha256=hashlib.sha256(content).hexdigest(), stored_path=str(path),
                dataset_versions=versions,
            )  # fmt: skip
            tx.session.add(row)
            tx.session.flush()
            tx.audit(
                f"model {ref} saved",
                details={"ref": ref, "kind": kind, "sha256": row.sha256,
                         "datasets": list(datasets), "rows": participants},
            )  # fmt: skip
            return _entry(tx, row)
    except BaseException:
        if path is not None:  # the record was not kept: nor is its document
            path.unlink(missing_ok=True)
        raise


def load(ctx: Context, project: str, ref: str) -> tuple[ModelEntry, dict[str, Any]]:
    """A registered model's record and document, for ``project`` if its approval covers every
    dataset version the model was trained on; the document's hash is checked first."""
    with ctx.transaction(Action.MODEL_LOAD, project=project) as tx:
        row = tx.session.scalar(select(RegisteredModel).where(RegisteredModel.ref == ref))
        if row is None:
            raise NotFound("model", ref)
        _covered(tx, [v.label for v in row.dataset_versions])
        content = Path(row.stored_path).read_bytes()
        if hashlib.sha256(content).hexdigest() != row.sha256:
            raise IntegrityError(f"model {ref}'s document changed since it was saved")
        entry = _entry(tx, row)
        tx.audit(
            f"model {ref} loaded",
            details={"ref": ref, "sha256": row.sha256, "trained_in": row.project.slug,
                     "withdrawals_since": entry.withdrawals_since},
        )  # fmt: skip
        document: dict[str, Any] = orjson.loads(content)
        return entry, document


def registered(ctx: Context) -> list[ModelEntry]:
    """The models of the projects the actor may see (stewards: all), newest first."""
    with ctx.transaction(Action.MODEL_LIST, audited=False) as tx:
        rows = tx.session.scalars(select(RegisteredModel).order_by(RegisteredModel.id.desc()))
        return [_entry(tx, row) for row in rows if visible(tx, ctx, row.project)]


def _entry(tx: Tx, row: RegisteredModel) -> ModelEntry:
    return ModelEntry(
        ref=row.ref, name=row.name, kind=row.kind, project=row.project.slug,
        datasets=tuple(sorted(v.label for v in row.dataset_versions)),
        participants=row.participants, events=row.events, features=tuple(row.features),
        code_version=row.code_version, metrics=dict(row.metrics), sha256=row.sha256,
        saved_by=row.saved_by.username, saved_at=row.saved_at, data_read_at=row.data_read_at,
        withdrawals_since=model_withdrawals(tx.session, row),
    )  # fmt: skip
