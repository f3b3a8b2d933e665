"""Compile the analysis kernels once, where sessions can reuse them.

numba compiles a kernel the first time it runs with a given signature and caches the machine
code (``cache=True``) in ``NUMBA_CACHE_DIR``. A session's home is new for every (user, project),
so without a shared cache every new project would compile them again on its first analysis
(about 13 s of its first QC + GWAS). ``scripts/install`` runs this module with ``NUMBA_CACHE_DIR``
set to the environment's shared cache, and each session starts from a copy of it (see
``wgs_tre.hub.spawner``).

It runs every analysis once on a tiny synthetic cohort, so the kernels are compiled for exactly
the array types the analyses pass them. The cohort is random numbers, not participants: it is
marked as a view only so that the analyses accept it.

    NUMBA_CACHE_DIR=<dir> python -m wgs_tre.genomics.warmup
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pandas as pd
import xarray as xr

from wgs_tre.genomics.blocks import VIEW_ATTRS

__all__ = ["compile_kernels", "synthetic_view"]


def synthetic_view(samples: int = 64, variants: int = 400, seed: int = 0) -> xr.Dataset:
    """Random packed dosages (2 bits per call, 3 = missing) in the shape of a governed view."""
    rng = np.random.default_rng(seed)
    codes = rng.choice(4, size=(variants, samples), p=[0.5, 0.3, 0.15, 0.05]).astype(np.uint8)
    padded = np.zeros((variants, -(-samples // 4) * 4), dtype=np.uint8)
    padded[:, :samples] = codes
    quads = padded.reshape(variants, -1, 4)
    packed = quads[..., 0] | quads[..., 1] << 2 | quads[..., 2] << 4 | quads[..., 3] << 6
    return xr.Dataset(
        {
            "call_dosage_packed": (("variants", "samples_packed"), packed),
            "sample_id": ("samples", np.array([f"S{i:04d}" for i in range(samples)], dtype=object)),
            "variant_contig": ("variants", np.repeat(np.arange(2, dtype=np.int16), variants // 2)),
            "variant_position": ("variants", np.arange(variants, dtype=np.int32) * 100 + 1),
        },
        attrs=dict.fromkeys(VIEW_ATTRS, "warm-up"),
    )


def compile_kernels() -> float:
    """Run every analysis once on a synthetic view; return the seconds it took."""
    from wgs_tre import genomics
    from wgs_tre.genomics.kernels.pca import missing_indicators

    started = time.perf_counter()
    view = synthetic_view()
    samples = pd.Index(view.sample_id.values, name="sample_id")
    rng = np.random.default_rng(1)
    trait = pd.DataFrame({"trait": rng.normal(size=len(samples))}, index=samples)
    covariates = pd.DataFrame({"age": rng.normal(size=len(samples))}, index=samples)
    case = pd.Series(rng.integers(0, 2, size=len(samples)), index=samples, name="case")
    genomics.variant_stats(view, progress=False)
    genomics.variant_stats(view, hwe_midp=True, progress=False)
    genomics.sample_stats(view, progress=False)
    genomics.gwas_linear(view, trait, covariates, progress=False)
    genomics.gwas_logistic(view, case, covariates, progress=False)
    genomics.pca(view, 2, maf_min=0.0, call_rate_min=0.0, progress=False)
    genomics.pca(view, 2, missing="pairwise", maf_min=0.0, call_rate_min=0.0, ld_r2_max=None,
                 progress=False)  # fmt: skip
    # Rows missing many calls take the matrix-product path, which these random calls never do.
    missing_indicators(view.call_dosage_packed.values, len(samples), np.arange(3))
    return time.perf_counter() - started


def main() -> None:
    if not os.environ.get("NUMBA_CACHE_DIR"):
        sys.exit("set NUMBA_CACHE_DIR to the directory the compiled kernels should go to")
    print(f"compiled the analysis kernels in {compile_kernels():.1f} s", flush=True)


if __name__ == "__main__":
    main()
