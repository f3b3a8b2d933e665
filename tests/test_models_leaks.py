"""What a saved model may not hold: lifelines' fitters and scikit-survival's forests keep their
training data (found, by the attributes lifelines documents), our Cox model keeps none (its
baseline coarse enough that each step hides at least 10 events, checked against counts made
from the raw data); a model document with a list per participant or a pseudonym is refused."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.datasets import load_rossi

from wgs_tre.errors import InvalidInput
from wgs_tre.models import cox
from wgs_tre.models.leaks import check_document, find_training_data
from wgs_tre.models.survival import CoxModel

ROSSI = load_rossi()
N = len(ROSSI)  # 432
PSEUDONYM = "s" + "abcdefghijklmnopqrstuvwx"  # the shape: s and 24 base-32 letters


def _paths(findings: list[str]) -> set[str]:
    return {f.split(":", 1)[0].rsplit(".", 1)[-1] for f in findings}


def test_a_lifelines_cox_fitter_keeps_its_training_data_and_is_found() -> None:
    fitter = CoxPHFitter().fit(ROSSI, "week", "arrest")
    # the oracle: lifelines' own attributes, one value per training row
    for name in ("durations", "event_observed", "weights", "_predicted_partial_hazards_"):
        assert len(getattr(fitter, name)) == N
    found = find_training_data(fitter, N)
    assert {"durations", "event_observed", "weights", "_predicted_partial_hazards_"} <= _paths(
        found
    )
    # the baseline steps at each of the 49 distinct event times: individuals' times
    assert fitter.baseline_survival_.shape[0] == ROSSI.loc[ROSSI.arrest == 1, "week"].nunique()
    assert "baseline_survival_" in _paths(found)
    assert any("432 values, one per participant" in f for f in found)


def test_a_survival_forest_keeps_training_times_and_small_leaves() -> None:
    from sksurv.datasets import load_whas500
    from sksurv.ensemble import RandomSurvivalForest

    x, y = load_whas500()
    x = x.select_dtypes("number").astype(float)
    forest = RandomSurvivalForest(n_estimators=3, min_samples_leaf=3, random_state=0).fit(x, y)
    distinct = len(np.unique(y["lenfol"]))  # the oracle: distinct training times
    assert forest.unique_times_.shape[0] == distinct
    found = find_training_data(forest, len(x))
    assert any(f.startswith("model.unique_times_:") and f"{distinct} time" in f for f in found)
    leaves = [f for f in found if f.endswith("training samples")]
    assert len(leaves) == 3  # one per tree: leaves of 3 (min_samples_leaf) describe 3 people
    # with leaves of at least 10 and few enough times, nothing is found in the trees
    coarse = RandomSurvivalForest(n_estimators=2, min_samples_leaf=10, random_state=0)
    assert not any("leaves" in f for f in find_training_data(coarse.fit(x, y), len(x)))


def test_our_cox_model_holds_no_training_data_and_its_baseline_hides_each_event() -> None:
    model = cox(ROSSI, time="week", event="arrest")
    assert find_training_data(model, N) == []
    assert find_training_data(model.to_document(), N) == []
    # counted from the raw data: each stored step has >= 10 events since the previous one,
    # and >= 10 at risk at its start
    times = model.baseline_survival.index.to_numpy()
    previous = -np.inf
    for t in times:
        stretch = (ROSSI.week > previous) & (ROSSI.week <= t)
        assert (stretch & (ROSSI.arrest == 1)).sum() >= 10
        assert (ROSSI.week > previous).sum() >= 10
        previous = t
    assert len(times) <= model.events // 10 + 1
    # and the stored values are lifelines' baseline at those times
    fitter = CoxPHFitter().fit(ROSSI, "week", "arrest")
    expected = fitter.baseline_survival_.iloc[:, 0].loc[times].to_numpy()
    assert model.baseline_survival.to_numpy() == pytest.approx(expected)


def test_pseudonyms_in_a_dict_list_or_index_are_found() -> None:
    assert find_training_data({"cohort": ["x", PSEUDONYM]}, N) == [
        "model['cohort'][1]: a pseudonym"
    ]
    frame = pd.DataFrame({"risk": [0.1, 0.2]}, index=[PSEUDONYM, "s" + "b" * 24])
    assert find_training_data({"scores": frame}, N) == ["model['scores']: labelled by pseudonyms"]
    # a given pseudonym of another shape (an older key) is found too
    assert find_training_data(["P-0001"], N, pseudonyms=["P-0001"]) == ["model[0]: a pseudonym"]
    assert find_training_data({"note": "s" + "a" * 23}, N) == []  # 23 letters: not one


def test_cycles_and_depth_are_guarded() -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    loop["rows"] = np.zeros(N)
    assert find_training_data(loop, N) == [
        "model['rows']: 432 values, one per participant (shape (432,))"
    ]


def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        json.dumps(cox(ROSSI, time="week", event="arrest").to_document())
    )
    return document


def test_a_cox_document_round_trips_and_passes() -> None:
    document = _document()
    check_document(document, N)
    model = CoxModel.from_document(document)
    fitter = CoxPHFitter().fit(ROSSI, "week", "arrest")
    assert model.coefficients.to_numpy() == pytest.approx(fitter.params_.to_numpy())
    assert model.to_document() == document


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d.update(format="pickle"), "model document"),
        (lambda d: d.update(kind="forest"), "kind"),
        (lambda d: d["parameters"].update(residuals=[0.0] * N), "parameters.residuals"),
        (lambda d: d["parameters"].update(note="text"), "parameters.note"),
        (lambda d: d["options"].update(note=PSEUDONYM), "document.options.note"),
        (lambda d: d["features"].append(PSEUDONYM), "document.features[7]"),
        (lambda d: d["parameters"].update(baseline_times=list(range(13))), "baseline_times"),
    ],
)
def test_a_bad_document_is_refused_naming_the_problem(change: Any, named: str) -> None:
    document = _document()
    change(document)
    with pytest.raises(InvalidInput) as refused:
        check_document(document, N)
    assert named in str(refused.value)
    assert PSEUDONYM not in str(refused.value)


def test_predicted_survival_is_lifelines_at_the_stored_times_and_a_step_between() -> None:
    model = cox(ROSSI, time="week", event="arrest")
    fitter = CoxPHFitter().fit(ROSSI, "week", "arrest")
    stored = model.baseline_survival.index.to_numpy()
    mine = model.predict_survival(ROSSI, stored)
    theirs = fitter.predict_survival_function(ROSSI, times=stored).T.to_numpy()
    assert mine.shape == (N, len(stored))
    assert mine == pytest.approx(theirs, rel=1e-10)
    # before the first stored time nothing is known to have happened: S = 1; between two
    # stored times the value of the earlier one (the curve is not drawn finer than stored)
    between = (stored[:-1] + stored[1:]) / 2
    assert model.predict_survival(ROSSI, [stored[0] - 1]) == pytest.approx(np.ones((N, 1)))
    assert model.predict_survival(ROSSI, between) == pytest.approx(theirs[:, :-1], rel=1e-10)
    # the model rebuilt from its JSON document predicts the same
    again = CoxModel.from_document(json.loads(json.dumps(model.to_document())))
    assert again.predict_survival(ROSSI, between) == pytest.approx(mine[:, :-1], rel=1e-12)
