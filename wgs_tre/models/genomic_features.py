"""Genomic features of an analysis table, from a project's variants view (xarray, lazy).

Only the variants a feature needs are read: their rows of ``call_dosage_packed`` (two bits a
call) are selected before anything is computed, so a few variants cost a few rows, not the
matrix. Principal components are the exception: they use the whole view, by design.

Missing calls. A dosage or score column replaces a missing call by the variant's mean dosage
over the called samples (plink2's ``--score`` does the same), so a sample is neither dropped
nor taken for homozygous reference. Carrier status and burden count alleles seen: a missing
call carries nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from wgs_tre.backends.packed import MISSING, unpack_dosages
from wgs_tre.errors import InvalidInput
from wgs_tre.genomics import pca
from wgs_tre.genomics.blocks import require_view
from wgs_tre.models.frame import ID

__all__ = [
    "DAMAGING_CONSEQUENCES",
    "PATHOGENIC",
    "VariantIndex",
    "gene_features",
    "principal_components",
    "variant_dosages",
]

DAMAGING_CONSEQUENCES = (
    "stop_gained", "frameshift_variant", "splice_acceptor_variant", "splice_donor_variant",
    "splice_region_variant", "start_lost", "stop_lost", "missense_variant",
    "inframe_insertion", "inframe_deletion",
)  # fmt: skip
PATHOGENIC = ("Pathogenic", "Likely_pathogenic", "Pathogenic/Likely_pathogenic")


def contig_key(contig: str) -> str:
    """``chr1`` and ``1`` name the same contig (weights files use either)."""
    name = str(contig)
    return name[3:] if name.lower().startswith("chr") else name


@dataclass
class VariantIndex:
    """The view's per-variant fields (small, read once) and a lookup by contig, position and
    alleles."""

    view: xr.Dataset
    contig: np.ndarray
    position: np.ndarray
    ref: np.ndarray
    alt: np.ndarray  # "" when the site has more than one alternate allele
    samples: pd.Index
    _rows_at: dict[tuple[str, int], list[int]] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, view: xr.Dataset) -> VariantIndex:
        require_view(view, "analysis_table")
        alleles = np.asarray(view.variant_allele.values).astype(object)
        names = np.asarray(view.contig_id.values).astype(object)
        single = (alleles[:, 2:] == "").all(axis=1) if alleles.shape[1] > 2 else True
        return cls(
            view,
            np.array([contig_key(c) for c in names[np.asarray(view.variant_contig.values)]]),
            np.asarray(view.variant_position.values).astype(np.int64),
            alleles[:, 0],
            np.where(single, alleles[:, 1], ""),
            pd.Index([str(s) for s in view.sample_id.values], name=ID),
        )

    def find(self, contig: str, position: int) -> list[int]:
        """The rows at ``contig:position`` (a weights file asks for up to millions: a dict,
        built at the first question, answers each in constant time)."""
        if not self._rows_at:
            for row, place in enumerate(zip(self.contig, self.position.tolist(), strict=True)):
                self._rows_at.setdefault(place, []).append(row)
        return self._rows_at.get((contig_key(contig), int(position)), [])

    def annotation(self, key: str) -> np.ndarray:
        name = f"variant_{key}"
        if name not in self.view:
            raise InvalidInput("variants view", f"has no {key} annotation")
        return np.asarray(self.view[name].values).astype(object)

    def dosages(self, rows: np.ndarray) -> np.ndarray:
        """Alternate-allele counts of ``rows`` (variants x samples, float; NaN = missing),
        reading only those rows."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return np.empty((0, len(self.samples)))
        order = np.argsort(rows)
        packed = self.view.call_dosage_packed.isel(variants=rows[order]).values
        codes = unpack_dosages(np.ascontiguousarray(packed), len(self.samples))
        out = np.empty(codes.shape, dtype=float)
        out[order] = np.where(codes == MISSING, np.nan, codes)
        return out


def mean_imputed(dosages: np.ndarray) -> np.ndarray:
    """Missing calls (NaN) set to their variant's mean over called samples."""
    called = ~np.isnan(dosages)
    means = np.where(called, dosages, 0).sum(axis=1) / np.maximum(called.sum(axis=1), 1)
    return np.where(called, dosages, means[:, None])


def parse_variant(spec: str) -> tuple[str, int, str, str]:
    parts = str(spec).split(":")
    if len(parts) != 4 or not parts[1].isdigit():
        raise InvalidInput(f"variant {spec!r}", "write it as contig:position:ref:alt")
    return parts[0], int(parts[1]), parts[2], parts[3]


def variant_dosages(index: VariantIndex, variants: Sequence[str]) -> pd.DataFrame:
    """``dosage_<contig>_<position>_<ref>_<alt>``: alternate-allele count (0, 1, 2; missing
    calls mean-imputed) of each ``contig:position:ref:alt``."""
    rows, names = [], []
    for spec in dict.fromkeys(variants):
        contig, position, ref, alt = parse_variant(spec)
        found = [
            i for i in index.find(contig, position) if (index.ref[i], index.alt[i]) == (ref, alt)
        ]
        if not found:
            raise InvalidInput(f"variant {spec!r}", "is not in the variants view")
        rows.append(found[0])
        names.append(f"dosage_{contig}_{position}_{ref}_{alt}")
    values = mean_imputed(index.dosages(np.array(rows)))
    return pd.DataFrame(values.T, index=index.samples, columns=names)


def qualifying(
    index: VariantIndex, gene: str, max_frequency: float, damaging: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``gene``'s rare damaging variants and their dosages: consequence in
    ``damaging`` or ClinVar (likely) pathogenic, alternate-allele frequency in the view at most
    ``max_frequency``."""
    in_gene = np.flatnonzero(index.annotation("GENE") == gene)
    if in_gene.size == 0:
        raise InvalidInput(f"gene {gene!r}", "has no variants in the variants view")
    consequences = index.annotation("CSQ")[in_gene]
    significance = index.annotation("CLNSIG")[in_gene]
    harmful = np.array([
        bool(set(c.replace("&", ",").split(",")) & set(damaging)) or s in PATHOGENIC
        for c, s in zip(consequences, significance, strict=True)
    ], dtype=bool)  # fmt: skip
    rows = in_gene[harmful]
    dosages = index.dosages(rows)
    called = (~np.isnan(dosages)).sum(axis=1)
    frequency = np.nansum(dosages, axis=1) / np.maximum(2 * called, 1)
    rare = (frequency > 0) & (frequency <= max_frequency)  # a variant nobody carries: none
    return rows[rare], dosages[rare]


def gene_features(
    index: VariantIndex,
    genes: Sequence[str],
    *,
    kind: str,
    max_frequency: float,
    damaging: Sequence[str],
) -> pd.DataFrame:
    """Per gene, over its qualifying variants (see :func:`qualifying`): ``burden_<gene>`` the
    number of them a participant carries an alternate allele of, or (``kind="carrier"``)
    ``carrier_<gene>``, 1 if any."""
    if not 0 <= max_frequency <= 1:
        raise InvalidInput("max_frequency", f"must be in [0, 1], not {max_frequency}")
    columns = {}
    for gene in dict.fromkeys(genes):
        rows, dosages = qualifying(index, gene, max_frequency, damaging)
        if rows.size == 0:
            raise InvalidInput(
                f"gene {gene!r}",
                f"has no damaging variant with alternate-allele frequency <= {max_frequency} "
                "in the view",
            )
        carried = (np.nan_to_num(dosages, nan=0.0) > 0).sum(axis=0).astype(float)
        if kind == "carrier":
            columns[f"carrier_{gene}"] = (carried > 0).astype(float)
        else:
            columns[f"burden_{gene}"] = carried
    return pd.DataFrame(columns, index=index.samples)


def principal_components(view: xr.Dataset, k: int) -> pd.DataFrame:
    """``pc1`` ... ``pc<k>``: the samples' projections on the view's top ``k`` components
    (:func:`wgs_tre.genomics.pca`, default variant choice)."""
    if not isinstance(k, int) or k < 1:
        raise InvalidInput("pcs", f"ask for a positive number of components, not {k!r}")
    projection = pca(view, k, progress=False)["sample_pca_projection"].values
    ids = pd.Index([str(s) for s in view.sample_id.values], name=ID)
    return pd.DataFrame(projection, index=ids, columns=[f"pc{i + 1}" for i in range(k)])
