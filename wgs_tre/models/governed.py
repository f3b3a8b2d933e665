"""The registry and the fit audit as a researcher reaches them: through the data service in a
session (which acts for the session's user, on the session's project), in-process on the host.

    >>> from wgs_tre import open_project, models
    >>> project = open_project()
    >>> entry = models.save(project, fit, "os-cox-clinical-genomic")
    >>> fit = models.load(project, entry.ref)
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Protocol

from wgs_tre import wire
from wgs_tre.config import MODELS_DIR
from wgs_tre.errors import ConfigurationError, InvalidInput
from wgs_tre.governance.context import Context
from wgs_tre.models import registry
from wgs_tre.models.forest import ForestModel
from wgs_tre.models.frame import FitRecord, Provenance
from wgs_tre.models.leaks import check_document, find_training_data
from wgs_tre.models.registry import ModelEntry
from wgs_tre.models.survival import CoxModel

__all__ = ["ProjectLike", "fit_recorder", "load", "registered", "save"]

SERVICE_PATH = "api/models"


class ProjectLike(Protocol):
    """What the registry needs of ``wgs_tre.project.ProjectHandle``."""

    project: str

    def host_governance(self) -> tuple[Context, Path] | None: ...


def fit_recorder(project: ProjectLike, datasets: tuple[str, ...]) -> Callable[[FitRecord], None]:
    """The audit hook of an analysis table built from ``project``: one event per fit."""

    def record(fit: FitRecord) -> None:
        body = {
            "model": fit.model,
            "features": list(fit.features),
            "participants": fit.participants,
            "events": fit.events,
            "datasets": list(datasets),
        }
        host = project.host_governance()
        if host is not None:
            registry.record_fit(host[0], project.project, body)
        else:
            wire.call(*_service(), f"{SERVICE_PATH}/fits", body)

    return record


def code_version() -> str:
    """What fitted the model: this library and the model libraries, with their versions."""
    found = []
    for package in ("wgs-tre", "lifelines", "scikit-survival", "scikit-learn"):
        try:
            found.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            continue
    return "; ".join(found)


def save(
    project: ProjectLike,
    model: Any,
    name: str,
    *,
    metrics: Mapping[str, float] | None = None,
) -> ModelEntry:
    """Keep a fitted model in the registry, with its provenance.

    Parameters
    ----------
    project
        ``open_project()``: the project the model was trained in.
    model
        A model fitted by ``wgs_tre.models`` on an analysis table of ``project`` (a Cox or a
        gradient-boosted model). Anything else (a lifelines fitter, a scikit-learn estimator)
        is refused, saying what training data it holds.
    name
        What people will call it.
    metrics
        Numbers to keep beside it (cross-validated concordance, ...); its training concordance
        is always kept.

    Returns
    -------
    ModelEntry
        Its reference (``M-XXXXXX``) and provenance. The save is audited.
    """
    document, provenance = _portable(model)
    kept = {"concordance": float(getattr(model, "concordance", float("nan"))), **(metrics or {})}
    body = {
        "name": name,
        "document": document,
        "datasets": list(provenance.datasets),
        "code_version": code_version(),
        "metrics": {k: float(v) for k, v in kept.items()},
        "data_read_at": provenance.read_at.isoformat(),
    }
    host = project.host_governance()
    if host is None:
        return entry_from_wire(wire.call(*_service(), SERVICE_PATH, body))
    ctx, data_dir = host
    if provenance.project != project.project:
        trained = provenance.project
        raise InvalidInput("model", f"it was trained in {trained}, not {project.project}")
    return save_body(ctx, project.project, body, data_dir / MODELS_DIR)


def save_body(ctx: Context, project: str, body: Mapping[str, Any], area: Path) -> ModelEntry:
    """A save as a session sends it, checked again on this side: the session is not trusted."""
    document = body.get("document")
    if not isinstance(document, dict):
        raise InvalidInput("document", "a model document is required")
    participants = document.get("participants")
    if not isinstance(participants, int) or isinstance(participants, bool) or participants < 0:
        raise InvalidInput("document", "its number of participants is missing")
    check_document(document, participants)
    model_from_document(document)  # it must describe a model whole: a loader will need that
    try:
        read_at = dt.datetime.fromisoformat(str(body.get("data_read_at")))
    except ValueError:
        raise InvalidInput("data_read_at", "not an ISO date and time") from None
    if read_at.tzinfo is None:
        raise InvalidInput("data_read_at", "needs a time zone")
    datasets, metrics = body.get("datasets"), body.get("metrics", {})
    if not isinstance(datasets, list) or not all(isinstance(d, str) for d in datasets):
        raise InvalidInput("datasets", "name the dataset versions as name@version")
    if not isinstance(metrics, dict) or not all(
        isinstance(v, int | float) for v in metrics.values()
    ):
        raise InvalidInput("metrics", "give each metric a number")
    return registry.save(
        ctx, project, document, name=str(body.get("name", "")), datasets=datasets,
        code_version=str(body.get("code_version", "")), metrics=metrics,
        data_read_at=read_at, area=area,
    )  # fmt: skip


def _portable(model: Any) -> tuple[dict[str, Any], Provenance]:
    """The model's document and provenance, or a refusal naming what is wrong with it."""
    if not callable(getattr(model, "to_document", None)) or not hasattr(model, "provenance"):
        found = find_training_data(model, participants=_most_rows(model))
        found.sort(key=lambda finding: "one per participant" not in finding)  # rows first
        held = "; it holds training data: " + "; ".join(found[:5]) if found else ""
        raise InvalidInput(
            "model",
            f"a {type(model).__name__} is not a model the registry keeps: fit it with "
            f"wgs_tre.models (cox, boosted_forest){held}",
        )
    provenance = model.provenance
    if provenance is None:
        raise InvalidInput(
            "model",
            "it was fitted on a plain table: the registry keeps models fitted on an analysis "
            "table of a project (models.analysis_table), whose provenance it records",
        )
    found = find_training_data(model, participants=provenance.participants)
    if found:
        raise InvalidInput("model", "it holds training data: " + "; ".join(found[:5]))
    document: dict[str, Any] = model.to_document()
    return document, provenance


def _most_rows(model: Any, depth: int = 2) -> int:
    """A foreign model's likely number of training rows: its longest array attribute (in it,
    or in the objects it holds, as lifelines' fitters hold their model)."""
    longest = 0
    for value in getattr(model, "__dict__", {}).values():
        if hasattr(value, "shape") and getattr(value, "ndim", 0) > 0:
            longest = max(longest, len(value))
        elif depth > 1 and hasattr(value, "__dict__"):
            longest = max(longest, _most_rows(value, depth - 1))
    return longest


def load(project: ProjectLike, ref: str) -> Any:
    """A registered model, if ``project``'s approval covers every dataset version it was
    trained on (audited); warns if participants have withdrawn since its data was read."""
    host = project.host_governance()
    if host is None:
        answer = wire.call(*_service(), f"{SERVICE_PATH}/{ref}", None)
        entry, document = entry_from_wire(answer["entry"]), answer["document"]
    else:
        entry, document = registry.load(host[0], project.project, ref)
    model = model_from_document(document)
    model.provenance = Provenance(
        entry.project, entry.datasets, entry.participants, entry.events, entry.data_read_at
    )
    if entry.flagged:
        warnings.warn(
            f"model {entry.ref} was trained on data {entry.withdrawals_since} participant(s) "
            "have since withdrawn consent from; ask the data stewards before relying on it",
            UserWarning,
            stacklevel=2,
        )
    return model


def model_from_document(document: Mapping[str, Any]) -> Any:
    """The model a registry document describes (no code runs: numbers only)."""
    kinds: dict[str, Any] = {"cox": CoxModel, "gradient_boosting": ForestModel}
    kind = document.get("kind")
    if kind not in kinds:
        raise InvalidInput("model", f"unknown kind {kind!r}")
    return kinds[str(kind)].from_document(document)


def registered(project: ProjectLike) -> list[ModelEntry]:
    """The registry's models you may see (your projects'), newest first, each with its flag."""
    host = project.host_governance()
    if host is not None:
        return registry.registered(host[0])
    return [entry_from_wire(item) for item in wire.call(*_service(), SERVICE_PATH, None)]


def entry_from_wire(answer: Mapping[str, Any]) -> ModelEntry:
    fields = dict(answer)
    for key in ("datasets", "features"):
        fields[key] = tuple(fields[key])
    for key in ("saved_at", "data_read_at"):
        fields[key] = dt.datetime.fromisoformat(fields[key])
    fields.pop("flagged", None)
    return ModelEntry(**fields)


def _service() -> tuple[str, str]:
    found = wire.session_service()
    if found is None:
        raise ConfigurationError("no project session and no store: use open_project() on the host")
    return found
