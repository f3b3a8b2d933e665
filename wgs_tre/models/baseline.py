"""A Cox model's baseline survival kept at coarse times, so that it reveals no one's event time.

lifelines' ``baseline_survival_`` steps at every distinct event time of the training data: a
saved model holding it would tell anyone who loads it when each event happened. The airlock's
rule for a Kaplan-Meier table (:mod:`wgs_tre.airlock.survival`) says a reported step needs at
least ``min_cell_count`` people behind it and a reported time at least ``min_cell_count`` at
risk. The baseline only steps at events, so here the stretch between two stored times needs
that many *events* (leavers by censoring alone do not move the curve, so they cannot hide an
event), and storing stops where fewer than ``min_cell_count`` remain at risk. The survival at a
stored time is the fitted baseline's there: the same curve, read less often.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wgs_tre.airlock.rules import DisclosurePolicy

__all__ = ["baseline_at", "coarse_baseline", "risk_table"]


def risk_table(durations: np.ndarray, events: np.ndarray) -> pd.DataFrame:
    """Per distinct time (ascending): ``time``, ``at_risk`` (time >= t), ``events`` there."""
    durations = np.asarray(durations, dtype=float)
    observed = np.asarray(events, dtype=bool)
    times = np.unique(durations)
    order = np.sort(durations)
    at_risk = len(durations) - np.searchsorted(order, times, side="left")
    counted = np.bincount(np.searchsorted(times, durations[observed]), minlength=len(times))
    return pd.DataFrame({"time": times, "at_risk": at_risk, "events": counted})


def coarse_baseline(
    baseline: pd.Series,
    durations: np.ndarray,
    events: np.ndarray,
    policy: DisclosurePolicy | None = None,
) -> pd.DataFrame:
    """The baseline survival at coarse times, with the counts that justify each.

    Parameters
    ----------
    baseline
        The fitted baseline survival S0(t), indexed by time (lifelines' ``baseline_survival_``).
    durations, events
        The training data's times and event indicators (read here, never kept).
    policy
        The airlock's thresholds; ``min_cell_count`` (10 by default) is used.

    Returns
    -------
    DataFrame
        ``time``, ``at_risk`` (at the start of the stretch), ``events`` (in the stretch ending
        at ``time``) and ``survival`` (S0 at ``time``): at most ``events // min_cell_count``
        rows, each with at least ``min_cell_count`` events and at risk. Empty with fewer
        events than that: the model then predicts survival 1 at every time.
    """
    limit = (policy or DisclosurePolicy()).min_cell_count
    table = risk_table(durations, events)
    rows: list[tuple[float, int, int]] = []
    pending, start_at_risk = 0, None
    for time, at_risk, count in table.itertuples(index=False):
        if at_risk < limit:
            break  # the tail: too few left for a reported time
        if start_at_risk is None:
            start_at_risk = int(at_risk)
        pending += int(count)
        if pending >= limit:
            rows.append((float(time), start_at_risk, pending))
            pending, start_at_risk = 0, None
    frame = pd.DataFrame(rows, columns=["time", "at_risk", "events"])
    fitted_times, fitted = baseline.index.to_numpy(float), baseline.to_numpy(float)
    frame["survival"] = baseline_at(fitted_times, fitted, frame["time"].to_numpy())
    return frame


def baseline_at(times: np.ndarray, survival: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The step function through (``times``, ``survival``) read at ``at``: the value at the
    latest stored time not after it, 1 before the first."""
    times = np.asarray(times, dtype=float)
    values = np.concatenate([[1.0], np.asarray(survival, dtype=float)])
    return np.asarray(values[np.searchsorted(times, np.asarray(at, float), side="right")])
