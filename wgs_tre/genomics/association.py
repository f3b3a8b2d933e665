"""Genome-wide association: per-variant linear and logistic regression with covariates.

Traits and covariates come as pandas objects indexed by ``sample_id`` (for instance from
``open_project().clinical(...)``); they are aligned to the view's samples, and samples missing
any of them are left out of every model (their count is in the result's attributes). Within a
variant, samples with a missing call are left out of that variant's model, as plink2 does.

Logistic regression follows plink2's ``--glm`` default (``firth-fallback``): where the plain
fit has no finite estimate (an allele absent from the cases or from the controls) or does not
converge, the variant's estimate is Firth's penalised one, and ``variant_logreg_firth`` says so.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from wgs_tre.backends.packed import select_samples
from wgs_tre.errors import InvalidInput
from wgs_tre.genomics.blocks import blocks_of, compute, map_blocks
from wgs_tre.genomics.kernels.regression import (
    FIRTH_ALWAYS,
    FIRTH_FALLBACK,
    FIRTH_NEVER,
    linear,
    logistic,
)
from wgs_tre.variables import check_outputs

LINEAR_OUTPUTS = (
    "variant_linreg_beta", "variant_linreg_standard_error", "variant_linreg_t_value",
    "variant_linreg_p_value", "variant_linreg_n_obs",
)  # fmt: skip
LOGISTIC_OUTPUTS = (
    "variant_logreg_beta", "variant_logreg_standard_error", "variant_logreg_z_value",
    "variant_logreg_p_value", "variant_logreg_n_obs", "variant_logreg_converged",
    "variant_logreg_firth",
)  # fmt: skip

__all__ = ["Firth", "gwas_linear", "gwas_logistic"]


class Firth(StrEnum):
    """When :func:`gwas_logistic` uses Firth's penalised likelihood (plink2's ``--glm``
    modifiers in brackets)."""

    FALLBACK = "fallback"  # where the plain fit has no finite estimate (firth-fallback, default)
    ALWAYS = "always"  # for every variant (firth)
    NEVER = "never"  # never: those variants are NaN, not converged (no-firth)


_FIRTH_KERNEL = {
    Firth.FALLBACK: FIRTH_FALLBACK,
    Firth.ALWAYS: FIRTH_ALWAYS,
    Firth.NEVER: FIRTH_NEVER,
}


def _aligned(ds: xr.Dataset, table: Any, what: str) -> np.ndarray:
    """``table`` (a pandas DataFrame or Series indexed by ``sample_id``) aligned to the view's
    samples; rows for samples the table lacks are NaN."""
    if not isinstance(table, (pd.DataFrame, pd.Series)):
        raise InvalidInput(what, "expected a pandas DataFrame or Series indexed by sample_id")
    if table.index.has_duplicates:
        raise InvalidInput(what, "sample_id appears more than once in the index")
    ids = pd.Index([str(s) for s in ds.sample_id.values])
    known = ids.isin(table.index)
    if not known.any():
        raise InvalidInput(what, "no sample of the view is in its index (index by sample_id)")
    frame = table.to_frame() if isinstance(table, pd.Series) else table
    try:
        values: np.ndarray = frame.reindex(ids).to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InvalidInput(what, f"values must be numeric: {error}") from None
    return values


def _design(
    ds: xr.Dataset, traits: Any, covariates: Any, function: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(used samples, trait matrix, covariates with an intercept column, trait names)."""
    y = _aligned(ds, traits, f"{function} traits")
    names = [
        str(c)
        for c in (traits.columns if isinstance(traits, pd.DataFrame) else [traits.name or "trait"])
    ]
    if covariates is None:
        c = np.ones((len(y), 1))
    else:
        c = np.column_stack([np.ones(len(y)), _aligned(ds, covariates, f"{function} covariates")])
    complete = np.isfinite(y).all(axis=1) & np.isfinite(c).all(axis=1)
    used = np.flatnonzero(complete)
    if len(used) <= c.shape[1] + 1:
        raise InvalidInput(function, f"only {len(used)} samples have every trait and covariate")
    design = c[used]
    if np.linalg.matrix_rank(design) < design.shape[1]:
        raise InvalidInput(f"{function} covariates", "are collinear (or constant); drop one")
    return used, y[used], design, names


def _restricted(kernel: Any) -> Any:
    """Wrap a kernel so each block first keeps only the used samples, in order."""

    def task(packed: np.ndarray, samples: int, used: np.ndarray, *rest: Any) -> Any:
        if len(used) != samples:
            packed = select_samples(packed, used)
        return kernel(packed, len(used), *rest)

    task.__name__ = kernel.__name__
    return task


def gwas_linear(
    ds: xr.Dataset, traits: Any, covariates: Any = None, *, progress: bool = True
) -> xr.Dataset:
    """Linear regression of each trait on each variant's alternate allele dosage plus covariates.

    A sample with a missing call is left out of that variant's regression (plink2's rule).

    Parameters
    ----------
    ds
        A governed view, from ``open_project().variants()``.
    traits
        pandas DataFrame (one column per trait) or Series, indexed by ``sample_id``. Samples
        missing from it, or missing a value of any trait or covariate, are left out.
    covariates
        pandas DataFrame indexed by ``sample_id`` (e.g. age, sex, principal components), or
        None. An intercept is always included.
    progress
        Show a progress bar.

    Returns
    -------
    xarray.Dataset
        ``ds`` with a ``traits`` coordinate and ``variant_linreg_beta``,
        ``variant_linreg_standard_error``, ``variant_linreg_t_value``,
        ``variant_linreg_p_value`` of dims (variants, traits) and ``variant_linreg_n_obs``
        (variants,); ``attrs["gwas_samples_used"]`` counts the samples with every value.
    """
    blocks = blocks_of(ds, "gwas_linear")
    used, y, design, names = _design(ds, traits, covariates, "gwas_linear")
    tasks = map_blocks(blocks, _restricted(linear), used, y, design)
    parts = compute(tasks, progress=progress)
    beta = np.concatenate([p[0] for p in parts])
    se = np.concatenate([p[1] for p in parts])
    n_obs = np.concatenate([p[2] for p in parts])
    df = (n_obs - design.shape[1] - 1)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = beta / se
        p = 2.0 * stats.t.sf(np.abs(t), df)
    out = ds.assign_coords(traits=names).assign(
        variant_linreg_beta=(("variants", "traits"), beta),
        variant_linreg_standard_error=(("variants", "traits"), se),
        variant_linreg_t_value=(("variants", "traits"), t),
        variant_linreg_p_value=(("variants", "traits"), p),
        variant_linreg_n_obs=("variants", n_obs),
    )
    out.attrs["gwas_samples_used"] = len(used)
    return check_outputs(out, "gwas_linear", *LINEAR_OUTPUTS)


def _null_logistic(y: np.ndarray, design: np.ndarray) -> np.ndarray:
    """The covariates-only logistic fit (Newton-Raphson), where every variant starts."""
    b = np.zeros(design.shape[1])
    for _ in range(50):
        mu = 1.0 / (1.0 + np.exp(-design @ b))
        step = np.linalg.solve(design.T @ (design * (mu * (1 - mu))[:, None]), design.T @ (y - mu))
        b += step
        if np.abs(step).max() < 1e-10:
            return b
    raise InvalidInput("gwas_logistic", "the covariates-only model does not converge")


def _standardised(design: np.ndarray) -> np.ndarray:
    """The design with each covariate centred and scaled, the intercept kept. No variant's
    estimate or standard error changes, but the fits stay well conditioned whatever the
    covariates' units: with a birth year as it is, rounding alone moves the intercept by more
    than the 1e-6 within which Firth's iterations must settle."""
    covariates = design[:, 1:]
    return np.column_stack(
        [design[:, 0], (covariates - covariates.mean(axis=0)) / covariates.std(axis=0)]
    )


def gwas_logistic(
    ds: xr.Dataset,
    trait: Any,
    covariates: Any = None,
    *,
    firth: Firth | str = Firth.FALLBACK,
    progress: bool = True,
) -> xr.Dataset:
    """Logistic regression of a 0/1 trait on each variant's dosage plus covariates (Wald test),
    with Firth's penalised likelihood where the plain fit fails, as plink2 ``--glm`` does.

    For a rare variant the plain maximum-likelihood estimate is often infinite: when the
    alternate (or reference) allele is absent from the cases or from the controls, or the fit
    does not converge. Firth's penalty (Jeffreys' prior, log|X'WX| / 2) keeps such estimates
    finite and removes most of their small-sample bias. Its standard error comes from
    (X'WX)^-1 at the penalised estimate and its p-value from the Wald z, as in plink2's
    ``FIRTH?`` rows and ``--glm firth``.

    Parameters
    ----------
    ds
        A governed view, from ``open_project().variants()``.
    trait
        pandas Series of 0 and 1 indexed by ``sample_id``.
    covariates
        pandas DataFrame indexed by ``sample_id``, or None. An intercept is always included.
    firth
        ``"fallback"`` (default, plink2's ``firth-fallback``): Firth where the plain fit has no
        finite estimate or does not converge; ``"always"`` (``--glm firth``): Firth for every
        variant; ``"never"`` (``no-firth``): those variants are NaN.
    progress
        Show a progress bar.

    Returns
    -------
    xarray.Dataset
        ``ds`` with, each of dims (variants,): ``variant_logreg_beta`` (log odds ratio per
        alternate allele), ``variant_logreg_standard_error``, ``variant_logreg_z_value``,
        ``variant_logreg_p_value``, ``variant_logreg_n_obs``, ``variant_logreg_converged``
        (False where no fit converged, e.g. a variant without variation among the called
        samples, or with ``firth="never"`` one whose classes separate; those variants'
        estimates are NaN) and ``variant_logreg_firth`` (True where the estimate is Firth's,
        plink2's ``FIRTH?`` column).
    """
    blocks = blocks_of(ds, "gwas_logistic")
    try:
        mode = Firth(firth)
    except ValueError:
        raise InvalidInput("gwas_logistic firth", f"name one of: {', '.join(Firth)}") from None
    if isinstance(trait, pd.DataFrame):
        if trait.shape[1] != 1:
            raise InvalidInput("gwas_logistic trait", "give one trait (a Series or one column)")
        trait = trait.iloc[:, 0]
    used, y, design, _ = _design(ds, trait, covariates, "gwas_logistic")
    y = y[:, 0]
    if not np.isin(y, (0.0, 1.0)).all():
        raise InvalidInput("gwas_logistic trait", "must be 0/1 (or boolean)")
    if y.min() == y.max():
        raise InvalidInput("gwas_logistic trait", "has one class only")
    design = _standardised(design)
    start = _null_logistic(y, design)
    tasks = map_blocks(blocks, _restricted(logistic), used, y, design, start, _FIRTH_KERNEL[mode])
    parts = compute(tasks, progress=progress)
    beta, se, n_obs, converged, penalised = (
        np.concatenate([p[i] for p in parts]) for i in range(5)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        z = beta / se
        p = 2.0 * stats.norm.sf(np.abs(z))
    out = ds.assign(
        variant_logreg_beta=("variants", beta),
        variant_logreg_standard_error=("variants", se),
        variant_logreg_z_value=("variants", z),
        variant_logreg_p_value=("variants", p),
        variant_logreg_n_obs=("variants", n_obs),
        variant_logreg_converged=("variants", converged),
        variant_logreg_firth=("variants", penalised),
    )
    out.attrs["gwas_samples_used"] = len(used)
    return check_outputs(out, "gwas_logistic", *LOGISTIC_OUTPUTS)
