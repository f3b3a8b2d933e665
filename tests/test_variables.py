"""The catalogue of dataset variables: the analyses add exactly the outputs it lists, each with
its dimensions and type, and a broken promise is reported as wgs_tre's own bug."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from wgs_tre import genomics
from wgs_tre.errors import WgsTreError
from wgs_tre.genomics.warmup import synthetic_view
from wgs_tre.variables import OUTPUTS, check_outputs


def test_the_analyses_add_exactly_the_catalogued_outputs() -> None:
    view = synthetic_view(samples=40, variants=300)
    index = pd.Index(view.sample_id.values, name="sample_id")
    rng = np.random.default_rng(3)
    trait = pd.DataFrame({"y": rng.normal(size=40)}, index=index)
    case = pd.Series(rng.integers(0, 2, size=40), index=index)
    results = [
        genomics.variant_stats(view, progress=False),
        genomics.sample_stats(view, progress=False),
        genomics.gwas_linear(view, trait, progress=False),
        genomics.gwas_logistic(view, case, progress=False),
        genomics.pca(view, 2, maf_min=0.0, call_rate_min=0.0, progress=False),
    ]
    added = set().union(*(set(result.data_vars) - set(view.data_vars) for result in results))
    assert added == set(OUTPUTS)
    for result in results:
        for name in set(result.data_vars) - set(view.data_vars):
            assert tuple(result[name].dims) == OUTPUTS[name].dims, name
            assert result[name].dtype.kind == OUTPUTS[name].kind, name


@pytest.mark.parametrize(
    ("variable", "problem"),
    [
        (None, "missing"),
        (("samples", np.zeros(3)), "dimensions ('samples',), expected ('variants',)"),
        (("variants", np.zeros(3, dtype=np.int64)), "dtype int64, expected kind 'f'"),
    ],
)
def test_a_broken_promise_is_an_internal_error(variable: object, problem: str) -> None:
    ds = xr.Dataset({"variant_call_rate": variable} if variable else {})
    with pytest.raises(WgsTreError) as raised:
        check_outputs(ds, "qc", "variant_call_rate")
    assert raised.value.message == f"internal error: qc returned variant_call_rate with {problem}"
