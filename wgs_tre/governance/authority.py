"""One authorisation decision: may this actor do this action to this resource, now?

:func:`authorize` decides every governed action the same way: the actor's account must exist and
be active, ``policies/roles.yaml`` must grant the action to one of its roles (default deny), and
the resource's own rule (:data:`RULES`, from :mod:`wgs_tre.governance.rules`) must allow it. It
returns a :class:`Permit` holding what the rule found, or raises :class:`AccessRefused` with a
reason code (or NotFound / InvalidTransition from the rule). It writes nothing:
:meth:`Context.transaction <wgs_tre.governance.context.Context.transaction>` calls it and audits
the outcome; :func:`why_not` (and ``Context.can`` on it) asks the same question without acting,
so a user interface shows only the buttons that would work.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.orm import Session

from wgs_tre.errors import AccessRefused, Reason, WgsTreError
from wgs_tre.governance import rules
from wgs_tre.governance.lookup import find_user
from wgs_tre.policy import Policies
from wgs_tre.store import Store
from wgs_tre.store.models import User, utcnow
from wgs_tre.types import Action, UserState

__all__ = ["RULES", "Permit", "Resource", "ResourceKind", "authorize", "why_not"]


class ResourceKind(StrEnum):
    PROJECT = "project"
    CASE = "case"
    OUTPUT_REQUEST = "output_request"
    INGRESS_REQUEST = "ingress_request"


@dataclass(frozen=True)
class Resource:
    """What an action is done to, by the name people use (a project's slug)."""

    kind: ResourceKind
    name: str

    @classmethod
    def project(cls, slug: str) -> Resource:
        return cls(ResourceKind.PROJECT, slug)

    @classmethod
    def case(cls, ref: str) -> Resource:
        return cls(ResourceKind.CASE, ref)

    @classmethod
    def output_request(cls, ref: str) -> Resource:
        return cls(ResourceKind.OUTPUT_REQUEST, ref)

    @classmethod
    def ingress_request(cls, ref: str) -> Resource:
        return cls(ResourceKind.INGRESS_REQUEST, ref)


# The resource each action is decided on, and its rule. Actions not listed are decided by the
# role policy alone (creating an account, listing datasets, importing consent).
RULES: dict[Action, tuple[ResourceKind, rules.Rule]] = {
    Action.DATA_ACCESS: (ResourceKind.PROJECT, rules.active_member),
    Action.SESSION_START: (ResourceKind.PROJECT, rules.active_member),
    Action.AIRLOCK_CREATE: (ResourceKind.PROJECT, rules.active_member),
    Action.AIRLOCK_BRING_IN: (ResourceKind.PROJECT, rules.active_member),
    Action.MODEL_FIT: (ResourceKind.PROJECT, rules.active_member),
    Action.MODEL_SAVE: (ResourceKind.PROJECT, rules.active_member),
    Action.MODEL_LOAD: (ResourceKind.PROJECT, rules.active_member),
    Action.APPLICATION_WITHDRAW: (ResourceKind.PROJECT, rules.lead),
    Action.APPLICATION_VOTE: (ResourceKind.PROJECT, rules.voter),
    Action.APPLICATION_APPROVE: (ResourceKind.PROJECT, rules.decider(Action.APPLICATION_APPROVE)),
    Action.APPLICATION_REJECT: (ResourceKind.PROJECT, rules.decider(Action.APPLICATION_REJECT)),
    **{
        action: (ResourceKind.PROJECT, rules.approval_step(action))
        for action in (
            Action.APPROVAL_SUSPEND,
            Action.APPROVAL_REINSTATE,
            Action.APPROVAL_REVOKE,
            Action.APPROVAL_RENEW,
            Action.APPROVAL_AMEND_MEMBERS,
        )
    },
    **{
        action: (ResourceKind.CASE, rules.case_step(action))
        for action in (
            Action.REPORT_GENERATE,
            Action.REPORT_VIEW,
            Action.REPORT_SUBMIT,
            Action.REPORT_COMMENT,
            Action.REPORT_RETURN,
            Action.REPORT_SIGN_OFF,
            Action.REPORT_EXPORT,
        )
    },
    **{
        action: (ResourceKind.OUTPUT_REQUEST, rules.request_step(action))
        for action in (
            Action.AIRLOCK_ADD_FILE,
            Action.AIRLOCK_SUBMIT,
            Action.AIRLOCK_WITHDRAW,
            Action.AIRLOCK_VIEW,
            Action.AIRLOCK_APPROVE,
            Action.AIRLOCK_REQUEST_CHANGES,
            Action.AIRLOCK_REJECT,
            Action.AIRLOCK_RELEASE,
            Action.AIRLOCK_DOWNLOAD,
        )
    },
    **{
        action: (ResourceKind.INGRESS_REQUEST, rules.ingress_step(action))
        for action in (Action.AIRLOCK_ADMIT, Action.AIRLOCK_REFUSE_IN, Action.AIRLOCK_VIEW_IN)
    },
}


@dataclass(frozen=True)
class Permit:
    """An allowed decision: the acting user's row and what the resource's rule found."""

    user: User
    found: object = None


def authorize(
    session: Session,
    policies: Policies,
    actor: str,
    action: Action,
    resource: Resource | None = None,
    when: dt.datetime | None = None,
) -> Permit:
    """Decide ``action`` by ``actor`` on ``resource``; see the module docstring."""
    kind, rule = RULES.get(action, (None, None))
    if kind is not None and (resource is None or resource.kind is not kind):
        raise ValueError(f"{action.value} is decided on a {kind.value}, not on {resource}")
    user = find_user(session, actor)
    if user is None:
        raise AccessRefused(Reason.UNKNOWN_USER, f"no account named {actor!r}")
    if user.state is not UserState.ACTIVE:
        raise AccessRefused(Reason.UNKNOWN_USER, f"account {actor!r} is {user.state.value}")
    if not policies.roles.allows(user.roles, action):
        raise AccessRefused(Reason.ROLE_NOT_ALLOWED, _role_hint(policies, user, action))
    if rule is None or resource is None:
        return Permit(user)
    return Permit(user, rule(session, policies, user, resource.name, when or utcnow()))


def why_not(
    store: Store,
    policies: Policies,
    actor: str,
    action: Action,
    resource: Resource | None = None,
    when: dt.datetime | None = None,
) -> WgsTreError | None:
    """The error :func:`authorize` would raise, or None if it would allow; nothing is written."""
    with store.session() as session:
        try:
            authorize(session, policies, actor, action, resource, when)
        except WgsTreError as refusal:
            return refusal
        finally:
            session.rollback()
    return None


def _role_hint(policies: Policies, user: User, action: Action) -> str:
    held = ", ".join(sorted(r.value for r in user.roles)) or "no roles"
    allowed = policies.roles.roles_allowed(action)
    if allowed:
        hint = f"it needs one of these roles: {', '.join(r.value for r in allowed)}"
    else:
        source = str(policies.source / "roles.yaml") if policies.source else "the role policy"
        hint = f"no role is granted it by {source} (default deny)"
    return f"{user.username} ({held}) may not {action.value}: {hint}"
