"""Airlock self-check time, from the file, for the two outputs issue 17 names.

A table: ``--rows`` x ``--cols`` cells (1,000 x 50), counts of ``--people`` made with
``wgs_tre.airlock.crosstab`` and saved with its record of checks, then ``self_check(path)``
from the saved file (the record read, checked against the CSV, the rules run); target < 1 s.
A GWAS summary file: ``--variants`` rows (1,000,000) in plink2's ``.glm.linear`` layout
(tab-separated, ``A1_FREQ`` and ``OBS_CT``; minor-allele frequencies from a Beta(0.3, 3), so
that some variants are rare), written here, then ``self_check(path)``; target < 5 s. Each is
timed ``--repeat`` times, the median judged (the worst shown too); each run's findings must
be those computed here from the data (the cells under 10, the variants under 20 minor
alleles), or the run fails. Exits non-zero if a target is missed.

Usage: .venv/bin/python benchmarks/airlock.py [--rows 1000] [--cols 50] [--people 1000000]
       [--variants 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pandas as pd

from wgs_tre.airlock import DisclosurePolicy, RuleId, SelfCheck, crosstab, self_check

TABLE_TARGET_S, GWAS_TARGET_S = 1.0, 5.0
SAMPLES = 5_000  # OBS_CT of every variant: 10,000 alleles


def saved_table(directory: Path, rows: int, cols: int, people: int) -> tuple[Path, int]:
    """A count table of ``people`` by ``rows`` x ``cols`` labels, saved with its record; and
    how many of its cells have fewer than 10 people (from the data, by numpy)."""
    rng = np.random.default_rng(17)
    data = pd.DataFrame(
        {"area": rng.integers(0, rows, people), "category": rng.integers(0, cols, people)}
    )
    path = directory / "table.csv"
    crosstab(data, "area", "category").save(path)
    counts = np.bincount(data.area * cols + data.category, minlength=rows * cols)
    return path, int((counts < DisclosurePolicy().min_cell_count).sum())


def glm_file(directory: Path, variants: int) -> tuple[Path, int]:
    """A plink2 ``.glm.linear``-like file of ``variants`` rows; and how many variants have a
    minor-allele count under the policy's minimum."""
    rng = np.random.default_rng(19)
    maf = rng.beta(0.3, 3, variants) / 2
    a1_count = rng.binomial(2 * SAMPLES, maf)
    flip = rng.random(variants) < 0.5  # A1 is the minor allele half the time
    a1_count = np.where(flip, 2 * SAMPLES - a1_count, a1_count)
    beta = rng.normal(0, 0.05, variants)
    se = np.abs(rng.normal(0.05, 0.01, variants)) + 1e-3
    frame = pd.DataFrame(
        {
            "#CHROM": np.repeat(np.arange(1, 23), -(-variants // 22))[:variants],
            "POS": np.arange(variants) * 37 + 10_000,
            "ID": [f"rs{i}" for i in range(variants)],
            "REF": "A",
            "ALT": "G",
            "PROVISIONAL_REF?": "Y",
            "A1": np.where(flip, "A", "G"),
            "OMITTED": np.where(flip, "G", "A"),
            "A1_FREQ": np.round(a1_count / (2 * SAMPLES), 6),
            "TEST": "ADD",
            "OBS_CT": SAMPLES,
            "BETA": beta,
            "SE": se,
            "T_STAT": beta / se,
            "P": rng.random(variants),
            "ERRCODE": ".",
        }
    )
    path = directory / "cohort.pheno.glm.linear"
    frame.to_csv(path, sep="\t", index=False, float_format="%.6g")
    minor = np.minimum(a1_count, 2 * SAMPLES - a1_count)
    return path, int((minor < DisclosurePolicy().gwas_min_minor_allele_count).sum())


def timed(
    path: Path, repeat: int, cells: Callable[[SelfCheck], int], expected: int
) -> tuple[float, float]:
    """Median and worst seconds of ``self_check(path)``; every run must find ``expected``
    cells."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        report = self_check(path)
        times.append(time.perf_counter() - start)
        found = cells(report)
        if found != expected:
            raise SystemExit(f"{path.name}: {found} cells found, {expected} expected")
    return statistics.median(times), max(times)


def flagged(rules: set[RuleId]) -> Callable[[SelfCheck], int]:
    def count(report: SelfCheck) -> int:
        return len({c for f in report.findings if f.rule in rules for c in f.cells})

    return count


def line(label: str, seconds: tuple[float, float], what: str, target: float) -> bool:
    median, worst = seconds
    ok = median < target
    verdict = "PASS" if ok else "FAIL"
    print(
        f"{label:<8} self-check {median:>7.3f} s median ({worst:.3f} s worst)  {what}  "
        f"target < {target:g} s  {verdict}"
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000, help="table rows")
    parser.add_argument("--cols", type=int, default=50, help="table columns")
    parser.add_argument("--people", type=int, default=1_000_000, help="tabulated")
    parser.add_argument("--variants", type=int, default=1_000_000, help="GWAS file rows")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (median shown)")
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        path, small = saved_table(Path(tmp), args.rows, args.cols, args.people)
        rules = {RuleId.THRESHOLD, RuleId.ZEROS}
        seconds = timed(path, args.repeat, flagged(rules), small)
        what = (
            f"{args.rows:,} x {args.cols} table of {args.people:,} people "
            f"({small:,} cells under 10)"
        )
        ok &= line("table", seconds, what, TABLE_TARGET_S)
        path, rare = glm_file(Path(tmp), args.variants)
        size = path.stat().st_size / 1e6
        seconds = timed(path, args.repeat, flagged({RuleId.MINOR_ALLELE_COUNT}), rare)
        what = f"{args.variants:,} variants, {size:,.0f} MB .glm.linear ({rare:,} under 20 MAC)"
        ok &= line("gwas", seconds, what, GWAS_TARGET_S)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
