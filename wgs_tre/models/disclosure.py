"""Survival outputs under the airlock's rules: what of a Kaplan-Meier curve or a Cox model may
leave the TRE.

A Kaplan-Meier curve table has a row per distinct time; the tail and the small steps describe a
few people (the airlock's ``survival-at-risk`` and ``survival-step`` rules). Its release table
(:func:`release_table`) is the same curve read only where at least ``min_cell_count`` people
have left since the last reported time (:func:`wgs_tre.airlock.survival.coarsen_survival`).
A Cox model needs the residual degrees of freedom any model does (``residual-dof``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from wgs_tre.airlock.regression import check_regression
from wgs_tre.airlock.rules import DisclosurePolicy, Finding
from wgs_tre.airlock.survival import check_survival, coarsen_survival
from wgs_tre.errors import InvalidInput
from wgs_tre.models.survival import CoxModel, KaplanMeier

__all__ = [
    "check_survival_output",
    "numbers_at_risk",
    "release_table",
    "residual_dof_findings",
]


def _curve(km: KaplanMeier, group: str | None) -> pd.DataFrame:
    if group is None and len(km.curves) == 1:
        group = next(iter(km.curves))
    if group not in km.curves:
        raise InvalidInput(f"group {group!r}", f"is not one of {', '.join(km.curves)}")
    return km.curves[group]


def release_table(
    km: KaplanMeier, group: str | None = None, *, policy: DisclosurePolicy | None = None
) -> pd.DataFrame:
    """The publishable curve table of ``group`` (the only group when None): the rows where at
    least ``min_cell_count`` people have left since the previous one, while that many are at
    risk; ``events`` summed over the rows merged, ``at_risk`` at the start of each stretch,
    survival and its interval those of the full curve there (no ``censored`` column: the
    people leaving a stretch, less its events, are the censored)."""
    coarse = coarsen_survival(_curve(km, group), policy).reset_index(drop=True)
    # the airlock sums the events merged, not the censored: that count would be one row's
    return coarse.drop(columns=["censored"], errors="ignore")


def check_survival_output(
    output: KaplanMeier | pd.DataFrame, *, policy: DisclosurePolicy | None = None
) -> list[Finding]:
    """The airlock's findings on a curve table, or on every group's curve of ``output`` (each
    finding's message then starts with its group)."""
    if isinstance(output, pd.DataFrame):
        return check_survival(output, policy)
    return [
        replace(finding, message=f"group {group}: {finding.message}")
        for group, curve in output.curves.items()
        for finding in check_survival(curve, policy)
    ]


def residual_dof_findings(
    model: CoxModel, policy: DisclosurePolicy | None = None
) -> tuple[Finding, ...]:
    """The airlock's residual degrees of freedom rule on a Cox model: participants less the
    coefficients fitted (a Cox model has no intercept) below ``min_residual_dof`` fails."""
    return check_regression(n_obs=model.participants, n_params=len(model.features), policy=policy)


def numbers_at_risk(
    km: KaplanMeier,
    times: Sequence[float] | np.ndarray,
    *,
    raw: bool = False,
    policy: DisclosurePolicy | None = None,
) -> pd.DataFrame:
    """The number at risk (time >= t) in each group (rows) at each of ``times`` (columns).

    With ``raw=False`` a number is withheld (NaN) where it would break the airlock's survival
    rules: fewer than ``min_cell_count`` at risk, or fewer than that many gone since the
    previous number shown (a difference of 1 to ``min_cell_count - 1`` shows when those few
    left). ``raw=True`` gives every number: not for release.
    """
    limit = (policy or DisclosurePolicy()).min_cell_count
    at = np.sort(np.asarray(times, dtype=float))
    rows = {}
    for group, curve in km.curves.items():
        curve_times = curve["time"].to_numpy(float)
        # at risk at t: the at risk of the first row at or after t (none after the last)
        first = np.searchsorted(curve_times, at, side="left")
        padded = np.append(curve["at_risk"].to_numpy(float), 0.0)
        counts = padded[first]
        if not raw:
            shown, previous = np.full(len(at), np.nan), None
            for i, count in enumerate(counts):
                gone = None if previous is None else previous - count
                if count >= limit and (gone is None or gone == 0 or gone >= limit):
                    shown[i], previous = count, count
            counts = shown
        rows[group] = counts
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(at))
