"""GWAS results as plink2 ``--glm`` tables, for tools that read plink2's output (LocusZoom,
FUMA, LD score regression's munge step, METAL).

plink2 names its columns by what they hold and fixes their order; the tables here use the same
names in the same order, as ``plink2 --glm omit-ref cols=chrom,pos,ref,alt,nobs,orbeta,se,tz,p``
writes them (plus ``firth`` for a logistic scan, plink2's default firth-fallback). A1, the
allele the effect is counted for, is always ALT because every wgs_tre scan counts ALT alleles
(plink2 without ``omit-ref`` counts the minor allele instead, flipping some signs). Numbers are
printed as plink2 prints them, six significant digits, ``NA`` where there is no estimate.
Contigs keep the dataset's names (``chr1``: plink2's ``--output-chr chrM`` style; plink2 by
default would print ``1``).

| scan | columns |
|---|---|
| linear | ``#CHROM POS ID REF ALT A1 OBS_CT BETA SE T_STAT P`` |
| logistic | ``#CHROM POS ID REF ALT A1 FIRTH? OBS_CT OR LOG(OR)_SE Z_STAT P`` |
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from wgs_tre.errors import InvalidInput
from wgs_tre.genomics.annotation import p_values, variant_table

__all__ = ["plink2_glm_table", "write_plink2_glm"]

SCANS = {"variant_linreg_p_value": "linear", "variant_logreg_p_value": "logistic"}


def _per_variant(ds: xr.Dataset, name: str, trait: str | None) -> np.ndarray:
    values = ds[name]
    if "traits" in values.dims:
        values = values.sel(traits=trait or str(values.traits.values[0]))
    return np.asarray(values.values)


def plink2_glm_table(
    ds: xr.Dataset, p_value: str = "variant_linreg_p_value", trait: str | None = None
) -> pd.DataFrame:
    """One scan's results with plink2 ``--glm``'s column names and order (module docstring).

    Parameters
    ----------
    ds
        A view after ``gwas_linear`` or ``gwas_logistic``.
    p_value
        Which scan: ``variant_linreg_p_value`` (linear) or ``variant_logreg_p_value``
        (logistic).
    trait
        For a linear scan of several traits, which one (default: the first).

    Returns
    -------
    pandas.DataFrame
        One row per variant, in view order; ``write_plink2_glm`` writes it as plink2 does.
    """
    if p_value not in SCANS:
        raise InvalidInput("p_value", f"use one of {', '.join(SCANS)}, not {p_value!r}")
    p = p_values(ds, p_value, trait)  # checks the view, the scan and the trait
    table = variant_table(ds)
    out = pd.DataFrame(
        {
            "#CHROM": table.contig,
            "POS": table.position,
            "ID": table.get("id", "."),
            "REF": table.ref,
            "ALT": table.alt,
            "A1": table.alt,  # every scan counts ALT alleles (plink2's omit-ref)
        }
    )
    if SCANS[p_value] == "linear":
        out["OBS_CT"] = ds.variant_linreg_n_obs.values
        out["BETA"] = _per_variant(ds, "variant_linreg_beta", trait)
        out["SE"] = _per_variant(ds, "variant_linreg_standard_error", trait)
        out["T_STAT"] = _per_variant(ds, "variant_linreg_t_value", trait)
    else:
        out["FIRTH?"] = np.where(ds.variant_logreg_firth.values, "Y", "N")
        out["OBS_CT"] = ds.variant_logreg_n_obs.values
        out["OR"] = np.exp(ds.variant_logreg_beta.values)
        out["LOG(OR)_SE"] = ds.variant_logreg_standard_error.values
        out["Z_STAT"] = ds.variant_logreg_z_value.values
    out["P"] = p
    return out


def write_plink2_glm(
    ds: xr.Dataset,
    path: Path | str,
    p_value: str = "variant_linreg_p_value",
    trait: str | None = None,
) -> Path:
    """Write ``plink2_glm_table`` tab-separated as plink2 writes ``.glm.linear`` or
    ``.glm.logistic`` files (six significant digits, ``NA`` for no estimate); returns the
    path. The directory must exist."""
    path = Path(path)
    if not path.parent.is_dir():
        raise InvalidInput(f"output {path}", f"directory {path.parent} does not exist")
    table = plink2_glm_table(ds, p_value, trait)
    table.to_csv(path, sep="\t", index=False, na_rep="NA", float_format="%.6g")
    return path
