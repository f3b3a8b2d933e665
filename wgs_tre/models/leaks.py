"""Does a model hold participant-level data? What the registry asks before it keeps one.

A fitted model from a library often keeps what it was trained on: lifelines' fitters keep the
durations, the event indicators, the weights and the predicted partial hazard of every training
row; a scikit-survival forest keeps every distinct training time and trees whose leaves
describe a handful of people. :func:`find_training_data` looks through any Python object and
names each place such data sits; :func:`check_document` validates a model document (JSON types,
:mod:`wgs_tre.models.portable`) before the registry stores it.
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from wgs_tre.airlock.pseudonyms import PATTERN
from wgs_tre.airlock.rules import DisclosurePolicy
from wgs_tre.errors import InvalidInput

__all__ = ["KINDS", "check_document", "find_training_data"]

KINDS = ("cox", "gradient_boosting")
PSEUDONYM = re.compile(PATTERN.pattern.decode())  # the airlock's shape, on text
_DEPTH = 12
# Not looked into: values, and things that are code rather than data.
_LEAVES = (
    int, float, bool, bytes, complex, np.generic, type, types.ModuleType, types.FunctionType,
    types.BuiltinFunctionType, types.MethodType,
)  # fmt: skip
# Names of arrays of time points: each is a training time, so more of them than one per
# min_cell_count participants is a list of individuals' times.
_TIME_NAMES = re.compile(r"(baseline|timeline|unique_times|event_times|times_?$)", re.IGNORECASE)


def _has_pseudonym(values: Iterable[Any], known: frozenset[str]) -> bool:
    return any(
        isinstance(v, str) and (PSEUDONYM.search(v) is not None or v in known) for v in values
    )


def _array_findings(
    path: str, value: Any, participants: int, known: frozenset[str], limit: int
) -> Iterator[str]:
    shape = tuple(getattr(value, "shape", ()))
    if participants in shape:
        yield f"{path}: {participants} values, one per participant (shape {shape})"
    elif (
        shape
        and _TIME_NAMES.search(path.rsplit(".", 1)[-1])
        and shape[0] > participants // limit + 1
    ):
        yield f"{path}: {shape[0]} time points, more than one per {limit} participants"
    if isinstance(value, pd.DataFrame | pd.Series):
        labels = [value.index] + ([value.columns] if isinstance(value, pd.DataFrame) else [])
        if any(_has_pseudonym(map(str, index), known) for index in labels):
            yield f"{path}: labelled by pseudonyms"
        text = value.select_dtypes("object") if isinstance(value, pd.DataFrame) else value
        if (text.dtype == object if isinstance(text, pd.Series) else True) and _has_pseudonym(
            np.ravel(np.asarray(text, dtype=object)), known
        ):
            yield f"{path}: holds pseudonyms"
    elif isinstance(value, pd.Index):
        if _has_pseudonym(map(str, value), known):
            yield f"{path}: an index of pseudonyms"
    elif isinstance(value, np.ndarray):
        names = value.dtype.names or ()
        if "n_node_samples" in names and "left_child" in names and len(value):
            leaves = value["left_child"] == -1  # a tree's leaves: who ends up where
            fewest = int(value["n_node_samples"][leaves].min())
            if fewest < limit:
                yield f"{path}: tree leaves of as few as {fewest} training samples"
        elif value.dtype.kind in "OUS" and _has_pseudonym(map(str, value.ravel()), known):
            yield f"{path}: holds pseudonyms"


def _children(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        yield from ((f"[{k!r}]", v) for k, v in value.items())
    elif isinstance(value, list | tuple | set | frozenset):
        yield from ((f"[{i}]", v) for i, v in enumerate(value))
    else:
        state = getattr(value, "__dict__", None)
        if state is None and hasattr(value, "__getstate__"):
            try:  # Cython objects (a scikit-learn tree) show their state this way
                state = value.__getstate__()
            except TypeError:
                state = None
        if isinstance(state, Mapping):
            yield from ((f".{k}", v) for k, v in state.items())


def find_training_data(
    obj: Any,
    participants: int,
    pseudonyms: Iterable[str] = (),
    *,
    policy: DisclosurePolicy | None = None,
) -> list[str]:
    """Every place in ``obj`` that holds participant-level data, one line each.

    Parameters
    ----------
    obj
        Any object: a lifelines fitter, a scikit-learn or scikit-survival estimator, a dict, a
        model of ours. Attributes, mapping values and sequence items are followed (to a bounded
        depth, each object once).
    participants
        The number of training participants: an array, frame or series with a dimension of this
        size is one value per participant.
    pseudonyms
        The training pseudonyms, if known; any string shaped like one (``s`` and 24 base-32
        characters) is found anyway.
    policy
        The airlock's thresholds: arrays of time points longer than ``participants //
        min_cell_count + 1`` and tree leaves of fewer than ``min_cell_count`` samples are found.

    Returns
    -------
    list of str
        ``"<path>: <what it holds>"``, e.g. ``"model._model.durations: 432 values, one per
        participant (shape (432,))"``; empty when nothing was found.
    """
    known = frozenset(pseudonyms)
    limit = (policy or DisclosurePolicy()).min_cell_count
    findings: list[str] = []
    seen: set[int] = set()
    alive: list[Any] = []  # a state made on the fly must outlive the walk, or its id is reused
    stack: list[tuple[str, Any, int]] = [("model", obj, 0)]
    while stack:
        path, value, depth = stack.pop()
        if isinstance(value, str):
            if _has_pseudonym([value], known):
                findings.append(f"{path}: a pseudonym")
            continue
        if value is None or isinstance(value, _LEAVES):
            continue
        if id(value) in seen or depth > _DEPTH:
            continue
        seen.add(id(value))
        alive.append(value)
        if isinstance(value, pd.DataFrame | pd.Series | pd.Index | np.ndarray):
            findings.extend(_array_findings(path, value, participants, known, limit))
            continue
        if isinstance(value, list | tuple) and len(value) == participants:
            findings.append(f"{path}: {participants} items, one per participant")
        children = list(_children(value))
        stack.extend((path + name, child, depth + 1) for name, child in reversed(children))
    return findings


def _walk_strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _walk_strings(k, f"{path} key")
            yield from _walk_strings(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk_strings(v, f"{path}[{i}]")


def _check_parameters(value: Any, path: str, participants: int) -> None:
    """Only numbers, booleans, None (a NaN), lists and mappings of them."""
    if value is None or isinstance(value, bool | int | float):
        return
    if isinstance(value, list):
        if len(value) == participants:
            raise InvalidInput(path, f"a list of {participants} values, one per participant")
        for i, item in enumerate(value):
            _check_parameters(item, f"{path}[{i}]", participants)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_parameters(item, f"{path}.{key}", participants)
    else:
        raise InvalidInput(path, f"holds a {type(value).__name__}; parameters are numbers only")


def check_document(
    document: Mapping[str, Any], participants: int, *, policy: DisclosurePolicy | None = None
) -> None:
    """Refuse a model document that is malformed or could hold participant-level data.

    Raises :class:`~wgs_tre.errors.InvalidInput` naming the problem: the wrong format or kind;
    a parameter that is not a number, boolean or list of them; a parameter list with one entry
    per participant; a ``cox`` baseline with more than ``events // min_cell_count + 1`` times; a
    pseudonym-shaped string anywhere (strings belong only in feature names and options).
    """
    from wgs_tre.models.portable import FORMAT

    limit = (policy or DisclosurePolicy()).min_cell_count
    if not isinstance(document, Mapping) or document.get("format") != FORMAT:
        raise InvalidInput("model document", f"expected format {FORMAT!r}")
    kind = document.get("kind")
    if kind not in KINDS:
        raise InvalidInput("model document kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    for place, text in _walk_strings(dict(document), "document"):
        if PSEUDONYM.search(text):
            raise InvalidInput(place, "holds a pseudonym-shaped string")
    features = document.get("features")
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise InvalidInput("model document features", "expected a list of feature names")
    if not isinstance(document.get("options", {}), Mapping):
        raise InvalidInput("model document options", "expected a mapping")
    parameters = document.get("parameters")
    if not isinstance(parameters, Mapping):
        raise InvalidInput("model document parameters", "expected a mapping")
    # kinds whose node arrays may be of any length check their own parameters' sizes
    size_checked = participants if kind == "cox" else -1
    _check_parameters(dict(parameters), "parameters", size_checked)
    if kind == "cox":
        events = document.get("events")
        if not isinstance(events, int) or isinstance(events, bool):
            raise InvalidInput("model document events", "expected the number of events")
        times = parameters.get("baseline_times", [])
        if len(times) > events // limit + 1:
            raise InvalidInput(
                "parameters.baseline_times",
                f"{len(times)} times for {events} events: more than one per {limit} events",
            )
