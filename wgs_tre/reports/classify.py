"""Germline variant classification: ACMG/AMP evidence codes and the 2015 combining rules.

What the programme's data can show about a variant is its consequence (``CSQ``), its gene, its
ClinVar-style assertion (``CLNSIG``) and how common it is in the cohort. Each gives evidence
under these rules (Richards et al. 2015, Genet Med 17:405; strength modifiers written the
ClinGen way, ``PP5_Strong``):

=================  ===========  ==========================================================
code               strength     when
=================  ===========  ==========================================================
PVS1               very strong  a null variant (stop gained, frameshift, canonical splice
                                site, start lost) in a gene where loss of function causes
                                disease (:data:`LOSS_OF_FUNCTION_GENES`)
PP5_Strong         strong       the assertion is Pathogenic
PP5_Moderate       moderate     the assertion is Likely pathogenic
PM2                moderate     rare: alternate allele frequency in the cohort <= 0.5 %
                                (the cohort stands in for a population database)
BA1                stand-alone  common: frequency > 5 %
BS1                strong       frequency > 1 % (and <= 5 %)
BP6_Strong         strong       the assertion is Benign
BP6                supporting   the assertion is Likely benign
BP7                supporting   synonymous
=================  ===========  ==========================================================

The codes are combined by the 2015 rules (:func:`combine`): pathogenic and benign evidence that
both reach a class make the variant a VUS, as does evidence reaching neither. Intronic variants
are not classified (no evidence applies to them here).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "LOSS_OF_FUNCTION_GENES",
    "NULL_CONSEQUENCES",
    "RULES_VERSION",
    "AcmgClass",
    "Evidence",
    "Strength",
    "classify",
    "combine",
    "evidence_for",
]

RULES_VERSION = "acmg-2015/wgs-tre-1"
RARE = 0.005
COMMON = 0.05
MORE_THAN_EXPECTED = 0.01

NULL_CONSEQUENCES = frozenset(
    {
        "stop_gained",
        "frameshift_variant",
        "splice_acceptor_variant",
        "splice_donor_variant",
        "start_lost",
    }
)
# Genes among the cohort's whose disease mechanism is loss of function (tumour suppressors,
# mismatch repair, recessive enzyme deficiencies). KRAS and EGFR (gain of function) and genes
# where dominant-negative missense is the mechanism (FBN1, COL1A1, MYH7, SCN5A) are not.
_LOSS_OF_FUNCTION = """BRCA1 BRCA2 TP53 APC MLH1 MSH2 PTEN ATM CHEK2 PALB2 CDH1 STK11 SMAD4 NF1 RB1
VHL MUTYH PMS2 CFTR DMD GBA1 HEXA SMN1 PAH"""
LOSS_OF_FUNCTION_GENES = frozenset(_LOSS_OF_FUNCTION.split())


class Strength(StrEnum):
    VERY_STRONG = "very strong"
    STRONG = "strong"
    MODERATE = "moderate"
    SUPPORTING = "supporting"
    STAND_ALONE = "stand-alone"


class AcmgClass(StrEnum):
    PATHOGENIC = "Pathogenic"
    LIKELY_PATHOGENIC = "Likely pathogenic"
    UNCERTAIN = "Uncertain significance"
    LIKELY_BENIGN = "Likely benign"
    BENIGN = "Benign"


@dataclass(frozen=True)
class Evidence:
    code: str
    strength: Strength
    benign: bool
    why: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "strength": self.strength.value, "why": self.why}


_ASSERTIONS = {
    "Pathogenic": ("PP5_Strong", Strength.STRONG, False),
    "Likely_pathogenic": ("PP5_Moderate", Strength.MODERATE, False),
    "Benign": ("BP6_Strong", Strength.STRONG, True),
    "Likely_benign": ("BP6", Strength.SUPPORTING, True),
}


def evidence_for(
    gene: str, consequence: str, assertion: str | None, frequency: float
) -> list[Evidence]:
    """The evidence codes that apply to one variant (see the module's table)."""
    found: list[Evidence] = []
    if consequence in NULL_CONSEQUENCES and gene in LOSS_OF_FUNCTION_GENES:
        found.append(
            Evidence(
                "PVS1",
                Strength.VERY_STRONG,
                False,
                f"{consequence} in {gene}, where loss of function causes disease",
            )
        )
    if assertion in _ASSERTIONS:
        code, strength, benign = _ASSERTIONS[assertion]
        found.append(Evidence(code, strength, benign, f"asserted {assertion.replace('_', ' ')}"))
    if frequency > COMMON:
        found.append(
            Evidence(
                "BA1",
                Strength.STAND_ALONE,
                True,
                f"allele frequency {frequency:.2%} > {COMMON:.0%}",
            )
        )
    elif frequency > MORE_THAN_EXPECTED:
        found.append(
            Evidence(
                "BS1",
                Strength.STRONG,
                True,
                f"allele frequency {frequency:.2%} > {MORE_THAN_EXPECTED:.0%}",
            )
        )
    elif frequency <= RARE:
        found.append(
            Evidence(
                "PM2",
                Strength.MODERATE,
                False,
                f"rare: allele frequency {frequency:.2%} <= {RARE:.1%}",
            )
        )
    if consequence == "synonymous_variant":
        found.append(Evidence("BP7", Strength.SUPPORTING, True, "synonymous"))
    return found


def _pathogenic(n: Counter[Strength]) -> AcmgClass | None:
    vs, s, m, p = (
        n[Strength.VERY_STRONG],
        n[Strength.STRONG],
        n[Strength.MODERATE],
        n[Strength.SUPPORTING],
    )
    if (
        (vs >= 1 and (s >= 1 or m >= 2 or (m >= 1 and p >= 1) or p >= 2))
        or s >= 2
        or (s >= 1 and (m >= 3 or (m >= 2 and p >= 2) or (m >= 1 and p >= 4)))
    ):
        return AcmgClass.PATHOGENIC
    if (
        (vs >= 1 and m >= 1)
        or (s >= 1 and m >= 1)
        or (s >= 1 and p >= 2)
        or m >= 3
        or (m >= 2 and p >= 2)
        or (m >= 1 and p >= 4)
    ):
        return AcmgClass.LIKELY_PATHOGENIC
    return None


def _benign(n: Counter[Strength]) -> AcmgClass | None:
    if n[Strength.STAND_ALONE] >= 1 or n[Strength.STRONG] >= 2:
        return AcmgClass.BENIGN
    if (n[Strength.STRONG] >= 1 and n[Strength.SUPPORTING] >= 1) or n[Strength.SUPPORTING] >= 2:
        return AcmgClass.LIKELY_BENIGN
    return None


def combine(evidence: Iterable[Evidence]) -> AcmgClass:
    """The class the 2015 rules give: pathogenic and benign evidence are tallied apart."""
    codes = list(evidence)
    pathogenic = _pathogenic(Counter(e.strength for e in codes if not e.benign))
    benign = _benign(Counter(e.strength for e in codes if e.benign))
    if pathogenic and benign:
        return AcmgClass.UNCERTAIN  # conflicting evidence
    return pathogenic or benign or AcmgClass.UNCERTAIN


def classify(
    gene: str, consequence: str, assertion: str | None, frequency: float
) -> tuple[AcmgClass, list[Evidence]]:
    evidence = evidence_for(gene, consequence, assertion, frequency)
    return combine(evidence), evidence
