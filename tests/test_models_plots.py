"""Plots of survival models and the airlock's rules on survival outputs.

Oracles: numbers at risk counted from the raw times; lifelines' KaplanMeierFitter and
CoxPHFitter called directly; the airlock's own checks (check_survival, self_check) on the
tables. The raw curve of a small group fails the survival rules, its release table passes; the
plot draws the release curve unless asked for the raw one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.datasets import load_rossi
from matplotlib.figure import Figure

from wgs_tre.airlock import self_check
from wgs_tre.airlock.rules import RuleId
from wgs_tre.airlock.survival import check_survival
from wgs_tre.errors import InvalidInput
from wgs_tre.models import cox, kaplan_meier
from wgs_tre.models.disclosure import (
    check_survival_output,
    numbers_at_risk,
    release_table,
    residual_dof_findings,
)
from wgs_tre.models.plots import calibration_plot, km_plot

ROSSI = load_rossi()


def _cohort(n: int = 260, seed: int = 4) -> pd.DataFrame:
    """Times 1..80 days, about half events; group b is small (about 40)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "time": rng.integers(1, 80, n).astype(float),
        "event": rng.random(n) < 0.5,
        "arm": np.where(rng.random(n) < 0.15, "b", "a"),
    })  # fmt: skip


def _rules(findings: Any) -> set[RuleId]:
    return {f.rule for f in findings}


def test_numbers_at_risk_are_the_counts_in_the_raw_data() -> None:
    cohort = _cohort()
    km = kaplan_meier(cohort, "arm")
    ticks = [0.0, 10.0, 25.0, 40.0, 55.0, 70.0, 79.0, 90.0]
    raw = numbers_at_risk(km, ticks, raw=True)
    for arm, rows in cohort.groupby("arm"):
        assert list(raw.loc[arm]) == [(rows.time >= t).sum() for t in ticks]
    released = numbers_at_risk(km, ticks)
    # what is shown is the raw count; what is withheld would break a survival rule
    shown = released.notna()
    assert ((released == raw) | ~shown).all().all()
    assert shown.to_numpy().any() and (~shown).to_numpy().any()
    for arm in released.index:
        values = released.loc[arm].dropna().to_numpy()
        assert (values >= 10).all()
        gaps = -np.diff(values)
        assert ((gaps == 0) | (gaps >= 10)).all()
        withheld_small = raw.loc[arm][released.loc[arm].isna() & (raw.loc[arm] < 10)]
        assert ((raw.loc[arm] < 10) <= released.loc[arm].isna()).all(), withheld_small


def test_the_raw_curve_of_a_small_group_fails_and_its_release_table_passes(
    tmp_path: Path,
) -> None:
    cohort = _cohort()
    km = kaplan_meier(cohort, "arm")
    small = km.curves["b"]
    assert _rules(check_survival(small)) == {RuleId.SURVIVAL_AT_RISK, RuleId.SURVIVAL_STEP}
    found = check_survival_output(km)
    assert any(f.message.startswith("group b:") for f in found)
    for arm in km.curves:
        table = release_table(km, arm)
        assert len(table) > 0
        assert check_survival_output(table) == []
        # the same curve, read less often: lifelines' estimate at the times kept
        rows = cohort[cohort.arm == arm]
        fitter = KaplanMeierFitter().fit(rows.time, rows.event)
        expected = fitter.survival_function_at_times(table["time"]).to_numpy()
        assert table["survival"].to_numpy() == pytest.approx(expected)
        # counted from the raw data: each stretch has at least 10 leaving, 10 at risk
        starts = np.concatenate([[-np.inf], table["time"].to_numpy()[:-1]])
        for start, end, at_risk in zip(starts, table["time"], table["at_risk"], strict=True):
            assert at_risk == (rows.time > start).sum() >= 10
            assert ((rows.time > start) & (rows.time <= end)).sum() >= 10
    # the airlock's self-check on the files a researcher would write
    small.to_csv(tmp_path / "km_raw.csv", index=False)
    release_table(km, "b").to_csv(tmp_path / "km_release.csv", index=False)
    raw_check = self_check(tmp_path / "km_raw.csv")
    assert _rules(raw_check.findings) == {RuleId.SURVIVAL_AT_RISK, RuleId.SURVIVAL_STEP}
    assert self_check(tmp_path / "km_release.csv").passed


def test_release_table_names_an_unknown_group() -> None:
    km = kaplan_meier(_cohort(), "arm")
    with pytest.raises(InvalidInput, match="'c'"):
        release_table(km, "c")
    with pytest.raises(InvalidInput):
        release_table(km)  # two groups: which one?


def _step_line(figure: Figure, label: str) -> tuple[np.ndarray, np.ndarray]:
    line = next(ln for ln in figure.axes[0].get_lines() if ln.get_label() == label)
    return np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)


def _drawn_numbers(figure: Figure) -> list[str]:
    texts = [t for t in figure.axes[1].texts]
    return [
        t.get_text()
        for t in sorted(texts, key=lambda t: (t.get_position()[1], t.get_position()[0]))
    ]


def test_km_plot_draws_the_release_curve_and_numbers_by_default() -> None:
    cohort = _cohort()
    km = kaplan_meier(cohort, "arm")
    ticks = [0.0, 20.0, 40.0, 60.0]
    figure = km_plot(km, at=ticks)
    curve, table = figure.axes
    assert curve.get_ylabel() == "survival probability"
    assert table.get_xlabel() == "days since diagnosis"
    assert [t.get_text() for t in curve.get_legend().get_texts()] == ["arm = a", "arm = b"]
    x, y = _step_line(figure, "arm = b")
    release = release_table(km, "b")
    assert list(x) == [0.0, *release["time"]]
    assert list(y) == pytest.approx([1.0, *release["survival"]])
    expected = numbers_at_risk(km, ticks)
    assert _drawn_numbers(figure) == [
        "-" if pd.isna(v) else str(int(v)) for v in expected.to_numpy().ravel()
    ]
    # raw: the full curve and every number, said so in the title
    full = km_plot(km, at=ticks, raw=True)
    x, _ = _step_line(full, "arm = b")
    assert list(x) == [0.0, *km.curves["b"]["time"]]
    counted = [(cohort[cohort.arm == a].time >= t).sum() for a in ("a", "b") for t in ticks]
    assert _drawn_numbers(full) == [str(c) for c in counted]
    assert "not releasable" in full.axes[0].get_title()
    figure.savefig(Path("/dev/null"), format="png")  # draws headless


class _LifelinesCox:
    """Any model with predict_survival: here lifelines' own Cox fit (the oracle)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.features = ("fin", "age", "race", "wexp", "mar", "paro", "prio")
        self.fitter = CoxPHFitter().fit(frame, "week", "arrest")

    def predict_survival(self, data: Any, times: Any) -> np.ndarray:
        frame = data.frame if hasattr(data, "frame") else data
        curves = self.fitter.predict_survival_function(frame[list(self.features)], times=times)
        return np.asarray(curves.T.to_numpy(), float)


def _calibration_oracle(predicted: np.ndarray, groups: int, time: float) -> pd.DataFrame:
    order = np.lexsort((np.arange(len(predicted)), np.round(predicted, 10)))
    rows = []
    for members in np.array_split(order, groups):
        part = ROSSI.iloc[members]
        observed = KaplanMeierFitter().fit(part.week, part.arrest).predict(time)
        rows.append((len(members), predicted[members].mean(), observed))
    return pd.DataFrame(rows, columns=["participants", "predicted", "observed"])


@pytest.mark.parametrize("time", [37.0, 45.0])
def test_calibration_numbers_match_lifelines_per_group(time: float) -> None:
    model = _LifelinesCox(ROSSI)
    figure, numbers = calibration_plot(
        model, ROSSI, time, groups=8, time_column="week", event_column="arrest"
    )
    predicted = model.predict_survival(ROSSI, [time])[:, 0]
    expected = _calibration_oracle(predicted, 8, time)
    assert list(numbers["participants"]) == [54] * 8
    assert numbers["predicted"].to_numpy() == pytest.approx(expected["predicted"].to_numpy())
    assert numbers["observed"].to_numpy() == pytest.approx(expected["observed"].to_numpy())
    axes = figure.axes[0]
    assert axes.get_xlabel().startswith("predicted survival probability")
    assert axes.get_ylabel().startswith("observed survival probability")
    assert axes.get_legend() is not None


def test_calibration_of_our_cox_model_at_a_stored_baseline_time_is_lifelines() -> None:
    ours = cox(ROSSI, time="week", event="arrest")
    time = float(ours.baseline_survival.index[5])  # where the coarse baseline is exact
    _, mine = calibration_plot(
        ours, ROSSI, time, groups=8, time_column="week", event_column="arrest"
    )
    _, theirs = calibration_plot(
        _LifelinesCox(ROSSI), ROSSI, time, groups=8, time_column="week", event_column="arrest"
    )
    pd.testing.assert_frame_equal(mine, theirs, check_exact=False, rtol=1e-9)
    with pytest.raises(InvalidInput, match="groups"):
        calibration_plot(ours, ROSSI, time, groups=1, time_column="week", event_column="arrest")


def test_residual_degrees_of_freedom_of_a_cox_model() -> None:
    assert residual_dof_findings(cox(ROSSI, time="week", event="arrest")) == ()  # 432 - 7
    features = ["fin", "age", "prio"]

    def fit(n: int) -> Any:
        return cox(ROSSI.head(n), features, time="week", event="arrest", penalizer=0.1)

    found = residual_dof_findings(fit(12))  # 12 - 3 = 9 < 10
    assert [f.rule for f in found] == [RuleId.RESIDUAL_DOF]
    assert found[0].message.startswith("9 residual")
    assert residual_dof_findings(fit(13)) == ()  # 10 passes, as ACRO
