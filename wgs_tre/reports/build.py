"""A case's primary analysis report, built from its genotypes, their annotations and its
clinical tables, and stored as the report's next version.

This is clinical reporting for the hospital that sent the case, not research: it reads the
case's own calls from the registered dataset version (no project, no pseudonym), decided by
``report.generate`` on the case (:func:`wgs_tre.governance.rules.case_step`) and audited on the
version it stores, which names the dataset versions read.

What is reported (:func:`findings`): every annotated, non-intronic variant the case carries,
classified by :mod:`wgs_tre.reports.classify`; Pathogenic and Likely pathogenic ones in any
gene, variants of uncertain significance only in the genes of the diagnosis's panel
(:data:`PANELS`). For a cancer case, the tumour's calls (a somatic dataset) too, in the
AMP/ASCO/CAP tiers of :mod:`wgs_tre.reports.somatic`: Tiers I to III reported, Tier IV counted.
The rest is counted, by class, under ``not_reported``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import pandas as pd
from dask.base import compute as dask_compute

from wgs_tre.backends.vcf_zarr import open_vcf_zarr
from wgs_tre.errors import InvalidInput
from wgs_tre.governance import cases
from wgs_tre.governance.context import Context
from wgs_tre.reports.classify import RULES_VERSION, AcmgClass, classify
from wgs_tre.reports.somatic import RULES_VERSION as SOMATIC_RULES
from wgs_tre.reports.somatic import Tier, tier

__all__ = ["PANELS", "Finding", "findings", "generate"]

FORMAT = 1
# Genes of the diagnosis's panel (ICD-10 code or its three-character category).
PANELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "C18": ("colorectal cancer", ("APC", "MLH1", "MSH2", "PMS2", "MUTYH", "SMAD4", "TP53")),
    "C25": ("pancreatic cancer", ("BRCA1", "BRCA2", "PALB2", "ATM", "STK11", "TP53", "KRAS")),
    "C34": ("lung cancer", ("EGFR", "KRAS", "STK11", "TP53", "NF1", "RB1")),
    "C50": ("breast cancer", ("BRCA1", "BRCA2", "PALB2", "TP53", "PTEN", "CDH1", "ATM", "CHEK2")),
    "C61": ("prostate cancer", ("BRCA1", "BRCA2", "ATM", "CHEK2", "MLH1", "MSH2", "PMS2")),
    "Q87.4": ("Marfan syndrome", ("FBN1",)),
    "E75.22": ("Gaucher disease", ("GBA1",)),
    "G71.0": ("muscular dystrophy", ("DMD",)),
    "E84.9": ("cystic fibrosis", ("CFTR",)),
    "E70.0": ("phenylketonuria", ("PAH",)),
}
# How findings are listed: germline classes, then somatic tiers, most important first.
ORDER = [AcmgClass.PATHOGENIC, AcmgClass.LIKELY_PATHOGENIC, AcmgClass.UNCERTAIN, Tier.I, Tier.II,
         Tier.III]  # fmt: skip
REPORTED_ANYWHERE = {AcmgClass.PATHOGENIC, AcmgClass.LIKELY_PATHOGENIC}


def panel_of(diagnosis: str) -> tuple[str, tuple[str, ...]]:
    return PANELS.get(diagnosis) or PANELS.get(diagnosis[:3]) or (diagnosis, ())


@dataclass(frozen=True)
class Finding:
    contig: str
    position: int
    ref: str
    alt: str
    gene: str
    consequence: str
    assertion: str | None
    frequency: float  # alternate allele frequency in the cohort
    zygosity: str  # heterozygous | homozygous
    protein: str | None = None  # HGVS protein change, where annotated

    @property
    def hgvs(self) -> str | None:
        """Genomic HGVS-style for substitutions (no transcripts are annotated here)."""
        if len(self.ref) == len(self.alt) == 1:
            return f"{self.contig}:g.{self.position}{self.ref}>{self.alt}"
        return None


def _text(values: Any) -> np.ndarray:
    """Zarr 3's variable-width strings as a NumPy array of ``str``."""
    return np.array(np.asarray(values).tolist(), dtype=str)


def _annotated(ds: Any) -> np.ndarray:
    genes = _text(ds.variant_GENE.values)
    consequences = _text(ds.variant_CSQ.values)
    return np.flatnonzero((genes != "") & (consequences != "") & (consequences != "intron_variant"))


def findings(variants_uri: str, participant: str, label: str) -> list[Finding]:
    """The annotated, non-intronic variants ``participant`` carries, with cohort frequencies."""
    stored = open_vcf_zarr(variants_uri)
    for name in ("variant_GENE", "variant_CSQ"):
        if name not in stored:
            raise InvalidInput(
                label, f"the dataset has no {name.removeprefix('variant_')} annotation"
            )
    samples = _text(stored.sample_id.values)
    column = np.flatnonzero(samples == participant)
    if column.size == 0:
        raise InvalidInput(label, "the case has no genotypes in this dataset version")
    rows = _annotated(stored)
    picked = stored.isel(variants=rows)
    calls = picked.call_genotype.data  # (annotated variants, samples, ploidy), lazily
    called = calls >= 0
    alt = (calls > 0).sum(axis=2)
    # Streamed chunk by chunk: a cohort's annotated calls need not fit in memory at once.
    frequency, own = dask_compute(  # type: ignore[no-untyped-call]
        alt.sum(axis=1) / da.maximum(called.sum(axis=(1, 2)), 1),
        alt[:, column[0]] * called[:, column[0]].all(axis=1),
    )
    contigs = _text(stored.contig_id.values)[np.asarray(picked.variant_contig.values)]
    positions = np.asarray(picked.variant_position.values)
    alleles = _text(picked.variant_allele.values)
    genes, consequences = _text(picked.variant_GENE.values), _text(picked.variant_CSQ.values)
    assertions, proteins = (
        _text(picked[name].values) if name in picked else np.full(len(rows), "", dtype=str)
        for name in ("variant_CLNSIG", "variant_HGVSP")
    )
    out = []
    for i in np.flatnonzero(own > 0):  # each array read once above: no dask work per variant
        out.append(
            Finding(
                contig=str(contigs[i]),
                position=int(positions[i]),
                ref=str(alleles[i, 0]),
                alt=str(alleles[i, 1]),
                gene=str(genes[i]),
                consequence=str(consequences[i]),
                assertion=str(assertions[i]) or None,
                frequency=float(frequency[i]),
                zygosity="homozygous" if own[i] == 2 else "heterozygous",
                protein=str(proteins[i]) or None,
            )
        )
    return out


def _clinical(clinical_uri: str | None, participant: str, diagnosis: str) -> dict[str, Any]:
    if clinical_uri is None:
        return {}
    patients = pd.read_parquet(Path(clinical_uri) / "patients.parquet")
    conditions = pd.read_parquet(Path(clinical_uri) / "conditions.parquet")
    patient = patients[patients["participant_id"] == participant]
    onset = conditions[
        (conditions["participant_id"] == participant) & (conditions["code"] == diagnosis)
    ]
    background: dict[str, Any] = {}
    if not patient.empty:
        background["sex"] = str(patient["sex"].iloc[0])
    if not patient.empty and not onset.empty:
        born, diagnosed = (
            pd.Timestamp(patient["birth_date"].iloc[0]),
            pd.Timestamp(onset["onset_date"].iloc[0]),
        )
        background["age_at_diagnosis"] = int((diagnosed - born).days // 365.25)
        background["diagnosed"] = diagnosed.strftime("%Y-%m")
    return background


def _summary(reported: list[dict[str, Any]], panel: str, note: str) -> str:
    germline = [f for f in reported if f["origin"] == "germline"]
    somatic = [f for f in reported if f["origin"] == "somatic"]
    counts = Counter(f["classification"] for f in germline)
    causal = [f for f in germline if f["classification"] in REPORTED_ANYWHERE]
    if causal:
        listed = "; ".join(f"{f['gene']} {f['hgvs'] or f['consequence']} ({f['zygosity']}, "
                           f"{f['classification']})" for f in causal)  # fmt: skip
        text = f"{len(causal)} pathogenic or likely pathogenic germline finding(s): {listed}."
    else:
        text = f"No pathogenic or likely pathogenic germline variant was found (panel: {panel})."
    if uncertain := counts[AcmgClass.UNCERTAIN.value]:
        text += f" {uncertain} variant(s) of uncertain significance in the panel's genes."
    actionable = [f for f in somatic if f["classification"] in (Tier.I, Tier.II)]
    if actionable:
        listed = "; ".join(
            f"{f['gene']} {f['protein']} ({f['classification']})" for f in actionable
        )
        text += f" Tumour: {listed}."
    elif somatic:
        text += " Tumour: no variant of known clinical significance."
    return f"{text}\n\n{note.strip()}" if note.strip() else text


def _germline(subject: cases.CaseSubject, panel: tuple[str, ...]) -> tuple[list[Any], Counter[str]]:
    reported: list[dict[str, Any]] = []
    skipped: Counter[str] = Counter()
    for f in findings(subject.variants_uri, subject.participant, subject.variants):
        acmg, evidence = classify(f.gene, f.consequence, f.assertion, f.frequency)
        if acmg in REPORTED_ANYWHERE or (acmg is AcmgClass.UNCERTAIN and f.gene in panel):
            reported.append({
                **_described(f, "germline"), "classification": acmg.value,
                "evidence": [e.as_dict() for e in evidence], "assertion": f.assertion,
                "cohort_frequency": round(f.frequency, 6), "in_panel": f.gene in panel,
            })  # fmt: skip
        else:
            outside = " outside the panel" if acmg is AcmgClass.UNCERTAIN else ""
            skipped[acmg.value + outside] += 1
    return reported, skipped


def _somatic(subject: cases.CaseSubject) -> tuple[list[Any], Counter[str]]:
    reported: list[dict[str, Any]] = []
    skipped: Counter[str] = Counter()
    if subject.somatic_uri is None or subject.somatic is None:
        return reported, skipped
    for f in findings(subject.somatic_uri, subject.participant, subject.somatic):
        found, evidence = tier(f.gene, f.consequence, f.protein, subject.diagnosis)
        if found is Tier.IV:
            skipped[f"somatic {found.value}"] += 1
            continue
        reported.append({**_described(f, "somatic"), "classification": found.value,
                         "evidence": evidence, "protein": f.protein})  # fmt: skip
    return reported, skipped


def _described(f: Finding, origin: str) -> dict[str, Any]:
    return {"variant": f"{f.contig}-{f.position}-{f.ref}-{f.alt}", "hgvs": f.hgvs,
            "gene": f.gene, "consequence": f.consequence, "zygosity": f.zygosity,
            "origin": origin}  # fmt: skip


def content_for(subject: cases.CaseSubject, note: str = "") -> dict[str, Any]:
    """The report's content (a JSON object) for ``subject``; see the module docstring."""
    panel_name, panel = panel_of(subject.diagnosis)
    germline, skipped = _germline(subject, panel)
    somatic, skipped_somatic = _somatic(subject)
    reported = sorted(germline, key=lambda f: (ORDER.index(f["classification"]), f["gene"]))
    reported += sorted(somatic, key=lambda f: (ORDER.index(f["classification"]), f["gene"]))
    return {
        "format": FORMAT,
        "rules": RULES_VERSION + (f", {SOMATIC_RULES}" if subject.somatic else ""),
        "case": subject.ref,
        "kind": subject.kind.value,
        "diagnosis": {"code": subject.diagnosis, "name": panel_name},
        "panel": list(panel),
        "clinical": _clinical(subject.clinical_uri, subject.participant, subject.diagnosis),
        "sources": {
            "variants": subject.variants,
            "clinical": subject.clinical,
            "somatic": subject.somatic,
        },
        "findings": reported,
        "not_reported": dict(sorted((skipped + skipped_somatic).items())),
        "summary": _summary(reported, panel_name, note),
    }


def generate(
    ctx: Context,
    ref: str,
    *,
    variants: str = "wgs",
    clinical: str | None = None,
    somatic: str | None = None,
    note: str = "",
) -> int:
    """Build ``ref``'s report from the named dataset versions and store it as its next version
    (a first version, or a revision of a returned report); returns the version's number.
    ``somatic``: the tumour calls, read for a cancer case. ``note``: the author's words,
    appended to the summary (e.g. what a revision answers)."""
    subject = cases.case_subject(ctx, ref, variants, clinical, somatic)
    content = content_for(subject, note)
    return cases.add_version(ctx, ref, content, sources=", ".join(subject.sources))
