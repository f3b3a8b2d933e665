"""Names and dimensions of variant-dataset variables (the VCF Zarr / sgkit conventions).

A variable's name carries its dimensions: ``call_*`` are (variants, samples, ...),
``variant_*`` are (variants, ...), ``sample_*`` are (samples,). The catalogue holds what views
carry (:data:`SPECS`) and what the analyses add to them (:data:`OUTPUTS`): :func:`validate`
checks that a Dataset has what a function needs, with a clear error naming what is missing, and
:func:`check_outputs` that an analysis returned what it promises, dims and type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from wgs_tre.errors import InvalidInput, WgsTreError

__all__ = ["OUTPUTS", "SPECS", "Spec", "check_outputs", "validate"]

D = TypeVar("D")  # an xarray Dataset (this module does not import xarray)


@dataclass(frozen=True)
class Spec:
    name: str
    dims: tuple[str, ...]
    kind: str  # numpy dtype kind: i integer, u unsigned, f float, b bool, U/O/T string
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
        Spec("variant_HGVSP", ("variants",), "U", "protein change, HGVS ('' if unknown)"),
        Spec(
            "call_genotype",
            ("variants", "samples", "ploidy"),
            "i",
            "allele indices; -1 missing (in a view, both alleles of a half call such as 1|.)",
        ),
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


def _outputs(*specs: tuple[str, tuple[str, ...], str, str]) -> dict[str, Spec]:
    return {name: Spec(name, dims, kind, description) for name, dims, kind, description in specs}


V, S, VT, SC = ("variants",), ("samples",), ("variants", "traits"), ("samples", "components")
# What the analyses of wgs_tre.genomics add to a view (prognosis features will add more).
OUTPUTS: dict[str, Spec] = _outputs(
    ("variant_n_called", V, "i", "samples with a call"),
    ("variant_n_hom_ref", V, "i", "homozygous reference calls"),
    ("variant_n_het", V, "i", "heterozygous calls"),
    ("variant_n_hom_alt", V, "i", "homozygous alternate calls"),
    ("variant_n_missing", V, "i", "missing calls"),
    ("variant_call_rate", V, "f", "called over all samples"),
    ("variant_alt_allele_frequency", V, "f", "ALT allele frequency among calls"),
    ("variant_maf", V, "f", "minor allele frequency"),
    ("variant_hwe_p_value", V, "f", "Hardy-Weinberg exact test p-value"),
    ("sample_n_called", S, "i", "variants with a call"),
    ("sample_call_rate", S, "f", "called over all variants"),
    ("sample_n_het", S, "i", "heterozygous calls"),
    ("sample_n_hom_alt", S, "i", "homozygous alternate calls"),
    ("sample_heterozygosity", S, "f", "heterozygous over called"),
    ("sample_observed_hom", S, "i", "homozygous calls at polymorphic variants"),
    ("sample_expected_hom", S, "f", "expected homozygous calls under HWE"),
    ("sample_inbreeding", S, "f", "method-of-moments F (plink --het)"),
    ("variant_linreg_beta", VT, "f", "linear regression effect per trait"),
    ("variant_linreg_standard_error", VT, "f", "its standard error"),
    ("variant_linreg_t_value", VT, "f", "its t statistic"),
    ("variant_linreg_p_value", VT, "f", "its two-sided p-value"),
    ("variant_linreg_n_obs", V, "i", "samples used"),
    ("variant_logreg_beta", V, "f", "logistic regression effect (log odds)"),
    ("variant_logreg_standard_error", V, "f", "its standard error"),
    ("variant_logreg_z_value", V, "f", "its Wald z statistic"),
    ("variant_logreg_p_value", V, "f", "its two-sided p-value"),
    ("variant_logreg_n_obs", V, "i", "samples used"),
    ("variant_logreg_converged", V, "b", "whether the fit converged"),
    ("variant_logreg_firth", V, "b", "whether the estimate is Firth's (plink2's FIRTH?)"),
    ("sample_pca_eigenvector", SC, "f", "sample loadings (unit length)"),
    ("sample_pca_projection", SC, "f", "principal components (eigenvector x sqrt(eigenvalue))"),
    ("sample_pca_explained_variance", ("components",), "f", "variance per component"),
    ("sample_pca_explained_variance_ratio", ("components",), "f", "its share of the total"),
    ("variant_pca_used", V, "b", "variants the PCA used (by default common, called, LD-thinned)"),
)


def check_outputs(ds: D, function: str, *names: str) -> D:
    """Return ``ds`` if it has each named output with its dimensions and type; an analysis
    that breaks its promise is a bug in wgs_tre, reported as one."""
    found: Any = ds
    for name in names:
        spec = OUTPUTS[name]
        problem = (
            "missing" if name not in found
            else f"dimensions {tuple(found[name].dims)}, expected {spec.dims}"
            if tuple(found[name].dims) != spec.dims
            else f"dtype {found[name].dtype}, expected kind {spec.kind!r}"
            if found[name].dtype.kind != spec.kind
            else ""
        )  # fmt: skip
        if problem:
            raise WgsTreError(f"internal error: {function} returned {name} with {problem}")
    return ds


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
