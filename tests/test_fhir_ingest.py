"""FHIR clinical ingest: validated resources into tidy tables, local codes mapped, broken input
named by file, entry and field with nothing registered; the project's clinical view joins its
genotype view on pseudonyms and carries no identifiers."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from tests.world import World
from wgs_tre.consent import registry
from wgs_tre.errors import InvalidInput
from wgs_tre.ingest.fhir import ingest_fhir
from wgs_tre.ingest.vcf import ingest_vcf
from wgs_tre.project import open_project
from wgs_tre.synth import CohortFiles, GenotypeSpec, make_cohort


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> CohortFiles:
    return make_cohort(
        tmp_path_factory.mktemp("c"), GenotypeSpec(samples=90, variants=1500, seed=4)
    )


def ingest(world: World, cohort: CohortFiles, paths: list[Path] | None = None):  # type: ignore[no-untyped-def]
    return ingest_fhir(world.ctx("sam"), paths or cohort.fhir, "clinical", mapping=cohort.mapping,
                       root=world.tmp / "datasets").version  # fmt: skip


def raw_resources(cohort: CohortFiles) -> list[dict]:  # type: ignore[type-arg]
    return [e["resource"] for p in cohort.fhir for e in json.loads(p.read_text())["entry"]]


def test_tables_hold_every_resource_and_map_local_codes(world: World, cohort: CohortFiles) -> None:
    version = ingest(world, cohort)
    assert (version.label, version.kind) == ("clinical@1", "clinical")
    tables = {t: pd.read_parquet(Path(version.uri) / f"{t}.parquet")
              for t in ("patients", "conditions", "observations", "medications", "specimens",
                        "questionnaire", "survival")}  # fmt: skip
    counts = Counter(r["resourceType"] for r in raw_resources(cohort))
    assert len(tables["patients"]) == counts["Patient"] == 90
    assert len(tables["conditions"]) == counts["Condition"]
    assert len(tables["observations"]) == counts["Observation"]
    assert len(tables["medications"]) == counts["MedicationStatement"]
    assert len(tables["specimens"]) == counts["Specimen"]
    answers = sum(len(i["answer"]) for r in raw_resources(cohort)
                  if r["resourceType"] == "QuestionnaireResponse" for i in r["item"])  # fmt: skip
    assert len(tables["questionnaire"]) == answers
    with cohort.mapping.open() as fh:
        mapping = {
            (r["local_system"], r["local_code"]): r["standard_code"] for r in csv.DictReader(fh)
        }
    q = tables["questionnaire"]
    assert all(mapping[(s, c)] == std for s, c, std in
               zip(q.local_system, q.local_code, q.standard_code, strict=True))  # fmt: skip
    # Three hospitals, three local spellings of "yes", one standard concept.
    yes = q[q.meaning == "yes"]
    assert yes.local_system.nunique() == 3 and set(yes.standard_code) == {"429740004"}


def test_survival_is_derived_from_diagnosis_death_and_last_contact(
    world: World, cohort: CohortFiles
) -> None:
    version = ingest(world, cohort)
    survival = pd.read_parquet(Path(version.uri) / "survival.parquet").set_index("participant_id")
    patients = {r["id"]: r for r in raw_resources(cohort) if r["resourceType"] == "Patient"}
    diagnoses = {r["subject"]["reference"][8:]: r for r in raw_resources(cohort)
                 if r["resourceType"] == "Condition" and r["id"].endswith("-dx")}  # fmt: skip
    assert len(survival) == 90
    for pid, row in survival.iterrows():
        died = patients[pid].get("deceasedDateTime")
        assert bool(row.event) == bool(died)
        if died:
            days = (pd.Timestamp(died) - pd.Timestamp(diagnoses[pid]["onsetDateTime"])).days
            assert row.time_days == days
    assert 0 < survival.event.mean() < 1


def _broken(world: World, cohort: CohortFiles, change) -> Path:  # type: ignore[no-untyped-def]
    bundle = json.loads(cohort.fhir[0].read_text())
    change(bundle["entry"])
    path = world.tmp / "broken.json"
    path.write_text(json.dumps(bundle))
    return path


def _set_ldl(entries) -> None:  # type: ignore[no-untyped-def]
    entry = next(e for e in entries if e["resource"]["id"].endswith("-ldl"))
    entry["resource"]["valueQuantity"]["value"] = "high"


def _unmapped(entries) -> None:  # type: ignore[no-untyped-def]
    entry = next(e for e in entries if e["resource"]["resourceType"] == "QuestionnaireResponse")
    entry["resource"]["item"][0]["answer"][0]["valueCoding"]["code"] = "ZZZ"


def _dangling(entries) -> None:  # type: ignore[no-untyped-def]
    entry = next(e for e in entries if e["resource"]["resourceType"] == "Condition")
    entry["resource"]["subject"]["reference"] = "Patient/P999999"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set_ldl, r"broken.json entry\[\d+\] \(Observation\): valueQuantity.value"),
        (_unmapped, r"item\[0\] \(family-history-cancer\): local code 'ZZZ' .* not in the mapping"),
        (lambda e: e[3]["resource"].pop("subject"), r"entry\[3\].*subject"),
        (lambda e: e[0]["resource"].pop("id"), r"entry\[0\] \(Patient\): id: a Patient needs"),
        (_dangling, r"entry\[\d+\] \(Condition/.*\): subject: Patient/P999999 is not in the input"),
    ],
    ids=["invalid-value", "unmapped-code", "no-subject", "patient-without-id", "dangling-subject"],
)
def test_broken_bundles_are_named_and_nothing_registered(
    world: World, cohort: CohortFiles, change, message: str
) -> None:  # type: ignore[no-untyped-def]
    before = world.counts()
    with pytest.raises(InvalidInput, match=message):
        ingest(world, cohort, [_broken(world, cohort, change)])
    assert world.counts() == before


def test_subjects_may_be_patients_of_another_file(world: World, cohort: CohortFiles) -> None:
    """NDJSON exports put each resource type in a file of its own: a subject is resolved against
    the Patients of every file given, and nothing the tables use is reported as skipped."""
    by_type: dict[str, list[str]] = {}
    for resource in raw_resources(cohort):
        by_type.setdefault(resource["resourceType"], []).append(json.dumps(resource))
    paths = []
    for kind in sorted(by_type, key=lambda k: k != "Observation"):  # Patients come last
        paths.append(world.tmp / f"{kind}.ndjson")
        paths[-1].write_text("\n".join(by_type[kind]) + "\n")
    result = ingest_fhir(world.ctx("sam"), paths, "clinical", mapping=cohort.mapping,
                         root=world.tmp / "datasets")  # fmt: skip
    assert (result.skipped, result.unknown) == ({}, [])
    patients = pd.read_parquet(Path(result.version.uri) / "patients.parquet")
    assert len(patients) == 90


def test_malformed_json_names_line_and_column(world: World, cohort: CohortFiles) -> None:
    path = world.tmp / "cut.json"
    path.write_text(cohort.fhir[0].read_text()[:5000])
    with pytest.raises(InvalidInput, match=r"cut.json line 1 column \d+: not valid JSON"):
        ingest(world, cohort, [path])


def test_the_clinical_view_joins_the_genotypes_and_carries_no_identifiers(
    world: World, cohort: CohortFiles
) -> None:
    ingest(world, cohort)
    ingest_vcf(world.ctx("sam"), cohort.vcf, "wgs", root=world.tmp / "datasets")
    registry.import_file(world.ctx("sam"), cohort.consent)
    world.approved(datasets=["wgs", "clinical"])
    handle = open_project("brca-study", user="alice", settings=world.settings())
    genotypes = handle.variants()
    patients = handle.clinical("patients")
    survival = handle.clinical("survival")
    assert set(patients.sample_id) == set(genotypes.sample_id.values)
    assert set(survival.sample_id) <= set(genotypes.sample_id.values)
    assert "participant_id" not in patients and "birth_date" not in patients
    assert "birth_year" in patients
    for table in ("patients", "conditions", "observations", "medications", "specimens",
                  "questionnaire", "survival"):  # fmt: skip
        assert "P0000" not in handle.clinical(table).to_csv()
    with pytest.raises(InvalidInput, match="choose one of patients"):
        handle.clinical("secrets")
