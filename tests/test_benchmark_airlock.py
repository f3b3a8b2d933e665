"""``benchmarks/airlock.py`` at tiny sizes, so that it keeps running: it times the self-check
of a saved table and of a GWAS summary file, and fails unless each run's findings are the
ones it computes from its own data (cells under 10, variants under 20 minor alleles)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "airlock.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300
    )


def test_the_airlock_benchmark_runs_at_tiny_sizes_and_meets_its_targets() -> None:
    done = run("--rows", "30", "--cols", "4", "--people", "1500", "--variants", "5000")
    assert done.returncode == 0, done.stdout + done.stderr
    table, gwas = done.stdout.splitlines()
    assert table.startswith("table ") and "30 x 4 table of 1,500 people" in table
    assert gwas.startswith("gwas ") and "5,000 variants" in gwas
    assert table.endswith("target < 1 s  PASS") and gwas.endswith("target < 5 s  PASS")


def test_the_airlock_benchmark_says_how_to_use_it() -> None:
    done = run("--help")
    assert done.returncode == 0
    for option in ("--rows", "--cols", "--people", "--variants", "--repeat"):
        assert option in done.stdout
