"""Closed vocabularies of the domain: roles, organisation types, states, actions, DUO codes.

Enums, not strings, so that a typo is a type error and an unknown value from a user or a file is
refused with the list of valid values (:func:`parse_enum`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from wgs_tre.errors import InvalidInput

__all__ = [
    "Action",
    "ApplicationState",
    "ApprovalState",
    "DatasetKind",
    "Decision",
    "OrgType",
    "Role",
    "UserState",
    "Vote",
    "parse_enum",
]


class Role(StrEnum):
    RESEARCHER = "researcher"
    STEWARD = "steward"
    EXPERT_PANEL = "expert_panel"
    ADMIN = "admin"


class OrgType(StrEnum):
    ACADEMIC = "academic"
    INDUSTRY = "industry"
    DATA_PROVIDER = "data_provider"


class UserState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    DISABLED = "disabled"


class DatasetKind(StrEnum):
    VARIANTS = "variants"
    CLINICAL = "clinical"
    ANNOTATIONS = "annotations"
    REPORTS = "reports"


class ApplicationState(StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class ApprovalState(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"


class Vote(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class Decision(StrEnum):
    """What an audit event says happened to the request it records."""

    ALLOWED = "allowed"
    REFUSED = "refused"


class Action(StrEnum):
    """What the audit log records: governed actions, which ``policies/roles.yaml`` grants to
    roles (nothing else does), and the events that are not operations a role is granted (a
    consent withdrawal, a session's end, an egress refusal). Every audit event names
    one of these; the log refuses any other."""

    USER_CREATE = "user.create"
    USER_APPROVE = "user.approve"
    USER_DISABLE = "user.disable"
    USER_GRANT_ROLE = "user.grant_role"
    USER_LIST = "user.list"
    ORG_CREATE = "org.create"
    DATASET_REGISTER = "dataset.register"
    DATASET_LIST = "dataset.list"
    PROJECT_APPLY = "project.apply"
    PROJECT_LIST = "project.list"
    PROJECT_READ_ALL = "project.read_all"
    APPLICATION_VOTE = "application.vote"
    APPLICATION_APPROVE = "application.approve"
    APPLICATION_REJECT = "application.reject"
    APPLICATION_WITHDRAW = "application.withdraw"
    APPROVAL_SUSPEND = "approval.suspend"
    APPROVAL_REINSTATE = "approval.reinstate"
    APPROVAL_REVOKE = "approval.revoke"
    APPROVAL_RENEW = "approval.renew"
    APPROVAL_EXPIRE = "approval.expire"
    APPROVAL_AMEND_MEMBERS = "approval.amend_members"
    CONSENT_IMPORT = "consent.import"
    CONSENT_READ = "consent.read"
    CONSENT_WITHDRAWAL = "consent.withdrawal"
    DATA_ACCESS = "data.access"
    AUDIT_READ = "audit.read"
    AUDIT_VERIFY = "audit.verify"
    AUDIT_EXPORT = "audit.export"
    SESSION_START = "session.start"
    # Events, granted to no role: a session ends with its server, egress is decided by
    # policies/egress.yaml.
    SESSION_STOP = "session.stop"
    EGRESS_REFUSED = "egress.refused"


E = TypeVar("E", bound=StrEnum)


def parse_enum(kind: type[E], value: str, *, where: str = "") -> E:
    """Return ``kind(value)`` or raise :class:`InvalidInput` listing the valid values."""
    try:
        return kind(value)
    except ValueError:
        valid = ", ".join(member.value for member in kind)
        label = kind.__name__
        raise InvalidInput(where, f"unknown {label} {value!r}; valid values: {valid}") from None
