"""Principal components of a governed view: randomized, on common, LD-thinned variants.

The genetic relationship matrix X X' / M (X: samples x M standardised dosages) is never formed.
A randomized subspace iteration (Halko, Martinsson & Tropp 2011) multiplies by X X' block by
block, streaming over the genotypes: each pass costs one read of the packed dosages, memory stays
at a few (samples x components) matrices whatever the number of variants, and the passes run
wherever Dask runs. Eigenvalues are those of X X' / M, as plink2's ``--pca`` reports them.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from dask.delayed import delayed

from wgs_tre.errors import InvalidInput
from wgs_tre.genomics.blocks import blocks_of, compute, map_blocks, persist
from wgs_tre.genomics.kernels.pca import ld_thin, standardise
from wgs_tre.genomics.kernels.qc import variant_counts
from wgs_tre.variables import check_outputs

PCA_OUTPUTS = (
    "sample_pca_eigenvector", "sample_pca_projection", "sample_pca_explained_variance",
    "sample_pca_explained_variance_ratio", "variant_pca_used",
)  # fmt: skip

__all__ = ["pca"]

SUBBLOCK = 512  # standardised rows held at once per task (bounds memory with many samples)


def _moments(packed: np.ndarray, samples: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per variant: mean dosage 2p, 1/sqrt(2p(1-p)) (0 if monomorphic), call rate."""
    counts = variant_counts(packed, samples).astype(np.float64)
    called = counts[:, :3].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = (counts[:, 1] + 2 * counts[:, 2]) / (2 * called)
        scale = 1.0 / np.sqrt(2 * p * (1 - p))
    scale[~np.isfinite(scale)] = 0.0
    return np.nan_to_num(2 * p), scale, called / samples


def _choose(
    packed: np.ndarray,
    samples: int,
    start: int,
    contig: np.ndarray,
    settings: tuple[float, float, int, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A block's variants for PCA (common, well called, LD-thinned): the mask, and the chosen
    rows' packed dosages with their centre and scale, kept for the passes that follow."""
    maf_min, call_rate_min, window, r2_max = settings
    mean, scale, call_rate = _moments(packed, samples)
    maf = np.minimum(mean / 2, 1 - mean / 2)
    candidates = np.flatnonzero((maf >= maf_min) & (call_rate >= call_rate_min) & (scale > 0))
    kept = np.zeros(packed.shape[0], dtype=bool)
    if len(candidates):
        ours = contig[start : start + packed.shape[0]][candidates]
        thinned = ld_thin(packed, samples, candidates, mean, scale, ours, int(window), r2_max)
        kept[candidates[thinned]] = True
    return kept, np.ascontiguousarray(packed[kept]), mean[kept], scale[kept]


def _product(
    chosen: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], samples: int, q: np.ndarray
) -> np.ndarray:
    """X_b' (X_b q) over a block's chosen rows: (samples, columns of q)."""
    _, packed, mean, scale = chosen
    out = np.zeros(q.shape, dtype=np.float64)
    q32 = q.astype(np.float32)
    everything = np.arange(len(packed))
    for first in range(0, len(packed), SUBBLOCK):
        x = standardise(packed, samples, everything[first : first + SUBBLOCK], mean, scale)
        out += x.T @ (x @ q32)
    return out


def _sum_of_squares(
    chosen: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], samples: int
) -> float:
    """The block's share of trace(X X'): each chosen variant's standardised sum of squares."""
    _, packed, mean, scale = chosen
    x = standardise(packed, samples, np.arange(len(packed)), mean, scale)
    return float(np.einsum("ij,ij->", x, x, dtype=np.float64))


def _orthonormal(y: np.ndarray) -> np.ndarray:
    q, _ = np.linalg.qr(y)
    return q


def pca(
    ds: xr.Dataset,
    k: int = 10,
    *,
    maf_min: float = 0.01,
    call_rate_min: float = 0.95,
    ld_window: int = 50,
    ld_r2_max: float = 0.2,
    oversampling: int = 10,
    iterations: int = 4,
    seed: int = 0,
    progress: bool = True,
) -> xr.Dataset:
    """Top ``k`` principal components of the samples (randomized, on LD-thinned variants).

    Parameters
    ----------
    ds
        A governed view, from ``open_project().variants()``.
    k
        Number of components.
    maf_min, call_rate_min
        Variants used: minor allele frequency and call rate at least these.
    ld_window, ld_r2_max
        The used variants are thinned in genome order: a variant is dropped if its squared
        correlation with one kept among the previous ``ld_window`` candidates exceeds
        ``ld_r2_max``. They are standardised by 2p and sqrt(2p(1-p)), missing calls set to
        the mean.
    oversampling, iterations, seed
        The randomized algorithm's extra dimensions, power iterations and random seed.
    progress
        Show a progress bar.

    Returns
    -------
    xarray.Dataset
        ``ds`` with a ``components`` coordinate and ``sample_pca_projection`` (samples,
        components: unit eigenvectors scaled by the square root of their eigenvalue),
        ``sample_pca_eigenvector`` (samples, components: unit length, as plink2's .eigenvec),
        ``sample_pca_explained_variance`` (components,: eigenvalues of X X' / M, as plink2's
        .eigenval), ``sample_pca_explained_variance_ratio`` (components,) and
        ``variant_pca_used`` (variants,: the variants used).
    """
    blocks = blocks_of(ds, "pca")
    n = blocks.samples
    if not 1 <= k < n:
        raise InvalidInput("pca k", f"ask for 1 to {n - 1} components ({n} samples), not {k}")
    width = min(n, k + oversampling)
    contig = np.asarray(ds.variant_contig.values)
    settings = (maf_min, call_rate_min, ld_window, ld_r2_max)
    # The chosen rows stay in memory (or on the cluster's workers): packed, they are a small
    # fraction of the data, and every later pass reads them instead of the whole matrix.
    chosen = persist(
        map_blocks(blocks, _choose, contig, settings, with_start=True), progress=progress
    )
    kept = np.concatenate(compute([c[0] for c in chosen], progress=False))
    used = int(kept.sum())
    if used < k:
        raise InvalidInput("pca", f"only {used} variants pass the filters; relax them")

    def times_grm(q: np.ndarray) -> np.ndarray:  # X X' q, one task per block
        shared = delayed(q)
        tasks = [delayed(_product)(c, n, shared) for c in chosen]
        product: np.ndarray = np.sum(compute(tasks, progress=False), axis=0)
        return product

    trace = float(sum(compute([delayed(_sum_of_squares)(c, n) for c in chosen], progress=False)))
    y = times_grm(np.random.default_rng(seed).standard_normal((n, width)))
    for _ in range(iterations):
        y = times_grm(_orthonormal(y))
    # Rayleigh-Ritz: the eigenpairs of X X' restricted to the subspace found.
    q = _orthonormal(y)
    y = times_grm(q)
    small = q.T @ y
    values, vectors = np.linalg.eigh((small + small.T) / 2)
    top = np.argsort(values)[::-1][:k]
    eigenvalues = np.maximum(values[top], 0.0)
    eigenvectors = q @ vectors[:, top]
    components = np.arange(k)
    out = ds.assign_coords(components=components).assign(
        sample_pca_eigenvector=(("samples", "components"), eigenvectors),
        sample_pca_projection=(("samples", "components"), eigenvectors * np.sqrt(eigenvalues)),
        sample_pca_explained_variance=("components", eigenvalues / used),
        sample_pca_explained_variance_ratio=("components", eigenvalues / trace),
        variant_pca_used=("variants", kept),
    )
    return check_outputs(out, "pca", *PCA_OUTPUTS)
