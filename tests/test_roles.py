"""The role x action matrix: what policies/roles.yaml grants succeeds through the real path;
every other combination is refused with a reason, audited, and changes nothing else."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.fhir_factory import bundle, consent
from tests.world import World
from wgs_tre.access import Gate
from wgs_tre.audit.checkpoint import generate_key, public_path
from wgs_tre.cli import main
from wgs_tre.consent import registry
from wgs_tre.duo import Purpose
from wgs_tre.errors import PermissionDenied
from wgs_tre.governance import approvals, datasets, projects, review, users
from wgs_tre.governance.authority import RULES
from wgs_tre.governance.context import Context
from wgs_tre.ingest.check import check_store
from wgs_tre.types import Action, OrgType, Role, Vote

# Who plays each role: members of the test cast without conflicts of interest.
PLAYERS: dict[Role | None, str] = {
    Role.RESEARCHER: "alice",
    Role.STEWARD: "sam",
    Role.EXPERT_PANEL: "eve",
    Role.ADMIN: "root1",
    None: "nobody",  # an active account holding no role at all
}
_n = itertools.count()


@dataclass
class Case:
    """``prepare`` makes a fresh target for the action; ``perform`` attempts it as ``ctx``."""

    prepare: Callable[[World], Any]
    perform: Callable[[Context, Any, World], Any]


def _nothing(world: World) -> None:
    return None


def _pending_user(world: World) -> str:
    name = f"pending{next(_n)}"
    users.create_user(world.ctx("root1"), name, roles={Role.RESEARCHER}, active=False)
    return name


def _in_review(world: World, votes: Vote | None = None) -> str:
    slug = f"proj-{next(_n)}"
    world.apply(slug)
    if votes is not None:
        world.vote(slug, ("sam", votes), ("sue", votes))
    return slug


def _approved(world: World) -> str:
    slug = f"proj-{next(_n)}"
    world.approved(slug)
    return slug


def _suspended(world: World) -> str:
    slug = _approved(world)
    approvals.suspend(world.ctx("sam"), slug, "r")
    return slug


def _due(world: World) -> dt.datetime:
    """An approved project, and a time after its expiry."""
    view = world.approved(f"proj-{next(_n)}")
    assert view.approval is not None
    return view.approval.expires_at + dt.timedelta(days=1)


def _consent_file(world: World) -> Any:
    path = world.tmp / f"consent-{next(_n)}.json"
    path.write_text(json.dumps(bundle(consent(f"P{next(_n)}"))))
    return path


def _new_file(world: World) -> Any:
    path = world.tmp / f"data-{next(_n)}.txt"
    path.write_text(f"release {next(_n)}")
    return path


def _cli(ctx: Context, *args: str) -> None:
    code = main(["--as", ctx.actor, "audit", *args])
    if code == 4:
        raise PermissionDenied("refused via the CLI")
    assert code == 0


def _signing_key(world: World, *, present: bool) -> None:
    """The audit signing key where the CLI looks for it (WGS_TRE_DATA_DIR, set by ``cast``)."""
    key = world.tmp / "data" / "audit" / "signing.key"
    if present and not key.exists():
        generate_key(key)
    if not present:
        key.unlink(missing_ok=True)
        public_path(key).unlink(missing_ok=True)


def _at(ctx: Context, when: dt.datetime) -> Context:
    return Context(ctx.store, ctx.policies, ctx.actor, clock=lambda: when)


CASES: dict[Action, Case] = {
    Action.USER_CREATE: Case(
        _nothing, lambda c, _, w: users.create_user(c, f"new{next(_n)}", roles={Role.RESEARCHER})
    ),
    Action.USER_APPROVE: Case(_pending_user, lambda c, name, w: users.approve_user(c, name)),
    Action.USER_DISABLE: Case(_pending_user, lambda c, name, w: users.disable_user(c, name)),
    Action.USER_GRANT_ROLE: Case(
        _pending_user, lambda c, name, w: users.grant_role(c, name, Role.STEWARD)
    ),
    Action.USER_LIST: Case(_nothing, lambda c, _, w: users.list_users(c)),
    Action.ORG_CREATE: Case(
        _nothing, lambda c, _, w: users.create_organisation(c, f"Org{next(_n)}", OrgType.ACADEMIC)
    ),
    Action.DATASET_REGISTER: Case(
        _new_file, lambda c, path, w: datasets.register_version(c, "cohort", path)
    ),
    Action.DATASET_LIST: Case(_nothing, lambda c, _, w: datasets.list_versions(c)),
    Action.STORE_CHECK: Case(
        _nothing, lambda c, _, w: check_store(c, w.tmp / "datasets", fix=True)
    ),
    Action.PROJECT_APPLY: Case(
        _nothing,
        lambda c, _, w: projects.apply(
            c,
            f"apply-{next(_n)}",
            title="t",
            purpose=Purpose.parse("GRU"),
            ethics_ref="IRB-1",
            datasets=["cohort"],
            members=[],
            expiry=dt.date.today() + dt.timedelta(days=30),
        ),
    ),
    Action.PROJECT_LIST: Case(_nothing, lambda c, _, w: projects.list_projects(c)),
    Action.APPLICATION_VOTE: Case(_in_review, lambda c, s, w: review.vote(c, s, Vote.APPROVE)),
    Action.APPLICATION_APPROVE: Case(
        lambda w: _in_review(w, Vote.APPROVE), lambda c, s, w: review.approve(c, s)
    ),
    Action.APPLICATION_REJECT: Case(
        lambda w: _in_review(w, Vote.REJECT), lambda c, s, w: review.reject(c, s)
    ),
    Action.APPLICATION_WITHDRAW: Case(_in_review, lambda c, s, w: projects.withdraw(c, s)),
    Action.APPROVAL_SUSPEND: Case(_approved, lambda c, s, w: approvals.suspend(c, s, "r")),
    Action.APPROVAL_REINSTATE: Case(_suspended, lambda c, s, w: approvals.reinstate(c, s, "r")),
    Action.APPROVAL_REVOKE: Case(_approved, lambda c, s, w: approvals.revoke(c, s, "r")),
    Action.APPROVAL_RENEW: Case(
        _approved,
        lambda c, s, w: approvals.renew(c, s, dt.date.today() + dt.timedelta(days=60)),
    ),
    Action.APPROVAL_EXPIRE: Case(_due, lambda c, when, w: approvals.expire_due(_at(c, when))),
    Action.APPROVAL_AMEND_MEMBERS: Case(
        _approved, lambda c, s, w: approvals.amend_members(c, s, remove=["bob"])
    ),
    Action.DATA_ACCESS: Case(
        _approved, lambda c, s, w: Gate(c.store, c.policies).decide(c.actor, s, "cohort")
    ),
    # The spawner's question, as it asks it (tests/hub/test_sessions.py drives the hub).
    Action.SESSION_START: Case(_approved, lambda c, s, w: projects.open_session(c, s)),
    Action.CONSENT_IMPORT: Case(_consent_file, lambda c, p, w: registry.import_file(c, p)),
    Action.CONSENT_READ: Case(_nothing, lambda c, _, w: registry.status_summary(c)),
    Action.AUDIT_READ: Case(_nothing, lambda c, _, w: _cli(c, "tail")),
    Action.AUDIT_VERIFY: Case(_nothing, lambda c, _, w: _cli(c, "verify")),
    Action.AUDIT_EXPORT: Case(
        _nothing, lambda c, _, w: _cli(c, "export", "-o", str(w.tmp / "export.jsonl"))
    ),
    Action.AUDIT_CHECKPOINT: Case(
        lambda w: _signing_key(w, present=True), lambda c, _, w: _cli(c, "checkpoint")
    ),
    Action.AUDIT_KEYGEN: Case(
        lambda w: _signing_key(w, present=False), lambda c, _, w: _cli(c, "keygen")
    ),
}
# read_all widens project.list (tested below); the others only name audit events.
NOT_OPERATIONS = {
    Action.PROJECT_READ_ALL,
    Action.CONSENT_WITHDRAWAL,
    Action.SESSION_STOP,
    Action.EGRESS_REFUSED,
}


def test_every_action_has_a_case() -> None:
    assert set(CASES) | NOT_OPERATIONS == set(Action)


@pytest.fixture
def cast(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    users.create_user(world.ctx("root1"), "nobody", roles=set())
    # The audit actions run through the CLI, which finds the store from the environment.
    monkeypatch.setenv("WGS_TRE_DATABASE_URL", world.store.url.render_as_string(False))
    monkeypatch.setenv("WGS_TRE_POLICY_DIR", str(world.policies.source))
    monkeypatch.setenv("WGS_TRE_DATA_DIR", str(world.tmp / "data"))
    return world


@pytest.mark.parametrize("action", list(CASES), ids=lambda a: a.value)
def test_role_action_matrix(cast: World, action: Action) -> None:
    world, case = cast, CASES[action]
    granted = set(world.policies.roles.roles_allowed(action))
    assert granted, f"{action} is granted to no role"
    for role, player in PLAYERS.items():
        target = case.prepare(world)
        slug = target if action in RULES else None
        # What a user interface would show: the same answer as the operation, nothing written.
        before = world.counts()
        assert world.ctx(player).can(action, project=slug) is (role in granted)
        assert world.counts() == before
        if role in granted:
            case.perform(world.ctx(player), target, world)
            continue
        with pytest.raises(PermissionDenied) as refused:
            case.perform(world.ctx(player), target, world)
        after = world.counts()
        assert after.pop("audit_event") == before.pop("audit_event") + 1
        assert after == before, "a refused action changed the store"
        event = world.last_event()
        assert (event.actor, event.action, event.decision) == (player, action.value, "refused")
        assert f"may not {action.value}" in event.reason
        assert "refused" in refused.value.message


def test_separation_of_duties_in_the_shipped_policy(policies) -> None:  # type: ignore[no-untyped-def]
    """Independent of the matrix: admins do not decide on data use or handle data files,
    researchers do not review, stewards do not create accounts, expert panels do nothing
    governance-wise but list data."""
    roles = policies.roles
    review_actions = [Action.APPLICATION_VOTE, Action.APPLICATION_APPROVE, Action.APPROVAL_REVOKE]
    for action in review_actions:
        assert roles.roles_allowed(action) == [Role.STEWARD]
    assert roles.roles_allowed(Action.USER_CREATE) == [Role.ADMIN]
    # Removing what interrupted ingests left is data stewardship, not account administration.
    assert roles.roles_allowed(Action.STORE_CHECK) == [Role.STEWARD]
    assert roles.roles_allowed(Action.PROJECT_APPLY) == [Role.RESEARCHER]
    assert roles.roles.get(Role.EXPERT_PANEL) == frozenset({Action.DATASET_LIST})


def test_unknown_and_inactive_accounts_are_refused_and_audited(world: World) -> None:
    with pytest.raises(PermissionDenied, match="no account named 'mallory'"):
        users.list_users(world.ctx("mallory"))
    assert (world.last_event().actor, world.last_event().decision) == ("mallory", "refused")
    users.disable_user(world.ctx("root1"), "bob")
    with pytest.raises(PermissionDenied, match="account 'bob' is disabled"):
        projects.list_projects(world.ctx("bob"))


def test_researchers_see_only_their_projects_stewards_see_all(world: World) -> None:
    world.apply("alice-proj", lead="alice", members=[])
    world.apply("carol-proj", lead="carol", members=[])
    assert [p.slug for p in projects.list_projects(world.ctx("alice"))] == ["alice-proj"]
    assert [p.slug for p in projects.list_projects(world.ctx("sam"))] == [
        "alice-proj",
        "carol-proj",
    ]
