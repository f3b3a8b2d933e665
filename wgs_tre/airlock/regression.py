"""The residual degrees of freedom of a model: too few, and its outputs are a lookup table."""

from __future__ import annotations

from typing import Any

from wgs_tre.airlock.rules import DisclosurePolicy, Finding, Fix, RuleId
from wgs_tre.errors import InvalidInput

__all__ = ["check_regression", "residual_dof"]


def residual_dof(
    results: Any = None, *, n_obs: int | None = None, n_params: int | None = None
) -> int:
    """The residual degrees of freedom of a fitted model: ``results.df_resid`` (statsmodels
    results), or ``n_obs - n_params`` (observations less the parameters fitted, the intercept
    included)."""
    if results is not None:
        if not hasattr(results, "df_resid"):
            raise InvalidInput(
                "regression", "the results have no df_resid; give n_obs and n_params"
            )
        return int(results.df_resid)  # as ACRO, which truncates a fractional df
    if n_obs is None or n_params is None:
        raise InvalidInput("regression", "give fitted results, or both n_obs and n_params")
    return n_obs - n_params


def check_regression(
    results: Any = None,
    *,
    n_obs: int | None = None,
    n_params: int | None = None,
    policy: DisclosurePolicy | None = None,
) -> tuple[Finding, ...]:
    """A finding if the model has fewer residual degrees of freedom than the policy's minimum
    (as ACRO: ``dof < min_residual_dof`` fails, so 10 passes with the default 10)."""
    policy = policy or DisclosurePolicy()
    dof = residual_dof(results, n_obs=n_obs, n_params=n_params)
    if dof >= policy.min_residual_dof:
        return ()
    return (
        Finding(
            RuleId.RESIDUAL_DOF,
            f"{dof} residual degrees of freedom, fewer than {policy.min_residual_dof}",
            (Fix.AGGREGATE,),
        ),
    )
