"""Somatic (tumour) findings in tiers: the AMP/ASCO/CAP 2017 four tiers (Li et al., J Mol Diagn
19:4), from the evidence level of a variant's protein change in the case's tumour type.

==========  ============================================================================
tier        when
==========  ============================================================================
Tier I      level A or B evidence for this tumour type (an approved therapy or guideline;
            well-powered studies with expert consensus)
Tier II     level C or D: evidence in another tumour type, or preclinical / case reports
Tier III    no evidence known here, and not synonymous: unknown significance
Tier IV     synonymous: benign or likely benign
==========  ============================================================================

The evidence table (:data:`EVIDENCE`) is this programme's own, written for the synthetic
cohort's hotspots: illustrative of how a knowledge base is consulted, not clinical guidance.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["EVIDENCE", "Tier", "tier"]

RULES_VERSION = "amp-asco-cap-2017/wgs-tre-1"


class Tier(StrEnum):
    I = "Tier I"  # noqa: E741 - the guideline's name
    II = "Tier II"
    III = "Tier III"
    IV = "Tier IV"


# (gene, protein change) -> tumour type (ICD-10 category, "*" for any other) -> evidence level
EVIDENCE: dict[tuple[str, str], dict[str, str]] = {
    ("EGFR", "p.Leu858Arg"): {"C34": "A", "*": "C"},
    ("KRAS", "p.Gly12Cys"): {"C34": "A", "C18": "A", "*": "C"},
    ("KRAS", "p.Gly12Asp"): {"*": "D"},
    ("KRAS", "p.Gly12Val"): {"*": "D"},
    ("BRAF", "p.Val600Glu"): {"C34": "A", "C18": "A", "*": "C"},
    ("PIK3CA", "p.His1047Arg"): {"C50": "A", "*": "C"},
    ("PIK3CA", "p.Glu545Lys"): {"C50": "A", "*": "C"},
    ("TP53", "p.Arg273His"): {"*": "D"},
    ("TP53", "p.Arg175His"): {"*": "D"},
}
LEVELS = {
    "A": "an approved therapy or professional guideline for this tumour type",
    "B": "well-powered studies with consensus for this tumour type",
    "C": "an approved therapy for another tumour type, or trials",
    "D": "preclinical studies or case reports",
}


def tier(
    gene: str, consequence: str, protein: str | None, diagnosis: str
) -> tuple[Tier, list[dict[str, str]]]:
    """The tier of one somatic variant in a tumour of ``diagnosis`` (ICD-10), and its evidence."""
    levels = EVIDENCE.get((gene, protein or ""), {})
    level = levels.get(diagnosis[:3]) or levels.get("*")
    if level is not None:
        found = Tier.I if level in "AB" else Tier.II
        where = "this tumour type" if diagnosis[:3] in levels else "another tumour type"
        why = f"{gene} {protein}: level {level} ({LEVELS[level]}; known for {where})"
        return found, [{"code": f"AMP level {level}", "strength": found.value, "why": why}]
    if consequence == "synonymous_variant":
        return Tier.IV, [{"code": "synonymous", "strength": Tier.IV.value, "why": "synonymous"}]
    return Tier.III, [{"code": "no evidence", "strength": Tier.III.value,
                       "why": f"{consequence} with no known evidence"}]  # fmt: skip
