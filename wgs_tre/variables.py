"""Names and dimensions of variant-dataset variables (the VCF Zarr / sgkit conventions).

A variable's name carries its dimensions: ``call_*`` are (variants, samples, ...),
``variant_*`` are (variants, ...), ``sample_*`` are (samples,). :func:`validate` checks that a
Dataset has what a function needs, with a clear error naming what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wgs_tre.errors import InvalidInput

__all__ = ["SPECS", "Spec", "validate"]


@dataclass(frozen=True)
class Spec:
    name: str
    dims: tuple[str, ...]
    kind: str  # numpy dtype kind: i integer, u unsigned, b bool, U/O/T string
    description: str


SPECS: dict[str, Spec] = {
    s.name: s
    for s in [
        Spec("contig_id", ("contigs",), "U", "contig names, e.g. chr1"),
        Spec("contig_length", ("contigs",), "i", "contig lengths in bases"),
        Spec("sample_id", ("samples",), "U", "sample ids (per-project pseudonyms in views)"),
        Spec("variant_contig", ("variants",), "i", "index into contig_id"),
        Spec("variant_position", ("variants",), "i", "1-based position"),
        Spec("variant_id", ("variants",), "U", "variant identifier ('.' if none)"),
        Spec("variant_allele", ("variants", "alleles"), "U", "REF then ALT alleles ('' pads)"),
        Spec("variant_GENE", ("variants",), "U", "gene symbol ('' if not annotated)"),
        Spec("variant_CSQ", ("variants",), "U", "most severe consequence (SO term)"),
        Spec("variant_CLNSIG", ("variants",), "U", "clinical significance"),
        Spec("call_genotype", ("variants", "samples", "ploidy"), "i", "allele indices; -1 missing"),
        Spec("call_genotype_mask", ("variants", "samples", "ploidy"), "b", "true where missing"),
        Spec("call_genotype_phased", ("variants", "samples"), "b", "true if phased"),
        Spec(
            "call_dosage_packed",
            ("variants", "samples_packed"),
            "u",
            "non-reference allele counts, 2 bits per call, 3 = missing (wgs_tre.backends.packed)",
        ),
    ]
}


def validate(ds: Any, *names: str) -> None:
    """Raise :class:`InvalidInput` unless ``ds`` has each named variable with its dimensions."""
    for name in names:
        spec = SPECS[name]
        if name not in ds:
            raise InvalidInput(f"dataset variable {name}", f"missing ({spec.description})")
        dims = tuple(ds[name].dims)
        if dims != spec.dims:
            raise InvalidInput(
                f"dataset variable {name}", f"has dimensions {dims}, expected {spec.dims}"
            )
