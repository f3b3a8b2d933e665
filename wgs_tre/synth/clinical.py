"""Synthetic clinical data as FHIR R4: one Bundle per hospital, as each hospital's EHR would export
it, plus the e-consent portal's Consent resources and the local-code mapping table.

Each hospital answers the intake questionnaire (``QuestionnaireResponse``) in its own local code
system; ``code-mapping.csv`` maps every local code to SNOMED CT, as the programme's mapping table
would. Coded clinical items use standard systems: ICD-10 (conditions), LOINC (observations), ATC
(medications), SNOMED CT (specimen types, smoking status).
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from wgs_tre.consent.build import make_consent
from wgs_tre.synth.outcomes import CANCERS, Participant

__all__ = ["HOSPITALS", "LOCAL_CODES", "write_clinical", "write_consents"]

ICD10 = "http://hl7.org/fhir/sid/icd-10"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ATC = "http://www.whocc.no/atc"
FOLLOW_UP = "https://wgs-tre.org/fhir/CodeSystem/follow-up"
HOSPITALS = ["hospital-a", "hospital-b", "hospital-c"]

# Intake questionnaire: question -> answer -> SNOMED CT concept.
ANSWERS = {
    "family-history-cancer": {"yes": "429740004", "no": "160266009"},
    "alcohol": {"none": "105542008", "moderate": "43783005", "heavy": "86933000"},
}
# Each hospital's own codes for the same answers (what the mapping table exists for).
LOCAL_CODES = {
    "hospital-a": {
        "yes": "FH-Y",
        "no": "FH-N",
        "none": "ALC0",
        "moderate": "ALC1",
        "heavy": "ALC2",
    },
    "hospital-b": {"yes": "1", "no": "0", "none": "10", "moderate": "11", "heavy": "12"},
    "hospital-c": {"yes": "Y", "no": "N", "none": "A-NONE", "moderate": "A-MOD", "heavy": "A-HVY"},
}
SMOKING = {"never": "266919005", "former": "8517006", "current": "77176002"}
DRUGS = {"C18": "L01BC06", "C34": "L01EB02", "C50": "L02BA01", "C61": "L02BB04", "C25": "L01BC05"}


def local_system(hospital: str) -> str:
    return f"https://{hospital}.example.jp/fhir/CodeSystem/intake"


def _ref(participant: Participant) -> dict[str, str]:
    return {"reference": f"Patient/{participant.id}"}


def _observation(
    p: Participant, rid: str, code: tuple[str, str, str], when: dt.date, **value: Any
) -> dict[str, Any]:
    system, code_value, display = code
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": {"coding": [{"system": system, "code": code_value, "display": display}]},
        "subject": _ref(p),
        "effectiveDateTime": when.isoformat(),
        **value,
    }


def _condition(
    p: Participant, suffix: str, icd10: str, category: str, onset: dt.date
) -> dict[str, Any]:
    terminology = "http://terminology.hl7.org/CodeSystem"
    return {
        "resourceType": "Condition",
        "id": f"{p.id}-{suffix}",
        "clinicalStatus": {
            "coding": [{"system": f"{terminology}/condition-clinical", "code": "active"}]
        },
        "category": [
            {"coding": [{"system": f"{terminology}/condition-category", "code": category}]}
        ],
        "code": {"coding": [{"system": ICD10, "code": icd10}]},
        "subject": _ref(p),
        "onsetDateTime": onset.isoformat(),
    }


def _resources(p: Participant, hospital: str, rng: np.random.Generator) -> list[dict[str, Any]]:
    pid = p.id
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [
            {
                "system": f"https://{hospital}.example.jp/mrn",
                "value": f"MRN{rng.integers(10**7, 10**8)}",
            }
        ],
        "gender": p.sex,
        "birthDate": p.birth_date.isoformat(),
    }
    if p.died:
        patient["deceasedDateTime"] = p.died.isoformat()
    resources = [patient]
    resources.append(_condition(p, "dx", p.diagnosis, "encounter-diagnosis", p.diagnosed))
    if p.diabetes:
        onset = p.diagnosed - dt.timedelta(days=int(rng.integers(100, 3000)))
        resources.append(_condition(p, "t2d", "E11", "problem-list-item", onset))
    when = p.diagnosed
    resources.append(
        _observation(
            p,
            f"{pid}-ldl",
            (LOINC, "13457-7", "LDL cholesterol"),
            when,
            valueQuantity={
                "value": p.biomarker,
                "unit": "mg/dL",
                "system": "http://unitsofmeasure.org",
                "code": "mg/dL",
            },
        )
    )
    resources.append(
        _observation(
            p,
            f"{pid}-bmi",
            (LOINC, "39156-5", "Body mass index"),
            when,
            valueQuantity={
                "value": p.bmi,
                "unit": "kg/m2",
                "system": "http://unitsofmeasure.org",
                "code": "kg/m2",
            },
        )
    )
    resources.append(
        _observation(
            p,
            f"{pid}-smoking",
            (LOINC, "72166-2", "Tobacco smoking status"),
            when,
            valueCodeableConcept={"coding": [{"system": SNOMED, "code": SMOKING[p.smoking]}]},
        )
    )
    if p.stage is not None:
        resources.append(
            _observation(
                p, f"{pid}-stage", (LOINC, "21908-9", "Stage group"), when, valueInteger=p.stage
            )
        )
    resources.append(
        _observation(
            p,
            f"{pid}-last",
            (FOLLOW_UP, "last-contact", "Date of last contact"),
            p.last_contact,
            valueDateTime=p.last_contact.isoformat(),
        )
    )
    drug = DRUGS.get(p.diagnosis)
    for code, start in ([(drug, p.diagnosed)] if drug else []) + (
        [("A10BA02", p.diagnosed)] if p.diabetes else []
    ):
        resources.append(
            {
                "resourceType": "MedicationStatement",
                "id": f"{pid}-med-{code}",
                "status": "completed" if p.died else "active",
                "medicationCodeableConcept": {"coding": [{"system": ATC, "code": code}]},
                "subject": _ref(p),
                "effectivePeriod": {"start": start.isoformat()},
            }
        )
    resources.append(
        {
            "resourceType": "Specimen",
            "id": f"{pid}-blood",
            "identifier": [
                {"system": "https://biobank.example.jp/specimen", "value": f"BB-{pid}-01"}
            ],
            "type": {
                "coding": [
                    {"system": SNOMED, "code": "122555007", "display": "Venous blood specimen"}
                ]
            },
            "subject": _ref(p),
            "collection": {"collectedDateTime": p.diagnosed.isoformat()},
        }
    )
    local = LOCAL_CODES[hospital]
    family = (
        "yes" if (p.diagnosis in CANCERS and rng.random() < 0.4) or rng.random() < 0.1 else "no"
    )
    alcohol = str(rng.choice(["none", "moderate", "heavy"], p=[0.4, 0.45, 0.15]))
    resources.append(
        {
            "resourceType": "QuestionnaireResponse",
            "id": f"{pid}-intake",
            "status": "completed",
            "subject": _ref(p),
            "authored": p.diagnosed.isoformat(),
            "item": [
                {
                    "linkId": question,
                    "answer": [
                        {"valueCoding": {"system": local_system(hospital), "code": local[answer]}}
                    ],
                }
                for question, answer in (("family-history-cancer", family), ("alcohol", alcohol))
            ],
        }
    )
    return resources


def write_clinical(directory: Path, participants: list[Participant], *, seed: int) -> list[Path]:
    """One FHIR Bundle (JSON) per hospital, and ``code-mapping.csv``; returns the bundle paths."""

    rng = np.random.default_rng(seed + 11)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, hospital in enumerate(HOSPITALS):
        entries = [
            {"fullUrl": f"urn:uuid:{r['resourceType']}-{r['id']}", "resource": r}
            for p in participants
            if p.hospital == index
            for r in _resources(p, hospital, rng)
        ]
        bundle = {"resourceType": "Bundle", "id": hospital, "type": "collection", "entry": entries}
        path = directory / f"{hospital}.json"
        path.write_bytes(orjson.dumps(bundle))
        paths.append(path)
    with (directory / "code-mapping.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            [
                "local_system",
                "local_code",
                "question",
                "standard_system",
                "standard_code",
                "meaning",
            ]
        )
        for hospital, codes in LOCAL_CODES.items():
            for question, answers in ANSWERS.items():
                for meaning, snomed in answers.items():
                    writer.writerow(
                        [local_system(hospital), codes[meaning], question, SNOMED, snomed, meaning]
                    )
    return paths


def write_consents(path: Path, participants: list[Participant], *, seed: int) -> None:
    """NDJSON of Consent from the e-consent portal: a realistic mix, with withdrawals."""

    rng = np.random.default_rng(seed + 13)
    lines = []
    for p in participants:
        roll = rng.random()
        codes, diseases = ["DUO:0000042"], []
        if roll < 0.15:
            codes = ["DUO:0000006"]
        elif roll < 0.30:
            codes, diseases = ["DUO:0000007"], [p.diagnosis.split(".")[0]]
        elif roll < 0.42:
            codes = ["DUO:0000042", "DUO:0000046"]
        given = p.diagnosed + dt.timedelta(days=int(rng.integers(0, 60)))
        recontact = bool(rng.random() < 0.75)
        lines.append(
            make_consent(
                p.id,
                fhir_id=f"consent-{p.id}",
                when=f"{given.isoformat()}T10:00:00+09:00",
                duo=codes,
                diseases=diseases,
                recontact=recontact,
                site=HOSPITALS[p.hospital],
            )
        )
        if rng.random() < 0.05:  # later withdrawal, a new version of the same Consent
            later = given + dt.timedelta(days=int(rng.integers(100, 900)))
            lines.append(
                make_consent(
                    p.id,
                    fhir_id=f"consent-{p.id}",
                    version="2",
                    status="inactive",
                    when=f"{later.isoformat()}T10:00:00+09:00",
                    duo=codes,
                    diseases=diseases,
                    recontact=False,
                    site=HOSPITALS[p.hospital],
                )
            )
    path.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
