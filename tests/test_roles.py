"""The role x action matrix: what policies/roles.yaml grants succeeds through the real path;
every other combination is refused with a reason, audited, and changes nothing else."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from tests.airlock_cast import area, releases, request_in, workspace
from tests.airlock_cast import stored_state as request_state
from tests.fhir_factory import bundle, consent
from tests.report_cast import case_in, content, new_participant, stored_state
from tests.world import World
from wgs_tre.access import Gate
from wgs_tre.airlock import ingress, release, requests
from wgs_tre.audit.checkpoint import generate_key, public_path
from wgs_tre.cli import main
from wgs_tre.consent import registry
from wgs_tre.duo import Purpose
from wgs_tre.errors import PermissionDenied
from wgs_tre.governance import approvals, cases, datasets, projects, review, users
from wgs_tre.governance.authority import RULES, Resource
from wgs_tre.governance.cases import CaseEntry
from wgs_tre.governance.context import Context
from wgs_tre.ingest.check import check_store
from wgs_tre.models import registry as model_registry
from wgs_tre.store.models import (
    Application,
    Approval,
    AuditEvent,
    ConsentImport,
    Dataset,
    DatasetVersion,
    Organisation,
    Participant,
    Project,
    ProjectKey,
    ReviewVote,
    User,
)
from wgs_tre.store.models import (
    Case as CaseRow,
)
from wgs_tre.types import (
    Action,
    ApplicationState,
    ApprovalState,
    OrgType,
    OutputRequestState,
    ReportState,
    Role,
    UserState,
    Vote,
)

# Who plays each role: members of the test cast without conflicts of interest.
PLAYERS: dict[Role | None, str] = {
    Role.RESEARCHER: "alice",
    Role.STEWARD: "sam",
    Role.EXPERT_PANEL: "eve",
    Role.ADMIN: "root1",
    None: "nobody",  # an active account holding no role at all
}
_n = itertools.count()


# What an allowed operation must leave in the store, read back with plain queries (not through
# the operation's own answer): ``rows`` is the change of each table's row count besides the
# audit event, and ``then(world, target, result)`` asserts the state of what it acted on.
Then = Callable[[World, Any, Any], None]


def _unchecked(world: World, target: Any, result: Any) -> None:
    return None


@dataclass
class Case:
    """``prepare`` makes a fresh target for the action; ``perform`` attempts it as ``ctx``.

    An allowed write records one ``allowed`` event on ``on(target)`` (project, dataset);
    reads (``audited=False``) record nothing."""

    prepare: Callable[[World], Any]
    perform: Callable[[Context, Any, World], Any]
    rows: dict[str, int] = field(default_factory=dict)
    then: Then = _unchecked
    audited: bool = True
    on: Callable[[Any], tuple[str | None, str | None]] | None = None


def _nothing(world: World) -> None:
    return None


def _fresh_name(prefix: str) -> Callable[[World], str]:
    return lambda world: f"{prefix}{next(_n)}"


def _fresh_version(world: World) -> str:
    return world.register(f"release{next(_n)}")


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


def _due(world: World) -> tuple[str, dt.datetime]:
    """An approved project, and a time after its expiry: the only approval due then (earlier
    players' targets are expired first)."""
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=365)
    approvals.expire_due(world.ctx("root1", now=later))
    slug = f"proj-{next(_n)}"
    view = world.approved(slug)
    assert view.approval is not None
    return slug, view.approval.expires_at + dt.timedelta(days=1)


def _consent_file(world: World) -> Any:
    path = world.tmp / f"consent-{next(_n)}.json"
    path.write_text(json.dumps(bundle(consent(f"P{next(_n)}"))))
    return path


def _imported_consent(world: World) -> None:
    registry.import_file(world.ctx("sam"), _consent_file(world))


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
    key = _key_path(world)
    if present and not key.exists():
        generate_key(key)
    if not present:
        key.unlink(missing_ok=True)
        public_path(key).unlink(missing_ok=True)


def _key_path(world: World) -> Path:
    return world.tmp / "data" / "audit" / "signing.key"


def _at(ctx: Context, when: dt.datetime) -> Context:
    return Context(ctx.store, ctx.policies, ctx.actor, clock=lambda: when)


def _user(world: World, name: str) -> tuple[UserState, set[Role]]:
    with world.store.session() as session:
        user = session.scalars(select(User).where(User.username == name)).one()
        return user.state, set(user.roles)


def _application(world: World, slug: str) -> Application:
    with world.store.session() as session:
        query = select(Application).join(Project).where(Project.slug == slug)
        application = session.scalars(query.order_by(Application.id.desc()).limit(1)).one()
        session.expunge(application)
        return application


def _approval(world: World, slug: str) -> Approval:
    with world.store.session() as session:
        query = select(Approval).join(Project).where(Project.slug == slug)
        approval = session.scalars(query).one()
        session.expunge(approval)
        return approval


def _all(world: World, column: Any) -> set[Any]:
    with world.store.session() as session:
        return set(session.scalars(select(column)))


def _approval_is(state: ApprovalState) -> Then:
    def check(world: World, slug: Any, result: Any) -> None:
        assert _approval(world, slug).state is state

    return check


def _application_is(state: ApplicationState) -> Then:
    def check(world: World, slug: Any, result: Any) -> None:
        assert _application(world, slug).state is state

    return check


def _user_is(state: UserState, roles: set[Role]) -> Then:
    def check(world: World, name: Any, result: Any) -> None:
        assert _user(world, name) == (state, roles)

    return check


def _created_org(world: World, name: Any, result: Any) -> None:
    with world.store.session() as session:
        org = session.scalars(select(Organisation).where(Organisation.name == name)).one()
        assert org.org_type is OrgType.ACADEMIC


def _registered(world: World, path: Any, result: Any) -> None:
    with world.store.session() as session:
        query = select(DatasetVersion).join(Dataset).where(Dataset.name == "cohort")
        versions = session.scalars(query).all()
        assert sorted(v.version for v in versions) == [1, 2]
        assert max(versions, key=lambda v: v.version).size_bytes == path.stat().st_size


def _retired(world: World, label: Any, result: Any) -> None:
    with world.store.session() as session:
        version = datasets.get_version(session, label)
        assert version.retirement is not None and version.retirement.reason == "recalled"


def _applied(world: World, slug: Any, result: Any) -> None:
    application = _application(world, slug)
    assert application.state is ApplicationState.SUBMITTED
    with world.store.session() as session:
        project = session.scalars(select(Project).where(Project.slug == slug)).one()
        assert project.lead.username == "alice"


def _voted(world: World, slug: Any, result: Any) -> None:
    with world.store.session() as session:
        query = select(ReviewVote).join(Application).join(Project).where(Project.slug == slug)
        assert [(v.steward.username, v.vote) for v in session.scalars(query)] == [
            ("sam", Vote.APPROVE)
        ]


def _granted(world: World, slug: Any, result: Any) -> None:
    assert _application(world, slug).state is ApplicationState.APPROVED
    approval = _approval(world, slug)
    assert approval.state is ApprovalState.ACTIVE
    assert [u.username for u in approval.members] == ["alice", "bob"]


def _rejected(world: World, slug: Any, result: Any) -> None:
    assert _application(world, slug).state is ApplicationState.REJECTED
    with world.store.session() as session:
        assert not session.scalars(select(Approval).join(Project).where(Project.slug == slug)).all()


def _renewed(world: World, slug: Any, result: Any) -> None:
    until = dt.date.today() + dt.timedelta(days=60)
    assert _approval(world, slug).expires_at == dt.datetime.combine(
        until, dt.time(23, 59, 59), tzinfo=dt.UTC
    )


def _expired(world: World, target: Any, result: Any) -> None:
    slug, _ = target
    assert _approval(world, slug).state is ApprovalState.EXPIRED


def _bob_removed(world: World, slug: Any, result: Any) -> None:
    assert [u.username for u in _approval(world, slug).members] == ["alice"]


def _keyed(world: World, slug: Any, result: Any) -> None:
    with world.store.session() as session:
        query = select(ProjectKey).join(Project).where(Project.slug == slug)
        assert len(session.scalars(query).one().key) == 32


def _consent_stored(world: World, path: Any, result: Any) -> None:
    with world.store.session() as session:
        imported = session.scalars(select(ConsentImport)).one()
        assert imported.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert imported.record_count == 1


def _counted_cohort(world: World, target: Any, summary: Any) -> None:
    assert summary.participants == len(_all(world, Participant.id))


def _listed(column: Any, attribute: str) -> Then:
    """A listing holds exactly what the store holds."""

    def check(world: World, target: Any, listing: Any) -> None:
        assert {getattr(item, attribute) for item in listing} == _all(world, column)

    return check


def _listed_versions(world: World, target: Any, listing: Any) -> None:
    assert [v.label for v in listing] == ["cohort@1"]


def _exported_every_event(world: World, target: Any, result: Any) -> None:
    """The export holds every event, its own (audited before writing) last."""
    lines = (world.tmp / "export.jsonl").read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == sorted(_all(world, AuditEvent.seq))
    assert json.loads(lines[-1])["action"] == Action.AUDIT_EXPORT.value


def _checkpoint_signed(world: World, target: Any, result: Any) -> None:
    signed = json.loads(world.last_event().details)
    assert signed["seq"] == world.last_event().seq - 1


def _key_written(world: World, target: Any, result: Any) -> None:
    assert _key_path(world).exists() and public_path(_key_path(world)).exists()


def _project(target: Any) -> tuple[str | None, str | None]:
    return target, None


CASES: dict[Action, Case] = {
    Action.USER_CREATE: Case(
        _fresh_name("new"),
        lambda c, name, w: users.create_user(c, name, roles={Role.RESEARCHER}),
        rows={"app_user": 1, "user_role": 1},
        then=_user_is(UserState.ACTIVE, {Role.RESEARCHER}),
    ),
    Action.USER_APPROVE: Case(
        _pending_user,
        lambda c, name, w: users.approve_user(c, name),
        then=_user_is(UserState.ACTIVE, {Role.RESEARCHER}),
    ),
    Action.USER_DISABLE: Case(
        _pending_user,
        lambda c, name, w: users.disable_user(c, name),
        then=_user_is(UserState.DISABLED, {Role.RESEARCHER}),
    ),
    Action.USER_GRANT_ROLE: Case(
        _pending_user,
        lambda c, name, w: users.grant_role(c, name, Role.STEWARD),
        rows={"user_role": 1},
        # Granting a role does not activate a pending account.
        then=_user_is(UserState.PENDING, {Role.RESEARCHER, Role.STEWARD}),
    ),
    Action.USER_LIST: Case(
        _nothing,
        lambda c, _, w: users.list_users(c),
        then=_listed(User.username, "username"),
        audited=False,
    ),
    Action.ORG_CREATE: Case(
        _fresh_name("Org"),
        lambda c, name, w: users.create_organisation(c, name, OrgType.ACADEMIC),
        rows={"organisation": 1},
        then=_created_org,
    ),
    Action.DATASET_REGISTER: Case(
        _new_file,
        lambda c, path, w: datasets.register_version(c, "cohort", path),
        rows={"dataset_version": 1},
        then=_registered,
        on=lambda path: (None, "cohort@2"),
    ),
    Action.DATASET_RETIRE: Case(
        _fresh_version,
        lambda c, label, w: datasets.retire_version(c, label, "recalled"),
        rows={"dataset_retirement": 1},
        then=_retired,
        on=lambda label: (None, label),
    ),
    Action.DATASET_LIST: Case(
        _nothing, lambda c, _, w: datasets.list_versions(c), then=_listed_versions, audited=False
    ),
    Action.STORE_CHECK: Case(
        _nothing, lambda c, _, w: check_store(c, w.tmp / "datasets", fix=True)
    ),
    Action.PROJECT_APPLY: Case(
        _fresh_name("apply-"),
        lambda c, slug, w: projects.apply(
            c,
            slug,
            title="t",
            purpose=Purpose.parse("GRU"),
            ethics_ref="IRB-1",
            datasets=["cohort"],
            members=[],
            expiry=dt.date.today() + dt.timedelta(days=30),
        ),
        # The lead is a member of their own application.
        rows={"project": 1, "application": 1, "application_dataset": 1, "application_member": 1},
        then=_applied,
        on=_project,
    ),
    Action.PROJECT_LIST: Case(
        _in_review,
        lambda c, _, w: projects.list_projects(c),
        # alice's project: every role granted the listing sees it (researchers their own).
        then=_listed(Project.slug, "slug"),
        audited=False,
    ),
    Action.APPLICATION_VOTE: Case(
        _in_review,
        lambda c, s, w: review.vote(c, s, Vote.APPROVE),
        rows={"review_vote": 1},
        then=_voted,
    ),
    Action.APPLICATION_APPROVE: Case(
        lambda w: _in_review(w, Vote.APPROVE),
        lambda c, s, w: review.approve(c, s),
        rows={"approval": 1, "approval_dataset": 1, "approval_member": 2},
        then=_granted,
    ),
    Action.APPLICATION_REJECT: Case(
        lambda w: _in_review(w, Vote.REJECT),
        lambda c, s, w: review.reject(c, s),
        then=_rejected,
    ),
    Action.APPLICATION_WITHDRAW: Case(
        _in_review,
        lambda c, s, w: projects.withdraw(c, s),
        then=_application_is(ApplicationState.WITHDRAWN),
    ),
    Action.APPROVAL_SUSPEND: Case(
        _approved,
        lambda c, s, w: approvals.suspend(c, s, "r"),
        then=_approval_is(ApprovalState.SUSPENDED),
    ),
    Action.APPROVAL_REINSTATE: Case(
        _suspended,
        lambda c, s, w: approvals.reinstate(c, s, "r"),
        then=_approval_is(ApprovalState.ACTIVE),
    ),
    Action.APPROVAL_REVOKE: Case(
        _approved,
        lambda c, s, w: approvals.revoke(c, s, "r"),
        then=_approval_is(ApprovalState.REVOKED),
    ),
    Action.APPROVAL_RENEW: Case(
        _approved,
        lambda c, s, w: approvals.renew(c, s, dt.date.today() + dt.timedelta(days=60)),
        then=_renewed,
    ),
    Action.APPROVAL_EXPIRE: Case(
        _due,
        lambda c, due, w: approvals.expire_due(_at(c, due[1])),
        then=_expired,
        on=lambda due: (due[0], None),
    ),
    Action.APPROVAL_AMEND_MEMBERS: Case(
        _approved,
        lambda c, s, w: approvals.amend_members(c, s, remove=["bob"]),
        rows={"approval_member": -1},
        then=_bob_removed,
    ),
    Action.DATA_ACCESS: Case(
        _approved,
        lambda c, s, w: Gate(c.store, c.policies).decide(c.actor, s, "cohort"),
        # The project's pseudonym key is made on its first access.
        rows={"project_key": 1},
        then=_keyed,
        on=lambda slug: (slug, "cohort@1"),
    ),
    # The spawner's question, as it asks it (tests/hub/test_sessions.py drives the hub).
    Action.SESSION_START: Case(_approved, lambda c, s, w: projects.open_session(c, s)),
    Action.CONSENT_IMPORT: Case(
        _consent_file,
        lambda c, p, w: registry.import_file(c, p),
        rows={"participant": 1, "consent_import": 1, "consent_record": 1},
        then=_consent_stored,
    ),
    Action.CONSENT_READ: Case(
        _imported_consent,
        lambda c, _, w: registry.status_summary(c),
        then=_counted_cohort,
        audited=False,
    ),
    Action.AUDIT_READ: Case(_nothing, lambda c, _, w: _cli(c, "tail"), audited=False),
    Action.AUDIT_VERIFY: Case(_nothing, lambda c, _, w: _cli(c, "verify")),
    Action.AUDIT_EXPORT: Case(
        _nothing,
        lambda c, _, w: _cli(c, "export", "-o", str(w.tmp / "export.jsonl")),
        then=_exported_every_event,
    ),
    Action.AUDIT_CHECKPOINT: Case(
        lambda w: _signing_key(w, present=True),
        lambda c, _, w: _cli(c, "checkpoint"),
        then=_checkpoint_signed,
    ),
    Action.AUDIT_KEYGEN: Case(
        lambda w: _signing_key(w, present=False),
        lambda c, _, w: _cli(c, "keygen"),
        then=_key_written,
    ),
}


def _report_is(state: ReportState) -> Then:
    def check(world: World, ref: Any, result: Any) -> None:
        assert stored_state(world, ref) == state.value

    return check


def _case_registered(world: World, participant: Any, result: Any) -> None:
    with world.store.session() as session:
        row = session.scalars(select(CaseRow).where(CaseRow.participant_id == participant)).one()
        assert (row.ref, row.hospital.name, row.hospital_patient_id) == (
            result[0],
            "NCGM",
            f"MRN-{participant}",
        )


def _case_listed(world: World, ref: Any, result: Any) -> None:
    assert ref in [c.ref for c in result]


def _on_case(ref: Any) -> tuple[str | None, str | None]:
    return None, None  # the case is named in the event's details, not as a project


def _a_case(state: ReportState | None) -> Callable[[World], str]:
    return lambda world: case_in(world, state)


CASES.update(
    {
        Action.CASE_REGISTER: Case(
            new_participant,
            lambda c, p, w: cases.register_cases(c, "NCGM", [CaseEntry(p, f"MRN-{p}", "C34")]),
            rows={"clinical_case": 1},
            then=_case_registered,
        ),
        Action.CASE_LIST: Case(
            _a_case(None), lambda c, _, w: cases.list_cases(c), then=_case_listed, audited=False
        ),
        Action.REPORT_GENERATE: Case(
            _a_case(None),
            lambda c, ref, w: cases.add_version(c, ref, content()),
            rows={"case_report": 1, "report_version": 1},
            then=_report_is(ReportState.DRAFT),
            on=_on_case,
        ),
        Action.REPORT_VIEW: Case(
            _a_case(ReportState.DRAFT), lambda c, ref, w: cases.view(c, ref), on=_on_case
        ),
        Action.REPORT_SUBMIT: Case(
            _a_case(ReportState.DRAFT),
            lambda c, ref, w: cases.submit(c, ref),
            then=_report_is(ReportState.IN_REVIEW),
            on=_on_case,
        ),
        Action.REPORT_COMMENT: Case(
            _a_case(ReportState.IN_REVIEW),
            lambda c, ref, w: cases.comment(c, ref, "see the evidence"),
            rows={"report_note": 1},
            then=_report_is(ReportState.IN_REVIEW),
            on=_on_case,
        ),
        Action.REPORT_RETURN: Case(
            _a_case(ReportState.IN_REVIEW),
            lambda c, ref, w: cases.return_report(c, ref, "wrong zygosity"),
            rows={"report_note": 1},
            then=_report_is(ReportState.RETURNED),
            on=_on_case,
        ),
        Action.REPORT_SIGN_OFF: Case(
            _a_case(ReportState.IN_REVIEW),
            lambda c, ref, w: cases.sign_off(c, ref),
            rows={"report_note": 1},
            then=_report_is(ReportState.SIGNED_OFF),
            on=_on_case,
        ),
        Action.REPORT_EXPORT: Case(
            _a_case(ReportState.SIGNED_OFF),
            lambda c, ref, w: cases.export(c, ref),
            then=_report_is(ReportState.SIGNED_OFF),
            on=_on_case,
        ),
    }
)
# Output requests (tests/test_airlock_requests.py has their workflow): each target is a fresh
# request of alice's, in alice's fresh project, which its events name.
_REQUEST_PROJECT: dict[str, str] = {}


def _a_request(state: OutputRequestState) -> Callable[[World], str]:
    def prepare(world: World) -> str:
        ref = request_in(world, state)
        with world.store.engine.connect() as connection:
            _REQUEST_PROJECT[ref] = connection.execute(
                sa.text(
                    "SELECT p.slug FROM output_request r JOIN project p ON p.id = r.project_id "
                    "WHERE r.ref = :ref"
                ),
                {"ref": ref},
            ).scalar_one()
        return ref

    return prepare


def _request_is(state: OutputRequestState) -> Then:
    def check(world: World, ref: Any, result: Any) -> None:
        assert request_state(world, ref) == state.value

    return check


def _on_request(ref: Any) -> tuple[str | None, str | None]:
    return _REQUEST_PROJECT[ref], None


def _created_request(world: World, slug: Any, view: Any) -> None:
    assert (request_state(world, view.ref), view.project, view.requester) == (
        "draft",
        slug,
        "alice",
    )


def _add_more(c: Context, ref: str, w: World) -> Any:
    (workspace(w, _REQUEST_PROJECT[ref]) / "more.txt").write_text("more")
    return requests.add_file(c, ref, "more.txt", "the second table")


_R_ = OutputRequestState
CASES.update(
    {
        Action.AIRLOCK_CREATE: Case(
            _approved,
            lambda c, s, w: requests.create(c, s, "counts", workspace=workspace(w, s)),
            rows={"output_request": 1},
            then=_created_request,
        ),
        Action.AIRLOCK_ADD_FILE: Case(
            _a_request(_R_.DRAFT),
            _add_more,
            rows={"output_request_file": 1},
            then=_request_is(_R_.DRAFT),
            on=_on_request,
        ),
        Action.AIRLOCK_SUBMIT: Case(
            _a_request(_R_.DRAFT),
            lambda c, ref, w: requests.submit(c, ref, area=area(w)),
            then=_request_is(_R_.SUBMITTED),
            on=_on_request,
        ),
        Action.AIRLOCK_WITHDRAW: Case(
            _a_request(_R_.SUBMITTED),
            lambda c, ref, w: requests.withdraw(c, ref),
            then=_request_is(_R_.WITHDRAWN),
            on=_on_request,
        ),
        Action.AIRLOCK_VIEW: Case(
            _a_request(_R_.SUBMITTED),
            lambda c, ref, w: requests.show(c, ref),
            then=lambda w, ref, view: None if view.ref == ref else pytest.fail(view.ref),
            audited=False,
        ),
        Action.AIRLOCK_LIST: Case(
            _a_request(_R_.SUBMITTED),
            lambda c, ref, w: requests.list_requests(c),
            # The requester's list and a steward's queue both hold a submitted request.
            then=lambda w, ref, listing: None if ref in [r.ref for r in listing] else pytest.fail(),
            audited=False,
        ),
        Action.AIRLOCK_APPROVE: Case(
            _a_request(_R_.SUBMITTED),
            lambda c, ref, w: requests.approve(c, ref),
            rows={"output_review": 1},
            then=_request_is(_R_.IN_REVIEW),
            on=_on_request,
        ),
        Action.AIRLOCK_REQUEST_CHANGES: Case(
            _a_request(_R_.SUBMITTED),
            lambda c, ref, w: requests.request_changes(c, ref, "round the counts"),
            rows={"output_review": 1},
            then=_request_is(_R_.CHANGES_REQUESTED),
            on=_on_request,
        ),
        Action.AIRLOCK_REJECT: Case(
            _a_request(_R_.SUBMITTED),
            lambda c, ref, w: requests.reject(c, ref, "row-level"),
            rows={"output_review": 1},
            then=_request_is(_R_.REJECTED),
            on=_on_request,
        ),
        Action.AIRLOCK_RELEASE: Case(
            _a_request(_R_.APPROVED),
            lambda c, ref, w: release.release(c, ref, releases=releases(w)),
            then=_request_is(_R_.RELEASED),
            on=_on_request,
        ),
        Action.AIRLOCK_DOWNLOAD: Case(
            _a_request(_R_.RELEASED),
            lambda c, ref, w: release.released_file(c, ref, "counts.txt", releases=releases(w)),
            then=_request_is(_R_.RELEASED),
            on=_on_request,
        ),
    }
)
# Files brought in (tests/test_airlock_ingress.py has their workflow): each target is a fresh
# file alice brought into her fresh project, pending a steward's decision.
_INGRESS_PROJECT: dict[str, str] = {}


def _weights(world: World) -> Path:
    path = world.tmp / "prs_weights.csv"
    path.write_text("rsid,effect_allele,weight\nrs429358,C,0.52\n")
    return path


def _bring_in(c: Context, slug: str, w: World) -> Any:
    return ingress.bring_in(
        c, slug, _weights(w), "weights", area=area(w), workspace=workspace(w, slug)
    )


def _brought_in(world: World) -> str:
    slug = _approved(world)
    ref = _bring_in(world.ctx("alice"), slug, world).ref
    _INGRESS_PROJECT[ref] = slug
    return ref


def _ingress_is(state: str) -> Then:
    def check(world: World, ref: Any, result: Any) -> None:
        with world.store.engine.connect() as connection:
            stored = connection.execute(
                sa.text("SELECT state FROM ingress_request WHERE ref = :ref"), {"ref": ref}
            ).scalar_one()
        assert stored == state

    return check


def _on_ingress(ref: Any) -> tuple[str | None, str | None]:
    return _INGRESS_PROJECT[ref], None


def _admitted(world: World, ref: Any, view: Any) -> None:
    _ingress_is("admitted")(world, ref, view)
    placed = workspace(world, _INGRESS_PROJECT[ref]) / "incoming" / view.placed_as
    assert placed.read_bytes() == view.copy.read_bytes()


CASES.update(
    {
        Action.AIRLOCK_BRING_IN: Case(
            _approved,
            _bring_in,
            rows={"ingress_request": 1},
            then=lambda w, slug, view: _ingress_is("pending")(w, view.ref, view),
        ),
        Action.AIRLOCK_ADMIT: Case(
            _brought_in,
            lambda c, ref, w: ingress.admit(c, ref, workspace=workspace(w, _INGRESS_PROJECT[ref])),
            then=_admitted,
            on=_on_ingress,
        ),
        Action.AIRLOCK_REFUSE_IN: Case(
            _brought_in,
            lambda c, ref, w: ingress.refuse(c, ref, "use the released package"),
            then=_ingress_is("refused"),
            on=_on_ingress,
        ),
        Action.AIRLOCK_VIEW_IN: Case(
            _brought_in,
            lambda c, ref, w: ingress.show(c, ref),
            then=lambda w, ref, view: None if view.ref == ref else pytest.fail(view.ref),
            audited=False,
        ),
    }
)
# The model registry: a fit's event, a save, a load (of a model saved in the project), a list.
_MODEL_DOCUMENT = {"format": "wgs-tre-model/1", "kind": "cox", "features": ["x"],
                   "participants": 40, "events": 20, "parameters": {"coef": [0.1]}}  # fmt: skip
_MODEL_OF: dict[str, str] = {}


def _save_model(ctx: Context, slug: str, world: World) -> Any:
    return model_registry.save(
        ctx, slug, _MODEL_DOCUMENT, name="cox", datasets=["cohort@1"], code_version="test",
        metrics={"concordance": 0.7}, data_read_at=dt.datetime.now(dt.UTC),
        area=world.tmp / "models",
    )  # fmt: skip


def _with_model(world: World) -> str:
    slug = _approved(world)
    _MODEL_OF[slug] = _save_model(world.ctx("alice"), slug, world).ref
    return slug


CASES.update(
    {
        Action.MODEL_FIT: Case(
            _approved,
            lambda c, slug, w: model_registry.record_fit(
                c, slug, {"model": "cox", "features": ["x"], "participants": 40, "events": 20}
            ),
        ),
        Action.MODEL_SAVE: Case(
            _approved,
            _save_model,
            rows={"registered_model": 1, "registered_model_dataset": 1},
            then=lambda w, slug, entry: None if entry.project == slug else pytest.fail(slug),
        ),
        Action.MODEL_LOAD: Case(
            _with_model,
            lambda c, slug, w: model_registry.load(c, slug, _MODEL_OF[slug]),
            then=lambda w, slug, loaded: (
                None if loaded[1] == _MODEL_DOCUMENT else pytest.fail("another document")
            ),
        ),
        Action.MODEL_LIST: Case(
            _nothing, lambda c, t, w: model_registry.registered(c), audited=False
        ),
    }
)
# read_all widens project.list (tested below); the others only name audit events.
NOT_OPERATIONS = {
    Action.PROJECT_READ_ALL,
    Action.CONSENT_WITHDRAWAL,
    Action.SESSION_STOP,
    Action.EGRESS_REFUSED,
    Action.IDENTITY_ACT_AS,
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
        on = Resource(RULES[action][0], target) if action in RULES else None
        # What a user interface would show: the same answer as the operation, nothing written.
        before = world.counts()
        assert world.ctx(player).can(action, resource=on) is (role in granted)
        assert world.counts() == before
        if role in granted:
            result = case.perform(world.ctx(player), target, world)
            _check_allowed(world, action, case, target, result, player, before)
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


def _check_allowed(
    world: World,
    action: Action,
    case: Case,
    target: Any,
    result: Any,
    player: str,
    before: dict[str, int],
) -> None:
    """The allowed operation wrote its change, and (if a write) its audit event, nothing else."""
    after = world.counts()
    events = after.pop("audit_event") - before.pop("audit_event")
    changed = {
        table: after[table] - before[table] for table in after if after[table] != before[table]
    }
    assert changed == case.rows, f"{action} by {player} changed rows {changed}"
    case.then(world, target, result)
    if not case.audited:
        assert events == 0, f"the read {action} wrote audit events"
        return
    assert events == 1, f"{action} by {player} wrote {events} audit events"
    on = case.on or (_project if action in RULES else lambda _: (None, None))
    event = world.last_event()
    assert (event.actor, event.action, event.decision) == (player, action.value, "allowed")
    assert (event.project, event.dataset) == on(target)


def test_separation_of_duties_in_the_shipped_policy(policies) -> None:  # type: ignore[no-untyped-def]
    """Independent of the matrix: admins do not decide on data use or handle data files,
    researchers do not review, stewards do not create accounts, expert panels do nothing
    governance-wise but list data and review their hospital's case reports."""
    roles = policies.roles
    review_actions = [Action.APPLICATION_VOTE, Action.APPLICATION_APPROVE, Action.APPROVAL_REVOKE]
    for action in review_actions:
        assert roles.roles_allowed(action) == [Role.STEWARD]
    assert roles.roles_allowed(Action.USER_CREATE) == [Role.ADMIN]
    # Removing what interrupted ingests left is data stewardship, not account administration.
    assert roles.roles_allowed(Action.STORE_CHECK) == [Role.STEWARD]
    assert roles.roles_allowed(Action.PROJECT_APPLY) == [Role.RESEARCHER]
    # Reports: the programme's stewards build them, only a hospital's expert panel signs off.
    assert roles.roles_allowed(Action.REPORT_GENERATE) == [Role.STEWARD]
    assert roles.roles_allowed(Action.REPORT_SIGN_OFF) == [Role.EXPERT_PANEL]
    panel_may = {Action.DATASET_LIST, Action.CASE_LIST, Action.REPORT_VIEW, Action.REPORT_COMMENT,
                 Action.REPORT_RETURN, Action.REPORT_SIGN_OFF, Action.REPORT_EXPORT}  # fmt: skip
    assert roles.roles.get(Role.EXPERT_PANEL) == frozenset(panel_may)


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
