"""Per-variant linear and logistic regression of traits on dosage plus covariates.

A sample whose call is missing is left out of that variant's model (plink2's rule), never
imputed. For the linear model that costs almost nothing: the sums over all samples are computed
once, and each variant subtracts the few missing samples' contributions before solving its
small (covariates x covariates) system.
"""

from __future__ import annotations

import numba
import numpy as np

from wgs_tre.backends.packed import MISSING, call_code

__all__ = ["linear", "logistic"]


@numba.njit(nogil=True, cache=True)
def _cholesky(a: np.ndarray) -> bool:
    """Factor a = L L' in place from its lower triangle (L overwrites it). False if a is not
    positive definite (e.g. collinear covariates)."""
    n = a.shape[0]
    for j in range(n):
        s = a[j, j]
        for k in range(j):
            s -= a[j, k] * a[j, k]
        if s <= 1e-12 * max(1.0, abs(a[j, j])):
            return False
        a[j, j] = np.sqrt(s)
        for i in range(j + 1, n):
            s = a[i, j]
            for k in range(j):
                s -= a[i, k] * a[j, k]
            a[i, j] = s / a[j, j]
    return True


@numba.njit(nogil=True, cache=True)
def _cholesky_solve(a: np.ndarray, b: np.ndarray) -> None:
    """Solve L L' x = b in place (b becomes x; columns are right-hand sides), L in a's lower
    triangle (from :func:`_cholesky`)."""
    n = a.shape[0]
    for r in range(b.shape[1]):
        for i in range(n):
            s = b[i, r]
            for k in range(i):
                s -= a[i, k] * b[k, r]
            b[i, r] = s / a[i, i]
        for i in range(n - 1, -1, -1):
            s = b[i, r]
            for k in range(i + 1, n):
                s -= a[k, i] * b[k, r]
            b[i, r] = s / a[i, i]


@numba.njit(nogil=True, cache=True)
def _solve_spd(a: np.ndarray, b: np.ndarray) -> bool:
    """Solve a x = b in place (b becomes x; columns are right-hand sides) by Cholesky; a is
    overwritten. False if a is not positive definite (e.g. collinear covariates)."""
    if not _cholesky(a):
        return False
    _cholesky_solve(a, b)
    return True


@numba.njit(nogil=True, cache=True)
def _linear(
    packed: np.ndarray,
    samples: int,
    traits: np.ndarray,  # (samples, k)
    covariates: np.ndarray,  # (samples, c), intercept included
    beta: np.ndarray,  # out (variants, k)
    se: np.ndarray,  # out (variants, k)
    observed: np.ndarray,  # out (variants,)
) -> None:
    c, k = covariates.shape[1], traits.shape[1]
    ctc = covariates.T @ covariates
    cty = covariates.T @ traits
    yty = np.zeros(k)
    for j in range(samples):
        for t in range(k):
            yty[t] += traits[j, t] * traits[j, t]
    sxc = np.empty(c)
    sxy = np.empty(k)
    scc = np.empty((c, c))
    rhs = np.empty((c, k + 1))
    syy = np.empty(k)
    scy = np.empty((c, k))
    for v in range(packed.shape[0]):
        sxx = 0.0
        sxc[:] = 0.0
        sxy[:] = 0.0
        scc[:, :] = ctc
        rhs[:, :k] = cty
        syy[:] = yty
        missing = 0
        for j in range(samples):
            code = call_code(packed, v, j)
            if code == 0:
                continue
            if code == MISSING:
                missing += 1
                for a in range(c):
                    ca = covariates[j, a]
                    for b in range(c):
                        scc[a, b] -= ca * covariates[j, b]
                    for t in range(k):
                        rhs[a, t] -= ca * traits[j, t]
                for t in range(k):
                    syy[t] -= traits[j, t] * traits[j, t]
                continue
            x = float(code)
            sxx += x * x
            for a in range(c):
                sxc[a] += x * covariates[j, a]
            for t in range(k):
                sxy[t] += x * traits[j, t]
        n = samples - missing
        observed[v] = n
        rhs[:, k] = sxc
        scy[:, :] = rhs[:, :k]
        # rhs <- scc^-1 [scy | sxc]: the covariates' fits to the traits and to the dosage.
        if n <= c + 1 or not _solve_spd(scc, rhs):
            beta[v, :] = np.nan
            se[v, :] = np.nan
            continue
        xrx = sxx
        for a in range(c):
            xrx -= sxc[a] * rhs[a, k]
        if xrx <= 1e-9 * max(sxx, 1.0):  # no variation left in the dosage: monomorphic
            beta[v, :] = np.nan
            se[v, :] = np.nan
            continue
        for t in range(k):
            xry = sxy[t]
            yry = syy[t]
            for a in range(c):
                xry -= sxc[a] * rhs[a, t]  # x'y - sxc' scc^-1 scy
                yry -= scy[a, t] * rhs[a, t]  # y'y - scy' scc^-1 scy
            b = xry / xrx
            rss = yry - b * xry
            beta[v, t] = b
            se[v, t] = np.sqrt(max(rss, 0.0) / (n - c - 1) / xrx)


def linear(
    packed: np.ndarray, samples: int, traits: np.ndarray, covariates: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """beta (variants, k), standard error (variants, k), samples used (variants,)."""
    v, k = packed.shape[0], traits.shape[1]
    beta, se = np.empty((v, k)), np.empty((v, k))
    observed = np.empty(v, dtype=np.int64)
    _linear(packed, samples, traits, covariates, beta, se, observed)
    return beta, se, observed


@numba.njit(nogil=True, cache=True)
def _logistic(
    packed: np.ndarray,
    samples: int,
    trait: np.ndarray,  # (samples,) 0/1
    covariates: np.ndarray,  # (samples, c), intercept included
    start: np.ndarray,  # (c,) the covariates-only fit, where every variant's iteration starts
    max_iterations: int,
    beta: np.ndarray,  # out (variants,)
    se: np.ndarray,  # out (variants,)
    observed: np.ndarray,  # out (variants,)
    converged: np.ndarray,  # out (variants,) bool
) -> None:
    c = covariates.shape[1]
    p = c + 1
    x = np.empty(samples)
    row = np.empty(p)
    b = np.empty(p)
    h = np.empty((p, p))
    information = np.empty((p, p))
    g = np.empty((p, 1))
    unit = np.empty((p, 1))
    for v in range(packed.shape[0]):
        n = 0
        for j in range(samples):
            code = call_code(packed, v, j)
            x[j] = -1.0 if code == MISSING else float(code)
            if code != MISSING:
                n += 1
        observed[v] = n
        b[:c] = start
        b[c] = 0.0
        beta[v] = np.nan
        se[v] = np.nan
        converged[v] = False
        for _ in range(max_iterations):
            h[:, :] = 0.0
            g[:, 0] = 0.0
            for j in range(samples):
                if x[j] < 0:
                    continue
                eta = x[j] * b[c]
                for a in range(c):
                    row[a] = covariates[j, a]
                    eta += row[a] * b[a]
                row[c] = x[j]
                mu = 1.0 / (1.0 + np.exp(-eta))
                w = mu * (1.0 - mu)
                r = trait[j] - mu
                for a in range(p):
                    g[a, 0] += row[a] * r
                    wa = w * row[a]
                    for d in range(a + 1):
                        h[a, d] += wa * row[d]
            for a in range(p):
                for d in range(a + 1, p):
                    h[a, d] = h[d, a]
            information[:, :] = h  # the solve overwrites h; the standard error needs it
            if not _solve_spd(h, g):
                break
            step = 0.0
            for a in range(p):
                b[a] += g[a, 0]
                step = max(step, abs(g[a, 0]))
            if not np.isfinite(step) or abs(b[c]) > 30.0:  # separation: no finite estimate
                break
            if step < 1e-8:
                unit[:, 0] = 0.0
                unit[c, 0] = 1.0
                if _solve_spd(information, unit) and unit[c, 0] > 0:
                    beta[v] = b[c]
                    se[v] = np.sqrt(unit[c, 0])
                    converged[v] = True
                break


def logistic(
    packed: np.ndarray,
    samples: int,
    trait: np.ndarray,
    covariates: np.ndarray,
    start: np.ndarray,
    max_iterations: int = 25,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Wald estimates per variant by Newton-Raphson: beta, standard error, samples used,
    converged (False where the fit did not converge or the data separate the classes)."""
    v = packed.shape[0]
    beta, se = np.empty(v), np.empty(v)
    observed = np.empty(v, dtype=np.int64)
    converged = np.empty(v, dtype=np.bool_)
    _logistic(
        packed, samples, trait, covariates, start, max_iterations, beta, se, observed, converged
    )
    return beta, se, observed, converged
