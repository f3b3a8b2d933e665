"""FHIR R4 clinical resources into tidy tables (one row per participant-event).

Every resource is validated against the official model (``fhir.resources``, R4B) before it is
read; hospital-local codes in ``QuestionnaireResponse`` answers are mapped to standard codes
through the programme's mapping table, and an unmapped local code is an error (a dropped answer
would bias every analysis silently). Errors name the file, the entry or line, and the field.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from wgs_tre.errors import InvalidInput
from wgs_tre.fhirio import read_resources

__all__ = ["TABLES", "ClinicalTables", "CodeMap", "read_clinical"]

TABLES = ("patients", "conditions", "observations", "medications", "specimens", "questionnaire",
          "survival")  # fmt: skip
SUPPORTED = {"Patient", "Condition", "Observation", "MedicationStatement", "Specimen",
             "QuestionnaireResponse"}  # fmt: skip
LAST_CONTACT = ("https://wgs-tre.org/fhir/CodeSystem/follow-up", "last-contact")


@dataclass(frozen=True)
class CodeMap:
    """(local system, local code) -> (standard system, standard code, meaning)."""

    entries: dict[tuple[str, str], tuple[str, str, str]]

    @classmethod
    def read(cls, path: Path) -> CodeMap:
        needed = {"local_system", "local_code", "standard_system", "standard_code", "meaning"}
        try:
            with path.open(newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                missing = needed - set(reader.fieldnames or [])
                if missing:
                    raise InvalidInput(path.name, f"missing columns: {', '.join(sorted(missing))}")
                return cls({
                    (row["local_system"], row["local_code"]): (
                        row["standard_system"], row["standard_code"], row["meaning"]
                    )
                    for row in reader
                })  # fmt: skip
        except OSError as exc:
            raise InvalidInput(str(path), exc.strerror or "cannot read") from None


@dataclass
class ClinicalTables:
    """The rows of each table; ``skipped`` counts, by resource type, the resources no table
    uses, and ``unknown`` names those types that are not FHIR R4 resource types at all."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    skipped: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    unknown: set[str] = field(default_factory=set)
    participants: set[str] = field(default_factory=set)

    def frames(self) -> dict[str, pd.DataFrame]:
        frames = {
            name: pd.DataFrame(self.rows.get(name, [])) for name in TABLES if name != "survival"
        }
        frames["survival"] = _survival(self.rows)
        return frames


def _subject(resource: Any, where: str) -> str:
    reference = resource.subject.reference if resource.subject else None
    if not reference or not reference.startswith("Patient/"):
        raise InvalidInput(where, "subject: a Patient/<id> reference is required")
    return str(reference.removeprefix("Patient/"))


def _code(concept: Any) -> tuple[str, str, str]:
    coding = (concept.coding or [None])[0] if concept else None
    if coding is None:
        return "", "", ""
    return coding.system or "", coding.code or "", coding.display or ""


def _date(value: Any) -> Any:
    return pd.Timestamp(value).date() if value is not None else None


Row = dict[str, Any]


def _patient(pid: str, model: Any, source: str) -> list[tuple[str, Row]]:
    row = {"participant_id": pid, "sex": model.gender, "birth_date": _date(model.birthDate),
           "deceased_date": _date(model.deceasedDateTime), "source": source}  # fmt: skip
    return [("patients", row)]


def _condition(pid: str, model: Any, source: str) -> list[tuple[str, Row]]:
    system, code, _ = _code(model.code)
    category = _code((model.category or [None])[0])[1]
    row = {"participant_id": pid, "system": system, "code": code, "category": category,
           "onset_date": _date(model.onsetDateTime)}  # fmt: skip
    return [("conditions", row)]


def _observation(pid: str, model: Any, source: str) -> list[tuple[str, Row]]:
    system, code, display = _code(model.code)
    quantity, value = model.valueQuantity, None
    if quantity is not None:
        value = float(quantity.value)
    elif model.valueInteger is not None:
        value = float(model.valueInteger)
    row = {
        "participant_id": pid, "system": system, "code": code, "display": display,
        "value": value, "unit": quantity.unit if quantity is not None else None,
        "value_code": _code(model.valueCodeableConcept)[1] or None,
        "value_date": _date(model.valueDateTime), "date": _date(model.effectiveDateTime),
    }  # fmt: skip
    return [("observations", row)]


def _medication(pid: str, model: Any, source: str) -> list[tuple[str, Row]]:
    system, code, _ = _code(model.medicationCodeableConcept)
    period = model.effectivePeriod
    row = {"participant_id": pid, "system": system, "code": code, "status": model.status,
           "start_date": _date(period.start if period else None),
           "end_date": _date(period.end if period else None)}  # fmt: skip
    return [("medications", row)]


def _specimen(pid: str, model: Any, source: str) -> list[tuple[str, Row]]:
    collected = model.collection.collectedDateTime if model.collection else None
    row = {"participant_id": pid, "type": _code(model.type)[1], "collected_date": _date(collected)}
    return [("specimens", row)]


READERS = {
    "Patient": _patient,
    "Condition": _condition,
    "Observation": _observation,
    "MedicationStatement": _medication,
    "Specimen": _specimen,
}


def _questionnaire(pid: str, model: Any, where: str, codes: CodeMap) -> list[tuple[str, Row]]:
    rows = []
    for index, item in enumerate(model.item or []):
        for answer in item.answer or []:
            coding = answer.valueCoding
            if coding is None:
                continue
            key = (coding.system or "", coding.code or "")
            if key not in codes.entries:
                raise InvalidInput(
                    f"{where} item[{index}] ({item.linkId})",
                    f"local code {key[1]!r} of {key[0]} is not in the mapping table",
                )
            standard_system, standard_code, meaning = codes.entries[key]
            row = {"participant_id": pid, "question": item.linkId, "local_system": key[0],
                   "local_code": key[1], "standard_system": standard_system,
                   "standard_code": standard_code, "meaning": meaning,
                   "authored_date": _date(model.authored)}  # fmt: skip
            rows.append(("questionnaire", row))
    return rows


def read_clinical(paths: list[Path], codes: CodeMap) -> ClinicalTables:
    """Validate and read every supported resource in ``paths``; the first problem raises.

    A Patient must have an id (the participant id), and every subject must be a Patient of the
    input (in any of ``paths``, so NDJSON exports with one resource type per file work).
    Resources of other types are counted in ``skipped``, never silently dropped.
    """
    out = ClinicalTables()
    subjects: list[tuple[str, str]] = []  # (participant id, where), checked once all are read
    for path in paths:
        for raw, where in read_resources(path):
            kind = raw.get("resourceType")
            if not isinstance(kind, str) or not kind:
                raise InvalidInput(where, "resourceType must name a FHIR resource type")
            if kind not in SUPPORTED:
                out.skipped[kind] += 1
                if not _is_resource_type(kind):
                    out.unknown.add(kind)
                continue
            try:
                model = get_fhir_model_class(kind).model_validate(raw)
            except ValidationError as exc:
                first = exc.errors()[0]
                field_path = ".".join(str(p) for p in first["loc"]) or "(resource)"
                raise InvalidInput(f"{where} ({kind})", f"{field_path}: {first['msg']}") from None
            resource: Any = model
            here = f"{where} ({kind}/{resource.id})" if resource.id else f"{where} ({kind})"
            if kind == "Patient":
                if not resource.id:
                    raise InvalidInput(here, "id: a Patient needs an id (the participant id)")
                pid = str(resource.id)
                out.participants.add(pid)
            else:
                pid = _subject(resource, here)
                subjects.append((pid, here))
            if kind == "QuestionnaireResponse":
                rows = _questionnaire(pid, resource, here, codes)
            else:
                rows = READERS[kind](pid, resource, path.stem)
            for table, row in rows:
                out.rows[table].append(row)
    for pid, here in subjects:
        if pid not in out.participants:
            raise InvalidInput(
                here, f"subject: Patient/{pid} is not in the input (no Patient has id {pid!r})"
            )
    return out


def _is_resource_type(kind: str) -> bool:
    try:
        return issubclass(get_fhir_model_class(kind), Resource)
    except ValueError:  # "... is not a valid FHIR Model"
        return False


def _survival(rows: dict[str, list[dict[str, Any]]]) -> pd.DataFrame:
    """Overall survival from the primary diagnosis: days to death, or to last contact (censored)."""
    diagnosis = {
        r["participant_id"]: r
        for r in rows.get("conditions", [])
        if r["category"] == "encounter-diagnosis"
    }
    death = {r["participant_id"]: r["deceased_date"] for r in rows.get("patients", [])}
    last = {
        r["participant_id"]: r["value_date"]
        for r in rows.get("observations", [])
        if (r["system"], r["code"]) == LAST_CONTACT
    }
    records = []
    for pid, dx in diagnosis.items():
        end, event = (death[pid], True) if death.get(pid) else (last.get(pid), False)
        if end is None or dx["onset_date"] is None:
            continue
        records.append({
            "participant_id": pid, "diagnosis": dx["code"], "diagnosis_date": dx["onset_date"],
            "time_days": (end - dx["onset_date"]).days, "event": event,
        })  # fmt: skip
    return pd.DataFrame(records)
