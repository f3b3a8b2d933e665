"""The Data Use Ontology (DUO) terms this TRE understands, and how they match a purpose.

A participant's consent lists DUO *permission* terms (what research the data may serve) and
*modifier* terms (conditions such as "non-commercial use only"). A project declares one
*purpose* (a permission term, plus an ICD-10 disease for disease-specific research) and has an
organisation type. :func:`permits` decides whether the consent covers the project.

Unknown codes are an error, never silently ignored: a consent we cannot interpret must not be
read as permissive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from wgs_tre.errors import InvalidInput
from wgs_tre.types import OrgType

__all__ = [
    "DUO_SYSTEM",
    "TERMS",
    "Purpose",
    "TermKind",
    "normalise_icd10",
    "parse_code",
    "permits",
]

DUO_SYSTEM = "http://purl.obolibrary.org/obo/duo"


class TermKind(StrEnum):
    PERMISSION = "permission"
    MODIFIER = "modifier"


@dataclass(frozen=True)
class Term:
    code: str
    short: str
    label: str
    kind: TermKind


_TERMS = [
    Term("DUO:0000004", "NRES", "no restriction", TermKind.PERMISSION),
    Term("DUO:0000042", "GRU", "general research use", TermKind.PERMISSION),
    Term("DUO:0000006", "HMB", "health or medical or biomedical research", TermKind.PERMISSION),
    Term("DUO:0000007", "DS", "disease specific research", TermKind.PERMISSION),
    Term("DUO:0000011", "POA", "population origins or ancestry research only", TermKind.PERMISSION),
    Term("DUO:0000046", "NCU", "non-commercial use only", TermKind.MODIFIER),
    Term("DUO:0000045", "NPU", "not-for-profit organisation use only", TermKind.MODIFIER),
    Term("DUO:0000018", "NPUNCU", "not-for-profit, non-commercial use only", TermKind.MODIFIER),
    Term("DUO:0000019", "PUB", "publication required", TermKind.MODIFIER),
    Term("DUO:0000021", "IRB", "ethics approval required", TermKind.MODIFIER),
    Term("DUO:0000020", "COL", "collaboration required", TermKind.MODIFIER),
    Term("DUO:0000024", "MOR", "publication moratorium", TermKind.MODIFIER),
    Term("DUO:0000029", "RTN", "return to database or resource", TermKind.MODIFIER),
]
TERMS: dict[str, Term] = {t.code: t for t in _TERMS}
_BY_SHORT = {t.short: t for t in _TERMS}

# Permissions a project may declare as its purpose (NRES describes data, not a use).
PURPOSE_CODES = frozenset({"DUO:0000042", "DUO:0000006", "DUO:0000007", "DUO:0000011"})
# Modifiers that restrict use to academic (not-for-profit, non-commercial) organisations.
_ACADEMIC_ONLY = frozenset({"DUO:0000046", "DUO:0000045", "DUO:0000018"})
# Which project purposes each consent permission covers.
_COVERS = {
    "DUO:0000004": PURPOSE_CODES,
    "DUO:0000042": PURPOSE_CODES,
    "DUO:0000006": frozenset({"DUO:0000006", "DUO:0000007"}),
    "DUO:0000007": frozenset({"DUO:0000007"}),
    "DUO:0000011": frozenset({"DUO:0000011"}),
}


def parse_code(value: str, *, where: str = "") -> str:
    """Accept ``DUO:0000042``, ``DUO_0000042`` or a short name (``GRU``); return the CURIE."""
    text = value.strip()
    curie = text.upper().replace("_", ":")
    if curie in TERMS:
        return curie
    if text.upper() in _BY_SHORT:
        return _BY_SHORT[text.upper()].code
    known = ", ".join(f"{t.code} ({t.short})" for t in _TERMS)
    raise InvalidInput(where, f"unknown DUO code {value!r}; known codes: {known}")


def normalise_icd10(code: str, *, where: str = "") -> str:
    """ICD-10 codes compare by prefix (``C50`` covers ``C50.9``, ``C5`` ``C50``-``C59``, ``C``
    every C code); dots and case are ignored. A code is a chapter letter, then the category's two
    digits, then up to four characters of subcategory (ICD-10-CM's longest); a prefix of it
    stops after the letter or the first digit."""
    norm = code.strip().upper().replace(".", "")
    if not re.fullmatch(r"[A-Z]([0-9]([0-9][0-9A-Z]{0,4})?)?", norm):
        raise InvalidInput(
            where, f"not an ICD-10 code: {code!r} (a letter and two digits, e.g. C34 or C34.1)"
        )
    return norm


@dataclass(frozen=True)
class Purpose:
    """A project's declared use: a DUO permission code, and a disease when it is ``DS``."""

    code: str
    disease: str | None = None

    @classmethod
    def parse(cls, code: str, disease: str | None = None, *, where: str = "") -> Purpose:
        curie = parse_code(code, where=where)
        if curie not in PURPOSE_CODES:
            valid = ", ".join(f"{c} ({TERMS[c].short})" for c in sorted(PURPOSE_CODES))
            raise InvalidInput(where, f"{curie} is not a research purpose; use one of {valid}")
        if curie == "DUO:0000007":
            if not disease:
                raise InvalidInput(where, "disease-specific research (DS) needs an ICD-10 disease")
            return cls(curie, normalise_icd10(disease, where=where))
        if disease:
            raise InvalidInput(where, f"a disease only applies to DS purposes, not {curie}")
        return cls(curie, None)

    def __str__(self) -> str:
        short = TERMS[self.code].short
        return (
            f"{self.code} ({short}: {self.disease})" if self.disease else f"{self.code} ({short})"
        )


def permits(
    permissions: frozenset[str],
    modifiers: frozenset[str],
    diseases: frozenset[str],
    purpose: Purpose,
    org_type: OrgType,
) -> bool:
    """Does a consent (its permission and modifier codes, DS diseases) cover this use?"""
    if modifiers & _ACADEMIC_ONLY and org_type is not OrgType.ACADEMIC:
        return False
    for code in permissions:
        if purpose.code not in _COVERS.get(code, frozenset()):
            continue
        if code != "DUO:0000007":
            return True
        # A disease-specific consent covers a DS project whose disease falls under one of its own.
        if purpose.disease and any(purpose.disease.startswith(d) for d in diseases):
            return True
    return False
