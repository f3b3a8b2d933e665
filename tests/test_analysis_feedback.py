"""What a researcher sees while an analysis runs: one line saying the kernels compile (only when
they do), and no bar redrawn with ``\\r`` into a log file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from wgs_tre.genomics.feedback import COMPILING

REPO = Path(__file__).resolve().parent.parent

FIRST_QC = (
    "from wgs_tre import genomics\n"
    "from wgs_tre.genomics.warmup import synthetic_view\n"
    "print(genomics.variant_stats(synthetic_view(variants=4000)).sizes)\n"
)


def _analysis(cache: Path) -> subprocess.CompletedProcess[str]:
    """A first QC in a new process, its output piped as a batch job's log would be."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", FIRST_QC], env=env, capture_output=True, text=True, check=True
    )


def test_compiling_is_announced_once_and_only_when_it_happens(tmp_path: Path) -> None:
    cold = _analysis(tmp_path / "numba")
    assert cold.stderr.count(COMPILING) == 1, cold.stderr
    # The compile takes seconds, long enough for Dask's bar to draw: into a pipe it must not.
    assert "\r" not in cold.stdout and "Completed" not in cold.stdout, cold.stdout
    warm = _analysis(tmp_path / "numba")  # the same cache: nothing to compile
    assert COMPILING not in warm.stderr, warm.stderr
    assert warm.stdout == cold.stdout
