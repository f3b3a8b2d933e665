"""The classification rules written down in wgs_tre.reports.classify, case by case: which
evidence each kind of variant gets, and what every combining rule of the 2015 guideline gives
(expected values worked out by hand from the module's table and Richards et al., Table 5); and
the somatic tiers of wgs_tre.reports.somatic for each kind of tumour variant."""

from __future__ import annotations

import pytest

from wgs_tre.reports.classify import AcmgClass, Evidence, Strength, classify, combine
from wgs_tre.reports.somatic import Tier, tier

P, LP, VUS = AcmgClass.PATHOGENIC, AcmgClass.LIKELY_PATHOGENIC, AcmgClass.UNCERTAIN
LB, B = AcmgClass.LIKELY_BENIGN, AcmgClass.BENIGN

VARIANTS = [
    # gene, consequence, assertion, frequency -> codes, class
    ("BRCA2", "stop_gained", "Pathogenic", 0.002, ["PVS1", "PP5_Strong", "PM2"], P),
    ("BRCA2", "stop_gained", None, 0.002, ["PVS1", "PM2"], LP),
    ("KRAS", "stop_gained", None, 0.002, ["PM2"], VUS),  # gain of function: no PVS1
    ("TP53", "missense_variant", "Pathogenic", 0.003, ["PP5_Strong", "PM2"], LP),
    ("TP53", "missense_variant", "Likely_pathogenic", 0.003, ["PP5_Moderate", "PM2"], VUS),
    ("APC", "missense_variant", "Benign", 0.03, ["BP6_Strong", "BS1"], B),
    ("APC", "synonymous_variant", None, 0.2, ["BA1", "BP7"], B),
    ("APC", "synonymous_variant", "Likely_benign", 0.008, ["BP6", "BP7"], LB),
    ("BRCA1", "stop_gained", "Pathogenic", 0.03, ["PVS1", "PP5_Strong", "BS1"], P),
    ("BRCA1", "stop_gained", "Pathogenic", 0.2, ["PVS1", "PP5_Strong", "BA1"], VUS),  # conflict
    ("MLH1", "missense_variant", None, 0.008, [], VUS),  # no evidence either way
    ("CFTR", "splice_region_variant", "Likely_benign", 0.02, ["BP6", "BS1"], LB),
    ("PAH", "frameshift_variant", "Likely_pathogenic", 0.001, ["PVS1", "PP5_Moderate", "PM2"], P),
    ("DMD", "missense_variant", "Uncertain_significance", 0.005, ["PM2"], VUS),  # 0.5%: rare
    ("DMD", "missense_variant", None, 0.01, [], VUS),  # 1% is not more than 1%
    ("DMD", "missense_variant", None, 0.05, ["BS1"], VUS),  # 5% is not more than 5%
]


FIELDS = ("gene", "consequence", "assertion", "frequency", "codes", "expected")


@pytest.mark.parametrize(FIELDS, VARIANTS, ids=[f"{v[0]}-{v[1]}-{v[2]}-{v[3]}" for v in VARIANTS])
def test_each_kind_of_variant_gets_the_evidence_and_class_of_the_table(
    gene: str,
    consequence: str,
    assertion: str | None,
    frequency: float,
    codes: list[str],
    expected: AcmgClass,
) -> None:
    found, evidence = classify(gene, consequence, assertion, frequency)
    assert [e.code for e in evidence] == codes
    assert found is expected


def _evidence(spec: str) -> list[Evidence]:
    """'VS S M M P' -> pathogenic evidence of those strengths; 'BA BS BP' -> benign."""
    strengths = {"VS": (Strength.VERY_STRONG, False), "S": (Strength.STRONG, False),
                 "M": (Strength.MODERATE, False), "P": (Strength.SUPPORTING, False),
                 "BA": (Strength.STAND_ALONE, True), "BS": (Strength.STRONG, True),
                 "BP": (Strength.SUPPORTING, True)}  # fmt: skip
    return [Evidence(code, *strengths[code], "test") for code in spec.split()]


COMBINATIONS = {
    # Pathogenic (i) to (iii)
    "VS S": P, "VS M M": P, "VS M P": P, "VS P P": P, "S S": P,
    "S M M M": P, "S M M P P": P, "S M P P P P": P,
    # Likely pathogenic (i) to (vi)
    "VS M": LP, "S M": LP, "S M M": LP, "S P P": LP, "M M M": LP, "M M P P": LP,
    "M P P P P": LP,
    # Not enough for either
    "VS": VUS, "VS P": VUS, "S": VUS, "S P": VUS, "M M": VUS, "M P P P": VUS, "": VUS,
    # Benign and likely benign
    "BA": B, "BS BS": B, "BS BP": LB, "BP BP": LB, "BS": VUS, "BP": VUS,
    # Conflicting: both sides reach a class
    "VS S BP BP": VUS, "S M BA": VUS, "M M M BS BS": VUS,
    # One side short of a class does not make a conflict
    "VS S BS": P, "BS BS M": B,
}  # fmt: skip


@pytest.mark.parametrize(("spec", "expected"), COMBINATIONS.items(), ids=list(COMBINATIONS))
def test_each_combining_rule(spec: str, expected: AcmgClass) -> None:
    assert combine(_evidence(spec)) is expected


TIERS = [
    # gene, consequence, protein, tumour (ICD-10) -> tier, evidence code
    ("EGFR", "missense_variant", "p.Leu858Arg", "C34", Tier.I, "AMP level A"),  # this tumour
    ("EGFR", "missense_variant", "p.Leu858Arg", "C18", Tier.II, "AMP level C"),  # another one
    ("KRAS", "missense_variant", "p.Gly12Cys", "C18", Tier.I, "AMP level A"),
    ("KRAS", "missense_variant", "p.Gly12Cys", "C25", Tier.II, "AMP level C"),
    ("KRAS", "missense_variant", "p.Gly12Asp", "C25", Tier.II, "AMP level D"),
    ("PIK3CA", "missense_variant", "p.His1047Arg", "C50", Tier.I, "AMP level A"),
    ("TP53", "missense_variant", "p.Arg175His", "C61", Tier.II, "AMP level D"),
    ("TP53", "missense_variant", "p.Arg248Gln", "C61", Tier.III, "no evidence"),  # not known
    ("KRAS", "missense_variant", None, "C34", Tier.III, "no evidence"),  # a passenger
    ("BRAF", "synonymous_variant", None, "C34", Tier.IV, "synonymous"),
]


@pytest.mark.parametrize(("gene", "consequence", "protein", "tumour", "expected", "code"), TIERS,
                         ids=[f"{t[0]}-{t[2]}-{t[3]}" for t in TIERS])  # fmt: skip
def test_each_somatic_variant_gets_the_tier_of_the_table(
    gene: str, consequence: str, protein: str | None, tumour: str, expected: Tier, code: str
) -> None:
    found, evidence = tier(gene, consequence, protein, tumour)
    assert (found, [e["code"] for e in evidence]) == (expected, [code])
