"""Dispensal: what a :class:`~wgs_tre.access.Grant` allows, as a lazy, pseudonymised view.

The variant view selects the granted participants' columns of the registered VCF Zarr lazily
(no genotype is read until computed) and replaces ``sample_id`` with per-project pseudonyms.
Internal ids never appear in a view: not as values, coordinates or attributes; and samples are
ordered by pseudonym, so the position of a sample does not link views of different projects.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from wgs_tre.access import Grant, pseudonym
from wgs_tre.backends.vcf_zarr import open_vcf_zarr
from wgs_tre.errors import InvalidInput

__all__ = ["variants_view"]


def variants_view(grant: Grant) -> xr.Dataset:
    """The project's view of a variants dataset version: consented samples, pseudonymised."""
    if grant.kind != "variants":
        raise InvalidInput(f"dataset {grant.dataset}", f"is {grant.kind} data, not variants")
    stored = open_vcf_zarr(grant.uri)
    ids = np.array([str(x) for x in stored.sample_id.values])
    keep = np.flatnonzero(np.isin(ids, np.array(sorted(grant.participants), dtype=str)))
    names = np.array([pseudonym(grant.key, i) for i in ids[keep]])
    # Order samples by pseudonym: the stored order is the same for every project, so keeping it
    # would let two projects' outputs be joined by position.
    order = np.argsort(names)
    view = stored.drop_vars("sample_id").isel(samples=keep[order])
    view["sample_id"] = ("samples", names[order])
    view["call_genotype_mask"] = view.call_genotype < 0
    view.attrs = {
        "project": grant.project,
        "dataset": grant.dataset,
        "purpose": grant.purpose.code,
        "dispensed_at": grant.at.isoformat(),
    }
    return view
