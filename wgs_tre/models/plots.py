"""Plots of survival models, readable at a glance: Kaplan-Meier curves with their 95% bands and
the number at risk under them, and a calibration plot of any model that predicts survival.

Each function returns a matplotlib Figure (made without pyplot, so it works headless and leaves
no figure open); a notebook displays it, ``figure.savefig`` writes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from wgs_tre.airlock.rules import DisclosurePolicy
from wgs_tre.errors import InvalidInput
from wgs_tre.models.baseline import risk_table
from wgs_tre.models.disclosure import numbers_at_risk, release_table
from wgs_tre.models.frame import EVENT, TIME, AnalysisTable, as_table
from wgs_tre.models.survival import KaplanMeier

__all__ = ["SurvivalPredictor", "calibration_plot", "km_plot"]

TIME_LABEL = "days since diagnosis"


class SurvivalPredictor(Protocol):
    def predict_survival(
        self, data: AnalysisTable | pd.DataFrame, times: Sequence[float] | np.ndarray
    ) -> np.ndarray: ...


def km_plot(
    km: KaplanMeier,
    *,
    at: Sequence[float] | None = None,
    raw: bool = False,
    policy: DisclosurePolicy | None = None,
) -> Figure:
    """Each group's Kaplan-Meier curve with its 95% band, and the number at risk under the plot.

    By default the plot shows what may leave the TRE: each group's release curve
    (:func:`wgs_tre.models.disclosure.release_table`, the curve read only where at least
    ``min_cell_count`` people have left, cut where fewer remain at risk) and numbers at risk
    that pass the airlock's survival rules (others shown as ``-``). ``raw=True`` draws the full
    curve and every number at risk: for looking at inside the TRE, not releasable.

    Parameters
    ----------
    km
        Curves from :func:`wgs_tre.models.kaplan_meier`.
    at
        Times (days) of the number-at-risk columns and the x ticks; default: round numbers.
    raw
        Draw the full curves and numbers (not releasable).
    policy
        The airlock's thresholds (``min_cell_count``, 10 by default).
    """
    figure = Figure(figsize=(7.5, 5.5), layout="constrained")
    curve_axes, table_axes = figure.subplots(2, 1, height_ratios=[4, 1], sharex=True)
    curves = {
        group: curve if raw else release_table(km, group, policy=policy)
        for group, curve in km.curves.items()
    }
    end = max((float(c["time"].max()) for c in curves.values() if len(c)), default=1.0)
    ticks: np.ndarray = np.asarray(
        MaxNLocator(nbins=6, integer=True).tick_values(0.0, end) if at is None else at, float
    )
    if at is None:
        ticks = ticks[(ticks >= 0) & (ticks <= end)]
    for group, curve in curves.items():
        times = np.concatenate([[0.0], curve["time"].to_numpy(float)])
        line = curve_axes.step(
            times, np.concatenate([[1.0], curve["survival"]]), where="post", label=_label(km, group)
        )[0]
        curve_axes.fill_between(
            times,
            np.concatenate([[1.0], curve["lower_95"]]),
            np.concatenate([[1.0], curve["upper_95"]]),
            step="post",
            alpha=0.2,
            color=line.get_color(),
        )
    title = "" if km.by is None else f" by {km.by}"
    curve_axes.set(
        ylim=(0, 1.02),
        ylabel="survival probability",
        title=f"Kaplan-Meier survival{title}" + (" (full curve: not releasable)" if raw else ""),
    )
    curve_axes.legend(loc="lower left")
    curve_axes.grid(alpha=0.3)
    right = max(end, float(ticks.max(initial=0.0)))
    _draw_at_risk(table_axes, km, numbers_at_risk(km, ticks, raw=raw, policy=policy))
    table_axes.set(xticks=ticks, xlim=(-0.04 * right, right), xlabel=TIME_LABEL)
    return figure


def _label(km: KaplanMeier, group: str) -> str:
    return str(group) if km.by is None else f"{km.by} = {group}"


def _draw_at_risk(axes: Axes, km: KaplanMeier, counts: pd.DataFrame) -> None:
    """Rows of numbers at risk, one per group, under the tick they belong to."""
    groups = list(counts.index)
    for row, group in enumerate(groups):
        for time, count in counts.loc[group].items():
            label = "-" if pd.isna(count) else str(int(count))
            axes.text(float(time), row, label, ha="center", va="center", fontsize=9)
    axes.set(
        ylim=(len(groups) - 0.5, -0.5),
        yticks=range(len(groups)),
        yticklabels=[_label(km, g) for g in groups],
        title="number at risk",
    )
    axes.title.set_fontsize(9)
    axes.tick_params(left=False)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)


def _kaplan_meier_at(durations: np.ndarray, events: np.ndarray, time: float) -> float:
    """The product-limit estimate at ``time``: the product of 1 - events / at risk."""
    table = risk_table(durations, events)
    table = table[table["time"] <= time]
    return float(np.prod(1.0 - table["events"] / table["at_risk"]))


def calibration_plot(
    model: SurvivalPredictor,
    data: AnalysisTable | pd.DataFrame,
    time: float,
    *,
    groups: int = 10,
    time_column: str = TIME,
    event_column: str = EVENT,
) -> tuple[Figure, pd.DataFrame]:
    """Predicted against observed survival at ``time``, by groups of predicted risk.

    Participants are split into ``groups`` equal-sized groups (deciles by default) of
    predicted survival at ``time``; in each, the mean prediction is set against the
    Kaplan-Meier estimate at ``time``. A calibrated model lies on the diagonal. ``model`` is
    any with ``predict_survival(data, times)`` (rows x times); ``time_column`` and
    ``event_column`` name a DataFrame's outcome columns.

    Returns
    -------
    (Figure, DataFrame)
        The plot, and its numbers: per group (1 = highest predicted risk) ``participants``,
        ``predicted`` and ``observed`` survival.
    """
    features = list(getattr(model, "features", ())) or None
    table = as_table(data, time=time_column, event=event_column, features=features)
    if not 2 <= groups <= len(table):
        raise InvalidInput("groups", f"expected 2 to {len(table)} groups, not {groups}")
    frame = table.frame
    predicted = np.asarray(model.predict_survival(table, [float(time)]), dtype=float)[:, 0]
    # ranks, not values, so that tied predictions still make equal-sized groups
    order = np.argsort(predicted, kind="stable")
    member = np.empty(len(order), dtype=int)
    member[order] = np.arange(len(order)) * groups // len(order)
    durations, events = frame[TIME].to_numpy(float), frame[EVENT].to_numpy(bool)
    numbers = pd.DataFrame(
        [
            {
                "group": g + 1,
                "participants": int((member == g).sum()),
                "predicted": float(predicted[member == g].mean()),
                "observed": _kaplan_meier_at(durations[member == g], events[member == g], time),
            }
            for g in range(groups)
        ]
    ).set_index("group")
    figure = Figure(figsize=(5.5, 5.5), layout="constrained")
    axes = figure.subplots()
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    axes.plot(numbers["predicted"], numbers["observed"], marker="o", label="groups of risk")
    axes.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel=f"predicted survival probability at {time:g} days",
        ylabel=f"observed survival probability at {time:g} days (Kaplan-Meier)",
        title=f"Calibration at {time:g} days since diagnosis ({groups} groups of risk)",
    )
    axes.legend(loc="upper left")
    axes.grid(alpha=0.3)
    return figure, numbers
