"""Checks of survival tables (Kaplan-Meier): how many people stand behind each step.

A Kaplan-Meier table reports, at each time, the number still at risk and the events there; its
curve drops at each event. Two things disclose:

- ``survival-at-risk``: a time at which fewer than ``min_cell_count`` people are at risk (the
  curve's tail describes a handful of people, whose times can be read off it);
- ``survival-step``: a step that fewer than ``min_cell_count`` people leave, by an event or by
  censoring, since the previous reported time (subtracting two neighbouring numbers at risk
  discloses when those few had their event).

The fix is :func:`coarsen_survival`: the table reported only at times where at least
``min_cell_count`` people have left since the last one (the survival probability at those times
is unchanged: it is the same curve, read less often), and cut where fewer than
``min_cell_count`` remain at risk. ACRO rounds its survival tables the same way (its
``_rounded_survival_table``); its own check of a survival table in version 1.0.2 fails every
table on degrees of freedom, so it is no oracle here.

Tables are recognised by their columns: the number at risk (lifelines' ``at_risk``,
statsmodels' and ACRO's ``num at risk``, R's ``n.risk``, ...) and the events (``observed``,
``num events``, ``n.event``, ...); the time is a ``time``/``timeline`` column or the first one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wgs_tre.airlock.rules import DisclosurePolicy, Finding, Fix, RuleId

__all__ = ["check_survival", "coarsen_survival", "survival_columns"]

AT_RISK = ("at_risk", "num at risk", "n.risk", "n_risk", "number_at_risk", "at risk", "nrisk")
EVENTS = ("observed", "num events", "n.event", "n_event", "events", "deaths", "nevent")
TIMES = ("time", "timeline", "event_at", "times", "t")


def _find(columns: list[str], names: tuple[str, ...]) -> str | None:
    lowered = {str(c).strip().lower(): c for c in columns}
    return next((lowered[n] for n in names if n in lowered), None)


def survival_columns(frame: pd.DataFrame) -> tuple[str, str, str] | None:
    """(time, at risk, events) columns of a survival table, or None if it is not one."""
    columns = list(frame.columns)
    at_risk, events = _find(columns, AT_RISK), _find(columns, EVENTS)
    if at_risk is None or events is None:
        return None
    time = _find(columns, TIMES) or next(c for c in columns if c not in (at_risk, events))
    return time, at_risk, events


def _counts(frame: pd.DataFrame) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    found = survival_columns(frame)
    if found is None:
        raise ValueError("not a survival table: no number-at-risk and events columns")
    time, at_risk, events = found
    return (
        frame[time].astype(str),
        frame[at_risk].to_numpy(dtype=float),
        frame[events].to_numpy(dtype=float),
    )


def check_survival(frame: pd.DataFrame, policy: DisclosurePolicy | None = None) -> list[Finding]:
    """The findings of a Kaplan-Meier table (rows in time order)."""
    policy = policy or DisclosurePolicy()
    limit = policy.min_cell_count
    times, at_risk, events = _counts(frame)
    findings = []
    few = (at_risk > 0) & (at_risk < limit)
    if few.any():
        cells = tuple((t, "at risk") for t in times[few])
        findings.append(
            Finding(
                RuleId.SURVIVAL_AT_RISK,
                f"{int(few.sum())} time(s) with fewer than {limit} people at risk",
                fixes=(Fix.AGGREGATE,),
                cells=cells,
            )
        )
    # People leaving the risk set at each reported time: the drop to the next number at risk
    # (events and censoring together), the last row's at risk all leaving after it.
    leaving = at_risk - np.append(at_risk[1:], 0.0)
    small = (events > 0) & (leaving > 0) & (leaving < limit)
    if small.any():
        cells = tuple((t, "step") for t in times[small])
        findings.append(
            Finding(
                RuleId.SURVIVAL_STEP,
                f"{int(small.sum())} step(s) that fewer than {limit} people leave",
                fixes=(Fix.AGGREGATE,),
                cells=cells,
            )
        )
    return findings


def coarsen_survival(frame: pd.DataFrame, policy: DisclosurePolicy | None = None) -> pd.DataFrame:
    """The table reported only at times where at least ``min_cell_count`` people have left
    since the last reported time, and only while at least ``min_cell_count`` are at risk. The
    events of the rows dropped are added to the next row kept; the other columns (survival,
    its standard error) are those of the rows kept, which the dropped rows do not change."""
    policy = policy or DisclosurePolicy()
    limit = policy.min_cell_count
    _, at_risk, events = _counts(frame)
    _, at_risk_col, events_col = survival_columns(frame)  # type: ignore[misc]
    kept: list[int] = []
    summed: list[float] = []
    pending = 0.0
    last_at_risk = None
    for row in range(len(frame)):
        if at_risk[row] < limit:
            break
        pending += events[row]
        after = at_risk[row + 1] if row + 1 < len(frame) else 0.0
        left_since = (last_at_risk if last_at_risk is not None else at_risk[0]) - after
        if left_since >= limit:  # else merged with the next (or, at the tail, not reported)
            kept.append(row)
            summed.append(pending)
            pending, last_at_risk = 0.0, after
    out = frame.iloc[kept].copy()
    out[events_col] = summed
    # the at risk reported is the number before the first of the merged steps
    starts = [0] + [k + 1 for k in kept[:-1]]
    out[at_risk_col] = at_risk[starts] if kept else at_risk[:0]
    return out
