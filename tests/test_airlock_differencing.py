"""Differencing (issue 17, item 3): a new table against released ones, on tables made from
people whose differences are known, and a property over random pairs of populations, each
compared with the difference of two ``pandas.crosstab`` tables computed here."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from wgs_tre.airlock import (
    DisclosurePolicy,
    Fix,
    RuleId,
    crosstab,
    difference,
    released_tables,
    self_check,
    sidecar_path,
)

REGIONS = ["north", "south", "east"]
SEXES = ["F", "M"]
AGES = ["18-39", "40-64", "65+"]


def population(counts: dict[tuple[str, str], int], *, first: int = 0) -> pd.DataFrame:
    """One row per person: region, sex, and an age band that cycles, numbered from ``first``."""
    rows = [(r, s) for (r, s), n in counts.items() for _ in range(n)]
    data = pd.DataFrame(rows, columns=["region", "sex"])
    data["age"] = [AGES[i % 3] for i in range(len(data))]
    data["person"] = range(first, first + len(data))
    for column, labels in (("region", REGIONS), ("sex", SEXES), ("age", AGES)):
        data[column] = pd.Categorical(data[column], categories=labels)
    return data


BASE = {(r, s): 40 + 7 * i for i, (r, s) in enumerate((r, s) for r in REGIONS for s in SEXES)}


def full_crosstab(data: pd.DataFrame) -> pd.DataFrame:
    """``pandas.crosstab`` of region by sex with every label, even of an empty population."""
    if data.empty:
        return pd.DataFrame(0, index=REGIONS, columns=SEXES)
    counts = pd.crosstab(data.region.astype(str), data.sex.astype(str))
    return counts.reindex(index=REGIONS, columns=SEXES, fill_value=0)


def cells_differing(new: pd.DataFrame, old: pd.DataFrame, index: str, columns: str) -> set:
    """The oracle: cells whose counts differ by 1 to 9, by plain pandas arithmetic."""
    delta = (pd.crosstab(new[index], new[columns]) - pd.crosstab(old[index], old[columns])).abs()
    return {
        (str(r), str(c)) for r in delta.index for c in delta.columns if 0 < delta.loc[r, c] < 10
    }


def test_three_people_added_are_found_and_twelve_and_none_are_not() -> None:
    old = population(BASE)
    added = population(
        {("north", "F"): 3, ("south", "M"): 12, ("east", "F"): 10, ("east", "M"): 9}, first=1_000
    )
    new = pd.concat([old, added], ignore_index=True)
    released = crosstab(old, "region", "sex")
    made_again = crosstab(new, "region", "sex")
    (finding,) = difference(made_again, [("brca/R-000001/by_region.csv", released)])
    assert finding.rule is RuleId.DIFFERENCING
    # 3 and 9: found; 12 and 10 (not fewer than 10): not; 0 (north, M; south, F): not.
    assert finding.cells == (("north", "F"), ("east", "M"))
    assert set(finding.cells) == cells_differing(new, old, "region", "sex")
    assert "brca/R-000001/by_region.csv" in finding.message and "1 to 9 people" in finding.message
    assert finding.fixes == (Fix.SUPPRESS, Fix.AGGREGATE)
    assert difference(released, [("same", released)]) == ()  # identical: no disclosure


def test_the_threshold_is_the_policys_min_cell_count() -> None:
    old = population(BASE)
    new = pd.concat([old, population({("east", "F"): 12}, first=1_000)], ignore_index=True)
    pair = crosstab(new, "region", "sex"), [("t", crosstab(old, "region", "sex"))]
    assert difference(*pair) == ()  # 12 is not fewer than 10
    (finding,) = difference(*pair, DisclosurePolicy(min_cell_count=13))
    assert finding.cells == (("east", "F"),) and "1 to 12 people" in finding.message


def test_a_subgroup_a_transposed_table_and_a_subset_of_rows_are_matched() -> None:
    everyone = population(BASE)
    # The same table for all but 4 people of (south, F) and 2 of (east, M): a subgroup.
    left_out = set(everyone.index[everyone.region.eq("south") & everyone.sex.eq("F")][:4])
    left_out |= set(everyone.index[everyone.region.eq("east") & everyone.sex.eq("M")][:2])
    subgroup = everyone.drop(index=sorted(left_out))
    expected = cells_differing(subgroup, everyone, "region", "sex")
    assert expected == {("south", "F"), ("east", "M")}
    released = [("by sex", crosstab(everyone, "sex", "region"))]  # transposed
    (finding,) = difference(crosstab(subgroup, "region", "sex"), released)
    assert set(finding.cells) == expected
    # Only two regions in the new table: the rows it has are compared.
    two = subgroup[subgroup.region.isin(["south", "north"])].copy()
    two["region"] = pd.Categorical(two.region, categories=["north", "south"])
    (finding,) = difference(crosstab(two, "region", "sex"), released)
    assert finding.cells == (("south", "F"),)


def test_blank_cells_are_not_compared_and_suppressing_resolves_a_finding() -> None:
    old = population(BASE)
    new = pd.concat([old, population({("north", "F"): 3}, first=1_000)], ignore_index=True)
    released = crosstab(old, "region", "sex")
    table = crosstab(new, "region", "sex")
    (finding,) = difference(table, [("t", released)])
    assert difference(table.suppress(also=finding.cells), [("t", released)]) == ()
    blanked = released.suppress(also=[("north", "F")])  # never released: nothing to subtract
    assert difference(table, [("t", blanked)]) == ()


def test_tables_of_other_kinds_or_other_variables_are_not_matched_cell_by_cell() -> None:
    old = population(BASE)
    new = pd.concat([old, population({("north", "F"): 3}, first=1_000)], ignore_index=True)
    new["weight"] = old["person"].reindex(new.index).fillna(70).astype(float)
    old = old.assign(weight=old.person.astype(float))
    sums = crosstab(new, "region", "sex", "weight", "sum")
    assert difference(sums, [("counts", crosstab(old, "region", "sex"))]) == ()
    (finding,) = difference(sums, [("sums", crosstab(old, "region", "sex", "weight", "sum"))])
    assert finding.cells == (("north", "F"),)


def test_totals_of_a_shared_variable_are_compared() -> None:
    """Released: region by sex. New: region by age band, with 5 more people in the north. The
    north's total differs by 5 (its cells cannot be matched, its total can)."""
    old = population(BASE)
    new = pd.concat([old, population({("north", "M"): 5}, first=1_000)], ignore_index=True)
    (finding,) = difference(crosstab(new, "region", "age"), [("t", crosstab(old, "region", "sex"))])
    assert finding.cells == tuple(("north", age) for age in AGES)
    assert "total of region north" in finding.message
    assert new.region.value_counts()["north"] - old.region.value_counts()["north"] == 5
    # Sex by age against region by sex: shared sex; M's total differs by 5.
    (finding,) = difference(crosstab(new, "age", "sex"), [("t", crosstab(old, "region", "sex"))])
    assert finding.cells == tuple((age, "M") for age in AGES)
    # A blank cell in the line hides its total: nothing to compare.
    table = crosstab(new, "region", "age").suppress(also=[("north", "65+")])
    assert difference(table, [("t", crosstab(old, "region", "sex"))]) == ()


def test_tables_sharing_no_variable_compare_their_totals() -> None:
    """A one-cell margin: the whole table's total differs by 2."""
    old = population(BASE)
    new = pd.concat([old, population({("east", "F"): 2}, first=1_000)], ignore_index=True)
    new["smoker"] = pd.Categorical(np.where(new.person % 2 == 0, "y", "n"))
    old = old.assign(band=old.age)
    (finding,) = difference(crosstab(new, "age", "smoker"), [("t", crosstab(old, "region", "sex"))])
    assert "table's total" in finding.message and len(finding.cells) == 6
    assert len(new) - len(old) == 2


@settings(max_examples=60, deadline=None)
@given(
    base=st.lists(st.integers(0, 40), min_size=6, max_size=6),
    delta=st.lists(st.integers(-15, 15), min_size=6, max_size=6),
    threshold=st.integers(1, 20),
)
def test_flagged_cells_are_those_differing_by_one_to_threshold_less_one(
    base: list[int], delta: list[int], threshold: int
) -> None:
    keys = [(r, s) for r in REGIONS for s in SEXES]
    old = population(dict(zip(keys, base, strict=True)))
    changed = {k: max(0, b + d) for k, b, d in zip(keys, base, delta, strict=True)}
    new = population(changed, first=10_000)
    policy = DisclosurePolicy(min_cell_count=threshold)
    findings = difference(
        crosstab(new, "region", "sex", policy=policy), [("t", crosstab(old, "region", "sex"))]
    )
    found = {c for f in findings for c in f.cells}
    delta_table = (full_crosstab(new) - full_crosstab(old)).abs()
    expected = {
        (str(r), str(c))
        for r in delta_table.index
        for c in delta_table.columns
        if 0 < delta_table.loc[r, c] < threshold
    }
    assert found == expected


# --- the release area ---------------------------------------------------------------------


def release_area(tmp_path: Path) -> Path:
    """<releases>/<project>/<ref>/<files>, each table's record in an evidence directory beside
    the released files, as the release will keep it."""
    releases = tmp_path / "releases"
    data = population(BASE)
    for ref, (index, columns) in {
        "R-000001": ("region", "sex"),
        "R-000002": ("age", "sex"),
    }.items():
        made = tmp_path / "made" / ref
        made.mkdir(parents=True)
        crosstab(data, index, columns).save(made / "table.csv")
        files, evidence = releases / "brca" / ref / "files", releases / "brca" / ref / "evidence"
        files.mkdir(parents=True), evidence.mkdir(parents=True)
        shutil.copy(made / "table.csv", files / "table.csv")
        shutil.copy(sidecar_path(made / "table.csv"), evidence / "table.csv.checks.json")
    (releases / "brca" / "R-000002" / "files" / "figure.png").write_bytes(b"\x89PNG")
    return releases


def test_released_tables_pairs_each_record_with_the_file_it_checked(tmp_path: Path) -> None:
    releases = release_area(tmp_path)
    found = released_tables(releases)
    assert [name for name, _ in found] == [
        "brca/R-000001/files/table.csv",
        "brca/R-000002/files/table.csv",
    ]
    assert [(t.index, t.columns) for _, t in found] == [("region", "sex"), ("age", "sex")]
    data = population(BASE)
    assert found[0][1] == crosstab(data, "region", "sex")
    # Beside its table, as a saved table keeps it, works too.
    beside = releases / "brca" / "R-000003"
    beside.mkdir()
    crosstab(data, "region", "age").save(beside / "ages.csv")
    assert "brca/R-000003/ages.csv" in [name for name, _ in released_tables(releases)]
    # Three more people in the north: the released region-by-sex table is found by name.
    new = crosstab(pd.concat([data, population({("north", "F"): 3}, first=1_000)]), "region", "sex")
    cells, sexes, regions = difference(new, released_tables(releases))
    assert "brca/R-000001/files/table.csv" in cells.message and cells.cells == (("north", "F"),)
    # The age-by-sex release shares sex: F's total differs by 3; region by age shares region.
    assert "brca/R-000002/files/table.csv" in sexes.message and "total of sex F" in sexes.message
    assert "brca/R-000003/ages.csv" in regions.message
    assert "total of region north" in regions.message


def test_broken_releases_are_skipped_with_the_reason(tmp_path: Path) -> None:
    releases = release_area(tmp_path)
    first = releases / "brca" / "R-000001"
    (first / "evidence" / "table.csv.checks.json").write_text("{not json")
    second = releases / "brca" / "R-000002"
    (second / "files" / "table.csv").write_text("age,F,M\n18-39,1,1\n")  # not what was checked
    (second / "evidence" / "other.csv.checks.json").write_text(json.dumps({"csv_sha256": "0"}))
    skipped: list[tuple[Path, str]] = []
    assert released_tables(releases, on_skip=lambda p, why: skipped.append((p, why))) == []
    reasons = {p.relative_to(releases).as_posix(): why for p, why in skipped}
    assert set(reasons) == {
        "brca/R-000001/evidence/table.csv.checks.json",
        "brca/R-000002/evidence/table.csv.checks.json",
        "brca/R-000002/evidence/other.csv.checks.json",
    }
    assert reasons["brca/R-000001/evidence/table.csv.checks.json"].startswith("unreadable")
    assert "no file named table.csv" in reasons["brca/R-000002/evidence/table.csv.checks.json"]
    assert released_tables(tmp_path / "nowhere") == []


def test_the_self_check_compares_a_table_with_the_releases_it_is_given(tmp_path: Path) -> None:
    releases = release_area(tmp_path)
    data = pd.concat([population(BASE), population({("south", "M"): 4}, first=1_000)])
    path = tmp_path / "again.csv"
    crosstab(data, "region", "sex").save(path)
    assert self_check(path).passed  # on its own, every cell has 40 or more
    report = self_check(path, released=released_tables(releases))
    differencing = [f for f in report.findings if f.rule is RuleId.DIFFERENCING]
    # The region-by-sex release: (south, M) differs by 4; age by sex: M's total differs by 4.
    assert [f.cells for f in differencing] == [
        (("south", "M"),),
        (("north", "M"), ("south", "M"), ("east", "M")),
    ]
    assert "brca/R-000001/files/table.csv" in report.summary()
    table = crosstab(data, "region", "sex")
    assert self_check(table, released=released_tables(releases)).findings == report.findings
