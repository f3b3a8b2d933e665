"""DUO matching against expectations written from the ontology's definitions, and the
latest-consent-wins rule against a plain reference under random histories."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wgs_tre import duo
from wgs_tre.consent.rules import latest_at, permits_use
from wgs_tre.errors import InvalidInput
from wgs_tre.types import OrgType

AC, IN, DP = OrgType.ACADEMIC, OrgType.INDUSTRY, OrgType.DATA_PROVIDER
GRU, HMB, POA = duo.Purpose.parse("GRU"), duo.Purpose.parse("HMB"), duo.Purpose.parse("POA")
DS_C50 = duo.Purpose.parse("DS", "C50.9")

# (consent permissions, modifiers, diseases) x (purpose, organisation type) -> allowed.
# From DUO: GRU and NRES allow any research; HMB excludes ancestry studies and methods without a
# health aim; DS allows research on the named disease only; POA allows ancestry studies only.
# NCU / NPU / NPUNCU rule out commercial and for-profit organisations.
CASES = [
    ({"DUO:0000004"}, set(), set(), POA, IN, True),
    ({"DUO:0000042"}, set(), set(), GRU, IN, True),
    ({"DUO:0000042"}, set(), set(), DS_C50, DP, True),
    ({"DUO:0000006"}, set(), set(), GRU, AC, False),
    ({"DUO:0000006"}, set(), set(), HMB, AC, True),
    ({"DUO:0000006"}, set(), set(), DS_C50, IN, True),
    ({"DUO:0000006"}, set(), set(), POA, AC, False),
    ({"DUO:0000007"}, set(), {"C50"}, DS_C50, AC, True),
    ({"DUO:0000007"}, set(), {"C"}, DS_C50, AC, True),
    ({"DUO:0000007"}, set(), {"C509"}, duo.Purpose.parse("DS", "C50"), AC, False),
    ({"DUO:0000007"}, set(), {"E11"}, DS_C50, AC, False),
    ({"DUO:0000007"}, set(), {"C50"}, HMB, AC, False),
    ({"DUO:0000011"}, set(), set(), POA, AC, True),
    ({"DUO:0000011"}, set(), set(), HMB, AC, False),
    ({"DUO:0000042"}, {"DUO:0000046"}, set(), GRU, AC, True),
    ({"DUO:0000042"}, {"DUO:0000046"}, set(), GRU, IN, False),
    ({"DUO:0000042"}, {"DUO:0000045"}, set(), GRU, DP, False),
    ({"DUO:0000042"}, {"DUO:0000018"}, set(), GRU, IN, False),
    ({"DUO:0000042"}, {"DUO:0000019", "DUO:0000021"}, set(), GRU, IN, True),
    (set(), set(), set(), GRU, AC, False),
]


@pytest.mark.parametrize(("perms", "mods", "diseases", "purpose", "org", "expected"), CASES)
def test_permits_follows_the_ontology(perms, mods, diseases, purpose, org, expected) -> None:  # type: ignore[no-untyped-def]
    got = duo.permits(frozenset(perms), frozenset(mods), frozenset(diseases), purpose, org)
    assert got is expected


@pytest.mark.parametrize("text", ["GRU", "gru", "DUO:0000042", "DUO_0000042", " duo:0000042 "])
def test_codes_parse_in_their_usual_spellings(text: str) -> None:
    assert duo.parse_code(text) == "DUO:0000042"


@pytest.mark.parametrize(
    ("code", "disease", "message"),
    [
        ("XYZ", None, "unknown DUO code 'XYZ'"),
        ("NCU", None, "is not a research purpose"),
        ("DS", None, "needs an ICD-10 disease"),
        ("GRU", "C50", "only applies to DS"),
        ("DS", "50C", "not an ICD-10 code"),
    ],
)
def test_bad_purposes_are_explained(code: str, disease: str | None, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        duo.Purpose.parse(code, disease)


# -- latest consent wins, under random histories ---------------------------------------------
@dataclass
class Version:
    recorded: dt.datetime
    status: str
    withdrawn: bool
    permissions: frozenset[str] = frozenset({"DUO:0000042"})
    modifiers: frozenset[str] = frozenset()
    diseases: frozenset[str] = frozenset()
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    order: int = field(default=0)


BASE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
days = st.integers(0, 40).map(lambda d: BASE + dt.timedelta(days=d))
versions = st.builds(
    Version,
    recorded=days,
    status=st.sampled_from(["active", "active", "inactive", "entered-in-error", "draft"]),
    withdrawn=st.booleans(),
    permissions=st.sampled_from(
        [frozenset({"DUO:0000042"}), frozenset({"DUO:0000006"}), frozenset({"DUO:0000011"})]
    ),
    modifiers=st.sampled_from([frozenset(), frozenset({"DUO:0000046"})]),
)


def reference_allows(history: list[Version], at: dt.datetime, purpose, org) -> bool:  # type: ignore[no-untyped-def]
    """Written plainly from the rule: the newest version recorded by ``at`` (the later import on a
    tie), skipping entered-in-error, must be active, not withdrawn, and cover the use."""
    usable = [(v.recorded, i, v) for i, v in enumerate(history)]
    usable = [t for t in usable if t[2].status != "entered-in-error" and t[0] <= at]
    if not usable:
        return False
    newest = max(usable, key=lambda t: (t[0], t[1]))[2]
    if newest.status != "active" or newest.withdrawn:
        return False
    covers = {
        "DUO:0000042": {GRU.code, HMB.code, POA.code},
        "DUO:0000006": {HMB.code},
        "DUO:0000011": {POA.code},
    }
    (permission,) = newest.permissions
    if newest.modifiers and org is not AC:
        return False
    return purpose.code in covers[permission]


@settings(max_examples=400, deadline=None)
@given(
    history=st.lists(versions, max_size=6),
    at=days,
    purpose=st.sampled_from([GRU, HMB, POA]),
    org=st.sampled_from(list(OrgType)),
)
def test_latest_consent_wins(history, at, purpose, org) -> None:  # type: ignore[no-untyped-def]
    chosen = latest_at(history, at)
    assert permits_use(chosen, purpose, org, at) is reference_allows(history, at, purpose, org)
