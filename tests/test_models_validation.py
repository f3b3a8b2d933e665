"""``cross_validate`` against the same folds built here and scored by lifelines and
scikit-survival called directly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from sklearn.model_selection import StratifiedKFold
from sksurv.datasets import load_whas500
from sksurv.ensemble import GradientBoostingSurvivalAnalysis
from sksurv.metrics import (
    concordance_index_censored,
    cumulative_dynamic_auc,
    integrated_brier_score,
)

from wgs_tre import models
from wgs_tre.models.frame import FitRecord

FEATURES = ["age", "bmi", "hr", "sysbp", "chf", "gender"]


@pytest.fixture(scope="module")
def whas() -> pd.DataFrame:
    x, y = load_whas500()
    return x[FEATURES].astype(float).assign(time=y["lenfol"], event=y["fstat"])


def _folds(frame: pd.DataFrame, folds: int = 5, seed: int = 0) -> list[tuple[np.ndarray, ...]]:
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(frame, frame["event"]))


def _outcome(frame: pd.DataFrame) -> np.ndarray:
    return np.array(
        list(zip(frame["event"].astype(bool), frame["time"], strict=True)),
        dtype=[("event", bool), ("time", float)],
    )


def test_cox_cross_validation_equals_direct_scoring_of_the_same_folds(whas: pd.DataFrame) -> None:
    times = [200.0, 500.0, 1000.0]
    result = models.cross_validate(whas, FEATURES, model="cox", folds=5, seed=0, times=times)
    assert len(result.folds) == 5
    for number, (train, test) in enumerate(_folds(whas), 1):
        fold = result.folds.loc[number]
        fitter = CoxPHFitter().fit(whas.iloc[train], "time", "event")
        held_out = whas.iloc[test]
        risk = fitter.predict_log_partial_hazard(held_out).to_numpy()
        y_train, y_test = _outcome(whas.iloc[train]), _outcome(held_out)
        harrell = concordance_index_censored(y_test["event"], y_test["time"], risk)[0]
        assert fold["concordance"] == pytest.approx(harrell, abs=1e-10)
        # scikit-survival cannot weight a held-out event after the training fold's last time:
        # censor the held-out fold at 1500 days, after the last time read (no metric at or
        # before 1000 days changes; the code under test censors just after 1000)
        late = y_test["time"] > 1500
        y_test["time"][late], y_test["event"][late] = 1500, False
        auc, mean_auc = cumulative_dynamic_auc(y_train, y_test, risk, times)
        assert fold["auc"] == pytest.approx(mean_auc, abs=1e-10)
        assert fold[["auc@200", "auc@500", "auc@1000"]].to_numpy() == pytest.approx(auc)
        # lifelines' own step function of survival, read at the grid with pandas' asof; the
        # model keeps its baseline only at coarse times (10 events or more behind each step),
        # so its score is close to the full curve's, not equal
        grid = np.linspace(200.0, 1000.0, 20)
        curves = fitter.predict_survival_function(held_out)
        survival = np.array([[curves[c].asof(t) for t in grid] for c in curves.columns])
        brier = integrated_brier_score(y_train, y_test, survival, grid)
        assert fold["brier"] == pytest.approx(brier, abs=2e-3)
    assert result.mean["concordance"] == pytest.approx(result.folds["concordance"].mean())
    assert 0.65 < result.mean["concordance"] < 0.85


def test_forest_cross_validation_equals_direct_scoring(whas: pd.DataFrame) -> None:
    result = models.cross_validate(whas, FEATURES, model="forest", folds=3, n_estimators=30)
    times = np.percentile(whas["time"][whas["event"].astype(bool)], [25, 50, 75])
    assert result.times == pytest.approx(tuple(times))
    assert "brier" not in result.folds  # the forest keeps no baseline to predict survival from
    for number, (train, test) in enumerate(_folds(whas, folds=3), 1):
        direct = GradientBoostingSurvivalAnalysis(
            loss="coxph", n_estimators=30, min_samples_leaf=10, max_depth=3, random_state=0
        ).fit(whas.iloc[train][FEATURES].to_numpy(), _outcome(whas.iloc[train]))
        risk = direct.predict(whas.iloc[test][FEATURES].to_numpy())
        y_test = _outcome(whas.iloc[test])
        harrell = concordance_index_censored(y_test["event"], y_test["time"], risk)[0]
        assert result.folds.loc[number, "concordance"] == pytest.approx(harrell, abs=1e-10)


def test_a_cross_validation_is_one_audit_event(whas: pd.DataFrame) -> None:
    records: list[FitRecord] = []
    plain = models.as_table(whas, features=FEATURES)
    table = models.AnalysisTable(plain.frame, plain.features, on_fit=records.append)
    models.cross_validate(table, model="cox", folds=4, seed=3)
    assert len(records) == 1
    (record,) = records
    assert (record.model, record.participants, record.features) == (
        "cross_validation",
        500,
        tuple(FEATURES),
    )
    assert record.options == {"folds": 4, "estimator": "cox", "seed": 3}


def test_folds_are_stratified_by_event(whas: pd.DataFrame) -> None:
    """Each held-out fold has its share of events (215 of 500): 43 of 100, give or take one."""
    result = models.cross_validate(whas, FEATURES, folds=5)
    for _, test in _folds(whas):
        assert abs(whas["event"].iloc[test].sum() - 43) <= 1
    assert result.folds.index.tolist() == [1, 2, 3, 4, 5]


def test_the_summary_reads_at_a_glance(whas: pd.DataFrame) -> None:
    result = models.cross_validate(whas, FEATURES, folds=5)
    mean, spread = result.folds["concordance"].mean(), result.folds["concordance"].std()
    text = str(result)
    assert f"concordance {mean:.2f} ± {spread:.2f}" in text
    assert text.endswith("over 5 folds")
    assert "brier" in text and "auc" in text


def test_times_outside_a_fold_are_clipped_inside_it(whas: pd.DataFrame) -> None:
    """A time beyond every follow-up is read just before each fold's last one."""
    result = models.cross_validate(whas, FEATURES, folds=3, times=[100.0, 1e6])
    assert result.times == (100.0, 1e6)
    assert result.folds["auc@1e+06"].between(0, 1).all()
