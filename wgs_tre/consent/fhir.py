"""Reading FHIR R4 ``Consent`` resources into consent facts.

Accepted files: a JSON Bundle or a single JSON Consent; NDJSON with one Consent or Bundle per
line. Each Consent is validated against the official model (``fhir.resources``, R4B, whose
Consent is R4's) and then read strictly; anything we cannot interpret is an error naming the file,
the line or entry, and the field, never silently taken as permission:

* ``status``: ``active`` is in force; ``inactive`` and ``rejected`` mean withdrawn or refused;
  ``entered-in-error`` records are kept but ignored; ``draft``/``proposed`` grant nothing.
* ``scope`` must be research; ``patient`` must be ``Patient/<id>``; ``dateTime`` is required.
* the top ``provision``: ``type`` permit (or deny = withdrawal); ``purpose`` codings from DUO
  give permissions and modifiers; ``code`` codings from ICD-10 give the diseases of DS consent;
  ``period`` bounds validity, both ends included (an end date includes that whole day).
* one nested provision may carry the recontact preference (code ``recontact`` of
  :data:`OPTION_SYSTEM`; permit = yes, deny = no).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fhir.resources.R4B.consent import Consent
from pydantic import ValidationError

from wgs_tre import duo
from wgs_tre.errors import InvalidInput
from wgs_tre.fhirio import read_resources

__all__ = ["ICD10_SYSTEM", "OPTION_SYSTEM", "ConsentFacts", "read_consents"]

ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10"
OPTION_SYSTEM = "https://wgs-tre.org/fhir/CodeSystem/consent-option"
SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
_WITHDRAWN_STATUSES = {"inactive", "rejected"}
# FHIR R4 ConsentState value set (fhir.resources checks only that it is a code).
_STATUSES = ("draft", "proposed", "active", "rejected", "inactive", "entered-in-error")


@dataclass(frozen=True)
class ConsentFacts:
    """What one Consent resource says, in the registry's terms."""

    participant: str
    fhir_id: str
    fhir_version: str
    recorded: dt.datetime
    status: str
    withdrawn: bool
    permissions: frozenset[str]
    modifiers: frozenset[str]
    diseases: frozenset[str]
    recontact: bool | None
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None
    resource: dict[str, Any]
    where: str


def _utc(value: Any, where: str, field: str, *, end: bool = False) -> dt.datetime:
    """A FHIR dateTime as a UTC instant; a bare date is its first instant, or its last for the
    ``end`` of a period (FHIR: a period's end includes every time on its end date)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise InvalidInput(where, f"{field}: a time zone is required")
        return value.astimezone(dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time.max if end else dt.time(), tzinfo=dt.UTC)
    raise InvalidInput(where, f"{field}: not a date-time")


def _validate(resource: dict[str, Any], where: str) -> Consent:
    try:
        return Consent.model_validate(resource)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(resource)"
        raise InvalidInput(where, f"invalid Consent: {field}: {first['msg']}") from None


def _codings(concepts: list[Any] | None) -> Iterator[Any]:
    for concept in concepts or []:
        yield from concept.coding or []


def _scope_is_research(consent: Consent) -> bool:
    return any(c.code == "research" for c in consent.scope.coding or [])


def _recontact(provision: Any, where: str) -> bool | None:
    preference = None
    for index, nested in enumerate(provision.provision or []):
        codes = [(c.system, c.code) for c in _codings(nested.code)]
        if codes != [(OPTION_SYSTEM, "recontact")]:
            raise InvalidInput(
                where,
                f"provision.provision[{index}]: only a recontact preference "
                f"({OPTION_SYSTEM}|recontact) may be nested",
            )
        preference = nested.type != "deny"
    return preference


def interpret(resource: dict[str, Any], where: str) -> ConsentFacts:
    """Validate one Consent resource and read it; raise :class:`InvalidInput` if we cannot."""
    consent = _validate(resource, where)
    label = f"{where} (Consent/{consent.id})" if consent.id else where
    if not consent.id:
        raise InvalidInput(where, "Consent.id is required")
    if consent.status not in _STATUSES:
        allowed = ", ".join(_STATUSES)
        raise InvalidInput(label, f"status: {consent.status!r} is not one of {allowed}")
    if not _scope_is_research(consent):
        raise InvalidInput(label, "scope: only research consents belong in this registry")
    reference = consent.patient.reference if consent.patient else None
    if not reference or not reference.startswith("Patient/") or reference == "Patient/":
        raise InvalidInput(label, "patient: a reference of the form Patient/<id> is required")
    if consent.dateTime is None:
        raise InvalidInput(label, "dateTime: when the consent was given is required")
    provision = consent.provision
    if provision is None:
        raise InvalidInput(label, "provision: the permitted uses are required")
    permissions: set[str] = set()
    modifiers: set[str] = set()
    for index, coding in enumerate(provision.purpose or []):
        field = f"provision.purpose[{index}]"
        if coding.system != duo.DUO_SYSTEM:
            raise InvalidInput(label, f"{field}: system must be {duo.DUO_SYSTEM}")
        code = duo.parse_code(coding.code or "", where=f"{label} {field}")
        kind = duo.TERMS[code].kind
        (permissions if kind is duo.TermKind.PERMISSION else modifiers).add(code)
    diseases = {
        duo.normalise_icd10(c.code or "", where=f"{label} provision.code")
        for c in _codings(provision.code)
        if c.system == ICD10_SYSTEM
    }
    withdrawn = consent.status in _WITHDRAWN_STATUSES or provision.type == "deny"
    if consent.status == "active" and not withdrawn and not permissions:
        raise InvalidInput(label, "provision.purpose: a permit names no DUO permission")
    if "DUO:0000007" in permissions and not diseases:
        raise InvalidInput(label, f"provision.code: DS consent needs an ICD-10 ({ICD10_SYSTEM})")
    period = provision.period
    meta_version = consent.meta.versionId if consent.meta else None
    return ConsentFacts(
        participant=reference.removeprefix("Patient/"),
        fhir_id=consent.id,
        fhir_version=meta_version or "1",
        recorded=_utc(consent.dateTime, label, "dateTime"),
        status=str(consent.status),
        withdrawn=withdrawn,
        permissions=frozenset(permissions),
        modifiers=frozenset(modifiers),
        diseases=frozenset(diseases),
        recontact=_recontact(provision, label),
        valid_from=_utc(period.start, label, "provision.period.start")
        if period and period.start
        else None,
        valid_until=_utc(period.end, label, "provision.period.end", end=True)
        if period and period.end
        else None,
        resource=resource,
        where=label,
    )


def read_consents(path: Path, data: bytes) -> list[ConsentFacts]:
    """Every Consent in a file, validated and interpreted; the first problem raises."""
    facts: list[ConsentFacts] = []
    seen: dict[tuple[str, str], str] = {}
    for resource, location in read_resources(path, data):
        kind = resource.get("resourceType")
        if kind != "Consent":
            if " entry[" not in location:  # other resources are skipped only inside Bundles
                raise InvalidInput(location, f"expected a Consent or a Bundle, found {kind}")
            continue
        fact = interpret(resource, location)
        key = (fact.fhir_id, fact.fhir_version)
        if key in seen:
            raise InvalidInput(
                fact.where,
                f"Consent/{fact.fhir_id} version {fact.fhir_version} also at {seen[key]}",
            )
        seen[key] = fact.where
        facts.append(fact)
    if not facts:
        raise InvalidInput(path.name, "holds no Consent resources")
    return facts
