"""``benchmarks/prognosis.py`` at tiny sizes, so that it keeps running: it builds a governed
cohort, an analysis table of the asked-for width through ``wgs_tre.models`` and the same table by
hand, and fails unless the tables and the Cox coefficients (governed and lifelines') are equal."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "prognosis.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300
    )


def test_the_prognosis_benchmark_runs_at_tiny_sizes_with_equal_tables_and_coefficients(
    tmp_path: Path,
) -> None:
    record = tmp_path / "prognosis.csv"
    done = run("--participants", "300", "--variants", "500", "--features", "30", "--pcs", "3",
               "--repeat", "1", "--record", str(record))  # fmt: skip
    # The ratios at this size are noise (a few ms): only the rest is judged here.
    assert done.returncode in (0, 1), done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if not line.startswith("generating")]
    size, whole, fit_only, equal = lines
    assert "300 participants x 30 features (clinical 12, dosages 15, PCs 3)" in size
    timing = r"governed [\d.]+ s, direct [\d.]+ s best \(medians [\d.]+ s, [\d.]+ s\), ratio"
    for line, what in ((whole, "table+cox"), (fit_only, "cox only")):
        assert line.startswith(what) and re.search(timing + r" [\d.]+  target <= 1.5", line), line
    assert equal.startswith("tables equal") and "coefficients equal" in equal, equal
    rows = list(csv.DictReader(record.open()))
    assert len(rows) == 1 and rows[0]["participants"] == "300" and rows[0]["features"] == "30"
    assert float(rows[0]["max_table_difference"]) <= 1e-12
    assert float(rows[0]["max_coef_difference"]) < 1e-9
    for ratio in ("table_cox_ratio", "fit_ratio"):
        assert float(rows[0][ratio]) > 0


def test_the_prognosis_benchmark_says_how_to_use_it() -> None:
    done = run("--help")
    assert done.returncode == 0
    for option in ("--participants", "--variants", "--features", "--pcs", "--repeat", "--keep"):
        assert option in done.stdout
