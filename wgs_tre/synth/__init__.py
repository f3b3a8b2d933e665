"""A realistic synthetic cohort: genotypes (VCF), clinical FHIR, consent, and the true effects.

``make_cohort`` writes, under one directory::

    genotypes/cohort.vcf.gz (+ .tbi)   msprime genotypes, annotated subset (GENE, CSQ, CLNSIG)
    genotypes/somatic.vcf.gz (+ .tbi)  the cancer cases' tumour calls (GENE, CSQ, HGVSP)
    fhir/hospital-{a,b,c}.json         one FHIR R4 Bundle per hospital
    fhir/code-mapping.csv              hospital-local intake codes -> SNOMED CT
    consent/consent.ndjson             FHIR Consent from the e-consent portal (some withdrawals)
    truth.json                         causal variants, effect sizes, who is in population B
    true-effects.json                  the same without who is in population B: no participant
                                       id, so the demo may hand it to researchers as the cohort's
                                       documented truth (the prognosis walkthrough reads it)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from wgs_tre.errors import InvalidInput
from wgs_tre.synth.clinical import write_clinical, write_consents
from wgs_tre.synth.genotypes import CAUSAL_VARIANTS, GenotypeSpec, write_vcf
from wgs_tre.synth.outcomes import simulate_outcomes
from wgs_tre.synth.somatic import write_somatic

__all__ = ["PUBLIC_TRUTH", "CohortFiles", "GenotypeSpec", "make_cohort"]

PUBLIC_TRUTH = "true-effects.json"


@dataclass(frozen=True)
class CohortFiles:
    vcf: Path
    fhir: list[Path]
    mapping: Path
    consent: Path
    truth: Path
    samples: int
    variants: int
    somatic: Path | None = None  # None: the cohort has no cancer case


def participant_ids(n: int) -> list[str]:
    return [f"P{i:06d}" for i in range(1, n + 1)]


def make_cohort(
    directory: Path, spec: GenotypeSpec, progress: Callable[[int], None] | None = None
) -> CohortFiles:
    """Write a whole synthetic cohort under ``directory`` (see the module docstring)."""
    spec.validate()
    if spec.variants < CAUSAL_VARIANTS:
        raise InvalidInput(
            "--variants",
            f"a cohort needs at least {CAUSAL_VARIANTS} variants: its outcomes have "
            f"{CAUSAL_VARIANTS} causal variants",
        )
    (directory / "genotypes").mkdir(parents=True, exist_ok=True)
    (directory / "consent").mkdir(parents=True, exist_ok=True)
    summary = write_vcf(
        directory / "genotypes" / "cohort.vcf.gz",
        spec,
        sample_ids=participant_ids(spec.samples),
        progress=progress,
    )
    participants, truth = simulate_outcomes(summary, seed=spec.seed)
    bundles = write_clinical(directory / "fhir", participants, seed=spec.seed)
    consent = directory / "consent" / "consent.ndjson"
    write_consents(consent, participants, seed=spec.seed)
    somatic = write_somatic(
        directory / "genotypes" / "somatic.vcf.gz", participants, seed=spec.seed
    )
    truth_path = directory / "truth.json"
    document = {
        "spec": spec.__dict__,
        **truth.as_dict(),
        "population_b": [
            p for p, pop in zip(summary.sample_ids, summary.population, strict=True) if pop
        ],
    }
    truth_path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    public = {key: value for key, value in document.items() if key != "population_b"}
    (directory / PUBLIC_TRUTH).write_bytes(orjson.dumps(public, option=orjson.OPT_INDENT_2))
    return CohortFiles(
        summary.path,
        bundles,
        directory / "fhir" / "code-mapping.csv",
        consent,
        truth_path,
        spec.samples,
        summary.variants,
        somatic,
    )
