"""``benchmarks/prognosis.py`` at tiny sizes, so that it keeps running: it builds a governed
cohort, an analysis table of the asked-for width, and fails unless the governed Cox fit's
coefficients equal lifelines' own on the same table."""

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


def test_the_prognosis_benchmark_runs_at_tiny_sizes_with_equal_coefficients(
    tmp_path: Path,
) -> None:
    record = tmp_path / "prognosis.csv"
    done = run("--participants", "300", "--variants", "500", "--features", "30", "--pcs", "3",
               "--repeat", "1", "--record", str(record))  # fmt: skip
    # The ratio at this size is noise (fits of a few ms): only the rest is judged here.
    assert done.returncode in (0, 1), done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if not line.startswith("generating")]
    table, cox, coefficients = lines
    assert "300 participants x 30 features (clinical 12, dosages 15, PCs 3)" in table
    timing = r"governed [\d.]+ s, direct [\d.]+ s best \(medians [\d.]+ s, [\d.]+ s\), ratio"
    assert re.search(timing + r" [\d.]+  target <= 1.5", cox), cox
    assert coefficients.startswith("coefficients equal")
    rows = list(csv.DictReader(record.open()))
    assert len(rows) == 1 and rows[0]["participants"] == "300" and rows[0]["features"] == "30"
    assert float(rows[0]["max_coef_difference"]) < 1e-9


def test_the_prognosis_benchmark_says_how_to_use_it() -> None:
    done = run("--help")
    assert done.returncode == 0
    for option in ("--participants", "--variants", "--features", "--pcs", "--repeat", "--keep"):
        assert option in done.stdout
