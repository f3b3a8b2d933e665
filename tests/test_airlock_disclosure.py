"""The airlock's disclosure rules (issue 17, first part) on small tables with hand-computed
answers, and cell by cell against ACRO (the ``acro`` package, a test dependency) on the same
inputs: each rule fails some cells and passes others, including cells on its boundary."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import acro as acro_package
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import yaml
from acro import ACRO

import wgs_tre.airlock
from wgs_tre.airlock import (
    CheckedTable,
    DisclosurePolicy,
    Fix,
    RuleId,
    check_gwas_summary,
    check_regression,
    check_row_level,
    crosstab,
    load_disclosure_policy,
    load_table,
    minor_allele_counts,
    residual_dof,
    self_check,
    sidecar_path,
)
from wgs_tre.errors import InvalidInput, PolicyError

REPO = Path(__file__).resolve().parents[1]
ACRO_RULES = {
    "MinimumThresholdCheck": RuleId.THRESHOLD,
    "PresenceOfZeroCheck": RuleId.ZEROS,
    "NKCheck": RuleId.DOMINANCE_NK,
    "PPercentCheck": RuleId.P_RATIO,
}


def frame(cells: dict[tuple[str, str], list[float]]) -> pd.DataFrame:
    """One row per contributor: its row label ``g``, column label ``h`` and value ``v``."""
    rows = [(g, h, v) for (g, h), values in cells.items() for v in values]
    return pd.DataFrame(rows, columns=["g", "h", "v"])


def counts(cells: dict[tuple[str, str], int]) -> pd.DataFrame:
    return frame({cell: [1.0] * n for cell, n in cells.items()})


def ours(table: CheckedTable) -> dict[RuleId, set[tuple[str, str]]]:
    failing: dict[RuleId, set[tuple[str, str]]] = {rule: set() for rule in ACRO_RULES.values()}
    for finding in table.all_findings:
        failing[finding.rule] |= set(finding.cells)
    return failing


@pytest.fixture
def acro(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ACRO:
    monkeypatch.chdir(tmp_path)  # in case ACRO writes anything
    logging.getLogger("acro").setLevel(logging.WARNING)
    return ACRO(suppress=False)


def acros(acro: ACRO, data: pd.DataFrame, aggfunc: str | None = None) -> dict[RuleId, Any]:
    """The cells ACRO's checks fail, by our rule names, read from the output's ``sdc`` record
    (positions in the table ACRO returned)."""
    values = data.v if aggfunc else None
    table = acro.crosstab(data.g, data.h, values=values, aggfunc=aggfunc)
    return acro_failing(acro, table)


def acro_failing(acro: ACRO, table: pd.DataFrame) -> dict[RuleId, Any]:
    """The failing cells of the output ACRO recorded last."""
    output = list(acro.results.results.values())[-1]
    failing: dict[RuleId, set[tuple[str, str]]] = {rule: set() for rule in ACRO_RULES.values()}
    for name, positions in output.sdc["cells"].items():
        if name in ACRO_RULES:
            failing[ACRO_RULES[name]] |= {
                (str(table.index[i]), str(table.columns[j])) for i, j in positions
            }
    return failing


# --- frequency tables: threshold and zeros --------------------------------------------------

# 10 contributors pass and 9 fail: ACRO fails count < safe_threshold, not <= (the issue's
# "fewer than N").
THRESHOLD = {("a", "x"): 10, ("a", "y"): 9, ("b", "x"): 12, ("b", "y"): 11}
ZEROS = {("a", "x"): 10, ("a", "y"): 14, ("b", "x"): 20, ("c", "y"): 30}  # (b,y), (c,x): 0


def test_threshold_fails_cells_with_fewer_than_ten_contributors(acro: ACRO) -> None:
    table = crosstab(counts(THRESHOLD), "g", "h")
    assert ours(table)[RuleId.THRESHOLD] == {("a", "y")}
    assert ours(table) == acros(acro, counts(THRESHOLD))
    (finding,) = table.findings
    assert finding.rule is RuleId.THRESHOLD and finding.cells == (("a", "y"),)
    assert finding.fixes == (Fix.SUPPRESS, Fix.ROUND, Fix.AGGREGATE)
    assert "fewer than 10" in finding.message


def test_threshold_passes_when_every_cell_has_ten(acro: ACRO) -> None:
    data = counts({**THRESHOLD, ("a", "y"): 10})
    assert crosstab(data, "g", "h").passed
    assert all(not cells for cells in acros(acro, data).values())


def test_zeros_fail_in_a_frequency_table_and_also_fail_the_threshold(acro: ACRO) -> None:
    table = crosstab(counts(ZEROS), "g", "h")
    failing = ours(table)
    assert failing[RuleId.ZEROS] == {("b", "y"), ("c", "x")}
    assert failing[RuleId.THRESHOLD] == {("b", "y"), ("c", "x")}
    assert failing == acros(acro, counts(ZEROS))
    assert table.table.loc["b", "y"] == 0 and table.table.loc["c", "y"] == 30


def test_zeros_are_not_reported_when_the_policy_says_they_are_not_disclosive() -> None:
    table = crosstab(counts(ZEROS), "g", "h", policy=DisclosurePolicy(zeros_disclosive=False))
    assert ours(table)[RuleId.ZEROS] == set()
    assert ours(table)[RuleId.THRESHOLD] == {("b", "y"), ("c", "x")}


# --- tables of sums and means: dominance ----------------------------------------------------

# Ten or more contributors per cell (the threshold passes), hand-computed:
# (a,x) 50, 40 and 8 x 1.25: top two 90/100 = 0.9 >= k: nk fails (ACRO: ">=", the issue's
#       "more than" would pass it); rest 10/50 = 0.2: p-ratio passes.
# (a,y) 40, 30 and 8 x 5: 70/110 = 0.64: nk passes; 40/40 = 1: p-ratio passes.
# (b,x) 100, 80 and 8 x 1.25: 180/190 = 0.95: nk fails; 10/100 = 0.1, not < 0.1: p-ratio passes.
# (b,y) 100, 80 and 8 x 1: 180/188: nk fails; 8/100 = 0.08 < 0.1: p-ratio fails.
# (c,x) ten zeros: total 0: nk passes (0/0); ACRO keeps the rest (0) as the ratio when the
#       largest is 0, so p-ratio fails.
# (c,y) empty: the threshold fails, dominance is not judged.
DOMINANCE = {
    ("a", "x"): [50.0, 40.0] + [1.25] * 8,
    ("a", "y"): [40.0, 30.0] + [5.0] * 8,
    ("b", "x"): [100.0, 80.0] + [1.25] * 8,
    ("b", "y"): [100.0, 80.0] + [1.0] * 8,
    ("c", "x"): [0.0] * 10,
}


def dominance_frame() -> pd.DataFrame:
    data = frame(DOMINANCE)
    data["h"] = pd.Categorical(data.h, categories=["x", "y"])  # so that (c, y) exists, empty
    return data


@pytest.mark.parametrize("aggfunc", ["sum", "mean"])
def test_dominance_rules_cell_by_cell_as_acro(acro: ACRO, aggfunc: str) -> None:
    table = crosstab(dominance_frame(), "g", "h", "v", aggfunc)
    failing = ours(table)
    assert failing[RuleId.DOMINANCE_NK] == {("a", "x"), ("b", "x"), ("b", "y")}
    assert failing[RuleId.P_RATIO] == {("b", "y"), ("c", "x")}
    assert failing[RuleId.THRESHOLD] == {("c", "y")}
    assert failing[RuleId.ZEROS] == set()  # zeros are a rule of frequency tables only
    assert failing == acros(acro, dominance_frame(), aggfunc)
    assert np.isnan(table.table.loc["c", "y"])
    assert table.table.loc["a", "y"] == (110.0 if aggfunc == "sum" else 11.0)


def test_dominance_rules_as_acros_pivot_table(acro: ACRO) -> None:
    """The same rules through ``acro.pivot_table``; (c, y) has 3 contributors of 3.0 each: the
    threshold fails it, dominance does not (6/9 = 0.67; 3/3 = 1)."""
    data = frame({**DOMINANCE, ("c", "y"): [3.0] * 3})
    failing = ours(crosstab(data, "g", "h", "v", "mean"))
    theirs = acro.pivot_table(data, index="g", columns="h", values="v", aggfunc="mean")
    assert failing == acro_failing(acro, theirs)
    assert failing[RuleId.THRESHOLD] == {("c", "y")}
    assert failing[RuleId.P_RATIO] == {("b", "y"), ("c", "x")}


def test_dominance_rules_pass_a_table_with_no_dominant_contributor(acro: ACRO) -> None:
    # 10, 9 and 1..8 in every cell: 19/55 = 0.35 and (55 - 19)/10 = 3.6.
    data = frame({(g, h): [10.0, 9.0, *range(1, 9)] for g in "ab" for h in "xy"})
    assert crosstab(data, "g", "h", "v", "sum").passed
    assert all(not cells for cells in acros(acro, data, "sum").values())


def test_nk_counts_the_policys_n_largest() -> None:
    # 40, 30, 20 and 7 x 1.0: two largest 70/97 = 0.72 pass; three largest 90/97 = 0.93 fail.
    data = frame({("a", "x"): [40.0, 30.0, 20.0] + [1.0] * 7})
    assert crosstab(data, "g", "h", "v", "sum").passed
    three = crosstab(data, "g", "h", "v", "sum", policy=DisclosurePolicy(nk_n=3))
    assert [f.rule for f in three.findings] == [RuleId.DOMINANCE_NK]


def test_a_negative_value_makes_its_cell_one_for_a_steward() -> None:
    """ACRO then reports only the negative cells of the whole table, for review; here the other
    cells are still checked."""
    data = frame(
        {
            ("a", "x"): [-5.0] + [10.0] * 9,
            ("a", "y"): [100.0] + [1.0] * 9,
            ("a", "z"): [-1.0] + [10.0] * 8,  # 9: the threshold fails it as usual
        }
    )
    table = crosstab(data, "g", "h", "v", "sum")
    failing = ours(table)
    assert failing[RuleId.DOMINANCE_NK] == {("a", "x"), ("a", "y"), ("a", "z")}
    assert failing[RuleId.P_RATIO] == {("a", "x"), ("a", "y"), ("a", "z")}
    assert [f.message for f in table.findings if f.rule is RuleId.THRESHOLD] == [
        "fewer than 10 people contribute"
    ]
    negative = [f for f in table.findings if "negative" in f.message]
    assert [(f.rule, f.cells) for f in negative] == [
        (RuleId.DOMINANCE_NK, (("a", "x"), ("a", "z"))),
        (RuleId.P_RATIO, (("a", "x"), ("a", "z"))),
    ]


# --- regressions: residual degrees of freedom ----------------------------------------------


def regression_data(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(17)
    x = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    y = x[:, 1] + rng.normal(size=n)
    return x, y, (y + rng.normal(size=n) > 0).astype(float)


@pytest.mark.parametrize(("n", "passes"), [(12, False), (13, True)])
def test_residual_dof_as_acro_for_ols_and_logit(acro: ACRO, n: int, passes: bool) -> None:
    x, y, binary = regression_data(n)  # 3 parameters: n - 3 = 9 fails, 10 passes
    for fit in (acro.ols(y, x), acro.logit(binary, x)):
        output = list(acro.results.results.values())[-1]
        assert residual_dof(fit) == n - 3 == output.properties["dof"]
        assert (check_regression(fit) == ()) is passes
        assert (output.status == "pass") is passes
    assert residual_dof(n_obs=n, n_params=3) == n - 3
    assert (check_regression(n_obs=n, n_params=3) == ()) is passes


def test_a_regression_finding_names_the_rule_and_the_dof() -> None:
    (finding,) = check_regression(n_obs=12, n_params=3)
    assert finding.rule is RuleId.RESIDUAL_DOF and "9 residual" in finding.message
    with pytest.raises(InvalidInput, match="n_obs and n_params"):
        check_regression(n_obs=12)


# --- fixes --------------------------------------------------------------------------------


def test_suppression_blanks_exactly_the_failing_cells() -> None:
    table = crosstab(counts(ZEROS), "g", "h")
    fixed = table.apply(Fix.SUPPRESS)
    assert fixed.passed and fixed.findings == ()
    published = fixed.table
    assert published.isna().sum().sum() == 2
    assert np.isnan(published.loc["b", "y"]) and np.isnan(published.loc["c", "x"])
    assert published.loc["a", "y"] == 14  # untouched
    assert table.findings  # the original is unchanged


def test_rounding_profile_suppresses_up_to_seven_and_rounds_to_five(acro: ACRO) -> None:
    data = counts({("a", "x"): 12, ("a", "y"): 9, ("b", "x"): 7, ("b", "y"): 23, ("c", "x"): 8})
    table = crosstab(data, "g", "h")
    assert table.findings  # 9, 7, 8 and the two zeros
    fixed = table.apply(Fix.ROUND)
    assert fixed.passed
    expected = pd.DataFrame(
        [[10.0, 10.0], [np.nan, 25.0], [10.0, np.nan]],
        index=pd.Index(["a", "b", "c"], name="g"),
        columns=pd.Index(["x", "y"], name="h"),
    )
    pd.testing.assert_frame_equal(fixed.table, expected)
    # The counts left are rounded as ACRO's "round" mitigation rounds them (base 5).
    rounding = ACRO(suppress=False, mitigation="round")
    theirs = rounding.crosstab(data.g, data.h)
    shown = expected.notna()
    assert (theirs.to_numpy()[shown.to_numpy()] == expected.to_numpy()[shown.to_numpy()]).all()


def test_rounding_is_for_counts_and_a_stricter_policy_reopens_it() -> None:
    with pytest.raises(InvalidInput, match="only counts are rounded"):
        crosstab(dominance_frame(), "g", "h", "v", "sum").round()
    with pytest.raises(InvalidInput, match="valid: suppress, round"):
        crosstab(counts(THRESHOLD), "g", "h").apply(Fix.AGGREGATE)
    rounded = crosstab(counts(THRESHOLD), "g", "h").round()  # 9 rounded to 10: resolved
    assert rounded.passed
    strict = DisclosurePolicy.model_validate({"rounding": {"suppress_at_most": 9, "base": 5}})
    reopened = self_check(rounded, strict)
    assert [(f.rule, f.cells) for f in reopened.findings] == [(RuleId.THRESHOLD, (("a", "y"),))]
    coarser = DisclosurePolicy.model_validate({"rounding": {"base": 10}})  # 9 was rounded to 5s
    assert [f.cells for f in self_check(rounded, coarser).findings] == [(("a", "y"),)]


# --- the record of checks and the self-check ------------------------------------------------


def test_a_saved_table_is_checked_again_from_its_record(tmp_path: Path) -> None:
    table = crosstab(dominance_frame(), "g", "h", "v", "sum")
    path = tmp_path / "out.csv"
    side = table.save(path)
    assert side == sidecar_path(path) and side.name == "out.csv.checks.json"
    again = load_table(path)
    assert again == table
    assert again.findings == table.findings
    pd.testing.assert_frame_equal(
        pd.read_csv(path, index_col="g").rename_axis(columns="h"), table.table
    )
    report = self_check(path)
    assert not report.passed and report.findings == table.findings
    assert "dominance-nk" in report.summary() and "(b, y)" in report.summary()

    fixed = table.suppress()
    fixed.save(path)
    assert self_check(path).passed and self_check(str(path)).passed
    assert load_table(path).suppressed == fixed.suppressed
    # Checked again against a stricter policy: (a, y) has 10 contributors.
    stricter = self_check(path, DisclosurePolicy(min_cell_count=11))
    assert [(f.rule, f.cells) for f in stricter.findings] == [(RuleId.THRESHOLD, (("a", "y"),))]


def test_a_file_changed_or_without_its_record_fails_the_self_check(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    crosstab(counts(THRESHOLD), "g", "h").suppress().save(path)
    path.write_text(path.read_text().replace("12", "13"))
    (finding,) = self_check(path).findings
    assert finding.rule is RuleId.EVIDENCE and "changed since it was checked" in finding.message
    sidecar_path(path).unlink()
    (finding,) = self_check(path).findings
    assert finding.rule is RuleId.EVIDENCE and "no record of checks" in finding.message
    sidecar_path(path).write_text("{not json")
    (finding,) = self_check(path).findings
    assert "unreadable record of checks" in finding.message
    (finding,) = self_check(tmp_path / "elsewhere.csv").findings
    assert (finding.rule, finding.message) == (RuleId.EVIDENCE, "no such file")


def test_a_record_made_up_to_pass_is_refused(tmp_path: Path) -> None:
    """The record is written in the session, where the researcher's code runs: one edited to
    claim 15 contributors for the cell of 9 (the CSV unchanged, so its hash still matches)
    would pass the threshold on its word. What the file shows must be what the record renders."""
    path = tmp_path / "out.csv"
    crosstab(counts(THRESHOLD), "g", "h").save(path)
    assert [f.rule for f in self_check(path).findings] == [RuleId.THRESHOLD]
    record = json.loads(sidecar_path(path).read_text())
    for cell in record["cells"]:
        if (cell["row"], cell["column"]) == ("a", "y"):
            cell["count"] = 15
    record["findings"] = []
    sidecar_path(path).write_text(json.dumps(record))
    (finding,) = self_check(path).findings
    assert finding.rule is RuleId.EVIDENCE
    assert "cell (a, y) is 9 but its record of checks says 15" in finding.message
    # A record naming other rows than the file's is refused too.
    record["rows"] = ["a", "b", "c"]
    sidecar_path(path).write_text(json.dumps(record))
    (finding,) = self_check(path).findings
    assert "rows or columns are not those its record of checks names" in finding.message
    record["rows"] = ["a"]  # its cells name b: a record that contradicts itself
    sidecar_path(path).write_text(json.dumps(record))
    (finding,) = self_check(path).findings
    assert "unreadable record of checks: a cell names 'b'" in finding.message


def test_self_check_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    report = self_check(crosstab(counts(THRESHOLD), "g", "h"))
    assert not report.passed and report.summary().startswith("table of g by h: 1 finding")
    x, y, _ = regression_data(13)
    assert self_check(sm.OLS(y, x).fit()).passed
    assert capsys.readouterr() == ("", "")


def test_crosstab_refuses_bad_arguments_with_the_valid_choices() -> None:
    data = dominance_frame()
    with pytest.raises(InvalidInput, match="valid: count, sum, mean"):
        crosstab(data, "g", "h", "v", "median")
    with pytest.raises(InvalidInput, match="'nope'.*not in the data"):
        crosstab(data, "g", "nope")
    with pytest.raises(InvalidInput, match="both values and aggfunc"):
        crosstab(data, "g", "h", "v")
    data.loc[0, "v"] = np.nan
    with pytest.raises(InvalidInput, match="missing values"):
        crosstab(data, "g", "h", "v", "mean")


# --- policies/disclosure.yaml ----------------------------------------------------------------


def test_the_defaults_are_acros_and_the_shipped_file_says_the_same(tmp_path: Path) -> None:
    acro_defaults = yaml.safe_load(
        (Path(acro_package.__file__).parent / "default.yaml").read_text()
    )
    defaults = load_disclosure_policy(tmp_path)  # no file: the defaults
    assert defaults.min_cell_count == acro_defaults["safe_threshold"]
    assert defaults.min_residual_dof == acro_defaults["safe_dof_threshold"]
    assert defaults.nk_n == acro_defaults["safe_nk_n"]
    assert defaults.nk_k == acro_defaults["safe_nk_k"]
    assert defaults.p_ratio == acro_defaults["safe_pratio_p"]
    assert defaults.zeros_disclosive is acro_defaults["zeros_are_disclosive"]
    assert defaults.rounding.base == acro_defaults["safe_round_base"]
    assert defaults.rounding.suppress_at_most == 7
    assert load_disclosure_policy(REPO / "policies") == defaults == DisclosurePolicy()


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("min_cell_count: ten\n", "min_cell_count: Input should be a valid integer"),
        ("nk_k: 1.5\n", "nk_k: Input should be less than or equal to 1"),
        ("rounding:\n  base: 0\n", "rounding.base: Input should be greater than or equal to 1"),
        ("min_cel_count: 5\n", "min_cel_count: Extra inputs are not permitted"),
        ("p_ratio: [0.1\n", "not valid YAML at line 2"),
    ],
)
def test_a_bad_value_names_the_file_and_the_key(tmp_path: Path, text: str, where: str) -> None:
    (tmp_path / "disclosure.yaml").write_text(text)
    with pytest.raises(PolicyError) as caught:
        load_disclosure_policy(tmp_path)
    assert str(tmp_path / "disclosure.yaml") in caught.value.message
    assert where in caught.value.message


def test_every_public_name_exists() -> None:
    assert all(hasattr(wgs_tre.airlock, name) for name in wgs_tre.airlock.__all__)


# --- GWAS summary statistics and row-level files (no ACRO rule: hand-computed only) ---------


def glm(a1_ct: list[int], obs_ct: int = 100) -> pd.DataFrame:
    """A plink2 .glm-like file: A1 counted among 2 x OBS_CT alleles."""
    n = len(a1_ct)
    return pd.DataFrame(
        {
            "#CHROM": [1] * n,
            "POS": [1000 + i for i in range(n)],
            "ID": [f"rs{i + 1}" for i in range(n)],
            "A1": ["A"] * n,
            "A1_CT": a1_ct,
            "OBS_CT": [obs_ct] * n,
            "BETA": [0.1 * (i + 1) for i in range(n)],
            "P": [0.5] * n,
        }
    )


def test_minor_allele_count_fails_variants_below_twenty() -> None:
    # Of 200 alleles: A1 19 -> 19 fails, 20 passes, 185 -> the other allele 15 fails, 100 passes.
    data = glm([19, 20, 185, 100])
    assert minor_allele_counts(data).tolist() == [19, 20, 15, 100]
    (finding,) = check_gwas_summary(data)
    assert finding.rule is RuleId.MINOR_ALLELE_COUNT
    assert finding.cells == (("rs1", "MAC"), ("rs3", "MAC"))
    assert check_gwas_summary(glm([20, 180, 100])) == ()


def test_minor_allele_count_from_a_frequency_and_n() -> None:
    # 2 x 200 alleles: 0.05 -> 20 passes, 0.04 -> 16 fails, 0.97 -> 0.03 -> 12 fails.
    data = pd.DataFrame({"SNP": ["a", "b", "c"], "EAF": [0.05, 0.04, 0.97], "N": [200] * 3})
    (finding,) = check_gwas_summary(data)
    assert finding.cells == (("b", "MAC"), ("c", "MAC"))
    (finding,) = check_gwas_summary(data.drop(columns="N"))
    assert "no allele counts" in finding.message and finding.cells == ()


def test_a_column_of_one_samples_genotypes_is_refused() -> None:
    data = glm([20, 40, 60])
    assert check_gwas_summary(data) == ()
    data["P000123"] = [0, 2, 1]
    data["P000456_GT"] = ["0/1", "1|1", "0/0"]
    data["HG0007"] = [0.2, 1.7, 0.9]  # a dosage: named by the caller
    (finding,) = check_gwas_summary(data, sample_ids=["HG0007"])
    assert finding.rule is RuleId.PER_SAMPLE
    assert [c for _, c in finding.cells] == ["P000123", "P000456_GT", "HG0007"]


def test_row_level_files_and_id_like_columns() -> None:
    policy = DisclosurePolicy(row_limit=12)
    table = pd.DataFrame(
        {
            "ancestry": [f"group {chr(65 + i)}" for i in range(12)],
            "n": [10 + 3 * i for i in range(12)],
        }
    )
    assert check_row_level(table, policy) == ()  # 12 rows, labels without digits, counts
    (finding,) = check_row_level(pd.concat([table, table.iloc[:1]]), policy)
    assert finding.rule is RuleId.ROW_LEVEL and "13 rows" in finding.message
    for column, values in [
        ("participant_id", ["x"] * 12),  # the name says it
        ("code", [f"P{i:06d}" for i in range(12)]),  # codes, distinct per row
        ("row", list(range(12))),  # row numbers
        ("nhs", [9_000_000_000 + 7 * i for i in range(12)]),  # long numbers
    ]:
        (finding,) = check_row_level(table.assign(**{column: values}), policy)
        assert (finding.rule, finding.cells) == (RuleId.ID_COLUMN, (("all rows", column),))
    assert (
        check_row_level(table.assign(code=[f"P{i}" for i in range(12)]), policy, keys=["code"])
        == ()
    )
    assert check_row_level(table.assign(beta=np.linspace(0.1, 1.2, 12)), policy) == ()
