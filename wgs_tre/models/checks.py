"""Checks an analysis table passes before any model is fitted to it.

A solver given bad input fails late and in its own words (a singular matrix, a coefficient
running off to infinity). These checks find the cause first and name it: the column, the
feature and how many rows, never a row's value or a pseudonym.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
import pandas as pd
from lifelines.exceptions import ConvergenceError, ConvergenceWarning
from threadpoolctl import threadpool_limits

from wgs_tre.errors import InvalidInput
from wgs_tre.models.frame import EVENT, TIME, AnalysisTable

__all__ = [
    "MIN_PARTICIPANTS",
    "check_collinearity",
    "check_features",
    "check_groups",
    "check_outcome",
    "check_separation",
    "check_table",
    "converged",
]

MIN_PARTICIPANTS = 10  # below this no survival estimate is worth reporting

T = TypeVar("T")


def check_outcome(table: AnalysisTable, where: str) -> None:
    """Follow-up time present and not negative, event status 0/1, and at least one event."""
    time, event = table.frame[TIME], table.frame[EVENT]
    if not pd.api.types.is_numeric_dtype(time):
        raise InvalidInput(f"{where}: column 'time'", "is not numeric (follow-up in days)")
    _refuse_rows(where, "time", time.isna(), "have no follow-up time (missing)")
    _refuse_rows(where, "time", np.isinf(time.to_numpy(dtype=float)), "have an infinite time")
    _refuse_rows(where, "time", time < 0, "have a negative follow-up time")
    _refuse_rows(where, "event", event.isna(), "have no event status (missing)")
    if not event.isin([0, 1]).all():
        raise InvalidInput(
            f"{where}: column 'event'", "must be 0/1 or False/True (1 = the event happened)"
        )
    if len(table) < MIN_PARTICIPANTS:
        raise InvalidInput(
            where,
            f"too few participants: {len(table)} (at least {MIN_PARTICIPANTS} are needed)",
        )
    if table.events == 0:
        raise InvalidInput(
            where,
            f"no events: all {len(table)} participants are censored, so there is nothing to model",
        )


def check_features(table: AnalysisTable, where: str) -> None:
    """Every feature numeric, complete, finite and not constant."""
    for name in table.features:
        column = table.frame[name]
        if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)):
            raise InvalidInput(
                f"{where}: feature {name!r}",
                f"is not numeric ({column.dtype}); encode it first, e.g. one 0/1 column per level",
            )
        _refuse_rows(where, name, column.isna(), "have no value (missing)", kind="feature")
        values = column.to_numpy(dtype=float)
        _refuse_rows(where, name, np.isinf(values), "have an infinite value", kind="feature")
        if np.ptp(values) == 0:
            raise InvalidInput(
                f"{where}: feature {name!r}",
                "is constant (zero variance): it cannot explain survival; drop it",
            )


def check_table(table: AnalysisTable, where: str) -> None:
    """The outcome and every feature (:func:`check_outcome`, :func:`check_features`)."""
    check_outcome(table, where)
    check_features(table, where)


def check_groups(table: AnalysisTable, by: str, where: str, *, at_least: int = 1) -> None:
    """``by`` is a column without missing values and with ``at_least`` groups."""
    if by not in table.frame:
        raise InvalidInput(f"{where}: column {by!r}", "is not in the analysis table")
    column = table.frame[by]
    _refuse_rows(where, by, column.isna(), "have no group (missing)")
    groups = column.nunique()
    if groups < at_least:
        raise InvalidInput(
            f"{where}: column {by!r}", f"has {groups} group(s); at least {at_least} are needed"
        )


def check_separation(table: AnalysisTable, where: str) -> None:
    """Refuse a feature that alone makes the Cox likelihood monotone (perfect separation).

    If at every event the participant with the event has the largest value of a feature among
    those still at risk (or at every event the smallest), the partial likelihood keeps rising
    as that coefficient grows: its estimate is infinite. For a 0/1 feature this is the case
    when one level has no events at all.
    """
    frame = table.frame.sort_values(TIME, kind="stable")
    time = frame[TIME].to_numpy(dtype=float)
    event = frame[EVENT].to_numpy(dtype=bool)
    # the risk set of an event at t is everyone with time >= t (ties included)
    first_at_risk = np.searchsorted(time, time[event], side="left")
    for name in table.features:
        x = frame[name].to_numpy(dtype=float)
        largest_from = np.maximum.accumulate(x[::-1])[::-1]
        smallest_from = np.minimum.accumulate(x[::-1])[::-1]
        highest = np.all(x[event] >= largest_from[first_at_risk])
        lowest = np.all(x[event] <= smallest_from[first_at_risk])
        if highest or lowest:
            side = "highest" if highest else "lowest"
            raise InvalidInput(
                f"{where}: feature {name!r}",
                "perfectly separates events (monotone likelihood): every event is among those "
                f"with the {side} value still at risk, so its coefficient is infinite. "
                "Drop or merge it, or fit with a penalizer",
            )


def check_collinearity(table: AnalysisTable, where: str) -> None:
    """Refuse features that are linear combinations of the others (no unique estimate)."""
    x = table.frame[list(table.features)].to_numpy(dtype=float)
    x = x - x.mean(axis=0)
    if _rank(x) == x.shape[1]:
        return
    for j in range(1, x.shape[1]):
        if _rank(x[:, : j + 1]) <= j:
            raise InvalidInput(
                f"{where}: feature {table.features[j]!r}",
                "is a linear combination of the features before it (collinear); drop one",
            )


def _rank(x: np.ndarray) -> int:
    """``np.linalg.matrix_rank`` on one BLAS thread: a tall, narrow SVD (10,000 x 50) takes
    milliseconds on one, but its threads wait on each other when the host's cores are busy
    with other sessions (measured 4-10x slower, median, on a loaded 2-core host)."""
    with threadpool_limits(1, user_api="blas"):
        return int(np.linalg.matrix_rank(x))


def converged(fit: Callable[[], T], features: Sequence[str], where: str) -> T:
    """Run a lifelines fit; a failure to converge becomes InvalidInput naming the suspect.

    ``fit`` returns the fitted result; the suspect is named from lifelines' message when it
    names a column, otherwise every feature is listed.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            result = fit()
        except (ConvergenceError, np.linalg.LinAlgError) as error:
            raise InvalidInput(where, _not_converged(str(error), features)) from None
    for warning in caught:
        message = str(warning.message)
        if issubclass(warning.category, ConvergenceWarning) and _is_failure(message):
            raise InvalidInput(where, _not_converged(message, features))
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return result


def _is_failure(message: str) -> bool:
    # lifelines warns before fitting too (low variance, ...); only these mean the fit failed
    return any(
        words in message
        for words in ("failed to converge", "norm(delta) is still high", "suspiciously close")
    )


def _not_converged(message: str, features: Sequence[str]) -> str:
    named = [f for f in features if repr(f) in message or f" {f} " in message]
    suspects = ", ".join(repr(f) for f in (named or features))
    return (
        "the model did not converge (collinear features or perfect separation); "
        f"suspect feature(s): {suspects}. Drop or merge them, or fit with a penalizer"
    )


def _refuse_rows(
    where: str, column: str, bad: pd.Series | np.ndarray, problem: str, *, kind: str = "column"
) -> None:
    count = int(np.count_nonzero(bad))
    if count:
        raise InvalidInput(f"{where}: {kind} {column!r}", f"{count} row(s) {problem}")
