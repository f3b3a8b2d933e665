"""Per-variant linear and logistic regression of traits on dosage plus covariates.

A sample whose call is missing is left out of that variant's model (plink2's rule), never
imputed. For the linear model that costs almost nothing: the sums over all samples are computed
once, and each variant subtracts the few missing samples' contributions before solving its
small (covariates x covariates) system.

The logistic model is fitted by Newton-Raphson from the covariates-only fit. Where it has no
finite estimate (a zero cell: the alternate or reference allele is absent from the cases or from
the controls among the called samples) or does not converge, the kernel can fall back to Firth's
penalised likelihood (plink2's ``--glm`` default, ``firth-fallback``), or use Firth for every
variant (``--glm firth``). Firth maximises l(b) + log|X'WX| / 2 by steps (X'WX)^-1 U* along
the modified score U* = X'(y - mu + h (1/2 - mu)), h the diagonal of the hat matrix
W^1/2 X (X'WX)^-1 X' W^1/2, capped at 5 as in plink2 and logistf, and shortened until the
penalised likelihood rises; its standard error comes from (X'WX)^-1 at the estimate, as theirs
does, and its p-value from the Wald z.
"""

from __future__ import annotations

import numba
import numpy as np

from wgs_tre.backends.packed import MISSING, call_code

__all__ = ["FIRTH_ALWAYS", "FIRTH_FALLBACK", "FIRTH_NEVER", "linear", "logistic"]

# What the logistic kernel does with Firth's fit (plink2: no-firth, firth-fallback, firth).
FIRTH_NEVER, FIRTH_FALLBACK, FIRTH_ALWAYS = 0, 1, 2
FIRTH_ITERATIONS = 100  # 4 to 23 (median 6) on the tests' cohorts
FIRTH_TOLERANCE = 1e-6  # converged when no coefficient's full step exceeds this
FIRTH_FLAT = 1e-5  # ... or this, where the penalised likelihood no longer rises along it
FIRTH_MAX_STEP = 5.0  # plink2 and logistf cap each step at 5
SHORTENINGS = 30  # of one step, each to at most 0.6 of the last


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
def _newton(
    x: np.ndarray,  # (samples,) dosage, negative where missing (left out)
    trait: np.ndarray,
    covariates: np.ndarray,
    start: np.ndarray,
    max_iterations: int,
    b: np.ndarray,  # work buffers from here on
    row: np.ndarray,
    h: np.ndarray,
    information: np.ndarray,
    g: np.ndarray,
    unit: np.ndarray,
) -> tuple[bool, float, float]:
    """Maximum likelihood by Newton-Raphson from ``start``: (converged, x's coefficient, its
    standard error); not converged where the data separate the classes or the fit fails."""
    c = covariates.shape[1]
    p = c + 1
    b[:c] = start
    b[c] = 0.0
    for _ in range(max_iterations):
        h[:, :] = 0.0
        g[:, 0] = 0.0
        for j in range(x.shape[0]):
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
                return True, float(b[c]), float(np.sqrt(unit[c, 0]))
            break
    return False, np.nan, np.nan


@numba.njit(nogil=True, cache=True)
def _penalised_loglik(
    x: np.ndarray,
    trait: np.ndarray,
    covariates: np.ndarray,
    b: np.ndarray,
    row: np.ndarray,
    factor: np.ndarray,  # out: the Cholesky factor L of X'WX at b
) -> float:
    """Firth's penalised log-likelihood l(b) + log|X'WX| / 2; -inf where X'WX is singular."""
    c = covariates.shape[1]
    p = c + 1
    factor[:, :] = 0.0
    loglik = 0.0
    for j in range(x.shape[0]):
        if x[j] < 0:
            continue
        eta = x[j] * b[c]
        for a in range(c):
            row[a] = covariates[j, a]
            eta += row[a] * b[a]
        row[c] = x[j]
        mu = 1.0 / (1.0 + np.exp(-eta))
        w = mu * (1.0 - mu)
        z = -eta if trait[j] > 0.5 else eta  # log P(y) = -log(1 + exp(z)), computed stably
        loglik -= max(z, 0.0) + np.log1p(np.exp(-abs(z)))
        for a in range(p):
            wa = w * row[a]
            for d in range(a + 1):
                factor[a, d] += wa * row[d]
    if not _cholesky(factor):
        return -np.inf
    for a in range(p):
        loglik += np.log(factor[a, a])  # log|X'WX| / 2 = sum of log L_aa
    return loglik


@numba.njit(nogil=True, cache=True)
def _modified_score(
    x: np.ndarray,
    trait: np.ndarray,
    covariates: np.ndarray,
    b: np.ndarray,
    factor: np.ndarray,  # L of X'WX at b, from _penalised_loglik
    row: np.ndarray,
    z: np.ndarray,
    score: np.ndarray,  # out (p, 1)
) -> None:
    """Firth's modified score X'(y - mu + h (1/2 - mu)) at b, the gradient of the penalised
    log-likelihood; h_j = w_j |L^-1 x_j|^2 is the hat matrix diagonal."""
    c = covariates.shape[1]
    p = c + 1
    score[:, 0] = 0.0
    for j in range(x.shape[0]):
        if x[j] < 0:
            continue
        eta = x[j] * b[c]
        for a in range(c):
            row[a] = covariates[j, a]
            eta += row[a] * b[a]
        row[c] = x[j]
        mu = 1.0 / (1.0 + np.exp(-eta))
        leverage = 0.0
        for a in range(p):  # z = L^-1 x_j by forward substitution
            s = row[a]
            for d in range(a):
                s -= factor[a, d] * z[d]
            z[a] = s / factor[a, a]
            leverage += z[a] * z[a]
        r = trait[j] - mu + mu * (1.0 - mu) * leverage * (0.5 - mu)
        for a in range(p):
            score[a, 0] += row[a] * r


@numba.njit(nogil=True, cache=True)
def _firth(
    x: np.ndarray,  # (samples,) dosage, negative where missing (left out)
    trait: np.ndarray,
    covariates: np.ndarray,
    start: np.ndarray,
    max_iterations: int,
    b: np.ndarray,  # work buffers from here on
    previous: np.ndarray,
    gradient: np.ndarray,
    row: np.ndarray,
    z: np.ndarray,
    factor: np.ndarray,
    step: np.ndarray,
) -> tuple[bool, float, float]:
    """Firth's penalised maximum likelihood from ``start``: (converged, x's coefficient, its
    standard error sqrt((X'WX)^-1) at the estimate)."""
    c = covariates.shape[1]
    p = c + 1
    b[:c] = start
    b[c] = 0.0
    penalised = _penalised_loglik(x, trait, covariates, b, row, factor)
    if not np.isfinite(penalised):
        return False, np.nan, np.nan
    for _ in range(max_iterations):
        _modified_score(x, trait, covariates, b, factor, row, z, step)
        gradient[:] = step[:, 0]
        _cholesky_solve(factor, step)  # the step (X'WX)^-1 U*
        largest = 0.0
        slope = 0.0  # of the penalised likelihood along the step, at its start
        for a in range(p):
            largest = max(largest, abs(step[a, 0]))
            slope += gradient[a] * step[a, 0]
        if not np.isfinite(largest):
            break
        if largest <= FIRTH_TOLERANCE:
            # var(b_c) = ((L L')^-1)_cc = 1 / L_cc^2, x being the last column
            return True, float(b[c]), float(1.0 / factor[c, c])
        # For a rare variant the step overshoots: its end is about as far out on the far side
        # (plain Firth iterations then crawl, or stall where plink2 reports UNFINISHED). So a
        # step is taken only if it raises the penalised likelihood and the parabola through
        # its value and slope at the start and its value at the end peaks near the end;
        # otherwise it is shortened towards that peak (to half or less if it did not rise).
        scale = min(1.0, FIRTH_MAX_STEP / largest)
        previous[:] = b
        risen = False
        for _ in range(SHORTENINGS):
            for a in range(p):
                b[a] = previous[a] + scale * step[a, 0]
            trial = _penalised_loglik(x, trait, covariates, b, row, factor)
            bend = trial - penalised - slope * scale
            peak = scale * slope * scale / (-2.0 * bend) if bend < 0 else scale
            if trial > penalised and peak > 0.6 * scale:
                risen = True
                penalised = trial
                break
            shortest = 0.1 * scale
            scale = min(peak, scale if trial > penalised else 0.5 * scale)
            scale = max(scale, shortest)
        if not risen:  # flat to rounding along the step: converged if the step was small
            b[:] = previous
            _penalised_loglik(x, trait, covariates, b, row, factor)
            if largest <= FIRTH_FLAT:
                return True, float(b[c]), float(1.0 / factor[c, c])
            break
    return False, np.nan, np.nan


@numba.njit(nogil=True, cache=True)
def _logistic(
    packed: np.ndarray,
    samples: int,
    trait: np.ndarray,  # (samples,) 0/1
    covariates: np.ndarray,  # (samples, c), intercept included
    start: np.ndarray,  # (c,) the covariates-only fit, where every variant's iteration starts
    firth: int,  # FIRTH_NEVER, FIRTH_FALLBACK or FIRTH_ALWAYS
    max_iterations: int,
    beta: np.ndarray,  # out (variants,)
    se: np.ndarray,  # out (variants,)
    observed: np.ndarray,  # out (variants,)
    converged: np.ndarray,  # out (variants,) bool
    penalised: np.ndarray,  # out (variants,) bool: the estimate is Firth's
) -> None:
    c = covariates.shape[1]
    p = c + 1
    x = np.empty(samples)
    row = np.empty(p)
    b = np.empty(p)
    previous = np.empty(p)
    gradient = np.empty(p)
    z = np.empty(p)
    h = np.empty((p, p))
    information = np.empty((p, p))
    g = np.empty((p, 1))
    unit = np.empty((p, 1))
    for v in range(packed.shape[0]):
        n = 0
        cases = 0
        alt = 0.0
        case_alt = 0.0
        lowest = 2.0
        highest = 0.0
        for j in range(samples):
            code = call_code(packed, v, j)
            if code == MISSING:
                x[j] = -1.0
                continue
            x[j] = float(code)
            n += 1
            alt += x[j]
            lowest = min(lowest, x[j])
            highest = max(highest, x[j])
            if trait[j] > 0.5:
                cases += 1
                case_alt += x[j]
        observed[v] = n
        beta[v] = np.nan
        se[v] = np.nan
        converged[v] = False
        penalised[v] = False
        if n == 0 or lowest == highest:  # constant dosage: no variant effect to estimate
            continue
        # plink2's zero-cell rule: the alternate or reference allele absent from the cases or
        # from the controls makes the plain estimate infinite, so Firth's is used at once.
        control_alt = alt - case_alt
        case_ref = 2.0 * cases - case_alt
        control_ref = 2.0 * (n - cases) - control_alt
        zero_cell = min(min(case_alt, control_alt), min(case_ref, control_ref)) == 0.0
        fitted, estimate, error = False, np.nan, np.nan
        if firth == FIRTH_NEVER or (firth == FIRTH_FALLBACK and not zero_cell):
            fitted, estimate, error = _newton(
                x, trait, covariates, start, max_iterations, b, row, h, information, g, unit
            )
        if not fitted and firth != FIRTH_NEVER:
            penalised[v] = True
            fitted, estimate, error = _firth(
                x, trait, covariates, start, FIRTH_ITERATIONS, b, previous, gradient, row, z, h, g
            )
        if fitted:
            beta[v] = estimate
            se[v] = error
            converged[v] = True


def logistic(
    packed: np.ndarray,
    samples: int,
    trait: np.ndarray,
    covariates: np.ndarray,
    start: np.ndarray,
    firth: int = FIRTH_FALLBACK,
    max_iterations: int = 25,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Wald estimates per variant: beta, standard error, samples used, converged (False where
    the fit did not converge, or without Firth where the data separate the classes), and
    whether Firth's penalised fit gave the estimate (``firth``: FIRTH_NEVER, FIRTH_FALLBACK
    where Newton-Raphson has no finite estimate, FIRTH_ALWAYS)."""
    v = packed.shape[0]
    beta, se = np.empty(v), np.empty(v)
    observed = np.empty(v, dtype=np.int64)
    converged = np.empty(v, dtype=np.bool_)
    penalised = np.empty(v, dtype=np.bool_)
    _logistic(
        packed, samples, trait, covariates, start, firth, max_iterations,
        beta, se, observed, converged, penalised,
    )  # fmt: skip
    return beta, se, observed, converged, penalised
