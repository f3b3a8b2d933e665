"""Cross-validated performance of a survival model: how well it ranks and predicts held-out
participants (Harrell's concordance, time-dependent AUC, integrated Brier score).

Folds are stratified by event so each holds its share of events. The inner fits are not
audited one by one: the cross-validation is one audit event.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold
from sksurv.metrics import (
    concordance_index_censored,
    cumulative_dynamic_auc,
    integrated_brier_score,
)

from wgs_tre.errors import InvalidInput
from wgs_tre.models.checks import check_table
from wgs_tre.models.forest import ForestModel, boosted_forest, outcome_array
from wgs_tre.models.frame import EVENT, TIME, AnalysisTable, as_table
from wgs_tre.models.survival import CoxModel, cox

__all__ = ["MODELS", "CrossValidation", "cross_validate"]

MODELS = ("cox", "forest")
BRIER_POINTS = 20  # grid the Brier score is integrated on


@dataclass(frozen=True)
class CrossValidation:
    """Per-fold held-out metrics; ``mean`` and ``spread`` (standard deviation) over folds.

    ``folds`` has one row per fold: ``concordance`` (Harrell's C), ``auc`` (the mean
    time-dependent AUC over ``times``), ``auc@<t>`` at each time and, for Cox, ``brier``
    (the integrated Brier score over the range of ``times``; lower is better).
    """

    model: str
    features: tuple[str, ...]
    times: tuple[float, ...]
    folds: pd.DataFrame

    @property
    def mean(self) -> pd.Series:
        return self.folds.mean()

    @property
    def spread(self) -> pd.Series:
        return self.folds.std(ddof=1)

    def __str__(self) -> str:
        def line(metric: str) -> str:
            return f"{metric} {self.mean[metric]:.2f} ± {self.spread[metric]:.2f}"

        parts = [line("concordance"), line("auc")]
        if "brier" in self.folds:
            parts.append(line("brier"))
        return (
            f"{self.model} on {len(self.features)} features: {', '.join(parts)} "
            f"over {len(self.folds)} folds"
        )


def cross_validate(
    data: AnalysisTable | pd.DataFrame,
    features: Sequence[str] | None = None,
    *,
    model: str = "cox",
    folds: int = 5,
    seed: int = 0,
    times: Sequence[float] | None = None,
    time: str = TIME,
    event: str = EVENT,
    **options: Any,
) -> CrossValidation:
    """Fit ``model`` on all folds but one and score it on the held-out fold, for each fold.

    Parameters
    ----------
    data
        An analysis table, or a DataFrame with ``time`` and ``event`` columns.
    features
        The features, in order; all of the table's when None.
    model
        ``"cox"`` (:func:`~wgs_tre.models.cox`) or ``"forest"``
        (:func:`~wgs_tre.models.boosted_forest`); ``options`` go to it.
    folds, seed
        Number of folds and the seed of their stratified shuffle.
    times
        Days at which the time-dependent AUC is read; by default the 25th, 50th and 75th
        percentiles of the event times. Each fold clips them inside its own follow-up.
    time, event
        The outcome's column names in a DataFrame.

    Returns
    -------
    CrossValidation
        Per-fold and mean metrics; ``print`` it for a one-line summary.
    """
    if model not in MODELS:
        raise InvalidInput("cross_validate: model", f"is {model!r}; expected one of {MODELS}")
    _check_options(model, options)
    table = as_table(data, time=time, event=event, features=features)
    check_table(table, "cross_validate")
    y = outcome_array(table)
    if not 2 <= folds <= table.events:
        raise InvalidInput(
            "cross_validate: folds",
            f"is {folds}; it must be at least 2 and at most the number of events ({table.events})",
        )
    if times is None:
        times = np.percentile(y["time"][y["event"]], [25, 50, 75])
    evaluation_times = np.asarray(times, dtype=float)
    unaudited = replace(table, on_fit=None)  # the cross-validation is one audit event
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    rows = []
    for number, (train, test) in enumerate(splitter.split(y, y["event"]), 1):
        try:
            fitted = _fit(unaudited.rows(train), model, options)
        except InvalidInput as error:
            raise InvalidInput(f"cross_validate: fold {number}", str(error)) from None
        try:
            rows.append(
                _score(fitted, unaudited.rows(train), unaudited.rows(test), evaluation_times)
            )
        except ValueError as error:  # scikit-survival's metrics: times it cannot weight
            raise InvalidInput(
                f"cross_validate: fold {number}",
                f"cannot be scored at times {evaluation_times.tolist()} ({error}); "
                "choose earlier times=",
            ) from None
    # record()'s own first argument is called model: the fitted kind goes in as estimator
    table.record("cross_validation", table.features, folds=folds, estimator=model, seed=seed)
    frame = pd.DataFrame(rows, index=pd.RangeIndex(1, folds + 1, name="fold"))
    return CrossValidation(model, table.features, tuple(evaluation_times.tolist()), frame)


def _check_options(model: str, options: dict[str, Any]) -> None:
    """Only the fitting function's own keyword options (features and outcome are ours)."""
    fit = cox if model == "cox" else boosted_forest
    parameters = inspect.signature(fit).parameters
    allowed = [
        name
        for name, parameter in parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY and name not in (TIME, EVENT)
    ]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InvalidInput(
            f"cross_validate: option {unknown[0]!r}",
            f"is not an option of the {model} model (its options: {', '.join(allowed)})",
        )


def _fit(train: AnalysisTable, model: str, options: dict[str, Any]) -> CoxModel | ForestModel:
    if model == "cox":
        return cox(train, **options)
    return boosted_forest(train, **options)


def _score(
    fitted: CoxModel | ForestModel, train: AnalysisTable, test: AnalysisTable, times: np.ndarray
) -> dict[str, float]:
    y_train, y_test = outcome_array(train), outcome_array(test)
    risk = fitted.predict_risk(test)
    scores = {
        "concordance": float(concordance_index_censored(y_test["event"], y_test["time"], risk)[0])
    }
    # inside the held-out follow-up, and before the training fold's last time (censoring
    # weights are estimated there)
    follow_up = y_test["time"][y_test["time"] <= y_train["time"].max()]
    inside = fold_times(times, follow_up)
    # Censoring the held-out fold just after the last time read changes no metric at those
    # times, and asks the censoring weights (estimated on the training fold) for no later time.
    horizon = np.nextafter(inside[-1], np.inf)
    y_scored = y_test.copy()
    late = y_scored["time"] > horizon
    y_scored["time"][late], y_scored["event"][late] = horizon, False
    auc, mean_auc = cumulative_dynamic_auc(y_train, y_scored, risk, inside)
    scores["auc"] = float(mean_auc)
    at_each = auc[np.searchsorted(inside, _clip(times, follow_up))]
    for t, value in zip(times, at_each, strict=True):
        scores[f"auc@{t:g}"] = float(value)
    if isinstance(fitted, CoxModel):
        grid = np.linspace(inside[0], inside[-1], BRIER_POINTS)
        survival = fitted.predict_survival(test.frame, grid)
        scores["brier"] = float(integrated_brier_score(y_train, y_scored, survival, grid))
    return scores


def fold_times(times: np.ndarray, test_time: np.ndarray) -> np.ndarray:
    """``times`` clipped inside a fold's follow-up ``[min, max)``, sorted and distinct."""
    return np.unique(_clip(times, test_time))


def _clip(times: np.ndarray, test_time: np.ndarray) -> np.ndarray:
    clipped: np.ndarray = np.clip(times, test_time.min(), np.nextafter(test_time.max(), -np.inf))
    return clipped
