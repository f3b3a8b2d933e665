"""Cox, Kaplan-Meier, log-rank and the boosted forest of ``wgs_tre.models`` against independent
oracles: the coefficients lifelines' documentation publishes for the Rossi data, lifelines and
scikit-survival called directly on the same data."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.datasets import load_rossi, load_waltons
from lifelines.statistics import multivariate_logrank_test, proportional_hazard_test
from sksurv.datasets import load_whas500
from sksurv.ensemble import GradientBoostingSurvivalAnalysis
from sksurv.metrics import concordance_index_censored

from wgs_tre import models
from wgs_tre.errors import InvalidInput
from wgs_tre.models.frame import FitRecord

ROSSI_FEATURES = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]
# lifelines' documentation (Survival regression, "Cox's proportional hazard model"), rounded
# to 3 decimals as printed there: the oracle independent of any code run here
ROSSI_PUBLISHED = {
    "fin": -0.379, "age": -0.057, "race": 0.314, "wexp": -0.150,
    "mar": -0.434, "paro": -0.085, "prio": 0.091,
}  # fmt: skip


@pytest.fixture(scope="module")
def rossi() -> pd.DataFrame:
    return load_rossi()


@pytest.fixture(scope="module")
def whas500() -> tuple[pd.DataFrame, np.ndarray]:
    """scikit-survival's WHAS500 with its numeric and 0/1 columns as floats, and its outcome."""
    x, y = load_whas500()
    return x.astype(float), y


def test_cox_reproduces_the_rossi_coefficients_lifelines_publishes(rossi: pd.DataFrame) -> None:
    fit = models.cox(rossi, ROSSI_FEATURES, time="week", event="arrest")
    published = pd.Series(ROSSI_PUBLISHED)
    assert fit.coefficients.round(3).to_dict() == published.to_dict()
    assert (fit.participants, fit.events) == (432, 114)


def test_cox_equals_lifelines_called_directly(rossi: pd.DataFrame) -> None:
    fit = models.cox(rossi, ROSSI_FEATURES, time="week", event="arrest")
    direct = CoxPHFitter().fit(rossi, "week", "arrest")
    np.testing.assert_allclose(fit.coefficients, direct.params_[ROSSI_FEATURES], rtol=1e-10)
    np.testing.assert_allclose(fit.summary["se"], direct.standard_errors_[ROSSI_FEATURES])
    np.testing.assert_allclose(fit.summary["p"], direct.summary["p"][ROSSI_FEATURES])
    assert fit.concordance == pytest.approx(direct.concordance_index_, abs=1e-12)
    risk = direct.predict_log_partial_hazard(rossi).to_numpy()
    np.testing.assert_allclose(fit.predict_risk(rossi), risk, atol=1e-10)


def test_the_proportional_hazards_check_equals_lifelines_test(rossi: pd.DataFrame) -> None:
    fit = models.cox(rossi, ROSSI_FEATURES, time="week", event="arrest")
    direct = CoxPHFitter().fit(rossi, "week", "arrest")
    check = proportional_hazard_test(direct, rossi, time_transform="rank").summary
    np.testing.assert_allclose(
        fit.proportional_hazards["statistic"], check["test_statistic"][ROSSI_FEATURES]
    )
    np.testing.assert_allclose(fit.proportional_hazards["p"], check["p"][ROSSI_FEATURES])
    # lifelines' documentation finds age and wexp violating the assumption on these data
    assert set(fit.proportional_hazards.index[fit.proportional_hazards["p"] < 0.05]) == {
        "age",
        "wexp",
    }


@pytest.mark.parametrize("penalizer", [0.0, 0.2])
def test_the_proportional_hazards_check_with_many_ties(penalizer: float) -> None:
    """2,000 participants, follow-up in whole months (many tied events), one effect that
    fades with time: the vectorised check equals lifelines' row-by-row one and finds it."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2000, 3))
    early = rng.exponential(1 / np.exp(1.2 * x[:, 0]))  # x0 matters only early on
    time = np.where(early < 0.5, early, 0.5 + rng.exponential(1.0, 2000))
    frame = pd.DataFrame(x, columns=["x0", "x1", "x2"]).assign(
        time=np.ceil(np.minimum(time, 3.0) * 12), event=time < 3.0
    )
    fit = models.cox(frame, penalizer=penalizer)
    direct = CoxPHFitter(penalizer=penalizer).fit(frame, "time", "event")
    check = proportional_hazard_test(direct, frame, time_transform="rank").summary
    np.testing.assert_allclose(
        fit.proportional_hazards["statistic"], check["test_statistic"][["x0", "x1", "x2"]]
    )
    assert fit.proportional_hazards["p"]["x0"] < 1e-6


@pytest.mark.parametrize(("penalizer", "l1_ratio"), [(0.1, 0.0), (0.05, 0.5)])
def test_the_penalty_passes_through(rossi: pd.DataFrame, penalizer: float, l1_ratio: float) -> None:
    fit = models.cox(
        rossi, ROSSI_FEATURES, time="week", event="arrest", penalizer=penalizer, l1_ratio=l1_ratio
    )
    direct = CoxPHFitter(penalizer=penalizer, l1_ratio=l1_ratio).fit(rossi, "week", "arrest")
    np.testing.assert_allclose(fit.coefficients, direct.params_[ROSSI_FEATURES], atol=1e-8)
    unpenalized = models.cox(rossi, ROSSI_FEATURES, time="week", event="arrest")
    assert fit.coefficients.abs().sum() < unpenalized.coefficients.abs().sum()
    assert fit.options == {"penalizer": penalizer, "l1_ratio": l1_ratio}


def test_the_cox_model_keeps_no_fitter_and_no_row(rossi: pd.DataFrame) -> None:
    fit = models.cox(rossi, ROSSI_FEATURES, time="week", event="arrest")
    for value in vars(fit).values():
        assert not isinstance(value, CoxPHFitter)
        if isinstance(value, pd.DataFrame | pd.Series):
            assert len(value) != len(rossi)


def test_kaplan_meier_medians_and_log_rank_equal_lifelines() -> None:
    waltons = load_waltons()
    curves = models.kaplan_meier(waltons, by="group", time="T", event="E")
    for name, group in waltons.groupby("group"):
        direct = KaplanMeierFitter().fit(group["T"], group["E"])
        assert curves.medians[str(name)] == direct.median_survival_time_
        np.testing.assert_allclose(
            curves.curves[str(name)]["survival"], direct.survival_function_.iloc[:, 0]
        )
    assert curves.medians == {"control": 58.0, "miR-137": 26.0}  # finite: both reach 0.5
    test = models.log_rank(waltons, "group", time="T", event="E")
    direct_test = multivariate_logrank_test(waltons["T"], waltons["group"], waltons["E"])
    assert test.p_value == pytest.approx(direct_test.p_value, rel=1e-12)
    assert test.statistic == pytest.approx(direct_test.test_statistic, rel=1e-12)
    assert test.p_value < 1e-5


def _direct_boosting(x: pd.DataFrame, y: np.ndarray, **options: Any) -> Any:
    settings = {"n_estimators": 60, "min_samples_leaf": 10, "max_depth": 3, "random_state": 0}
    settings.update(options)
    return GradientBoostingSurvivalAnalysis(loss="coxph", **settings).fit(x.to_numpy(), y)


def _as_frame(x: pd.DataFrame, y: np.ndarray) -> pd.DataFrame:
    return x.assign(time=y["lenfol"], event=y["fstat"])


@pytest.mark.parametrize("subsample", [1.0, 0.7])
def test_forest_equals_scikit_survival_called_directly(
    whas500: tuple[pd.DataFrame, np.ndarray], subsample: float
) -> None:
    x, y = whas500
    forest = models.boosted_forest(_as_frame(x, y), n_estimators=60, subsample=subsample)
    direct = _direct_boosting(x, y, subsample=subsample)
    np.testing.assert_allclose(
        forest.predict_risk(_as_frame(x, y)), direct.predict(x.to_numpy()), rtol=0, atol=1e-10
    )
    assert forest.concordance == pytest.approx(direct.score(x.to_numpy(), y), abs=1e-12)
    harrell = concordance_index_censored(y["fstat"], y["lenfol"], direct.predict(x.to_numpy()))
    assert forest.concordance == pytest.approx(harrell[0], abs=1e-12)
    assert 0.8 < forest.concordance < 1  # the trees learnt something


def test_forest_predicts_new_rows_like_scikit_survival(
    whas500: tuple[pd.DataFrame, np.ndarray],
) -> None:
    """Rows it was not trained on, including values outside the training range."""
    x, y = whas500
    forest = models.boosted_forest(_as_frame(x[:300], y[:300]), n_estimators=60)
    direct = _direct_boosting(x[:300], y[:300])
    unseen = x[300:].copy()
    unseen.iloc[:20] *= 3.0
    np.testing.assert_allclose(
        forest.predict_risk(unseen), direct.predict(unseen.to_numpy()), rtol=0, atol=1e-10
    )


def test_forest_document_round_trips_through_json(
    whas500: tuple[pd.DataFrame, np.ndarray],
) -> None:
    x, y = whas500
    frame = _as_frame(x, y)
    forest = models.boosted_forest(frame, n_estimators=40)
    document = forest.to_document()
    text = json.dumps(document, allow_nan=False)  # JSON types only, no NaN
    again = models.ForestModel.from_document(json.loads(text))
    np.testing.assert_array_equal(again.predict_risk(frame), forest.predict_risk(frame))
    assert again.features == forest.features == tuple(x.columns)
    assert (document["format"], document["kind"]) == ("wgs-tre-model/1", "gradient_boosting")
    assert (document["participants"], document["events"]) == (500, 215)
    assert set(document["parameters"]) == {
        "learning_rate", "init", "children_left", "children_right", "feature", "threshold",
        "value",
    }  # fmt: skip
    _assert_numbers_only(document["parameters"])


def _assert_numbers_only(value: Any) -> None:
    """Parameters are numbers and lists of numbers: no name, no sample-level key."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert "sample" not in key and "time" not in key
            _assert_numbers_only(item)
    elif isinstance(value, list):
        for item in value:
            _assert_numbers_only(item)
    else:
        assert isinstance(value, int | float) and not isinstance(value, bool)


def test_forest_keeps_no_scikit_survival_object(whas500: tuple[pd.DataFrame, np.ndarray]) -> None:
    x, y = whas500
    forest = models.boosted_forest(_as_frame(x, y), n_estimators=20)
    for name, value in vars(forest).items():
        assert "sksurv" not in type(value).__module__ and "sklearn" not in type(value).__module__
        assert "n_node_samples" not in name
        if isinstance(value, np.ndarray):  # tree arrays: one row per tree, not per participant
            assert value.shape[0] == 20 and value.dtype.kind in "if"


def test_forest_refuses_leaves_under_ten(whas500: tuple[pd.DataFrame, np.ndarray]) -> None:
    x, y = whas500
    with pytest.raises(InvalidInput, match="at least 10 participants"):
        models.boosted_forest(_as_frame(x, y), min_samples_leaf=5)


def test_each_fit_is_one_audit_event(rossi: pd.DataFrame) -> None:
    records: list[FitRecord] = []
    table = models.as_table(rossi, time="week", event="arrest", features=ROSSI_FEATURES)
    table = models.AnalysisTable(table.frame, table.features, on_fit=records.append)
    models.cox(table, penalizer=0.1)
    models.boosted_forest(table, n_estimators=10)
    assert [(r.model, r.participants, r.events) for r in records] == [
        ("cox", 432, 114),
        ("forest", 432, 114),
    ]
    assert records[0].options == {"penalizer": 0.1, "l1_ratio": 0.0}
    assert records[1].options["n_estimators"] == 10
    assert records[1].features == tuple(ROSSI_FEATURES)


def test_assign_adds_features_and_keeps_provenance_and_audit() -> None:
    frame = load_rossi().rename(columns={"week": "time", "arrest": "event"})
    heard: list[models.FitRecord] = []
    provenance = models.Provenance("p", ("d@1",), len(frame), int(frame["event"].sum()))
    table = models.AnalysisTable(frame, ("age", "prio"), provenance, on_fit=heard.append)
    more = table.assign(many_priors=lambda f: (f["prio"] > 3).astype(int))
    assert more.features == ("age", "prio", "many_priors") and table.features == ("age", "prio")
    assert more.provenance == provenance
    assert more.frame["many_priors"].sum() == (frame["prio"] > 3).sum()
    km = models.kaplan_meier(more, by="many_priors")
    assert set(km.curves) == {"0", "1"} and [r.model for r in heard] == ["kaplan_meier"]
    with pytest.raises(InvalidInput, match="the table's own"):
        table.assign(time=0)
