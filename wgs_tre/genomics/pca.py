"""Principal components of a governed view, on common, LD-thinned variants by default.

Which variants. By default, variants with minor allele frequency at least 1% and call rate at
least 95%, thinned for linkage disequilibrium (LD) in genome order: a variant is dropped when
its squared correlation with one already kept among the previous 50 exceeds 0.2. PCA is meant
to find ancestry, which every independent region of the genome reflects a little; without
thinning, blocks of variants in strong LD (long haplotypes, inversions, the HLA) each weigh as
much as their number of variants and pull components of their own, and very rare variants add
noise. plink2's own help says to run ``--pca`` "on a variant set in approximate linkage
equilibrium, with no very-low-MAF variants"; its ``--pca`` itself uses every variant it is
given. ``maf_min=0, call_rate_min=0, ld_r2_max=None`` uses every variant of the view as plink2
does (monomorphic ones add nothing to the matrix but count in its denominators, as in plink2).

Missing calls. The relationship matrix is G = X X' / M (X: samples x M standardised dosages,
(x - 2p) / sqrt(2p(1-p))); a missing call is 0, the variant's mean. Then:

- ``missing="mean"`` (default; Hail's ``hwe_normalized_pca``, plink2's ``--pca meanimpute``
  and ``--pca approx``) divides every entry by M. The matrix is never formed: a
  randomized subspace iteration (Halko, Martinsson & Tropp 2011) multiplies by X X' block by
  block, streaming over the genotypes, so memory stays at a few (samples x components)
  matrices whatever the number of variants and the passes run wherever Dask runs. Beyond the
  leading components the eigenvalues are slightly low (Ritz values of a randomized subspace).
- ``missing="pairwise"`` (plink2's exact ``--pca``, which it calls correcting for missingness)
  divides each pair's sum by the number of variants both samples have called (the diagonal by
  the number the sample has called). That is not a product of two matrices, so the samples x
  samples matrix is formed, as plink2 forms it: 4 bytes per pair (400 MB at 10,000 samples),
  and time grows with samples squared times variants. Its top eigenpairs are then found to
  convergence (Lanczos): eigenvalues and eigenvectors are plink2's (tested against plink2 to
  the six digits it prints).

With missing calls at random, mean imputation shrinks every eigenvalue by about the mean
pairwise call rate (about 4% at 2% missing calls); the eigenvectors hardly change.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import xarray as xr
from dask.delayed import Delayed, delayed
from scipy.linalg.blas import ssyrk
from scipy.sparse.linalg import LinearOperator, eigsh

from wgs_tre.errors import InvalidInput
from wgs_tre.genomics.blocks import Blocks, blocks_of, compute, map_blocks, persist
from wgs_tre.genomics.kernels.pca import (
    finish_pairwise_grm,
    ld_thin,
    missing_indicators,
    pairwise_counts,
    standardise,
)
from wgs_tre.genomics.kernels.qc import variant_counts
from wgs_tre.variables import check_outputs

PCA_OUTPUTS = (
    "sample_pca_eigenvector", "sample_pca_projection", "sample_pca_explained_variance",
    "sample_pca_explained_variance_ratio", "variant_pca_used",
)  # fmt: skip
MISSING_CALLS = ("mean", "pairwise")

__all__ = ["MISSING_CALLS", "pca"]

SUBBLOCK = 512  # standardised rows held at once per task (bounds memory with many samples)
# The LD-thinned rows are kept in memory between passes when the whole packed matrix is at most
# this big (so they are too); beyond it only which rows were kept is, and each pass reads the
# view again (10,000 x 1,000,000: 2.4 GB packed, 0.28 GB thinned; peak 1.4 GB kept, < 1 GB read).
KEEP_ROWS_UP_TO = 256 * 2**20
SUM_FAN_IN = 4  # blocks' products summed per task
EXACT_COUNTS = 2**24  # float32 counts are exact up to here

# A block's chosen variants: the block's mask, their packed rows, centre, scale, and their
# share of trace(X'X) (the standardised sums of squares).
Chosen = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]


def _moments(
    packed: np.ndarray, samples: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per variant: mean dosage 2p, 1/sqrt(2p(1-p)) (0 if monomorphic), call rate, and the
    sum of squared standardised dosages (missing calls 0)."""
    counts = variant_counts(packed, samples).astype(np.float64)
    called = counts[:, :3].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = (counts[:, 1] + 2 * counts[:, 2]) / (2 * called)
        scale = 1.0 / np.sqrt(2 * p * (1 - p))
    scale[~np.isfinite(scale)] = 0.0
    mean = np.nan_to_num(2 * p)
    deviations = np.arange(3)[None, :] - mean[:, None]
    squares = (counts[:, :3] * deviations**2).sum(axis=1) * scale**2
    return mean, scale, called / samples, squares


def _choose(
    packed: np.ndarray,
    samples: int,
    start: int,
    contig: np.ndarray,
    settings: tuple[float, float, int, float | None],
) -> Chosen:
    """A block's variants for PCA (frequent and well called enough, LD-thinned unless
    ``r2_max`` is None), with what the passes that follow need of them."""
    maf_min, call_rate_min, window, r2_max = settings
    mean, scale, call_rate, squares = _moments(packed, samples)
    maf = np.minimum(mean / 2, 1 - mean / 2)
    candidates = np.flatnonzero((maf >= maf_min) & (call_rate >= call_rate_min))
    kept = np.zeros(packed.shape[0], dtype=bool)
    if r2_max is None:
        kept[candidates] = True
    elif len(candidates):
        ours = contig[start : start + packed.shape[0]][candidates]
        thinned = ld_thin(packed, samples, candidates, mean, scale, ours, window, r2_max)
        kept[candidates[thinned]] = True
    rows = np.ascontiguousarray(packed[kept])
    return kept, rows, mean[kept], scale[kept], float(squares[kept].sum())


def _summary(chosen: Chosen) -> tuple[np.ndarray, float]:
    return chosen[0], chosen[4]


def _without_rows(chosen: Chosen) -> Chosen:
    mask, rows, mean, scale, share = chosen
    return mask, np.empty((0, rows.shape[1]), rows.dtype), mean, scale, share  # not a view


def _with_rows(packed: np.ndarray, samples: int, chosen: Chosen) -> Chosen:
    """A block's chosen rows read again from its packed dosages (``samples`` unused: the
    signature ``map_blocks`` calls)."""
    mask, _, mean, scale, share = chosen
    return mask, np.ascontiguousarray(packed[mask]), mean, scale, share


def _product(chosen: Chosen, samples: int, q: np.ndarray) -> np.ndarray:
    """X_b' (X_b q) over a block's chosen rows: (samples, columns of q)."""
    _, packed, mean, scale, _ = chosen
    out = np.zeros(q.shape, dtype=np.float64)
    q32 = q.astype(np.float32)
    everything = np.arange(len(packed))
    for first in range(0, len(packed), SUBBLOCK):
        x = standardise(packed, samples, everything[first : first + SUBBLOCK], mean, scale)
        out += x.T @ (x @ q32)
    return out


def _total(*parts: np.ndarray) -> np.ndarray:
    total = parts[0].copy()
    for part in parts[1:]:
        total += part
    return total


def _orthonormal(y: np.ndarray) -> np.ndarray:
    q, _ = np.linalg.qr(y)
    return q


def _randomized(
    chosen: list[Delayed], n: int, k: int, width: int, iterations: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` eigenpairs of X X' by randomized subspace iteration, one pass per product."""

    def times_grm(q: np.ndarray) -> np.ndarray:  # X X' q, one task per block
        shared = delayed(q)
        tasks = [delayed(_product)(c, n, shared) for c in chosen]
        # Summed in the graph, a few at a time: the blocks' products are not all held at once
        # (each is samples x columns: 100 blocks of 10,000 samples would hold 160 MB).
        while len(tasks) > 1:
            tasks = [
                delayed(_total)(*tasks[i : i + SUM_FAN_IN])
                for i in range(0, len(tasks), SUM_FAN_IN)
            ]
        (product,) = compute(tasks, progress=False)
        return cast(np.ndarray, product)

    y = times_grm(np.random.default_rng(seed).standard_normal((n, width)))
    for _ in range(iterations):
        y = times_grm(_orthonormal(y))
    # Rayleigh-Ritz: the eigenpairs of X X' restricted to the subspace found.
    q = _orthonormal(y)
    y = times_grm(q)
    small = q.T @ y
    values, vectors = np.linalg.eigh((small + small.T) / 2)
    top = np.argsort(values)[::-1][:k]
    return values[top], q @ vectors[:, top]


def _accumulate(grm: np.ndarray, chosen: Chosen, samples: int, sums: np.ndarray,
                missing: np.ndarray) -> None:  # fmt: skip
    """Add a block's chosen rows to the pairwise matrix in the making: standardised
    cross-products into the lower triangle, counts of variants both samples miss into the
    upper one, and per sample the sums of squares and missing calls."""
    _, packed, mean, scale, _ = chosen
    for first in range(0, len(packed), SUBBLOCK):
        part = packed[first : first + SUBBLOCK]
        centre, spread = mean[first : first + SUBBLOCK], scale[first : first + SUBBLOCK]
        x = standardise(part, samples, np.arange(len(part)), centre, spread)
        # In place (grm is float32 and Fortran-ordered): only one triangle is written each time.
        _into(grm, ssyrk(1.0, x.T, beta=1.0, c=grm, trans=0, lower=1, overwrite_c=1))
        dense = pairwise_counts(part, samples, centre, spread, grm, sums, missing)
        if dense.any():
            z = missing_indicators(part, samples, np.flatnonzero(dense))
            _into(grm, ssyrk(1.0, z.T, beta=1.0, c=grm, trans=0, lower=0, overwrite_c=1))


def _into(grm: np.ndarray, result: np.ndarray) -> None:
    if result is not grm:  # BLAS copied instead of updating in place: the sums would be lost
        raise RuntimeError("the relationship matrix was not updated in place")


def _pairwise_grm(chosen: list[Delayed], n: int) -> tuple[np.ndarray, np.ndarray, float]:
    """plink2's relationship matrix over the chosen variants (each pair divided by the
    variants both samples called), the variants used and the matrix's trace. One pass, two
    blocks at a time: only the matrix and those blocks are held."""
    grm = np.zeros((n, n), dtype=np.float32, order="F")
    sums = np.zeros(n, dtype=np.float64)
    missing = np.zeros(n, dtype=np.int64)
    masks = []
    for first in range(0, len(chosen), 2):
        for block in compute(chosen[first : first + 2], progress=False):
            _accumulate(grm, block, n, sums, missing)
            masks.append(block[0])
    kept = np.concatenate(masks)
    used = int(kept.sum())
    if used >= EXACT_COUNTS:
        raise InvalidInput("pca", f"missing='pairwise' counts up to {EXACT_COUNTS - 1:,} "
                           f"variants, not {used:,}; thin them or use missing='mean'")  # fmt: skip
    if finish_pairwise_grm(grm, sums, missing, used):
        raise InvalidInput("pca", "some pairs of samples have no variant both called; drop "
                           "samples with a low call rate (sample_stats) first")  # fmt: skip
    return grm, kept, float((sums / (used - missing)).sum())


def _top_eigenpairs(grm: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest eigenvalues of a symmetric float32 matrix and their unit vectors, to
    convergence (Lanczos, ARPACK)."""
    n = grm.shape[0]
    if n <= 4 * k + 40:  # too small for Lanczos to pay (or to work): all of them
        values, vectors = np.linalg.eigh(grm.astype(np.float64))
    else:

        def times(v: np.ndarray) -> np.ndarray:  # in float32: no float64 copy of the matrix
            return (grm @ v.astype(np.float32)).astype(np.float64)

        operator = LinearOperator((n, n), matvec=times, matmat=times, dtype=np.float64)
        start = np.random.default_rng(seed).standard_normal(n)
        values, vectors = eigsh(operator, k=k, which="LA", v0=start, tol=1e-6)
    top = np.argsort(values)[::-1][:k]
    return values[top], vectors[:, top]


def _packed_bytes(blocks: Blocks) -> int:
    return -(-blocks.samples // 4) * blocks.variants


def _enough(used: int, k: int) -> None:
    if used < k:
        raise InvalidInput("pca", f"only {used} variants pass the filters; relax them")


def pca(
    ds: xr.Dataset,
    k: int = 10,
    *,
    missing: str = "mean",
    maf_min: float = 0.01,
    call_rate_min: float = 0.95,
    ld_window: int = 50,
    ld_r2_max: float | None = 0.2,
    oversampling: int = 10,
    iterations: int = 4,
    seed: int = 0,
    progress: bool = True,
) -> xr.Dataset:
    """Top ``k`` principal components of the samples.

    By default on common, well-called, LD-thinned variants, with missing calls mean-imputed
    (see the module's description for why). plink2's ``--pca`` on every variant of the view:
    ``pca(ds, k, missing="pairwise", maf_min=0, call_rate_min=0, ld_r2_max=None)``.

    Parameters
    ----------
    ds
        A governed view, from ``open_project().variants()``.
    k
        Number of components.
    missing
        How missing calls enter the relationship matrix: ``"mean"`` (the variant's mean, every
        entry divided by the number of variants; streamed, randomized) or ``"pairwise"``
        (plink2's exact ``--pca``: each pair divided by the number of variants both samples
        called; forms the samples x samples matrix, 4 bytes per pair, solved exactly).
    maf_min, call_rate_min
        Variants used: minor allele frequency and call rate at least these (0 and 0: all).
    ld_window, ld_r2_max
        The used variants are thinned in genome order: a variant is dropped if its squared
        correlation with one kept among the previous ``ld_window`` candidates exceeds
        ``ld_r2_max``. ``ld_r2_max=None``: no thinning. Dosages are standardised by 2p and
        sqrt(2p(1-p)), missing calls set to the mean.
    oversampling, iterations
        The randomized algorithm's extra dimensions and power iterations (``missing="mean"``).
    seed
        Random seed of the starting vectors.
    progress
        Show a progress bar.

    Returns
    -------
    xarray.Dataset
        ``ds`` with a ``components`` coordinate and ``sample_pca_projection`` (samples,
        components: unit eigenvectors times sqrt(M x eigenvalue), M the variants used; with
        ``missing="mean"``, each sample's standardised dosages projected on the component),
        ``sample_pca_eigenvector`` (samples, components: unit length, as plink2's .eigenvec),
        ``sample_pca_explained_variance`` (components,: eigenvalues of the relationship
        matrix, as plink2's .eigenval), ``sample_pca_explained_variance_ratio`` (components,:
        over its trace) and ``variant_pca_used`` (variants,: the variants used).
    """
    if missing not in MISSING_CALLS:
        raise InvalidInput("pca missing", f"use one of {', '.join(MISSING_CALLS)}, not {missing!r}")
    blocks = blocks_of(ds, "pca")
    n = blocks.samples
    if not 1 <= k < n:
        raise InvalidInput("pca k", f"ask for 1 to {n - 1} components ({n} samples), not {k}")
    width = min(n, k + oversampling)
    contig = np.asarray(ds.variant_contig.values)
    settings = (maf_min, call_rate_min, ld_window, ld_r2_max)
    chosen = map_blocks(blocks, _choose, contig, settings, with_start=True)
    if missing == "pairwise":  # one pass: each block is added to the matrix and dropped
        grm, kept, trace = _pairwise_grm(chosen, n)
        used = int(kept.sum())
        _enough(used, k)
        eigenvalues, eigenvectors = _top_eigenpairs(grm, k, seed)
        del grm
    else:  # a pass per product of the randomized algorithm
        if ld_r2_max is not None and _packed_bytes(blocks) <= KEEP_ROWS_UP_TO:
            # Thinned rows stay in memory (or on the cluster's workers): packed, they are a
            # small fraction of the data, and every later pass reads them instead of the whole
            # matrix. Unthinned they can be all of it: each pass reads the view again instead.
            chosen = persist(chosen, progress=progress)
            summaries = compute([delayed(_summary)(c) for c in chosen], progress=progress)
        elif ld_r2_max is not None:  # too many to hold: keep which rows, read them each pass
            kept_only = persist([delayed(_without_rows)(c) for c in chosen], progress=progress)
            summaries = compute([delayed(_summary)(c) for c in kept_only], progress=False)
            chosen = [
                delayed(_with_rows, pure=True)(part, n, meta)
                for part, meta in zip(blocks.parts, kept_only, strict=True)
            ]
        else:
            summaries = compute([delayed(_summary)(c) for c in chosen], progress=progress)
        kept = np.concatenate([mask for mask, _ in summaries])
        used = int(kept.sum())
        _enough(used, k)
        values, eigenvectors = _randomized(chosen, n, k, width, iterations, seed)
        eigenvalues, trace = values / used, sum(share for _, share in summaries) / used
    eigenvalues = np.maximum(eigenvalues, 0.0)
    projection = eigenvectors * np.sqrt(eigenvalues * used)
    out = ds.assign_coords(components=np.arange(k)).assign(
        sample_pca_eigenvector=(("samples", "components"), eigenvectors),
        sample_pca_projection=(("samples", "components"), projection),
        sample_pca_explained_variance=("components", eigenvalues),
        sample_pca_explained_variance_ratio=("components", eigenvalues / trace),
        variant_pca_used=("variants", kept),
    )
    return check_outputs(out, "pca", *PCA_OUTPUTS)
