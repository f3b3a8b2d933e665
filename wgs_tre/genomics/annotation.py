"""Variants as tables: annotation joins and the top hits of an association scan.

A view carries the annotation its VCF had as ``variant_<INFO key>`` (``variant_GENE``,
``variant_CSQ``, ``variant_CLNSIG``, as bio2zarr names INFO fields); ``annotate`` joins any
further table keyed by contig, position and alleles (a gene list, a curated ClinVar extract).
``variant_table`` and ``top_hits`` turn per-variant results into a pandas table a report or an
airlock request can use. A table names an annotation by its INFO key (``GENE``, ``CSQ``,
``CLNSIG``), as the Hail engine's row fields do: one spelling, ``variant_`` dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from wgs_tre.backends.vcf import ANNOTATIONS  # INFO keys: variant_<KEY> in views, <KEY> in tables
from wgs_tre.errors import InvalidInput
from wgs_tre.genomics.blocks import require_view
from wgs_tre.variables import validate

__all__ = ["annotate", "p_values", "top_hits", "variant_table"]

KEY = ("contig", "position", "ref", "alt")


def variant_table(ds: xr.Dataset, variables: Sequence[str] = ()) -> pd.DataFrame:
    """The view's variants as a table, for reports and joins.

    Parameters
    ----------
    ds
        A governed view, with or without analysis results.
    variables
        Per-variant results to add as columns: dims (variants,) give one column, dims
        (variants, traits) one column per trait, named ``<variable>[<trait>]``.

    Returns
    -------
    pandas.DataFrame
        One row per variant, in view order: contig, position, ref, alt (ALTs joined with
        ``,``), id, the view's annotations by INFO key (``GENE``, ``CSQ``, ``CLNSIG`` from
        ``variant_GENE``, ...) and ``variables``.
    """
    require_view(ds, "variant_table")
    validate(ds, "contig_id", "variant_contig", "variant_position", "variant_allele")
    alleles = ds.variant_allele.values
    table = pd.DataFrame(
        {
            "contig": ds.contig_id.values[ds.variant_contig.values],
            "position": ds.variant_position.values,
            "ref": alleles[:, 0],
            "alt": [",".join(a for a in row[1:] if a) for row in alleles],
        }
    )
    if "variant_id" in ds:
        table["id"] = ds.variant_id.values
    for key in ANNOTATIONS:
        if f"variant_{key}" in ds:
            table[key] = ds[f"variant_{key}"].values
    for name in variables:
        if name not in ds:
            raise InvalidInput(f"variable {name}", "not in the dataset (run the analysis first)")
        values = ds[name]
        if values.dims == ("variants",):
            table[name] = values.values
        elif values.dims == ("variants", "traits"):
            for i, trait in enumerate(values.traits.values):
                table[f"{name}[{trait}]"] = values.values[:, i]
        else:
            raise InvalidInput(f"variable {name}", f"is not per variant (dims {values.dims})")
    return table


def annotate(ds: xr.Dataset, annotations: pd.DataFrame, *, prefix: str = "variant_") -> xr.Dataset:
    """Join a table of your own onto the view's variants, by contig, position, ref and alt.

    Parameters
    ----------
    ds
        A governed view.
    annotations
        pandas DataFrame with columns contig, position, ref, alt and any others. A key that
        appears twice is an error naming it: a join must not silently pick one of two answers.
    prefix
        Each other column becomes the variable ``<prefix><column>``.

    Returns
    -------
    xarray.Dataset
        ``ds`` with one (variants,) variable per annotation column, missing where no row
        matches.
    """
    missing = [c for c in KEY if c not in annotations.columns]
    if missing:
        raise InvalidInput("annotation table", f"lacks key column(s) {', '.join(missing)}")
    extra = [c for c in annotations.columns if c not in KEY]
    if not extra:
        raise InvalidInput("annotation table", "has no columns besides the key")
    clashes = [f"{prefix}{c}" for c in extra if f"{prefix}{c}" in ds]
    if clashes:
        raise InvalidInput("annotation table", f"would overwrite {', '.join(clashes)}")
    keyed = annotations.astype({"contig": str, "position": np.int64, "ref": str, "alt": str})
    duplicated = keyed.duplicated(list(KEY), keep=False)
    if duplicated.any():
        first = keyed[duplicated].iloc[0]
        where = f"{first.contig}:{first.position} {first.ref}>{first.alt}"
        raise InvalidInput("annotation table", f"has {int(duplicated.sum())} rows for {where}")
    variants = variant_table(ds)[list(KEY)].astype({"position": np.int64})
    joined = variants.merge(keyed, on=list(KEY), how="left", validate="many_to_one")
    return ds.assign({f"{prefix}{c}": ("variants", joined[c].to_numpy()) for c in extra})


def p_values(ds: xr.Dataset, p_value: str, trait: str | None = None) -> np.ndarray:
    """The per-variant p-values in ``p_value``, for one ``trait`` of a multi-trait scan."""
    require_view(ds, "p_values")
    if p_value not in ds:
        raise InvalidInput(f"variable {p_value}", "not in the dataset (run the analysis first)")
    values = ds[p_value]
    if "traits" in values.dims:
        names = [str(t) for t in values.traits.values]
        if trait is None and len(names) == 1:
            trait = names[0]
        if trait not in names:
            raise InvalidInput("trait", f"name one of: {', '.join(names)}")
        values = values.sel(traits=trait)
    elif trait is not None:
        raise InvalidInput("trait", f"{p_value} has one trait only")
    return np.asarray(values.values, dtype=float)


def top_hits(
    ds: xr.Dataset, p_value: str = "variant_linreg_p_value", n: int = 20, trait: str | None = None
) -> pd.DataFrame:
    """The strongest hits of an association scan.

    Parameters
    ----------
    ds
        A view after ``gwas_linear`` or ``gwas_logistic``.
    p_value
        The p-value variable: ``variant_linreg_p_value`` or ``variant_logreg_p_value``.
    n
        How many rows.
    trait
        For a linear scan of several traits, which one (default: the first).

    Returns
    -------
    pandas.DataFrame
        ``n`` rows, smallest p first: the ``variant_table`` columns and every result of the same
        analysis (beta, standard error, statistic, p-value, samples used).
    """
    p = p_values(ds, p_value, trait)
    prefix = p_value.rsplit("_p_value", 1)[0]
    siblings = [name for name in ds.data_vars if str(name).startswith(prefix + "_")]
    table = variant_table(ds)
    for name in siblings:
        values = ds[name]
        if "traits" in values.dims:
            values = values.sel(traits=trait or str(values.traits.values[0]))
        table[str(name).removeprefix("variant_")] = values.values
    order = np.argsort(np.where(np.isnan(p), np.inf, p), kind="stable")[:n]
    return table.iloc[order].reset_index(drop=True)
