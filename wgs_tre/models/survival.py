"""Kaplan-Meier curves, log-rank tests and Cox proportional hazards (lifelines), on an
analysis table.

Each function checks its input first and names what is wrong (no events, a constant feature,
...) instead of letting a solver fail; each fit on a governed table is audited once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test

from wgs_tre.errors import InvalidInput
from wgs_tre.models.baseline import baseline_at, coarse_baseline
from wgs_tre.models.checks import (
    check_collinearity,
    check_groups,
    check_outcome,
    check_separation,
    check_table,
    converged,
)
from wgs_tre.models.frame import EVENT, TIME, AnalysisTable, Provenance, as_table
from wgs_tre.models.hazards import proportional_hazards_check
from wgs_tre.models.portable import cox_from_document, cox_to_document

__all__ = ["CoxModel", "KaplanMeier", "LogRank", "cox", "kaplan_meier", "log_rank"]


@dataclass(frozen=True)
class KaplanMeier:
    """Survival curves, one per group (one curve, named ``all``, without groups)."""

    curves: dict[str, pd.DataFrame]  # per group: time, at_risk, events, censored, survival, CI
    medians: dict[str, float]  # median survival per group (inf when the curve stays above 0.5)
    by: str | None


@dataclass(frozen=True)
class LogRank:
    statistic: float
    p_value: float
    degrees_of_freedom: int
    by: str


@dataclass
class CoxModel:
    """A fitted Cox model: coefficients and their uncertainty, the proportional-hazards check,
    and what predictions need. It holds no training row."""

    features: tuple[str, ...]
    summary: pd.DataFrame  # per feature: coef, se, hazard_ratio, lower_95, upper_95, z, p
    proportional_hazards: pd.DataFrame  # per feature: statistic, p (Schoenfeld, rank of time)
    means: pd.Series  # feature means the baseline is centred on
    baseline_survival: pd.Series  # S0(t) at coarse times (index: days)
    concordance: float
    participants: int
    events: int
    options: dict[str, Any]
    provenance: Provenance | None = None

    @property
    def coefficients(self) -> pd.Series:
        return self.summary["coef"]

    def predict_risk(self, data: AnalysisTable | pd.DataFrame) -> np.ndarray:
        """Linear predictor (log partial hazard, centred): higher means shorter survival."""
        frame = data.frame if isinstance(data, AnalysisTable) else data
        x = frame[list(self.features)].to_numpy(dtype=float) - self.means.to_numpy()
        return np.asarray(x @ self.coefficients.to_numpy(), dtype=float)

    def predict_survival(
        self, data: AnalysisTable | pd.DataFrame, times: Sequence[float] | np.ndarray
    ) -> np.ndarray:
        """S(t | x) = S0(t) ** exp(risk), rows x ``times``; S0 is the stored (coarse) baseline,
        a step function equal to 1 before its first time."""
        at = np.asarray(times, dtype=float)
        curve = self.baseline_survival
        s0 = baseline_at(curve.index.to_numpy(float), curve.to_numpy(float), at)
        return np.asarray(s0[None, :] ** np.exp(self.predict_risk(data))[:, None], dtype=float)

    def to_document(self) -> dict[str, Any]:
        """The model as JSON types only (:mod:`wgs_tre.models.portable`)."""
        return cox_to_document(self)

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> CoxModel:
        """The model a :meth:`to_document` document describes."""
        return cox_from_document(document)


def kaplan_meier(
    data: AnalysisTable | pd.DataFrame,
    by: str | None = None,
    *,
    time: str = TIME,
    event: str = EVENT,
) -> KaplanMeier:
    """Kaplan-Meier curves of ``data``, one per value of ``by``."""
    table = as_table(data, time=time, event=event, features=[])
    check_outcome(table, "kaplan_meier")
    if by is not None:
        check_groups(table, by, "kaplan_meier")
    frame = table.frame
    groups = {"all": frame} if by is None else {str(k): g for k, g in frame.groupby(by)}
    curves, medians = {}, {}
    for name, group in groups.items():
        fitter = KaplanMeierFitter().fit(group[TIME], group[EVENT], label=name)
        events = fitter.event_table
        curve = pd.DataFrame({
            "time": events.index.to_numpy(dtype=float),
            "at_risk": events["at_risk"].to_numpy(),
            "events": events["observed"].to_numpy(),
            "censored": events["censored"].to_numpy(),
            "survival": fitter.survival_function_[name].to_numpy(),
            "lower_95": fitter.confidence_interval_.iloc[:, 0].to_numpy(),
            "upper_95": fitter.confidence_interval_.iloc[:, 1].to_numpy(),
        })  # fmt: skip
        curves[name], medians[name] = curve, float(fitter.median_survival_time_)
    table.record("kaplan_meier", [by] if by else [])
    return KaplanMeier(curves, medians, by)


def log_rank(
    data: AnalysisTable | pd.DataFrame, by: str, *, time: str = TIME, event: str = EVENT
) -> LogRank:
    """The log-rank test of equal survival across the values of ``by``."""
    table = as_table(data, time=time, event=event, features=[])
    check_outcome(table, "log_rank")
    check_groups(table, by, "log_rank", at_least=2)
    frame = table.frame
    result = multivariate_logrank_test(frame[TIME], frame[by], frame[EVENT])
    table.record("log_rank", [by])
    return LogRank(
        float(result.test_statistic), float(result.p_value), int(result.degrees_of_freedom), by
    )


def cox(
    data: AnalysisTable | pd.DataFrame,
    features: Sequence[str] | None = None,
    *,
    penalizer: float = 0.0,
    l1_ratio: float = 0.0,
    time: str = TIME,
    event: str = EVENT,
) -> CoxModel:
    """Cox proportional hazards of ``features`` (default: all of the table's).

    Parameters
    ----------
    data
        An analysis table, or a DataFrame with ``time`` and ``event`` columns.
    features
        The covariates, in order; all of the table's when None.
    penalizer, l1_ratio
        Elastic-net penalty on the coefficients (lifelines' meaning): ``penalizer`` is its
        strength, ``l1_ratio`` the lasso share. A penalty keeps coefficients finite, so a
        perfectly separating feature is refused only without one.
    time, event
        The outcome's column names in a DataFrame.

    Returns
    -------
    CoxModel
        Coefficients, the proportional-hazards check and what predictions need; no row.

    Raises
    ------
    InvalidInput
        Missing or negative follow-up, no events, a constant, non-numeric, collinear or
        perfectly separating feature, or a fit that does not converge.
    """
    if not (penalizer >= 0 and 0 <= l1_ratio <= 1):
        raise InvalidInput(
            "cox: penalizer, l1_ratio",
            f"are {penalizer}, {l1_ratio}; the penalizer must be >= 0 and l1_ratio in [0, 1]",
        )
    table = as_table(data, time=time, event=event, features=features)
    check_table(table, "cox")
    if not table.features:
        raise InvalidInput("cox", "no features: name at least one covariate")
    if len(table) <= len(table.features):
        raise InvalidInput(
            "cox", f"too few participants ({len(table)}) for {len(table.features)} features"
        )
    check_collinearity(table, "cox")
    if penalizer == 0:
        check_separation(table, "cox")
    frame = table.frame[[TIME, EVENT, *table.features]].astype(float)
    fitter = CoxPHFitter(penalizer=penalizer, l1_ratio=l1_ratio)
    converged(lambda: fitter.fit(frame, TIME, EVENT), table.features, "cox")
    s = fitter.summary
    summary = pd.DataFrame({
        "coef": s["coef"], "se": s["se(coef)"], "hazard_ratio": s["exp(coef)"],
        "lower_95": s["coef lower 95%"], "upper_95": s["coef upper 95%"], "z": s["z"],
        "p": s["p"],
    })  # fmt: skip
    options = {"penalizer": penalizer, "l1_ratio": l1_ratio}
    table.record("cox", table.features, **options)
    return CoxModel(
        features=table.features,
        summary=summary,
        proportional_hazards=proportional_hazards_check(
            frame[list(table.features)].to_numpy(),
            frame[TIME].to_numpy(),
            frame[EVENT].to_numpy(dtype=bool),
            fitter.params_.to_numpy(),
            fitter.variance_matrix_.to_numpy(),
            table.features,
        ),
        means=pd.Series(fitter._norm_mean, index=list(table.features)),
        baseline_survival=_stored_baseline(fitter, frame),
        concordance=float(fitter.concordance_index_),
        participants=len(table),
        events=table.events,
        options=options,
        provenance=table.provenance,
    )


def _stored_baseline(fitter: CoxPHFitter, frame: pd.DataFrame) -> pd.Series:
    """The fitted baseline at coarse times only: each step hides at least 10 events."""
    coarse = coarse_baseline(fitter.baseline_survival_.iloc[:, 0], frame[TIME], frame[EVENT])
    return pd.Series(coarse["survival"].to_numpy(), index=pd.Index(coarse["time"], name="time"))
