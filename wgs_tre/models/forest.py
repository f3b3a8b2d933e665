"""A gradient-boosted survival model (scikit-survival) that keeps numbers, not the fitter.

scikit-survival's fitted object carries what a saved model must not: per-node sample counts,
the unique training times and the Breslow baseline built from the training rows. So after
fitting, each regression tree is copied into plain arrays (children, split feature, threshold,
leaf value) and the fitter is dropped: :class:`ForestModel` predicts from those arrays alone,
and its document is JSON numbers and the feature names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sksurv.ensemble import GradientBoostingSurvivalAnalysis
from sksurv.metrics import concordance_index_censored

from wgs_tre.errors import InvalidInput
from wgs_tre.models.checks import check_table
from wgs_tre.models.frame import EVENT, TIME, AnalysisTable, Provenance, as_table
from wgs_tre.models.portable import FORMAT

__all__ = ["MIN_LEAF", "ForestModel", "boosted_forest", "outcome_array"]

MIN_LEAF = 10  # a leaf's value is an average: it must stand for at least this many participants
_TREE_ARRAYS = ("children_left", "children_right", "feature", "threshold", "value")


@dataclass
class ForestModel:
    """Boosted regression trees on the Cox loss: risk = init + learning_rate * sum of leaves.

    Each tree array has one row per tree, padded to the largest tree with leaves (a child of
    -1 marks a leaf). It holds no training row and no per-node participant count.
    """

    features: tuple[str, ...]
    learning_rate: float
    init: float  # the risk every participant starts from before the first tree
    children_left: np.ndarray  # (trees, nodes) int; -1 at a leaf
    children_right: np.ndarray  # (trees, nodes) int; -1 at a leaf
    feature: np.ndarray  # (trees, nodes) int: column of ``features`` split on
    threshold: np.ndarray  # (trees, nodes) float: go left when value <= threshold
    value: np.ndarray  # (trees, nodes) float: the tree's output at a leaf
    concordance: float  # Harrell's C on the training data
    participants: int
    events: int
    options: dict[str, Any] = field(default_factory=dict)
    provenance: Provenance | None = None

    def predict_risk(self, data: AnalysisTable | pd.DataFrame) -> np.ndarray:
        """Risk score (log hazard ratio scale): higher means shorter survival.

        Equals scikit-survival's ``predict`` of the fitted model it came from.
        """
        frame = data.frame if isinstance(data, AnalysisTable) else data
        missing = [f for f in self.features if f not in frame]
        if missing:
            raise InvalidInput(f"forest: feature {missing[0]!r}", "is not in the data")
        # scikit-learn compares float32 values with float64 thresholds: round the same way
        x = frame[list(self.features)].to_numpy(dtype=np.float32).astype(np.float64)
        if not np.isfinite(x).all():
            raise InvalidInput("forest: data", "has missing or infinite feature values")
        rows = np.arange(len(x))[:, None]
        trees = np.arange(self.value.shape[0])[None, :]
        node = np.zeros((len(x), self.value.shape[0]), dtype=np.intp)
        while True:
            left = self.children_left[trees, node]
            inner = left >= 0
            if not inner.any():
                break
            split = np.where(inner, self.feature[trees, node], 0)
            go_left = x[rows, split] <= self.threshold[trees, node]
            child = np.where(go_left, left, self.children_right[trees, node])
            node = np.where(inner, child, node)
        leaves = self.value[trees, node]
        return np.asarray(self.init + self.learning_rate * leaves.sum(axis=1), dtype=float)

    def to_document(self) -> dict[str, Any]:
        """The model as JSON types only: numbers, lists of numbers and the feature names."""
        return {
            "format": FORMAT,
            "kind": "gradient_boosting",
            "features": list(self.features),
            "participants": self.participants,
            "events": self.events,
            "concordance": self.concordance,
            "options": dict(self.options),
            "parameters": {
                "learning_rate": self.learning_rate,
                "init": self.init,
                **{name: getattr(self, name).tolist() for name in _TREE_ARRAYS},
            },
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> ForestModel:
        """The model :meth:`to_document` wrote."""
        if document.get("format") != FORMAT or document.get("kind") != "gradient_boosting":
            raise InvalidInput(
                "model document", f"is not a {FORMAT} gradient_boosting model document"
            )
        integer = {"children_left", "children_right", "feature"}
        try:
            parameters = document["parameters"]

            def array(name: str) -> np.ndarray:
                return np.asarray(parameters[name], dtype=np.intp if name in integer else float)

            model = cls(
                features=tuple(str(f) for f in document["features"]),
                learning_rate=float(parameters["learning_rate"]),
                init=float(parameters["init"]),
                concordance=float(document["concordance"]),
                participants=int(document["participants"]),
                events=int(document["events"]),
                options=dict(document["options"]),
                children_left=array("children_left"),
                children_right=array("children_right"),
                feature=array("feature"),
                threshold=array("threshold"),
                value=array("value"),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidInput(
                "model document", f"not a gradient_boosting model: {error}"
            ) from None
        model.check_trees()
        return model

    def check_trees(self) -> None:
        """The arrays describe trees: one shape, splits on known features, and every child
        after its parent (as scikit-learn numbers nodes), so a prediction always ends."""
        arrays = [getattr(self, name) for name in _TREE_ARRAYS]
        shape = arrays[0].shape
        if len(shape) != 2 or any(a.shape != shape for a in arrays):
            raise InvalidInput("model document", "its tree arrays differ in shape")
        nodes = np.arange(shape[1])[None, :]
        for children in (self.children_left, self.children_right):
            inner = children != -1
            if ((children[inner] <= np.broadcast_to(nodes, shape)[inner]).any()
                    or (children >= shape[1]).any() or (children < -1).any()):  # fmt: skip
                raise InvalidInput("model document", "a tree's node points back or out of it")
        splits = self.feature[self.children_left != -1]
        if ((splits < 0) | (splits >= len(self.features))).any():
            raise InvalidInput("model document", "a tree splits on a feature it does not have")


def boosted_forest(
    data: AnalysisTable | pd.DataFrame,
    features: Sequence[str] | None = None,
    *,
    n_estimators: int = 200,
    learning_rate: float = 0.1,
    max_depth: int = 3,
    min_samples_leaf: int = MIN_LEAF,
    subsample: float = 1.0,
    random_state: int = 0,
    time: str = TIME,
    event: str = EVENT,
) -> ForestModel:
    """Gradient-boosted regression trees on the Cox partial likelihood (scikit-survival).

    Parameters
    ----------
    data
        An analysis table, or a DataFrame with ``time`` and ``event`` columns.
    features
        The features, in order; all of the table's when None.
    n_estimators, learning_rate, max_depth, subsample, random_state
        scikit-survival's ``GradientBoostingSurvivalAnalysis`` options (``loss="coxph"``).
    min_samples_leaf
        Fewest participants a leaf stands for; below :data:`MIN_LEAF` is refused.
    time, event
        The outcome's column names in a DataFrame.

    Returns
    -------
    ForestModel
        The trees as arrays, with the training concordance; scikit-survival's object is gone.

    Raises
    ------
    InvalidInput
        Bad outcome or features (see :mod:`wgs_tre.models.checks`) or a leaf under 10.
    """
    table = as_table(data, time=time, event=event, features=features)
    check_table(table, "boosted_forest")
    if not table.features:
        raise InvalidInput("boosted_forest", "no features: name at least one")
    if min_samples_leaf < MIN_LEAF:
        raise InvalidInput(
            "boosted_forest: min_samples_leaf",
            f"is {min_samples_leaf}; a leaf must stand for at least {MIN_LEAF} participants",
        )
    options: dict[str, Any] = {
        "n_estimators": n_estimators,
        "learning_rate": learning_rate,
        "max_depth": max_depth,
        "min_samples_leaf": min_samples_leaf,
        "subsample": subsample,
        "random_state": random_state,
    }
    x = table.frame[list(table.features)].to_numpy(dtype=float)
    y = outcome_array(table)
    try:
        fitted = GradientBoostingSurvivalAnalysis(loss="coxph", **options).fit(x, y)
    except ValueError as error:  # an option out of range: scikit-learn names it
        raise InvalidInput("boosted_forest", str(error)) from None
    model = _from_fitted(fitted, table, options)
    del fitted  # it holds sample counts and the training times: never kept
    table.record("forest", table.features, **options)
    return model


def outcome_array(table: AnalysisTable) -> np.ndarray:
    """The structured array scikit-survival takes: (event, time) per row."""
    y = np.empty(len(table), dtype=[("event", bool), ("time", float)])
    y["event"] = table.frame[EVENT].to_numpy(dtype=bool)
    y["time"] = table.frame[TIME].to_numpy(dtype=float)
    return y


def _from_fitted(
    fitted: GradientBoostingSurvivalAnalysis, table: AnalysisTable, options: dict[str, Any]
) -> ForestModel:
    if fitted.init_ != "zero" or getattr(fitted, "_scale", None) is not None:
        raise InvalidInput("boosted_forest", "only a zero start without dropout is supported")
    trees = [estimator.tree_ for estimator in fitted.estimators_[:, 0]]
    nodes = max(tree.node_count for tree in trees)

    def padded(name: str, fill: float, dtype: type) -> np.ndarray:
        out = np.full((len(trees), nodes), fill, dtype=dtype)
        for i, tree in enumerate(trees):
            column = tree.value[:, 0, 0] if name == "value" else getattr(tree, name)
            out[i, : tree.node_count] = column
        return out

    model = ForestModel(
        features=table.features,
        learning_rate=float(fitted.learning_rate),
        init=0.0,
        children_left=padded("children_left", -1, np.intp),
        children_right=padded("children_right", -1, np.intp),
        feature=padded("feature", -2, np.intp),
        threshold=padded("threshold", -2.0, np.float64),
        value=padded("value", 0.0, np.float64),
        concordance=float("nan"),
        participants=len(table),
        events=table.events,
        options=options,
        provenance=table.provenance,
    )
    frame = table.frame
    model.concordance = float(
        concordance_index_censored(
            frame[EVENT].to_numpy(dtype=bool),
            frame[TIME].to_numpy(dtype=float),
            model.predict_risk(table),
        )[0]
    )
    return model
