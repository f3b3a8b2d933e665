"""Bad input through the real ``wgs-tre`` command, as a steward meets it: one line naming what is
wrong and where, exit code 6, the same as JSON with ``--json``, and the store unchanged (every
file and directory of the data directory, and the database's contents, checksummed before and
after)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

HEADER = b"##fileformat=VCFv4.3\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t"
RECORD = b"1\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0|1\t0|0\t1|1\n"


@pytest.fixture
def cli(cli):  # type: ignore[no-untyped-def]
    """The shared runner (tests/conftest.py) on a store with a steward, sam."""
    for args in (
        ("init", "--admin", "root1"),
        ("--as", "root1", "orgs", "create", "NCGM", "--type", "academic"),
        ("--as", "root1", "users", "create", "sam", "-r", "steward", "--org", "NCGM"),
    ):
        code, _, err = cli(*args)
        assert code == 0, err
    return cli


def store_checksum(data_dir: Path) -> str:
    """Every path under the data directory (empty directories included), every file's bytes,
    and the database's rows (a dump, so SQLite's WAL and shared-memory files do not count)."""
    digest = hashlib.sha256()
    for path in sorted(data_dir.rglob("*")):
        if path.name.startswith("governance.db"):
            continue
        digest.update(path.relative_to(data_dir).as_posix().encode() + b"\0")
        if path.is_file():
            digest.update(path.read_bytes())
    with contextlib.closing(sqlite3.connect(data_dir / "governance.db")) as db:
        for statement in db.iterdump():
            digest.update(statement.encode())
    return digest.hexdigest()


def refused(cli, tmp_path: Path, *args: str) -> tuple[str, dict]:  # type: ignore[no-untyped-def,type-arg]
    """Run ``args`` as sam, once as text and once with ``--json``: each must exit 6 with one
    line on stderr and change nothing in the store. Returns (the line, the JSON error)."""
    state = tmp_path / "state"
    before = store_checksum(state)
    code, out, err = cli("--as", "sam", *args)
    assert (code, out) == (6, ""), err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert store_checksum(state) == before, "a refused command changed the store"
    code, out, err_json = cli("--as", "sam", "--json", *args)
    assert code == 6 and err_json == err
    wire = json.loads(out)
    assert store_checksum(state) == before, "a refused command changed the store"
    message = err.removeprefix("error: ").strip()
    assert (wire["error"], wire["exit_code"], wire["message"]) == ("InvalidInput", 6, message)
    return message, wire


VCF_CASES = [
    pytest.param(
        HEADER + b"S1\tJos\xe9\tS3\n" + RECORD,
        "bad.vcf line 2, sample 2 (column 11)",
        r"sample name 'Jos\xe9' is not valid UTF-8 (byte 0xe9)",
        id="latin1-sample",
    ),
    pytest.param(
        HEADER + b"S1\tS2\tS1\n" + RECORD,
        "bad.vcf line 2, sample 3 (column 12)",
        "sample name 'S1' is also sample 1 (column 10); sample names must be unique",
        id="duplicate-sample",
    ),
    pytest.param(
        HEADER + b"S1\t\tS3\n" + RECORD,
        "bad.vcf line 2, sample 2 (column 11)",
        "sample name is empty",
        id="empty-sample",
    ),
    pytest.param(
        HEADER + b"S1\tS2 \tS3\n" + RECORD,
        "bad.vcf line 2, sample 2 (column 11)",
        "sample name 'S2 ' has leading or trailing spaces",
        id="spaced-sample",
    ),
    pytest.param(
        HEADER.replace(b"\n#", b"\n##contig=<length=9>\n#") + b"S1\tS2\tS3\n" + RECORD,
        "bad.vcf line 2",
        "the ##contig line has no ID",
        id="contig-without-id",
    ),
    pytest.param(
        HEADER + b"S1\tS2\tS3\n" + RECORD.replace(b"\t.\tA", b"\trs\xe9\tA"),
        "bad.vcf line 3",
        "ID is not valid UTF-8 (byte 0xe9)",
        id="latin1-variant-id",
    ),
]


@pytest.mark.parametrize(("content", "where", "problem"), VCF_CASES)
def test_a_bad_vcf_is_refused_in_one_line(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, content: bytes, where: str, problem: str
) -> None:
    path = tmp_path / "bad.vcf"
    path.write_bytes(content)
    message, wire = refused(cli, tmp_path, "ingest", "vcf", str(path), "--dataset", "wgs")
    assert message == f"{where}: {problem}"
    assert wire["fields"] == {"where": where, "problem": problem}
    assert not (tmp_path / "state" / "datasets").exists()


def test_a_directory_given_as_a_vcf_is_refused(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    message, _ = refused(cli, tmp_path, "ingest", "vcf", str(tmp_path), "--dataset", "wgs")
    assert message == f"{tmp_path}: Is a directory"


@pytest.mark.parametrize(("samples", "variants"), [(50, 500), (2, 6)])
def test_demo_data_makes_small_cohorts(cli, tmp_path: Path, samples: int, variants: int) -> None:  # type: ignore[no-untyped-def]
    """Too few common variants for the 5% draw of causal candidates: the reserve tops it up."""
    cohort = tmp_path / "cohort"
    code, out, err = cli("--json", "demo-data", str(cohort), "--samples", str(samples),
                         "--variants", str(variants))  # fmt: skip
    assert code == 0, err
    assert (json.loads(out)["samples"], json.loads(out)["variants"]) == (samples, variants)
    truth = json.loads((cohort / "truth.json").read_text())
    effects = {(e["contig"], e["position"]) for e in truth["effects"]}
    assert len(effects) == 6
    assert all(0 < e["alt_frequency"] < 1 for e in truth["effects"])


@pytest.mark.parametrize(
    ("args", "where", "problem"),
    [
        (("--variants", "5"), "--variants", "a cohort needs at least 6 variants"),
        (("--contigs", "0"), "--contigs", "simulate at least 1 contig"),
    ],
)
def test_demo_data_refuses_sizes_it_cannot_make(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, args: tuple[str, ...], where: str, problem: str
) -> None:
    message, wire = refused(cli, tmp_path, "demo-data", str(tmp_path / "cohort"), *args)
    assert message.startswith(f"{where}: {problem}")
    assert wire["fields"]["where"] == where
    assert not (tmp_path / "cohort").exists()


PATIENT = {"resourceType": "Patient", "id": "P1", "gender": "female", "birthDate": "1960-01-01"}
OBSERVATION = {
    "resourceType": "Observation",
    "id": "ldl",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "2089-1"}]},
    "subject": {"reference": "Patient/P1"},
    "valueQuantity": {"value": 130.0, "unit": "mg/dL"},
}
UNUSED = [
    {"resourceType": "Encounter", "id": "e1", "status": "finished", "class": {"code": "AMB"}},
    {"resourceType": "Encounter", "id": "e2", "status": "finished", "class": {"code": "IMP"}},
    {
        "resourceType": "FamilyMemberHistory",
        "id": "f1",
        "status": "completed",
        "patient": {"reference": "Patient/P1"},
        "relationship": {"text": "mother"},
    },
    {"resourceType": "Frobnicate", "id": "z1"},
]


def fhir_files(tmp_path: Path, *resources: dict) -> list[str]:  # type: ignore[type-arg]
    """A Bundle of ``resources`` and an empty mapping table, as ``ingest fhir`` arguments."""
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": r} for r in resources]}  # fmt: skip
    path = tmp_path / "hospital.json"
    path.write_text(json.dumps(bundle))
    mapping = tmp_path / "mapping.csv"
    mapping.write_text("local_system,local_code,standard_system,standard_code,meaning\n")
    return [str(path), "--dataset", "clinical", "--mapping", str(mapping)]


@pytest.mark.parametrize(
    ("resources", "where", "problem"),
    [
        pytest.param(
            [{k: v for k, v in PATIENT.items() if k != "id"}, OBSERVATION],
            "hospital.json entry[0] (Patient)",
            "id: a Patient needs an id (the participant id)",
            id="patient-without-id",
        ),
        pytest.param(
            [PATIENT, {**OBSERVATION, "subject": {"reference": "Patient/P2"}}],
            "hospital.json entry[1] (Observation/ldl)",
            "subject: Patient/P2 is not in the input (no Patient has id 'P2')",
            id="dangling-subject",
        ),
        pytest.param(
            [PATIENT, {**OBSERVATION, "resourceType": 7}],
            "hospital.json entry[1]",
            "resourceType must name a FHIR resource type",
            id="resource-type-not-a-string",
        ),
    ],
)
def test_a_bad_fhir_bundle_is_refused_in_one_line(  # type: ignore[no-untyped-def]
    cli,
    tmp_path: Path,
    resources: list[dict],
    where: str,
    problem: str,  # type: ignore[type-arg]
) -> None:
    args = fhir_files(tmp_path, *resources)
    message, wire = refused(cli, tmp_path, "ingest", "fhir", *args)
    assert message == f"{where}: {problem}"
    assert wire["fields"] == {"where": where, "problem": problem}


def test_unused_fhir_resources_are_reported_by_type(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    args = fhir_files(tmp_path, PATIENT, *UNUSED, OBSERVATION)
    code, out, err = cli("--as", "sam", "ingest", "fhir", *args)
    assert code == 0, err
    assert " ".join(out.split()) == (
        "✓ registered clinical@1: 8 tables; skipped resources no table uses: 2 Encounter, "
        "1 FamilyMemberHistory, 1 Frobnicate (not a FHIR R4 resource type)"
    )
    code, out, err = cli("--as", "sam", "--json", "ingest", "fhir", *args)
    assert code == 0, err
    result = json.loads(out)
    assert result["name"] == "clinical" and result["version"] == 2
    assert result["skipped"] == {"Encounter": 2, "FamilyMemberHistory": 1, "Frobnicate": 1}
    assert result["unknown_types"] == ["Frobnicate"]
    code, out, _ = cli("--as", "sam", "--json", "ingest", "fhir", *fhir_files(tmp_path, PATIENT))
    assert (code, json.loads(out)["skipped"], json.loads(out)["unknown_types"]) == (0, {}, [])


@pytest.mark.parametrize("name", ["Bad/Name", "../escape", ""])
def test_a_bad_dataset_name_is_refused_before_anything_is_written(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, name: str
) -> None:
    path = tmp_path / "good.vcf"
    path.write_bytes(HEADER + b"S1\tS2\tS3\n" + RECORD)
    message, _ = refused(cli, tmp_path, "ingest", "vcf", str(path), "--dataset", name)
    assert message == f"dataset name {name!r}: use lower-case letters, digits, '.', '_' or '-'"
    assert not (tmp_path / "state" / "datasets").exists() and not (tmp_path / "escape").exists()
