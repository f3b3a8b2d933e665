"""Survival (Kaplan-Meier) tables in the airlock: the times with too few at risk and the steps
too few people leave are named, against numbers at risk counted directly from the raw times;
the coarsened table passes and is the same curve, read less often (statsmodels' estimate, the
table ACRO makes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from wgs_tre.airlock import self_check
from wgs_tre.airlock.rules import DisclosurePolicy, RuleId
from wgs_tre.airlock.survival import check_survival, coarsen_survival, survival_columns

POLICY = DisclosurePolicy()  # min_cell_count 10


def _cohort(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(1, 60, n).astype(float), rng.integers(0, 2, n).astype(float)


def _km_table(time: np.ndarray, status: np.ndarray) -> pd.DataFrame:
    """statsmodels' Kaplan-Meier summary (what ACRO's surv_func returns), time as a column."""
    return sm.SurvfuncRight(time, status).summary().reset_index()


def _cells(findings: list, rule: RuleId) -> set[str]:  # type: ignore[type-arg]
    return {t for f in findings if f.rule is rule for t, _ in f.cells}


def test_a_hand_made_table_has_the_findings_worked_out_by_hand() -> None:
    table = pd.DataFrame(
        {"time": [1, 2, 3, 4], "at_risk": [30, 20, 12, 9], "observed": [5, 3, 2, 1]}
    )
    findings = check_survival(table, POLICY)
    # at risk: only 9 at time 4; leaving: 30-20=10, 20-12=8, 12-9=3, 9 (the rest)
    assert _cells(findings, RuleId.SURVIVAL_AT_RISK) == {"4"}
    assert _cells(findings, RuleId.SURVIVAL_STEP) == {"2", "3", "4"}
    assert all(f.fixes for f in findings)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_findings_match_numbers_at_risk_counted_from_the_raw_times(seed: int) -> None:
    time, status = _cohort(150, seed)
    table = _km_table(time, status)
    times = table["Time"].to_numpy()
    at_risk = np.array([(time >= t).sum() for t in times])  # independent of statsmodels
    assert (table["num at risk"].to_numpy() == at_risk).all()
    after = np.append(at_risk[1:], 0)
    findings = check_survival(table, POLICY)
    expected_few = {str(t) for t, n in zip(times, at_risk, strict=True) if n < 10}
    expected_steps = {
        str(t)
        for t, n, m, d in zip(times, at_risk, after, table["num events"], strict=True)
        if d > 0 and 0 < n - m < 10
    }
    assert expected_few and expected_steps  # the cohort has both, or the test proves nothing
    assert _cells(findings, RuleId.SURVIVAL_AT_RISK) == expected_few
    assert _cells(findings, RuleId.SURVIVAL_STEP) == expected_steps


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_coarsened_table_passes_and_is_the_same_curve(seed: int) -> None:
    time, status = _cohort(300, seed)
    table = _km_table(time, status)
    coarse = coarsen_survival(table, POLICY)
    assert 0 < len(coarse) < len(table)
    assert check_survival(coarse, POLICY) == []
    # the survival probability at each time kept is the full curve's there
    fitted = sm.SurvfuncRight(time, status)
    for _, row in coarse.iterrows():
        assert row["Surv prob"] == pytest.approx(
            fitted.surv_prob[fitted.surv_times == row["Time"]][0]
        )
    # events: the merged steps' sum; at risk: the count at the start of each merged stretch
    kept = coarse["Time"].to_numpy()
    starts = np.concatenate(
        [[table["Time"].iloc[0]], [table["Time"][table["Time"] > k].min() for k in kept[:-1]]]
    )
    assert list(coarse["num at risk"]) == [(time >= s).sum() for s in starts]
    for start, end, events in zip(starts, kept, coarse["num events"], strict=True):
        assert events == ((time >= start) & (time <= end) & (status == 1)).sum()
    # nothing after the tail's cut is reported: fewer than 10 at risk
    assert (coarse["num at risk"] >= 10).all()


def test_tables_are_recognised_by_their_columns(tmp_path: Path) -> None:
    lifelines_like = pd.DataFrame(
        {"event_at": [0.0, 2.0], "removed": [0, 3], "observed": [0, 2], "censored": [0, 1],
         "entrance": [40, 0], "at_risk": [40, 40]}
    )  # fmt: skip
    assert survival_columns(lifelines_like) == ("event_at", "at_risk", "observed")
    r_like = pd.DataFrame({"time": [1], "n.risk": [20], "n.event": [2], "surv": [0.9]})
    assert survival_columns(r_like) == ("time", "n.risk", "n.event")
    assert survival_columns(pd.DataFrame({"region": ["a"], "count": [3]})) is None


def test_self_check_reads_a_saved_survival_table_and_its_fix(tmp_path: Path) -> None:
    time, status = _cohort(200, 5)
    table = _km_table(time, status)
    raw, fixed = tmp_path / "km.csv", tmp_path / "km_coarse.csv"
    table.to_csv(raw, index=False)
    found = self_check(raw)
    assert {f.rule for f in found.findings} == {RuleId.SURVIVAL_AT_RISK, RuleId.SURVIVAL_STEP}
    coarsen_survival(table).to_csv(fixed, index=False)
    assert self_check(fixed).passed, self_check(fixed).summary()


def test_a_survival_table_submitted_carries_its_findings(world) -> None:  # type: ignore[no-untyped-def]
    """Through the real path: a Kaplan-Meier table in an output request is checked at
    submission; its coarsened version passes."""
    from tests.airlock_cast import approved_project, area, workspace
    from wgs_tre.airlock import requests

    slug = approved_project(world)
    home = workspace(world, slug)
    table = _km_table(*_cohort(120, 9))
    table.to_csv(home / "km.csv", index=False)
    coarsen_survival(table).to_csv(home / "km_coarse.csv", index=False)
    alice = world.ctx("alice")
    ref = requests.create(alice, slug, "figure 3", workspace=home).ref
    requests.add_file(alice, ref, "km.csv", "survival by carrier status")
    requests.add_file(alice, ref, "km_coarse.csv", "the same, coarsened")
    found = {f.name: f.findings for f in requests.submit(alice, ref, area=area(world)).files}
    assert {f["rule"] for f in found["km.csv"] or []} == {"survival-at-risk", "survival-step"}
    assert found["km_coarse.csv"] == []
