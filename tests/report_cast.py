"""Hospitals, their expert panels and cases, added to a test World through the real operations."""

from __future__ import annotations

import itertools
from typing import Any

from tests.world import ADMIN, World
from wgs_tre.governance import cases, users
from wgs_tre.governance.cases import CaseEntry
from wgs_tre.types import OrgType, ReportState, Role

HOSPITALS = ("hospital-a", "hospital-b")
PANEL = {"kenji": "hospital-a", "hana": "hospital-b"}  # expert panel members, by hospital
# participant -> (hospital, the hospital's own patient id, ICD-10 diagnosis)
CASES = {
    "P000001": ("hospital-a", "MRN-A-0001", "C34"),
    "P000002": ("hospital-a", "MRN-A-0002", "Q87.4"),
    "P000003": ("hospital-b", "MRN-B-0003", "C50"),
}


def add_hospitals(world: World) -> None:
    admin = world.ctx(ADMIN)
    for hospital in HOSPITALS:
        users.create_organisation(admin, hospital, OrgType.DATA_PROVIDER)
    for name, hospital in PANEL.items():
        users.create_user(admin, name, roles={Role.EXPERT_PANEL}, organisation=hospital)


def register_cases(world: World) -> dict[str, str]:
    """The cases of :data:`CASES` (their participants registered with a dataset); returns
    participant -> case reference."""
    world.register("sequenced", "calls")  # a dataset holding nobody yet: participants next
    from wgs_tre.governance import datasets
    from wgs_tre.types import DatasetKind

    path = world.tmp / "participants.txt"
    path.write_text("\n".join(CASES))
    datasets.register_version(
        world.ctx("sam"), "sequenced", path, kind=DatasetKind.VARIANTS, participants=list(CASES)
    )
    refs: dict[str, str] = {}
    for hospital in HOSPITALS:
        entries = [
            CaseEntry(participant, mrn, diagnosis)
            for participant, (where, mrn, diagnosis) in CASES.items()
            if where == hospital
        ]
        added = cases.register_cases(world.ctx("sam"), hospital, entries)
        refs.update(zip([e.participant for e in entries], added, strict=True))
    return refs


def content(summary: str = "first draft") -> dict[str, Any]:
    """A report's content as the workflow sees it (what is in it is the builder's business)."""
    return {"summary": summary, "findings": []}


_fresh = itertools.count(900_000)


def new_participant(world: World) -> str:
    """A participant of the programme nobody has registered as a case yet."""
    from wgs_tre.governance import datasets
    from wgs_tre.types import DatasetKind

    participant = f"P{next(_fresh):06d}"
    path = world.tmp / f"{participant}.txt"
    path.write_text(participant)
    datasets.register_version(world.ctx("sam"), f"seq{participant.lower()}", path,
                              kind=DatasetKind.VARIANTS, participants=[participant])  # fmt: skip
    return participant


def case_in(
    world: World, state: ReportState | None, *, hospital: str = "NCGM", panel: str = "eve"
) -> str:
    """A new case of ``hospital`` whose report is in ``state`` (None: no report yet), brought
    there by the steward sam and ``panel``, a member of that hospital's expert panel."""
    participant = new_participant(world)
    (ref,) = cases.register_cases(
        world.ctx("sam"), hospital, [CaseEntry(participant, f"MRN-{participant}", "C34")]
    )
    if state is None:
        return ref
    cases.add_version(world.ctx("sam"), ref, content())
    if state is not ReportState.DRAFT:
        cases.submit(world.ctx("sam"), ref)
    if state is ReportState.SIGNED_OFF:
        cases.sign_off(world.ctx(panel), ref)
    return ref


def stored_state(world: World, ref: str) -> str | None:
    """The state of ``ref``'s report as stored, not as any view of it says."""
    import sqlalchemy as sa

    query = (
        "SELECT r.state FROM case_report r JOIN clinical_case c ON c.id = r.case_id "
        "WHERE c.ref = :ref"
    )
    with world.store.session() as session:
        return session.scalar(sa.text(query), {"ref": ref})
