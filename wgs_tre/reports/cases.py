"""A hospital's cases from its own FHIR export: each Patient with its medical record number and
its diagnosis (the encounter-diagnosis Condition's ICD-10 code)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from wgs_tre.errors import InvalidInput
from wgs_tre.fhirio import read_resources
from wgs_tre.governance.cases import CaseEntry

__all__ = ["cases_from_fhir"]

ICD10 = "http://hl7.org/fhir/sid/icd-10"
DIAGNOSIS = "encounter-diagnosis"


def _record_number(patient: dict[str, Any], system: str | None, where: str) -> str:
    for identifier in patient.get("identifier") or []:
        found = identifier.get("system", "") if isinstance(identifier, dict) else ""
        if (found == system if system else found.endswith("/mrn")) and identifier.get("value"):
            return str(identifier["value"])
    wanted = f"system {system}" if system else "a system ending in /mrn"
    raise InvalidInput(where, f"Patient has no identifier with {wanted}")


def _diagnosis(condition: dict[str, Any]) -> str | None:
    categories = [
        coding.get("code")
        for category in condition.get("category") or []
        for coding in category.get("coding") or []
    ]
    if DIAGNOSIS not in categories:
        return None
    codings = (condition.get("code") or {}).get("coding") or []
    return next(
        (str(c["code"]) for c in codings if c.get("system") == ICD10 and c.get("code")), None
    )


def _subject(resource: dict[str, Any]) -> str:
    return str((resource.get("subject") or {}).get("reference", "")).removeprefix("Patient/")


def cases_from_fhir(
    paths: Iterable[Path], *, identifier_system: str | None = None
) -> list[CaseEntry]:
    """One case per Patient of ``paths`` (FHIR JSON Bundles or NDJSON); a Patient without a
    record number or an ICD-10 encounter diagnosis is an error naming where it is."""
    patients: dict[str, tuple[str, str]] = {}  # participant -> (record number, where)
    diagnoses: dict[str, str] = {}
    for path in paths:
        for resource, where in read_resources(path):
            kind = resource.get("resourceType")
            if kind == "Patient":
                if not resource.get("id"):
                    raise InvalidInput(where, "Patient has no id (the participant id)")
                number = _record_number(resource, identifier_system, where)
                patients[str(resource["id"])] = (number, where)
            elif kind == "Condition" and (code := _diagnosis(resource)):
                diagnoses.setdefault(_subject(resource), code)
    entries = []
    for participant, (number, where) in patients.items():
        if participant not in diagnoses:
            raise InvalidInput(where, f"Patient has no {DIAGNOSIS} Condition with an ICD-10 code")
        entries.append(CaseEntry(participant, number, diagnoses[participant], where))
    if not entries:
        raise InvalidInput(", ".join(str(p) for p in paths), "no Patient resources: no cases")
    return entries
