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
# DUO terms as consents list them (GRU, HMB, ... above are project purposes).
NRES_C, GRU_C, HMB_C = "DUO:0000004", "DUO:0000042", "DUO:0000006"
DS_C, POA_C = "DUO:0000007", "DUO:0000011"
NCU, NPU, NPUNCU = "DUO:0000046", "DUO:0000045", "DUO:0000018"  # academic use only
PUB, IRB = "DUO:0000019", "DUO:0000021"  # conditions that do not restrict who may use
# Every instant is on this grid, so that ``at`` often falls exactly on a window's bounds.
days = st.integers(0, 15).map(lambda d: BASE + dt.timedelta(days=d))
maybe_day = st.none() | days


def some_of(codes: list[str], min_size: int = 0) -> st.SearchStrategy[frozenset[str]]:
    return st.frozensets(st.sampled_from(codes), min_size=min_size, max_size=3)


consent_permissions = some_of([NRES_C, GRU_C, HMB_C, DS_C, POA_C], min_size=1)
consent_modifiers = some_of([NCU, NPU, NPUNCU, PUB, IRB])
consent_diseases = some_of(["C", "C50", "C509", "C34", "E", "E11"])
versions = st.builds(
    Version,
    recorded=days,
    status=st.sampled_from(["active"] * 4 + ["inactive", "entered-in-error", "draft"]),
    withdrawn=st.sampled_from([False, False, False, True]),
    permissions=consent_permissions,
    modifiers=consent_modifiers,
    diseases=consent_diseases,
    valid_from=maybe_day,
    valid_until=maybe_day,
)
DS_LUNG, DS_DIABETES = duo.Purpose.parse("DS", "C34"), duo.Purpose.parse("DS", "E11")
purposes = st.sampled_from([GRU, HMB, POA, DS_C50, DS_LUNG, DS_DIABETES])

# The ICD-10 codes (as consented) each project disease falls under, written out by hand.
FALLS_UNDER = {"C509": {"C", "C50", "C509"}, "C34": {"C", "C34"}, "E11": {"E", "E11"}}


def reference_covers(permission: str, diseases: frozenset[str], purpose: duo.Purpose) -> bool:
    """One DUO permission term read from its definition: NRES and GRU allow any research; HMB
    health research, which includes disease-specific research but not ancestry-only studies;
    DS only research on a disease the consent names (or one under it); POA ancestry only."""
    if permission in (NRES_C, GRU_C):
        return True
    if permission == HMB_C:
        return purpose in (HMB, DS_C50, DS_LUNG, DS_DIABETES)
    if permission == POA_C:
        return purpose == POA
    assert permission == DS_C
    return purpose.disease is not None and bool(diseases & FALLS_UNDER[purpose.disease])


def reference_matches(
    permissions: frozenset[str],
    modifiers: frozenset[str],
    diseases: frozenset[str],
    purpose: duo.Purpose,
    org: OrgType,
) -> bool:
    """An NCU/NPU/NPUNCU modifier admits academic users only; then one of the permissions, each
    read on its own, must cover the purpose."""
    if modifiers & {NCU, NPU, NPUNCU} and org is not AC:
        return False
    return any(reference_covers(p, diseases, purpose) for p in permissions)


def reference_allows(history: list[Version], at: dt.datetime, purpose, org) -> bool:  # type: ignore[no-untyped-def]
    """Written plainly from the rules: the newest version recorded by ``at`` (the later import
    on a tie), skipping entered-in-error, must be active, not withdrawn and valid at ``at``
    (FHIR periods include both bounds), and match the use."""
    usable = [(v.recorded, i, v) for i, v in enumerate(history)]
    usable = [t for t in usable if t[2].status != "entered-in-error" and t[0] <= at]
    if not usable:
        return False
    newest = max(usable, key=lambda t: (t[0], t[1]))[2]
    if newest.status != "active" or newest.withdrawn:
        return False
    if newest.valid_from is not None and not newest.valid_from <= at:
        return False
    if newest.valid_until is not None and not at <= newest.valid_until:
        return False
    return reference_matches(newest.permissions, newest.modifiers, newest.diseases, purpose, org)


@settings(max_examples=500, deadline=None)
@given(
    permissions=consent_permissions,
    modifiers=consent_modifiers,
    diseases=consent_diseases,
    purpose=purposes,
    org=st.sampled_from(list(OrgType)),
)
def test_duo_matching_agrees_with_the_definitions(
    permissions: frozenset[str],
    modifiers: frozenset[str],
    diseases: frozenset[str],
    purpose: duo.Purpose,
    org: OrgType,
) -> None:
    got = duo.permits(permissions, modifiers, diseases, purpose, org)
    assert got is reference_matches(permissions, modifiers, diseases, purpose, org)


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Version], dt.datetime]:
    """A consent history and a time to ask at: mostly one of its own instants (a window's
    bound, a recording time), where an off-by-one would show."""
    history = draw(st.lists(versions, max_size=4))
    instants = {v.recorded for v in history}
    instants |= {t for v in history for t in (v.valid_from, v.valid_until) if t is not None}
    own = st.sampled_from(sorted(instants)) if instants else days
    return history, draw(st.one_of(own, own, own, days))


@settings(max_examples=600, deadline=None)
@given(case=histories(), purpose=purposes, org=st.sampled_from(list(OrgType)))
def test_latest_consent_wins(case, purpose, org) -> None:  # type: ignore[no-untyped-def]
    history, at = case
    chosen = latest_at(history, at)
    assert permits_use(chosen, purpose, org, at) is reference_allows(history, at, purpose, org)


def test_a_validity_window_includes_both_bounds() -> None:
    """FHIR ``Period``: start and end are both inclusive."""
    start, end = BASE + dt.timedelta(days=10), BASE + dt.timedelta(days=20)
    version = Version(BASE, "active", False, valid_from=start, valid_until=end)
    tick = dt.timedelta(microseconds=1)
    assert not permits_use(version, GRU, AC, start - tick)
    assert permits_use(version, GRU, AC, start)
    assert permits_use(version, GRU, AC, end)
    assert not permits_use(version, GRU, AC, end + tick)


def test_any_one_of_several_permissions_suffices() -> None:
    """A consent for ancestry studies and breast cancer research covers each of the two, but
    neither lung cancer nor general research."""
    version = Version(
        BASE, "active", False, permissions=frozenset({POA_C, DS_C}), diseases=frozenset({"C50"})
    )
    assert permits_use(version, POA, AC, BASE)
    assert permits_use(version, DS_C50, AC, BASE)
    assert not permits_use(version, DS_LUNG, AC, BASE)
    assert not permits_use(version, GRU, AC, BASE)
