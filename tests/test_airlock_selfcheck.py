"""The self-check on every kind of file a researcher may submit (issue 17, item 2): a table saved
with its record of checks, a GWAS summary-statistic file, and any other table, each with known
answers computed here independently (plain pandas arithmetic on the data the file was made
from)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wgs_tre.airlock import CheckedTable, RuleId, crosstab, load_table, self_check
from wgs_tre.errors import InvalidInput


def people(n: int, seed: int = 17) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "region": rng.integers(0, 30, n),  # numeric labels
            "band": rng.choice(["18-39", "40-64", "65+"], n),
            "weight": rng.normal(80, 10, n),
        }
    )


def test_a_table_with_numeric_labels_is_checked_again_from_its_record(tmp_path: Path) -> None:
    """Labels such as 0..29 are written as text; read back, they must still be the record's
    (pandas parses an index column of digits as numbers)."""
    data = people(2_000)
    table = crosstab(data, "region", "band")
    path = tmp_path / "by_region.csv"
    table.save(path)
    assert load_table(path) == table
    expected = pd.crosstab(data.region, data.band)  # the independent tabulation
    below = {
        (str(r), str(c))
        for r in expected.index
        for c in expected.columns
        if expected.loc[r, c] < 10
    }
    found = {c for f in self_check(path).findings for c in f.cells}
    assert found == below and all(
        f.rule in (RuleId.THRESHOLD, RuleId.ZEROS) for f in self_check(path).findings
    )


def test_suppress_also_blanks_cells_named_by_another_check() -> None:
    table = crosstab(people(2_000), "region", "band")
    fixed = table.suppress(also=[("3", "65+")])
    assert ("3", "65+") in fixed.suppressed and np.isnan(fixed.table.loc["3", "65+"])
    with pytest.raises(InvalidInput, match=r"not cells of this table: \(99, 65\+\)"):
        table.suppress(also=[("99", "65+")])
    assert isinstance(fixed, CheckedTable)
