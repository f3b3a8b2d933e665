"""Writing FHIR R4 Consent resources in the shape the registry reads (see ``fhir.py``).

Used by the synthetic cohort, the walkthrough and the tests, so that all three speak the same
dialect as a hospital system feeding the registry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from wgs_tre.consent.fhir import ICD10_SYSTEM, OPTION_SYSTEM, SCOPE_SYSTEM
from wgs_tre.duo import DUO_SYSTEM

__all__ = ["make_bundle", "make_consent"]


def make_consent(
    participant: str,
    *,
    fhir_id: str | None = None,
    version: str = "1",
    when: str = "2024-01-01T09:00:00+09:00",
    status: str = "active",
    duo: Sequence[str] = ("DUO:0000042",),
    diseases: Sequence[str] = (),
    recontact: bool | None = True,
    provision_type: str = "permit",
    period: tuple[str | None, str | None] | None = None,
    site: str | None = None,
) -> dict[str, Any]:
    """A research Consent for ``Patient/<participant>`` permitting the ``duo`` codes."""
    provision: dict[str, Any] = {
        "type": provision_type,
        "purpose": [{"system": DUO_SYSTEM, "code": code} for code in duo],
    }
    if diseases:
        provision["code"] = [{"coding": [{"system": ICD10_SYSTEM, "code": c}]} for c in diseases]
    if recontact is not None:
        provision["provision"] = [
            {
                "type": "permit" if recontact else "deny",
                "code": [{"coding": [{"system": OPTION_SYSTEM, "code": "recontact"}]}],
            }
        ]
    if period:
        provision["period"] = {k: v for k, v in zip(("start", "end"), period, strict=True) if v}
    consent: dict[str, Any] = {
        "resourceType": "Consent",
        "id": fhir_id or f"c-{participant}-{version}",
        "meta": {"versionId": version},
        "status": status,
        "scope": {"coding": [{"system": SCOPE_SYSTEM, "code": "research"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "57016-8"}]}],
        "patient": {"reference": f"Patient/{participant}"},
        "dateTime": when,
        "policyRule": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}
            ]
        },
        "provision": provision,
    }
    if site:  # the organisation that took the consent: the steward dashboard counts by it
        consent["organization"] = [{"reference": f"Organization/{site}", "display": site}]
    return consent


def make_bundle(resources: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A FHIR ``collection`` Bundle of the given resources."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }
