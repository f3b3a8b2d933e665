"""The proportional-hazards check of a Cox fit (Grambsch and Therneau's score test on scaled
Schoenfeld residuals against the rank of event time), vectorised.

lifelines' ``proportional_hazard_test`` gives the same numbers, but builds its residuals one
row at a time (seconds for 10,000 participants, longer than the fit). Here each distinct
event time is one step of cumulative sums; Efron's handling of tied events as in lifelines.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import chi2

__all__ = ["proportional_hazards_check", "schoenfeld_residuals"]


def schoenfeld_residuals(
    x: np.ndarray, time: np.ndarray, event: np.ndarray, coefficients: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Schoenfeld residuals of the events, in order of time (ties: Efron).

    Returns the residuals (events x features) and the positions of the events in the
    stable (time, event) order.
    """
    order = np.lexsort((event, time))  # lifelines' order: by time, censored first in a tie
    x, time, event = x[order], time[order], event[order].astype(bool)
    score = np.exp((x - x.mean(axis=0)) @ coefficients)  # centred: only ratios matter
    # everyone with time >= t is at risk at t: sums from the end, read at each time's first row
    risk = np.cumsum(score[::-1])[::-1]
    risk_x = np.cumsum((score[:, None] * x)[::-1], axis=0)[::-1]
    new_time = np.r_[True, time[1:] != time[:-1]]
    starts = np.flatnonzero(new_time)  # rows are sorted: each time is one contiguous run
    group = np.cumsum(new_time) - 1  # the run of each row
    events_score = np.where(event, score, 0.0)
    tied = np.add.reduceat(event.astype(float), starts)
    tied_score = np.add.reduceat(events_score, starts)
    tied_x = np.add.reduceat(events_score[:, None] * x, starts, axis=0)
    # Efron: the l-th of m tied events sees the risk set less l/m of the tied events' weight
    expected = np.zeros(tied_x.shape)
    for step in range(int(tied.max())):
        active = tied > step
        share = np.where(active, step / np.maximum(tied, 1), 0.0)
        numerator = risk_x[starts] - share[:, None] * tied_x
        denominator = risk[starts] - share * tied_score
        expected[active] += (numerator[active] / denominator[active, None]) / tied[active, None]
    events = np.flatnonzero(event)
    return x[events] - expected[group[events]], events


def proportional_hazards_check(
    x: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    coefficients: np.ndarray,
    variance: np.ndarray,
    features: Sequence[str],
) -> pd.DataFrame:
    """Per feature: the test statistic (chi-squared, 1 df) and its p-value; a small p means
    the feature's hazard ratio changes over time (lifelines' ``time_transform="rank"``)."""
    residuals, events = schoenfeld_residuals(x, time, event, coefficients)
    deaths = len(events)
    scaled = deaths * residuals @ variance
    rank = np.cumsum(event[np.lexsort((event, time))].astype(bool))[events].astype(float)
    centred = rank - rank.mean()
    statistic = (centred @ scaled) ** 2 / (deaths * np.diag(variance) * (centred @ centred))
    return pd.DataFrame(
        {"statistic": statistic, "p": chi2.sf(statistic, 1)}, index=pd.Index(features)
    )
