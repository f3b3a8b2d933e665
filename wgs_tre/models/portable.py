"""A fitted model as a document of JSON types only: what the registry stores, never a pickle.

A document is ``{"format": "wgs-tre-model/1", "kind": ..., "features": [...], "participants":
n, "events": e, "options": {...}, "parameters": {...}}``; each kind says what its parameters
are. :func:`wgs_tre.models.leaks.check_document` validates one before it is stored.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pandas as pd

from wgs_tre.errors import InvalidInput

if TYPE_CHECKING:
    from wgs_tre.models.survival import CoxModel

__all__ = ["FORMAT", "cox_from_document", "cox_to_document"]

FORMAT = "wgs-tre-model/1"


def _number(value: Any) -> float | None:
    """A float as JSON can hold it: NaN and infinities (a p-value of a dropped term) as None."""
    number = float(value)
    return number if math.isfinite(number) else None


def _numbers(values: Any) -> list[float | None]:
    return [_number(v) for v in values]


def cox_to_document(model: CoxModel) -> dict[str, Any]:
    """``model`` as a ``cox`` document (see the module's docstring)."""
    baseline = model.baseline_survival
    return {
        "format": FORMAT,
        "kind": "cox",
        "features": list(model.features),
        "participants": int(model.participants),
        "events": int(model.events),
        "options": dict(model.options),
        "parameters": {
            "coefficients": _numbers(model.coefficients),
            "means": _numbers(model.means),
            "baseline_times": _numbers(baseline.index),
            "baseline_survival": _numbers(baseline),
            "summary": {str(c): _numbers(model.summary[c]) for c in model.summary.columns},
            "proportional_hazards": {
                str(c): _numbers(model.proportional_hazards[c])
                for c in model.proportional_hazards.columns
            },
            "concordance": _number(model.concordance),
        },
    }


def _floats(values: Any, length: int, name: str) -> list[float]:
    if not isinstance(values, list) or len(values) != length:
        raise InvalidInput(f"model document {name}", f"expected a list of {length} numbers")
    return [math.nan if v is None else float(v) for v in values]


def cox_from_document(document: dict[str, Any]) -> CoxModel:
    """The :class:`CoxModel` a ``cox`` document describes (without provenance: the registry
    keeps that beside the document)."""
    from wgs_tre.models.survival import CoxModel

    if document.get("format") != FORMAT or document.get("kind") != "cox":
        raise InvalidInput("model document", f"expected format {FORMAT} and kind cox")
    try:
        features = tuple(str(f) for f in document["features"])
        parameters = document["parameters"]
        k = len(features)
        coefficients = _floats(parameters["coefficients"], k, "coefficients")
        times = parameters["baseline_times"]
        summary = pd.DataFrame(
            {c: _floats(v, k, f"summary {c}") for c, v in parameters["summary"].items()},
            index=list(features),
        )
        summary["coef"] = coefficients
        hazards = pd.DataFrame(
            {c: _floats(v, k, f"proportional_hazards {c}")
             for c, v in parameters["proportional_hazards"].items()},
            index=list(features),
        )  # fmt: skip
        return CoxModel(
            features=features,
            summary=summary,
            proportional_hazards=hazards,
            means=pd.Series(_floats(parameters["means"], k, "means"), index=list(features)),
            baseline_survival=pd.Series(
                _floats(parameters["baseline_survival"], len(times), "baseline_survival"),
                index=pd.Index(_floats(times, len(times), "baseline_times"), name="time"),
            ),
            concordance=float(parameters["concordance"]),
            participants=int(document["participants"]),
            events=int(document["events"]),
            options=dict(document["options"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise InvalidInput("model document", f"not a cox document: {error}") from None
