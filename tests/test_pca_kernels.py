"""The PCA kernels and both PCA modes against plain numpy: LD thinning against the greedy rule
written out in Python, and ``missing="pairwise"`` against plink2's relationship matrix written as
a formula, on synthetic dosages (a view only in name; see ``wgs_tre.genomics.warmup``) with
monomorphic, entirely missing and mostly missing variants."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest
import xarray as xr

from wgs_tre.backends.packed import MISSING, pack_dosages
from wgs_tre.genomics import pca
from wgs_tre.genomics.kernels.pca import ld_thin
from wgs_tre.genomics.warmup import synthetic_view


def _codes(samples: int, variants: int, seed: int) -> np.ndarray:
    """Dosage codes (0, 1, 2, MISSING) of two populations, with awkward variants first."""
    rng = np.random.default_rng(seed)
    population = rng.random(samples) < 0.4
    p = rng.uniform(0.02, 0.5, variants)[:, None] * np.where(population, 1.6, 0.7)
    codes = rng.binomial(2, np.clip(p, 0, 1)).astype(np.uint8)
    codes[rng.random(codes.shape) < 0.02] = MISSING
    many = rng.random((20, samples)) < 0.45  # more missing calls than the sparse path takes
    codes[:20][many] = MISSING
    codes[20:25] = 0  # monomorphic
    codes[25] = MISSING  # nothing called
    return codes


def _view(codes: np.ndarray) -> xr.Dataset:
    variants, samples = codes.shape
    genotypes = np.zeros((variants, samples, 2), dtype=np.int8)
    genotypes[..., 0] = codes >= 1
    genotypes[..., 1] = codes == 2
    genotypes[codes == MISSING] = -1
    view = synthetic_view(samples=samples, variants=variants)
    view["call_dosage_packed"] = (("variants", "samples_packed"), pack_dosages(genotypes))
    return view


def _moments(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per variant 2p and 1/sqrt(2p(1-p)) (0 where undefined), p among called alleles."""
    called = codes != MISSING
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(called, codes, 0).sum(axis=1) / (2 * called.sum(axis=1))
        scale = 1 / np.sqrt(2 * p * (1 - p))
    scale[~np.isfinite(scale)] = 0.0
    return 2 * np.nan_to_num(p), scale


def _standardised(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, scale = _moments(codes)
    called = codes != MISSING
    return np.where(called, (codes - mean[:, None]) * scale[:, None], 0.0), called


@pytest.mark.parametrize("samples", [60, 300])  # the small-matrix path and Lanczos
def test_pairwise_pca_is_plink2s_matrix(samples: int) -> None:
    codes = _codes(samples, 1_500, seed=samples)
    x, called = _standardised(codes)
    both = called.T.astype(np.float64) @ called
    grm = x.T @ x / both  # plink2: each pair over the variants both samples called
    values, vectors = np.linalg.eigh(grm)
    values, vectors = values[::-1][:5], vectors[:, ::-1][:, :5]
    ours = pca(_view(codes), 5, missing="pairwise", maf_min=0, call_rate_min=0,
               ld_r2_max=None, progress=False)  # fmt: skip
    assert ours.variant_pca_used.values.all()
    np.testing.assert_allclose(ours.sample_pca_explained_variance, values, rtol=1e-5)
    np.testing.assert_allclose(
        ours.sample_pca_explained_variance_ratio, values / np.trace(grm), rtol=1e-5
    )
    for i in range(5):
        r = np.corrcoef(ours.sample_pca_eigenvector.values[:, i], vectors[:, i])[0, 1]
        assert abs(r) > 1 - 1e-6
    # Mean imputation: X X' / M, every variant counted.
    imputed = pca(_view(codes), 1, maf_min=0, call_rate_min=0, ld_r2_max=None, progress=False)
    top = np.linalg.eigvalsh(x.T @ x / len(x))[-1]
    assert imputed.sample_pca_explained_variance.values[0] == pytest.approx(top, rel=1e-4)


def _greedy(x: np.ndarray, contig: np.ndarray, window: int, r2_max: float) -> np.ndarray:
    kept: list[int] = []
    for i in range(len(x)):
        if not x[i].any():
            continue
        recent = [k for k in kept if i - k <= window and contig[k] == contig[i]]
        r2 = [np.dot(x[i], x[k]) ** 2 / (x[i] @ x[i] * (x[k] @ x[k])) for k in recent]
        if all(value <= r2_max for value in r2):
            kept.append(i)
    mask = np.zeros(len(x), dtype=bool)
    mask[kept] = True
    return mask


@pytest.mark.parametrize("window", [0, 1, 5, 50])
def test_ld_thinning_is_the_greedy_rule(window: int) -> None:
    rng = np.random.default_rng(window)
    codes = _codes(80, 400, seed=window)
    codes[200:300] = codes[199]  # a block in complete LD: one of them is kept per window
    codes[300:400:2] = np.where(rng.random((50, 80)) < 0.1, MISSING, codes[299])
    x, _ = _standardised(codes)
    contig = (np.arange(400) >= 250).astype(np.int16)
    view = _view(codes)
    packed = view.call_dosage_packed.values
    rows = np.arange(2, 400)  # candidates need not start at the block's first row
    mean, scale = _moments(codes)
    ours = ld_thin(packed, 80, rows, mean, scale, contig[rows], window, 0.2)
    np.testing.assert_array_equal(ours, _greedy(x[rows], contig[rows], window, 0.2))
    assert 0 < ours[198:298].sum() < 100 // max(window, 1) + 3


def test_thinned_rows_read_again_each_pass_give_the_same_components(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past ``KEEP_ROWS_UP_TO`` the LD-thinned rows are not held between passes but read again
    from the view each time (10,000 x 1,000,000 stays under 1 GB that way): the same rows, so the
    same components to the last bit, in either mode."""
    module = sys.modules["wgs_tre.genomics.pca"]
    view = _view(_codes(240, 3000, seed=5))
    view["call_dosage_packed"] = view.call_dosage_packed.chunk({"variants": 400})  # 8 blocks
    reads = []

    def counted(*args: Any) -> Any:
        reads.append(1)
        return with_rows(*args)

    with_rows = module._with_rows
    monkeypatch.setattr(module, "_with_rows", counted)
    held = pca(view, 4, progress=False)
    assert reads == []
    monkeypatch.setattr(module, "KEEP_ROWS_UP_TO", 0)
    streamed = pca(view, 4, progress=False)
    # 8 blocks read again for each product of the randomized algorithm (iterations + 2)
    assert len(reads) == 8 * (4 + 2)
    assert 100 < held.variant_pca_used.values.sum() < 3000
    for name in ("variant_pca_used", "sample_pca_explained_variance", "sample_pca_eigenvector"):
        np.testing.assert_array_equal(streamed[name].values, held[name].values, err_msg=name)
