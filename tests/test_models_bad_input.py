"""Bad input to every model of ``wgs_tre.models`` is refused before the solver runs, with a
message naming the problem and the column, never a solver's traceback."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from lifelines.exceptions import ConvergenceError, ConvergenceWarning

from wgs_tre import models
from wgs_tre.errors import InvalidInput
from wgs_tre.models.checks import converged

N = 80


def cohort(seed: int = 0) -> pd.DataFrame:
    """A small valid cohort: follow-up in days, about half with the event, two features."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "time": rng.exponential(500, N).round() + 1,
        "event": rng.random(N) < 0.5,
        "age": rng.normal(60, 10, N),
        "carrier": (rng.random(N) < 0.4).astype(int),
        "arm": rng.choice(["a", "b"], N),
    })  # fmt: skip


FITS: dict[str, Callable[[pd.DataFrame], Any]] = {
    "cox": lambda frame: models.cox(frame, ["age", "carrier"]),
    "boosted_forest": lambda frame: models.boosted_forest(
        frame, ["age", "carrier"], n_estimators=5
    ),
    "kaplan_meier": lambda frame: models.kaplan_meier(frame, by="arm"),
    "log_rank": lambda frame: models.log_rank(frame, "arm"),
    "cross_validate": lambda frame: models.cross_validate(frame, ["age", "carrier"], folds=3),
}
WITH_FEATURES = ["cox", "boosted_forest", "cross_validate"]


def refused(fit: str, frame: pd.DataFrame, *words: str) -> InvalidInput:
    """The fit raises InvalidInput naming ``fit`` and every word; no solver error underneath
    and no convergence warning on the way."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(InvalidInput) as caught:
            FITS[fit](frame)
    message = str(caught.value)
    assert message.startswith(fit), message
    for word in words:
        assert word in message, message
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__
    return caught.value


def test_the_cohort_itself_fits_everywhere() -> None:
    """The bad cases below each break this one valid cohort in one way."""
    for fit in FITS.values():
        fit(cohort())


@pytest.mark.parametrize("fit", list(FITS))
def test_no_events_says_all_are_censored(fit: str) -> None:
    frame = cohort().assign(event=False)
    refused(fit, frame, "no events", f"all {N} participants are censored")


@pytest.mark.parametrize("fit", list(FITS))
def test_missing_follow_up_names_the_column_and_counts_rows(fit: str) -> None:
    frame = cohort()
    frame.loc[[3, 7, 11], "time"] = np.nan
    refused(fit, frame, "'time'", "3 row(s)", "no follow-up time")


@pytest.mark.parametrize("fit", list(FITS))
def test_negative_follow_up_is_refused(fit: str) -> None:
    frame = cohort()
    frame.loc[5, "time"] = -2.0
    refused(fit, frame, "'time'", "1 row(s)", "negative follow-up")


@pytest.mark.parametrize("fit", list(FITS))
def test_missing_event_status_is_refused(fit: str) -> None:
    frame = cohort().astype({"event": float})
    frame.loc[[0, 1], "event"] = np.nan
    refused(fit, frame, "'event'", "2 row(s)", "no event status")


@pytest.mark.parametrize("fit", list(FITS))
def test_an_event_column_that_is_not_0_1_is_refused(fit: str) -> None:
    frame = cohort().assign(event=lambda f: f["event"].astype(int) * 2)
    refused(fit, frame, "'event'", "0/1")


@pytest.mark.parametrize("fit", list(FITS))
def test_too_few_participants(fit: str) -> None:
    refused(fit, cohort().head(6), "too few participants: 6")


@pytest.mark.parametrize("fit", WITH_FEATURES)
def test_a_constant_covariate_is_named(fit: str) -> None:
    refused(fit, cohort().assign(carrier=1), "feature 'carrier'", "constant (zero variance)")


@pytest.mark.parametrize("fit", WITH_FEATURES)
def test_a_missing_covariate_value_is_named_and_counted(fit: str) -> None:
    frame = cohort()
    frame.loc[[2, 4, 6, 8], "age"] = np.nan
    refused(fit, frame, "feature 'age'", "4 row(s)", "no value")


@pytest.mark.parametrize("fit", WITH_FEATURES)
def test_a_non_numeric_covariate_is_named(fit: str) -> None:
    frame = cohort().assign(carrier=lambda f: f["carrier"].map({0: "no", 1: "yes"}))
    refused(fit, frame, "feature 'carrier'", "not numeric")


@pytest.mark.parametrize("fit", ["cox", "cross_validate"])
def test_perfect_separation_names_the_feature(fit: str) -> None:
    """Every event among carriers: the carrier coefficient is infinite."""
    frame = cohort()
    frame.loc[frame["carrier"] == 0, "event"] = False
    refused(fit, frame, "feature 'carrier'", "perfectly separates events")


def test_perfect_separation_the_other_way_and_in_a_continuous_feature() -> None:
    frame = cohort()
    frame.loc[frame["carrier"] == 1, "event"] = False  # no carrier has the event
    refused("cox", frame, "feature 'carrier'", "lowest value")
    ordered = cohort().assign(time=lambda f: f["age"].rank(ascending=False))
    refused("cox", ordered, "feature 'age'", "highest value")  # the oldest always go first


def test_separation_is_fitted_when_penalised() -> None:
    """A penalty keeps the coefficient finite, so the same data fit."""
    frame = cohort()
    frame.loc[frame["carrier"] == 0, "event"] = False
    fit = models.cox(frame, ["age", "carrier"], penalizer=0.5)
    assert 0 < fit.coefficients["carrier"] < 5


def test_the_forest_fits_a_separating_feature() -> None:
    """Trees have no coefficient to diverge: the forest gives carriers the higher risk."""
    frame = cohort()
    frame.loc[frame["carrier"] == 0, "event"] = False
    forest = models.boosted_forest(frame, ["age", "carrier"], n_estimators=20)
    risk = forest.predict_risk(frame)
    assert risk[frame["carrier"] == 1].min() > risk[frame["carrier"] == 0].max()


def test_joint_separation_is_caught_when_lifelines_does_not_converge() -> None:
    """Neither feature separates alone, their sum does: the solver fails, the user reads why."""
    rng = np.random.default_rng(1)
    x1, x2 = rng.normal(size=60), rng.normal(size=60)
    frame = pd.DataFrame({
        "time": (-(x1 + x2)).argsort().argsort() + 1.0,  # the highest sum fails first
        "event": rng.random(60) < 0.7,
        "x1": x1, "x2": x2,
    })  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(InvalidInput, match="did not converge") as caught:
            models.cox(frame, ["x1", "x2"])
    assert "'x1', 'x2'" in str(caught.value) and "penalizer" in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_collinear_features_are_named() -> None:
    frame = cohort().assign(age_months=lambda f: f["age"] * 12)
    with pytest.raises(InvalidInput, match="feature 'age_months'.*collinear"):
        models.cox(frame, ["age", "carrier", "age_months"])


def test_groups_are_checked() -> None:
    refused("log_rank", cohort().assign(arm="a"), "'arm'", "1 group(s); at least 2")
    frame = cohort()
    frame.loc[[1, 2], "arm"] = None
    refused("kaplan_meier", frame, "'arm'", "2 row(s)", "no group")


def test_cross_validation_options_are_checked() -> None:
    with pytest.raises(InvalidInput, match=r"model: is 'svm'; expected one of \('cox', 'forest'\)"):
        models.cross_validate(cohort(), model="svm")
    with pytest.raises(InvalidInput, match="'n_estimators': is not an option of the cox model"):
        models.cross_validate(cohort(), model="cox", n_estimators=10)
    few = cohort().assign(event=lambda f: f.index < 3)
    with pytest.raises(InvalidInput, match="folds: is 5; .* number of events \\(3\\)"):
        models.cross_validate(few, ["age"])


def test_an_unknown_feature_is_named() -> None:
    with pytest.raises(InvalidInput, match="'stage'.* is not in the analysis table"):
        models.cox(cohort(), ["age", "stage"])


def test_a_solver_error_becomes_invalid_input_naming_the_feature_lifelines_names() -> None:
    """lifelines raises ConvergenceError on a singular Hessian (not reached through the checks
    above, which refuse its causes first): the wrapper turns it into InvalidInput."""

    def failing_fit() -> None:
        raise ConvergenceError("Convergence halted: column 'carrier' ... matrix inversion", None)

    with pytest.raises(InvalidInput, match="suspect feature\\(s\\): 'carrier'\\.") as caught:
        converged(failing_fit, ["age", "carrier"], "cox")
    assert caught.value.__suppress_context__


@pytest.mark.parametrize(("penalizer", "l1_ratio"), [(-0.1, 0.0), (0.1, 1.5)])
def test_a_penalty_out_of_range_is_refused(penalizer: float, l1_ratio: float) -> None:
    with pytest.raises(InvalidInput, match="penalizer must be >= 0 and l1_ratio in"):
        models.cox(cohort(), ["age"], penalizer=penalizer, l1_ratio=l1_ratio)
