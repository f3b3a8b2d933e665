"""Disease codes of DS purposes: the ICD-10 shape, written out here from the classification's
structure (chapter letter, two-digit category, subcategory), not from the implementation."""

from __future__ import annotations

import pytest

from wgs_tre.duo import normalise_icd10
from wgs_tre.errors import InvalidInput


@pytest.mark.parametrize(
    ("given", "normalised"),
    [("C50", "C50"), ("c50.9", "C509"), ("C34.1", "C341"), ("U07.1", "U071"), ("C", "C"),
     ("C5", "C5"), ("E11.65", "E1165"), ("S72.001A", "S72001A"), (" I10 ", "I10")],
)  # fmt: skip
def test_icd10_codes_and_prefixes_are_accepted(given: str, normalised: str) -> None:
    assert normalise_icd10(given) == normalised


@pytest.mark.parametrize(
    "given", ["ZZZ", "50C", "CC50", "C5A", "C50.12345", "", "C-50", "1", "C50 9"]
)
def test_what_is_not_icd10_is_refused_with_an_example(given: str) -> None:
    with pytest.raises(InvalidInput, match=r"not an ICD-10 code: .*e\.g\. C34"):
        normalise_icd10(given, where="--disease")
