"""Airlock output requests added to a test World through the real operations: the project
brca-study (alice leads, bob is a member), its workspace, and stewards to review."""

from __future__ import annotations

import itertools
from pathlib import Path

import sqlalchemy as sa

from tests.world import ADMIN, World
from wgs_tre.airlock import release, requests
from wgs_tre.governance import users
from wgs_tre.types import OutputRequestState, Role

S = OutputRequestState
REVIEWER = "sid"  # a steward free of conflicts who reviews nothing until a test says so
_fresh = itertools.count(1)


def area(world: World) -> Path:
    return world.tmp / "data" / "airlock"


def releases(world: World) -> Path:
    return world.tmp / "data" / "releases"


def workspace(world: World, slug: str) -> Path:
    path = world.tmp / "workspaces" / slug
    path.mkdir(parents=True, exist_ok=True)
    return path


def add_reviewer(world: World) -> None:
    users.create_user(world.ctx(ADMIN), REVIEWER, roles={Role.STEWARD}, organisation="NCGM")


def approved_project(world: World) -> str:
    """A fresh approved project led by alice with bob as a member; returns its slug."""
    slug = f"airlock-{next(_fresh)}"
    world.approved(slug)
    return slug


def request_in(world: World, state: OutputRequestState, slug: str | None = None) -> str:
    """A new request of alice's in ``state``, brought there by alice and the stewards sam and
    sue (sue releases it)."""
    slug = slug or approved_project(world)
    alice = world.ctx("alice")
    (workspace(world, slug) / "counts.txt").write_text("summary\n")
    ref = requests.create(alice, slug, "counts for the paper", workspace=workspace(world, slug)).ref
    requests.add_file(alice, ref, "counts.txt", "aggregate counts, all above 10")
    if state is S.DRAFT:
        return ref
    if state is S.WITHDRAWN:
        requests.withdraw(alice, ref)
        return ref
    requests.submit(alice, ref, area=area(world))
    sam, sue = world.ctx("sam"), world.ctx("sue")
    if state is S.IN_REVIEW:
        requests.approve(sam, ref)
    elif state in (S.APPROVED, S.RELEASED):
        requests.approve(sam, ref)
        requests.approve(sue, ref)
    elif state is S.CHANGES_REQUESTED:
        requests.request_changes(sam, ref, "round the counts to 5")
    elif state is S.REJECTED:
        requests.reject(sam, ref, "row-level data")
    if state is S.RELEASED:
        release.release(sue, ref, releases=releases(world))
    assert stored_state(world, ref) == state.value
    return ref


def stored_state(world: World, ref: str) -> str:
    """The state of ``ref`` as stored, not as any view of it says."""
    with world.store.engine.connect() as connection:
        return str(
            connection.execute(
                sa.text("SELECT state FROM output_request WHERE ref = :ref"), {"ref": ref}
            ).scalar_one()
        )
