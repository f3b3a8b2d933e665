"""The synthetic cohort: a VCF that htslib tools read, clinical FHIR that validates against the
official models, consent the registry accepts, and outcomes that carry the documented effects."""

from __future__ import annotations

import csv
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import orjson
import pytest
from fhir.resources.R4B import get_fhir_model_class

from tests.world import World
from wgs_tre.consent import registry
from wgs_tre.consent.overview import overview
from wgs_tre.synth import PUBLIC_TRUTH, CohortFiles, GenotypeSpec, make_cohort
from wgs_tre.synth.genotypes import _Reserve, write_vcf

SPEC = GenotypeSpec(samples=400, variants=3_000, contigs=2, seed=7)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> CohortFiles:
    return make_cohort(tmp_path_factory.mktemp("cohort"), SPEC)


def _bcftools(*args: str) -> str:
    return subprocess.run(["bcftools", *args], check=True, capture_output=True, text=True).stdout


def _genotypes(vcf: Path) -> np.ndarray:
    """Alt-allele dosages (variants x samples, -1 missing), read by bcftools, not by us."""
    rows = _bcftools("query", "-f", "[%GT\t]\n", str(vcf)).splitlines()
    table = {"0|0": 0, "0|1": 1, "1|0": 1, "1|1": 2, "./.": -1}
    return np.array([[table[g] for g in row.rstrip("\t").split("\t")] for row in rows])


def test_the_vcf_is_indexed_and_readable_by_htslib(cohort: CohortFiles) -> None:
    assert _bcftools("query", "-l", str(cohort.vcf)).split() == [
        f"P{i:06d}" for i in range(1, SPEC.samples + 1)
    ]
    assert int(_bcftools("index", "--nrecords", str(cohort.vcf))) == SPEC.variants
    contigs = subprocess.run(
        ["tabix", "-l", str(cohort.vcf)], check=True, capture_output=True, text=True
    ).stdout.split()
    assert contigs == ["chr1", "chr2"]
    region = _bcftools("view", "-H", "-r", "chr2", str(cohort.vcf)).splitlines()
    assert 0 < len(region) < SPEC.variants
    annotated = _bcftools("view", "-H", "-i", 'INFO/CLNSIG!="."', str(cohort.vcf)).splitlines()
    assert len(annotated) > 100 and "CSQ=" in annotated[0]


def test_genotypes_look_like_a_structured_population(cohort: CohortFiles) -> None:
    dosage = _genotypes(cohort.vcf)
    missing = (dosage < 0).mean()
    assert 0.005 < missing < 0.02  # about the 1% asked for
    freq = np.where(dosage < 0, np.nan, dosage)
    alt = np.nanmean(freq, axis=1) / 2
    maf = np.minimum(alt, 1 - alt)
    assert (maf < 0.05).mean() > 0.4  # neutral spectrum: rare variants dominate
    assert (maf > 0.2).mean() > 0.05
    # Two populations: the first principal component separates them.
    filled = np.where(np.isnan(freq), np.nanmean(freq, axis=1, keepdims=True), freq)
    common = filled[(maf > 0.05)]
    p = common.mean(axis=1, keepdims=True) / 2
    standardised = ((common - 2 * p) / np.sqrt(2 * p * (1 - p))).T
    pc1 = np.linalg.svd(standardised, full_matrices=False)[0][:, 0]
    assert 0.3 < _populations(cohort).mean() < 0.7
    pops = _populations(cohort)
    assert abs(np.corrcoef(pc1, pops)[0, 1]) > 0.9


def _resources(cohort: CohortFiles) -> list[dict]:  # type: ignore[type-arg]
    found = []
    for path in cohort.fhir:
        found += [e["resource"] for e in orjson.loads(path.read_bytes())["entry"]]
    return found


def _populations(cohort: CohortFiles) -> np.ndarray:
    """1 for participants the simulation put in population B (from truth.json)."""
    population_b = set(json.loads(cohort.truth.read_text())["population_b"])
    return np.array([f"P{i:06d}" in population_b for i in range(1, SPEC.samples + 1)], float)


def test_every_clinical_resource_validates_against_fhir_r4(cohort: CohortFiles) -> None:
    resources = _resources(cohort)
    kinds = {r["resourceType"] for r in resources}
    assert kinds == {
        "Patient",
        "Condition",
        "Observation",
        "MedicationStatement",
        "Specimen",
        "QuestionnaireResponse",
    }
    for resource in resources:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    patients = [r for r in resources if r["resourceType"] == "Patient"]
    assert len(patients) == SPEC.samples


def test_local_codes_all_have_a_mapping(cohort: CohortFiles) -> None:
    with cohort.mapping.open() as fh:
        mapped = {(row["local_system"], row["local_code"]) for row in csv.DictReader(fh)}
    answers = [
        (answer["valueCoding"]["system"], answer["valueCoding"]["code"])
        for r in _resources(cohort)
        if r["resourceType"] == "QuestionnaireResponse"
        for item in r["item"]
        for answer in item["answer"]
    ]
    assert len({system for system, _ in answers}) == 3  # one local system per hospital
    assert set(answers) <= mapped


def test_consent_imports_into_the_registry(world: World, cohort: CohortFiles) -> None:
    report = registry.import_file(world.ctx("sam"), cohort.consent)
    assert report.new_participants == SPEC.samples
    assert 0 < report.withdrawals < SPEC.samples * 0.15
    # each consent names the hospital whose bundle holds its patient: the counts by site
    hospital_of = {
        entry["resource"]["id"]: path.stem
        for path in cohort.fhir
        for entry in orjson.loads(path.read_bytes())["entry"]
        if entry["resource"]["resourceType"] == "Patient"
    }
    consents = [orjson.loads(line) for line in cohort.consent.read_bytes().splitlines()]
    for consent in consents:
        patient = consent["patient"]["reference"].removeprefix("Patient/")
        assert consent["organization"][0]["display"] == hospital_of[patient], consent
    by_site = overview(world.ctx("sam")).by_site
    assert set(by_site) == set(hospital_of.values())
    assert sum(sum(counts.values()) for counts in by_site.values()) == SPEC.samples


def test_the_biomarker_carries_the_documented_effects(cohort: CohortFiles) -> None:
    """OLS (numpy) of the LDL values in the FHIR output on the causal dosages (read back with
    bcftools) and the covariates recovers the effect sizes written in truth.json."""
    truth = json.loads(cohort.truth.read_text())
    effects = [e for e in truth["effects"] if e["outcome"] == "biomarker"]
    resources = _resources(cohort)
    ldl = {
        r["subject"]["reference"][8:]: r["valueQuantity"]["value"]
        for r in resources
        if r["resourceType"] == "Observation" and r["id"].endswith("-ldl")
    }
    ids = [f"P{i:06d}" for i in range(1, SPEC.samples + 1)]
    y = np.array([ldl[i] for i in ids])
    columns = []
    for effect in effects:
        region = f"{effect['contig']}:{effect['position']}-{effect['position']}"
        row = _bcftools("query", "-r", region, "-f", "[%GT\t]\n", str(cohort.vcf)).split("\n")[0]
        calls = row.rstrip("\t").split("\t")
        columns.append([np.nan if "." in g else g.count("1") for g in calls])
    x = np.array(columns, dtype=float).T
    keep = ~np.isnan(x).any(axis=1)
    design = np.column_stack([np.ones(keep.sum()), x[keep], _populations(cohort)[keep]])
    beta = np.linalg.lstsq(design, y[keep], rcond=None)[0]
    for got, effect in zip(beta[1:3], effects, strict=True):
        assert abs(got - effect["effect"]) < 3.0, (got, effect)


def test_the_reserve_offers_common_variants_first_and_never_a_drawn_one() -> None:
    positions = np.arange(1, 11)
    refs, alts = np.full(10, "A"), np.full(10, "G")
    dosage = np.ones((10, 4), dtype=np.int8)
    reserve = _Reserve(3, seed=1)
    drawn = positions <= 8  # already candidates: only 9 and 10 may be offered
    reserve.offer("chr1", positions, refs, alts, dosage, np.ones(10, bool), drawn)
    assert sorted(c.position for c in reserve.best(3)) == [9, 10]
    reserve = _Reserve(3, seed=1)
    common = positions > 6  # 7..10 are common: the three best are among them
    reserve.offer("chr1", positions, refs, alts, dosage, common, np.zeros(10, bool))
    assert {c.position for c in reserve.best(3)} <= {7, 8, 9, 10}


def test_the_reserve_does_not_change_the_cohort_of_a_seed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reserve draws from its own random stream: the VCF of a seed is the same with it as
    without it (cohorts made before it existed stay reproducible)."""
    spec = GenotypeSpec(samples=30, variants=400, seed=3)
    ids = [f"P{i}" for i in range(30)]
    with_reserve = write_vcf(tmp_path / "a.vcf.gz", spec, sample_ids=ids)
    monkeypatch.setattr(_Reserve, "offer", lambda self, *args: None)
    write_vcf(tmp_path / "b.vcf.gz", spec, sample_ids=ids)
    assert _bcftools("view", "-H", str(tmp_path / "a.vcf.gz")) == _bcftools(
        "view", "-H", str(tmp_path / "b.vcf.gz")
    )
    assert len(with_reserve.candidates) >= 6


def test_harmful_assertions_are_on_rare_variants_only(cohort: CohortFiles) -> None:
    """As in real databases: a variant asserted (likely) pathogenic is rare; common ones carry
    the benign mirror instead. Frequencies before missing calls, here recounted by bcftools."""
    rows = _bcftools("query", "-i", 'INFO/CLNSIG!="."', "-f", "%INFO/CLNSIG\t[%GT\t]\n",
                     str(cohort.vcf)).splitlines()  # fmt: skip
    harmful, common_benign = 0, 0
    for row in rows:
        assertion, *calls = row.rstrip("\t").split("\t")
        alleles = [a for gt in calls for a in gt.replace("|", "/").split("/") if a != "."]
        frequency = alleles.count("1") / len(alleles)
        if assertion in {"Pathogenic", "Likely_pathogenic"}:
            harmful += 1
            assert frequency <= 0.0125, (assertion, frequency)  # 1%, and 1% missing calls
        elif frequency > 0.02 and assertion in {"Benign", "Likely_benign"}:
            common_benign += 1
    assert harmful > 10 and common_benign > 10, (harmful, common_benign)


def test_cancer_cases_have_tumour_calls_at_their_cancers_hotspots(cohort: CohortFiles) -> None:
    """The somatic VCF, read by bcftools: one column per cancer case of the clinical records
    (and nobody else), each tumour's drivers among its own cancer's hotspots at their GRCh38
    positions with the protein change, and passengers without one."""
    from wgs_tre.synth.somatic import HOTSPOTS

    assert cohort.somatic is not None
    diagnoses = {}
    for bundle in cohort.fhir:
        for entry in json.loads(bundle.read_text())["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] == "Condition" and resource["id"].endswith("-dx"):
                diagnoses[resource["subject"]["reference"].split("/")[1]] = resource["code"][
                    "coding"
                ][0]["code"]
    tumours = _bcftools("query", "-l", str(cohort.somatic)).split()
    assert tumours == sorted(p for p, code in diagnoses.items() if code.startswith("C"))
    rows = _bcftools("query", "-f", "%CHROM\t%POS\t%REF\t%ALT\t%GENE\t%CSQ\t%HGVSP\t[%GT\t]\n",
                     str(cohort.somatic)).splitlines()  # fmt: skip
    drivers = 0
    for row in rows:
        contig, pos, ref, alt, gene, csq, protein, *calls = row.rstrip("\t").split("\t")
        carriers = [tumours[i] for i, gt in enumerate(calls) if gt == "0/1"]
        assert carriers and set(calls) <= {"0/1", "0/0"}, row
        if protein == ".":
            assert csq in {"missense_variant", "synonymous_variant"}
            continue
        for person in carriers:  # a driver only in tumours of a cancer listing it
            spots = {(s.gene, s.protein, s.contig, s.position, s.ref, s.alt)
                     for s, _ in HOTSPOTS[diagnoses[person][:3]]}  # fmt: skip
            assert (gene, protein, contig, int(pos), ref, alt) in spots, row
            drivers += 1
    assert drivers > 5, drivers


def test_the_public_truth_is_the_truth_without_participant_ids(cohort: CohortFiles) -> None:
    """true-effects.json is what the demo hands researchers: every effect, no one's id."""
    truth = json.loads(cohort.truth.read_text())
    public_text = (cohort.truth.parent / PUBLIC_TRUTH).read_text()
    public = json.loads(public_text)
    assert truth["population_b"] and "population_b" not in public
    assert public == {k: v for k, v in truth.items() if k != "population_b"}
    assert not re.search(r"P\d{6}", public_text)
