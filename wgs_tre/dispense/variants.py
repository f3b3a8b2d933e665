"""Variant datasets: genotypes as VCF Zarr.

The project's view selects the granted participants' columns of the registered VCF Zarr lazily
(no genotype is read until computed) and replaces ``sample_id`` with per-project pseudonyms.
Internal ids never appear in a view: not as values, coordinates or attributes; and samples are
ordered by pseudonym, so the position of a sample does not link views of different projects.

A half call (one allele missing, such as ``1|.``) is a missing call in a view: its called allele
is shown as missing too (``.|.``). The packed dosages and every analysis count it as missing
(a diploid genotype with an unknown allele is neither homozygous nor heterozygous; plink2's
``--vcf-half-call missing``), so allele counts taken from ``call_genotype`` (AN and AC as
bcftools counts them) agree with ``variant_stats``. The stored dataset keeps the calls as the
VCF gave them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr
from dask.callbacks import Callback

from wgs_tre.access import Grant, pseudonym
from wgs_tre.backends.packed import pack_dosages, packed_width, select_samples
from wgs_tre.backends.vcf_zarr import (
    CHUNK_SAMPLES,
    CHUNK_VARIANTS,
    PACKED_COMPRESSOR,
    open_vcf_zarr,
)
from wgs_tre.dispense.kinds import Dispenser, Progress

__all__ = ["VariantsDispenser", "variants_view"]

MISSING_ALLELE = -1  # in call_genotype (see wgs_tre.variables)


def variants_view(grant: Grant) -> xr.Dataset:
    """The project's view of a variants dataset version: consented samples, pseudonymised."""
    stored = open_vcf_zarr(grant.uri)
    ids = np.array([str(x) for x in stored.sample_id.values])
    keep = np.flatnonzero(np.isin(ids, np.array(sorted(grant.participants), dtype=str)))
    names = np.array([pseudonym(grant.key, i) for i in ids[keep]])
    # Order samples by pseudonym: the stored order is the same for every project, so keeping it
    # would let two projects' outputs be joined by position.
    order = np.argsort(names)
    view = stored.drop_vars("sample_id").isel(samples=keep[order])
    view["sample_id"] = ("samples", names[order])
    view["call_genotype"] = _half_calls_missing(view.call_genotype)
    view["call_genotype_mask"] = view.call_genotype < 0
    view["call_dosage_packed"] = (("variants", "samples_packed"), _packed(stored, keep[order]))
    view.attrs = {
        "project": grant.project,
        "dataset": grant.dataset,
        "purpose": grant.purpose.code,
        "dispensed_at": grant.at.isoformat(),
    }
    return view


def _half_calls_missing(genotypes: xr.DataArray) -> xr.DataArray:
    """Lazily: the called allele of a call with a missing allele (-1) becomes missing; other
    calls, haploid ones (padded with -2) included, are unchanged."""
    half = (genotypes == MISSING_ALLELE).any("ploidy") & (genotypes >= 0)
    return genotypes.where(~half, MISSING_ALLELE)


def _packed(stored: xr.Dataset, columns: np.ndarray) -> da.Array:
    """Packed dosages of the selected samples, in view order (lazily, one task per row chunk)."""
    if "call_dosage_packed" in stored:
        source = stored.call_dosage_packed.data.rechunk({1: -1})
    else:  # stored before packed dosages existed: derive them from the genotypes
        genotypes = stored.call_genotype.data.rechunk({1: -1, 2: -1})
        width = (packed_width(stored.sizes["samples"]),)
        source = genotypes.map_blocks(
            pack_dosages, dtype=np.uint8, drop_axis=2, chunks=(genotypes.chunks[0], width)
        )
    width = (packed_width(len(columns)),)
    selected: da.Array = source.map_blocks(
        select_samples, columns, dtype=np.uint8, chunks=(source.chunks[0], width)
    )
    return selected


class _TaskCounter(Callback):
    """Reports finished tasks of one dask computation to a :data:`Progress`."""

    def __init__(self, progress: Progress) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.progress, self.done, self.total = progress, 0, 0

    def _start_state(self, dsk: Any, state: dict[str, Any]) -> None:
        self.total = sum(len(state[k]) for k in ("ready", "waiting", "running"))
        self.progress(0, self.total)

    def _posttask(self, *_: Any) -> None:
        self.done += 1
        self.progress(self.done, self.total)


class VariantsDispenser(Dispenser):
    kind = "variants"  # described where the built-in kinds are named (types.DatasetKind)

    def view(self, grant: Grant, part: str | None = None) -> xr.Dataset:
        return variants_view(grant)

    def write(self, grant: Grant, directory: Path, progress: Progress | None = None) -> None:
        view = variants_view(grant).chunk({"variants": CHUNK_VARIANTS, "samples": CHUNK_SAMPLES})
        for variable in view.variables.values():
            variable.encoding = {}  # the stored chunking does not fit the selection
        view.call_dosage_packed.encoding = {"compressors": [PACKED_COMPRESSOR]}
        # Variable-length strings: Zarr v3 has no stable fixed-width unicode type
        view["sample_id"] = view.sample_id.astype(np.dtypes.StringDType())
        writes = view.to_zarr(str(directory), zarr_format=3, consolidated=False, compute=False)
        # Callbacks given to this compute only: other writes running in other threads of the
        # data service count their own tasks.
        writes.compute(  # type: ignore[no-untyped-call]
            callbacks=[_TaskCounter(progress)._callback] if progress else None
        )

    def read(self, directory: Path, part: str | None = None) -> xr.Dataset:
        return open_vcf_zarr(directory)
