"""QC, linear GWAS and PCA: wgs_tre beside plink2 (and Hail) on the same governed data, with
the same thread budget: Dask's workers, BLAS (OpenBLAS, limited before numpy loads; checked),
plink2's ``--threads`` and Hail's local[N] are all set to ``THREADS``.

Every operation of every tool runs twice and both are reported: cold (the first run: wgs_tre's
first in this process, with its numba kernels loaded from their cache; Hail's first, with its
per-query compilation; plink2's first process) and warm (the second). Targets are judged on the
warm runs. wgs_tre is timed from ``open_project()`` to results in memory; plink2 as whole
processes on a .pgen made from the same VCF; Hail over the same view through the Hail engine
(``variants(engine="hail")``; the one-off conversion and the JVM's start are timed apart), each
operation ending with its results collected into Python. Peak memory (warm run): resident
high-water mark of the wgs_tre process during the operation (reset before each), of each plink2
process, and of Hail's JVM.

PCA runs on the variants wgs_tre's default selection chose (common, well called, LD-thinned),
given to plink2 by ID (``chrom:pos:ref:alt``, set with ``--set-all-var-ids``) and to Hail by row;
plink2's own log must report that many variants before it is timed. Two methods, each the same
for every tool: missing calls mean-imputed (wgs_tre ``pca(ds, 10)``, randomized; plink2
``--pca approx 10``, randomized; Hail ``hwe_normalized_pca``, exact), and missing calls
corrected pairwise (wgs_tre ``pca(ds, 10, missing="pairwise")``; plink2 ``--pca 10``; both exact).

Targets (issue 6): QC within 2x of plink2, linear GWAS no slower, PCA (mean-imputed) at least
10x faster, and every operation at least 5x faster than Hail.

Usage: .venv/bin/python benchmarks/gwas.py [--samples 2000] [--variants 100000] [--keep DIR]
       [--no-hail] [--no-hail-pca]  (Hail's PCA takes many minutes)
"""

from __future__ import annotations

import argparse
import ctypes
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# OpenBLAS (numpy's and scipy's) sizes its thread pool when it loads: limit it before then
# (to THREADS, below; checked by check_blas_threads).
os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = "2"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dask
import numpy as np
import pandas as pd
import psutil
import xarray as xr

from benchmarks._world import cohort_vcf, governed_world, session_opener
from wgs_tre.config import Settings
from wgs_tre.genomics import gwas_linear, pca, variant_stats
from wgs_tre.project import open_project

THREADS = 2  # per tool: Dask's workers, BLAS (above), plink2's --threads, Hail's local[2]
QC = "QC (freq, missing, HWE)"
GWAS = "linear GWAS, 2 covariates"
PCA_MEAN = "PCA k=10, mean-imputed"
PCA_PAIRWISE = "PCA k=10, pairwise"
METHODS = {
    PCA_MEAN: "wgs_tre pca(ds, 10) randomized; plink2 --pca approx 10 (randomized); "
    "Hail hwe_normalized_pca (exact)",
    PCA_PAIRWISE: 'wgs_tre pca(ds, 10, missing="pairwise"); plink2 --pca 10; both exact',
}


@dataclass
class Timing:
    cold: float  # seconds of the first run
    warm: float  # seconds of the second
    peak_mb: float  # of the second


def peak_reset() -> None:
    with open("/proc/self/clear_refs", "w") as fh:  # "5" resets the resident high-water mark
        fh.write("5")


def peak_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def blas_threads() -> dict[str, int]:
    """Threads of each OpenBLAS loaded in this process, as the library itself reports them."""
    with open("/proc/self/maps") as fh:
        paths = {line.split()[-1] for line in fh if "openblas" in line.lower() and "/" in line}
    found = {}
    for path in sorted(paths):
        library = ctypes.CDLL(path)  # already loaded: the same handle
        for prefix in ("", "scipy_"):
            for suffix in ("", "64_"):
                symbol = f"{prefix}openblas_get_num_threads{suffix}"
                if hasattr(library, symbol):
                    found[Path(path).name] = int(getattr(library, symbol)())
    return found


def check_blas_threads() -> None:
    threads = blas_threads()
    if not threads or set(threads.values()) != {THREADS}:
        sys.exit(f"BLAS threads {threads or 'not found'}, not {THREADS} each: unequal budgets")


def phenotypes(ids: np.ndarray, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    covariates = pd.DataFrame(
        {"age": rng.normal(55, 12, len(ids)), "sex": rng.integers(0, 2, len(ids))}, index=ids
    )
    trait = pd.DataFrame({"trait": rng.normal(size=len(ids))}, index=ids)
    return trait, covariates


# Runs one command and prints its seconds and peak resident KB. Measuring from a small launcher
# matters: Linux keeps a process's ru_maxrss across exec, so a child forked straight from this
# (large) process would report this process's size instead of its own.
_LAUNCHER = """
import resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
seconds = time.perf_counter() - start
print(code, seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def plink2(args: list[str], cwd: Path) -> tuple[float, float]:
    """Seconds and peak resident MB of one plink2 process."""
    command = ["plink2", "--threads", str(THREADS), "--allow-extra-chr", *args]
    launched = subprocess.run(["/usr/bin/python3", "-S", "-c", _LAUNCHER, *command], cwd=cwd,
                              capture_output=True, text=True, check=True)  # fmt: skip
    code, seconds, peak_kb = launched.stdout.split()
    if code != "0":
        sys.exit(f"plink2 {' '.join(args)} failed; see {cwd}")
    return float(seconds), int(peak_kb) / 1024


def plink2_twice(args: list[str], cwd: Path) -> Timing:
    cold, _ = plink2(args, cwd)
    warm, peak = plink2(args, cwd)
    return Timing(cold, warm, peak)


def make_pgen(vcf: Path, prefix: Path) -> None:
    """plink2's files of ``vcf``, each variant named chrom:pos:ref:alt (the VCF has no IDs)."""
    subprocess.run(["plink2", "--vcf", str(vcf), "--set-all-var-ids", "@:#:$r:$a",
                    "--output-chr", "chrMT", "--make-pgen", "--threads", str(THREADS),
                    "--allow-extra-chr", "--out", str(prefix)], check=True,
                   capture_output=True)  # fmt: skip


def variant_keys(view: xr.Dataset, chosen: np.ndarray) -> list[str]:
    """chrom:pos:ref:alt of the chosen variants of a view, from the view's own columns."""
    contigs = view.contig_id.values[view.variant_contig.values[chosen]]
    positions = view.variant_position.values[chosen]
    alleles = view.variant_allele.values[chosen]
    return [f"{c}:{p}:{a[0]}:{a[1]}" for c, p, a in zip(contigs, positions, alleles, strict=True)]


def plink2_variants(log: Path) -> int:
    """How many variants plink2 says it used, from its log (it reports what remains after
    filters only when some filter ran)."""
    text = log.read_text()
    for said in (r"^(\d+) variants? remaining after main filters", r"^(\d+) variants? loaded from"):
        if found := re.search(said, text, re.M):
            return int(found.group(1))
    return -1


def extract_list(keys: list[str], work: Path) -> list[str]:
    """Write ``pca.txt`` for plink2's ``--extract`` and check, untimed, that plink2 keeps exactly
    these variants; the arguments that select them."""
    (work / "pca.txt").write_text("\n".join(keys) + "\n")
    subprocess.run(["plink2", "--pfile", "all", "--allow-extra-chr", "--extract", "pca.txt",
                    "--write-snplist", "allow-dups", "--out", "extract-check"], cwd=work,
                   capture_output=True)  # fmt: skip
    written = work / "extract-check.snplist"  # none when plink2 keeps no variant
    kept = written.read_text().split() if written.exists() else []
    reported = plink2_variants(work / "extract-check.log")
    if reported != len(keys) or sorted(kept) != sorted(keys):
        sys.exit(f"plink2 keeps {reported:,} variants ({len(set(kept) & set(keys)):,} of them "
                 f"wgs_tre's), not the {len(keys):,} wgs_tre used; see {work}")  # fmt: skip
    return ["--pfile", "all", "--extract", "pca.txt"]


def check_plink2_used(log: Path, expected: int) -> None:
    if (used := plink2_variants(log)) != expected:
        sys.exit(f"plink2 used {used:,} variants, wgs_tre {expected:,}; see {log}")


def twice(run: Callable[[], Any]) -> tuple[Any, Timing]:
    """Run twice in this process: the warm run's result, and both runs' seconds."""
    start = time.perf_counter()
    run()
    cold = time.perf_counter() - start
    peak_reset()
    start = time.perf_counter()
    result = run()
    return result, Timing(cold, time.perf_counter() - start, peak_mb())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2_000)
    parser.add_argument("--variants", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="reuse/keep data in this directory")
    parser.add_argument("--no-hail", action="store_true", help="leave Hail out")
    parser.add_argument("--no-hail-pca", action="store_true", help="leave Hail's PCA out")
    args = parser.parse_args()
    dask.config.set(scheduler="threads", num_workers=THREADS)
    check_blas_threads()  # numpy and scipy's BLAS (the PCA's) are loaded by now
    work = Path(tempfile.mkdtemp(prefix="wgs-tre-gwas-"))
    cache = args.keep or work
    vcf = cohort_vcf(cache, args.samples, args.variants)
    state = cache / f"state-{args.samples}x{args.variants}"
    settings = governed_world(state, vcf, args.samples)

    dispensal = cache / f"dispensal-{args.samples}x{args.variants}"
    reused = dispensal.exists() and any(dispensal.iterdir())
    session_view = session_opener(settings, dispensal)

    def host_view() -> xr.Dataset:
        return open_project("bench", user="alice", settings=settings).variants()

    start = time.perf_counter()
    first = session_view()  # materialised now, unless an earlier run left it
    materialised = time.perf_counter() - start
    ids = first.sample_id.values
    assert sorted(ids) == sorted(host_view().sample_id.values)
    trait, covariates = phenotypes(ids)
    ours: dict[str, dict[str, Timing]] = {}
    results = {}
    for path, view in (("session", session_view), ("host", host_view)):
        operations = {
            QC: lambda v=view: variant_stats(v(), progress=False),
            GWAS: lambda v=view: gwas_linear(v(), trait, covariates, progress=False),
            PCA_MEAN: lambda v=view: pca(v(), 10, progress=False),
            PCA_PAIRWISE: lambda v=view: pca(v(), 10, missing="pairwise", progress=False),
        }
        ours[path] = {}
        for name, run in operations.items():
            results[name], ours[path][name] = twice(run)
    chosen = results[PCA_MEAN].variant_pca_used.values
    assert (chosen == results[PCA_PAIRWISE].variant_pca_used.values).all()
    used = np.flatnonzero(chosen)
    check_blas_threads()  # nothing raised the limit meanwhile

    # plink2 on the same samples, genotypes and phenotypes (written from the view).
    out = work / "plink2"
    out.mkdir()
    make_pgen(vcf, out / "all")
    # Every participant consents in this world, so plink2 sees the same samples. A view's
    # pseudonyms cannot be linked back to the VCF's ids (by design): plink2 gets traits and
    # covariates drawn the same way, keyed by its own ids. Timings do not depend on the values.
    psam = pd.read_csv(out / "all.psam", sep="\t")
    their_trait, their_covariates = phenotypes(psam["#IID"].to_numpy(), seed=2)
    their_trait.rename_axis("#IID").to_csv(out / "pheno.tsv", sep="\t")
    their_covariates.rename_axis("#IID").to_csv(out / "covar.tsv", sep="\t")
    same_variants = extract_list(variant_keys(first, chosen), out)
    glm = ["--pheno", "pheno.tsv", "--covar", "covar.tsv", "--glm", "hide-covar"]
    theirs = {
        QC: plink2_twice(["--pfile", "all", "--freq", "--missing", "--hardy", "--out", "qc"], out),
        GWAS: plink2_twice(["--pfile", "all", *glm, "--out", "lin"], out),
        PCA_MEAN: plink2_twice([*same_variants, "--pca", "approx", "10", "--out", "pca"], out),
        PCA_PAIRWISE: plink2_twice([*same_variants, "--pca", "10", "--out", "pca-exact"], out),
    }
    for log in ("pca.log", "pca-exact.log"):
        check_plink2_used(out / log, len(used))
    hail: dict[str, Timing] = {}
    if not args.no_hail:
        skip = {PCA_MEAN} if args.no_hail_pca else set()
        hail = hail_timings(settings, trait, covariates, used, skip)
    report(args, theirs, ours, hail, len(used), materialised, reused)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


def report(
    args: argparse.Namespace,
    theirs: dict[str, Timing],
    ours: dict[str, dict[str, Timing]],
    hail: dict[str, Timing],
    used: int,
    materialised: float,
    reused: bool,
) -> None:
    genotypes = args.samples * args.variants
    print(f"\n{args.samples:,} samples x {args.variants:,} variants (1% missing calls), "
          f"{THREADS} threads each (BLAS included); PCA on the same {used:,} LD-thinned "
          f"variants for every tool")  # fmt: skip
    for name, method in METHODS.items():
        print(f"  {name}: {method}")
    print(
        "cold: first run (wgs_tre's first in its process; the host view's runs follow the "
        "session's, so only warm is shown); warm: second run; ratios and targets: warm"
    )
    print(f"{'operation':<27}{'tool':<9}{'cold s':>8}{'warm s':>8}{'peak MB':>9}"
          f"{'genotypes/s':>14}{'vs plink2':>11}")  # fmt: skip
    targets = {QC: 2.0, GWAS: 1.0, PCA_MEAN: 0.1}
    first_open = "dispensal (reused)" if reused else "dispensal (first open)"
    print(f"{first_open:<27}{'wgs_tre':<9}{'':>8}{materialised:>8.2f}")
    if "open" in hail:
        print(f"{'view -> Hail (once)':<27}{'Hail':<9}{'':>8}{hail['open'].warm:>8.2f}")
    for name in (QC, GWAS, PCA_MEAN, PCA_PAIRWISE):
        host = ours["host"][name]
        rows = [
            ("wgs_tre", ours["session"][name]),
            ("(host)", Timing(math.nan, host.warm, host.peak_mb)),
            ("plink2", theirs[name]),
        ]
        rows += [("Hail", hail[name])] if name in hail else []
        for tool, timing in rows:
            cold = "-" if math.isnan(timing.cold) else f"{timing.cold:.2f}"
            ratio = timing.warm / theirs[name].warm
            print(f"{name:<27}{tool:<9}{cold:>8}{timing.warm:>8.2f}{timing.peak_mb:>9.0f}"
                  f"{genotypes / timing.warm:>14,.0f}{ratio:>10.2f}x")  # fmt: skip
        mine = ours["session"][name].warm
        if name in targets:
            verdict = "PASS" if mine <= targets[name] * theirs[name].warm else "FAIL"
            print(f"{'':<27}target wgs_tre <= {targets[name]:g}x plink2: {verdict}")
        if name in hail:
            verdict = "PASS" if 5 * mine <= hail[name].warm else "FAIL"
            print(f"{'':<27}target wgs_tre 5x faster than Hail: {verdict}")


def hail_timings(
    settings: Settings,
    trait: pd.DataFrame,
    covariates: pd.DataFrame,
    used: np.ndarray,
    skip: set[str],
) -> dict[str, Timing]:
    """Hail local[THREADS] on the same view: each operation twice (the first compiles its query),
    and the JVM's peak resident MB in the second."""
    import hail as hl

    start = time.perf_counter()
    mt = open_project("bench", user="alice", settings=settings).variants(engine="hail")
    opened = time.perf_counter() - start
    timings = {"open": Timing(math.nan, opened, math.nan)}
    phenotypes = hl.Table.from_pandas(trait.join(covariates).rename_axis("sample_id").reset_index(),
                                      key="sample_id")  # fmt: skip
    mt = mt.annotate_cols(p=phenotypes[mt.s])
    mt.count()  # the JVM has started
    x = mt.GT.n_alt_alleles()
    indexed = mt.add_row_index("i")
    chosen = indexed.filter_rows(hl.literal(set(used.tolist())).contains(hl.int32(indexed.i)))
    if (rows := chosen.count_rows()) != len(used):
        sys.exit(f"Hail's PCA would use {rows:,} variants, wgs_tre's {len(used):,}")
    operations = {
        QC: lambda: hl.variant_qc(mt).rows().variant_qc.collect(),
        GWAS: lambda: hl.linear_regression_rows(
            y=mt.p.trait, x=x, covariates=[1.0, mt.p.age, mt.p.sex]
        ).p_value.collect(),
        PCA_MEAN: lambda: hl.hwe_normalized_pca(chosen.GT, k=10)[1].scores.collect(),
    }
    for name, run in operations.items():
        if name in skip:
            continue
        start = time.perf_counter()
        run()
        cold = time.perf_counter() - start
        jvm_peak_reset()
        start = time.perf_counter()
        run()
        timings[name] = Timing(cold, time.perf_counter() - start, jvm_peak_mb())
        print(f"Hail {name}: {cold:.1f} s cold, {timings[name].warm:.1f} s warm", file=sys.stderr)
    return timings


def _jvms() -> list[psutil.Process]:
    return [c for c in psutil.Process().children(recursive=True) if "java" in c.name()]


def jvm_peak_reset() -> None:
    for jvm in _jvms():
        Path(f"/proc/{jvm.pid}/clear_refs").write_text("5")


def jvm_peak_mb() -> float:
    peaks = [
        int(line.split()[1]) / 1024
        for jvm in _jvms()
        for line in Path(f"/proc/{jvm.pid}/status").read_text().splitlines()
        if line.startswith("VmHWM:")
    ]
    return max(peaks, default=float("nan"))


if __name__ == "__main__":
    main()
