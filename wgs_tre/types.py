"""Vocabularies of the domain: roles, organisation types, states, actions, dataset kinds.

Enums, not strings, so that a typo is a type error and an unknown value from a user or a file is
refused with the list of valid values (:func:`parse_enum`). Dataset kinds are the one open
vocabulary: names registered by the dispensers that serve them.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import ClassVar, TypeVar

from wgs_tre.errors import InvalidInput

__all__ = [
    "Action",
    "ApplicationState",
    "ApprovalState",
    "CaseKind",
    "DatasetKind",
    "Decision",
    "IngressState",
    "OrgType",
    "OutputRequestState",
    "ProjectStatus",
    "ReportState",
    "Role",
    "UserState",
    "Verdict",
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


class DatasetKind(str):
    """What a dataset holds, which decides how it is dispensed (``wgs_tre.dispense``).

    Open, unlike the enums here: each kind is registered once, by the dispenser that serves it,
    so a new kind touches no other module. The built-in kinds are registered below, so that
    governance knows their names without loading the data stack. ``DatasetKind(name)`` names a
    kind; :meth:`parse` checks a user's input against the registered ones.
    """

    __slots__ = ()
    _registered: ClassVar[dict[str, str]] = {}  # name -> description

    VARIANTS: ClassVar[DatasetKind]
    CLINICAL: ClassVar[DatasetKind]

    @property
    def value(self) -> str:
        return str(self)

    @property
    def description(self) -> str:
        return self._registered.get(self, "")

    @classmethod
    def register(cls, name: str, description: str = "") -> DatasetKind:
        if not _KIND_NAME.match(name):
            raise ValueError(f"dataset kind {name!r}: use 2-32 lower-case letters, digits or '_'")
        cls._registered[name] = description or cls._registered.get(name, "")
        return cls(name)

    @classmethod
    def registered(cls) -> list[DatasetKind]:
        return [cls(name) for name in sorted(cls._registered)]

    @classmethod
    def parse(cls, value: str, *, where: str = "") -> DatasetKind:
        """``value`` as a registered kind, or :class:`InvalidInput` listing them."""
        if value not in cls._registered:
            valid = ", ".join(cls._registered)
            raise InvalidInput(where, f"unknown dataset kind {value!r}; registered kinds: {valid}")
        return cls(value)


_KIND_NAME = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
DatasetKind.VARIANTS = DatasetKind.register("variants", "genotypes as VCF Zarr")
DatasetKind.CLINICAL = DatasetKind.register("clinical", "clinical tables from FHIR, as Parquet")


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


class ProjectStatus(StrEnum):
    """A project's status, from its latest application and approval: machine-stable values
    (``in_review``), which people read with the underscore as a space."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"


class CaseKind(StrEnum):
    """What a case's primary analysis reports: germline findings for a rare disease, germline
    and somatic (tumour) findings for a cancer."""

    RARE_DISEASE = "rare_disease"
    CANCER = "cancer"


class ReportState(StrEnum):
    """Where a case report is in its review (``governance.transitions.REPORT``)."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    RETURNED = "returned"
    REVISED = "revised"
    SIGNED_OFF = "signed_off"


class OutputRequestState(StrEnum):
    """Where an airlock output request is (``governance.transitions.OUTPUT_REQUEST``)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    RELEASED = "released"
    WITHDRAWN = "withdrawn"


class IngressState(StrEnum):
    """Where a file brought into a project is (``governance.transitions.INGRESS``)."""

    PENDING = "pending"  # sanitized, waiting for a steward's approval
    ADMITTED = "admitted"  # placed in the project's workspace (``incoming/``)
    REFUSED = "refused"  # a steward refused it; it never reaches the workspace


class Verdict(StrEnum):
    """A steward's review of an output request."""

    APPROVE = "approve"
    REQUEST_CHANGES = "request_changes"
    REJECT = "reject"


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
    consent withdrawal, a session's end, an egress refusal, a refused ``--as``). Every audit
    event names one of these; the log refuses any other."""

    USER_CREATE = "user.create"
    USER_APPROVE = "user.approve"
    USER_DISABLE = "user.disable"
    USER_GRANT_ROLE = "user.grant_role"
    USER_LIST = "user.list"
    ORG_CREATE = "org.create"
    DATASET_REGISTER = "dataset.register"
    DATASET_LIST = "dataset.list"
    DATASET_RETIRE = "dataset.retire"  # no new use of a version; its record and files stay
    STORE_CHECK = "store.check"  # find (and remove) what interrupted ingests left
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
    AUDIT_CHECKPOINT = "audit.checkpoint"
    AUDIT_KEYGEN = "audit.keygen"
    SESSION_START = "session.start"
    CASE_REGISTER = "case.register"  # a hospital's cases (and its own patient ids) imported
    CASE_LIST = "case.list"
    REPORT_GENERATE = "report.generate"  # a new version of a case's report, never an edit
    REPORT_VIEW = "report.view"
    REPORT_SUBMIT = "report.submit"
    REPORT_COMMENT = "report.comment"
    REPORT_RETURN = "report.return"
    REPORT_SIGN_OFF = "report.sign_off"
    REPORT_EXPORT = "report.export"
    AIRLOCK_CREATE = "airlock.create"  # an output request, a draft of the requester's
    AIRLOCK_ADD_FILE = "airlock.add_file"  # a workspace file and its justification
    AIRLOCK_SUBMIT = "airlock.submit"  # its files copied and hashed, checked, sent for review
    AIRLOCK_WITHDRAW = "airlock.withdraw"
    AIRLOCK_VIEW = "airlock.view"  # a request, its files, findings and reviews (not audited)
    AIRLOCK_LIST = "airlock.list"
    AIRLOCK_APPROVE = "airlock.approve"
    AIRLOCK_REQUEST_CHANGES = "airlock.request_changes"
    AIRLOCK_REJECT = "airlock.reject"
    AIRLOCK_RELEASE = "airlock.release"  # an approved request's files written to the releases
    AIRLOCK_DOWNLOAD = "airlock.download"  # a released file, through the hub
    AIRLOCK_BRING_IN = "airlock.bring_in"  # a file brought into a project, sanitized
    AIRLOCK_ADMIT = "airlock.admit"  # a steward lets a file brought in into the workspace
    AIRLOCK_REFUSE_IN = "airlock.refuse_in"  # or refuses it
    AIRLOCK_VIEW_IN = "airlock.view_in"  # a file brought in, as recorded (not audited)
    MODEL_FIT = "model.fit"  # a prognosis model fitted on a project's analysis table
    MODEL_SAVE = "model.save"  # a fitted model kept in the registry with its provenance
    MODEL_LOAD = "model.load"  # a registered model loaded into a project covering its data
    MODEL_LIST = "model.list"  # the registry's models a user may see (not audited)
    # Events, granted to no role: a session ends with its server, egress is decided by
    # policies/egress.yaml.
    SESSION_STOP = "session.stop"
    EGRESS_REFUSED = "egress.refused"
    IDENTITY_ACT_AS = "identity.act_as"  # asking to act as another account (refused: not root)


E = TypeVar("E", bound=StrEnum)


def parse_enum(kind: type[E], value: str, *, where: str = "") -> E:
    """Return ``kind(value)`` or raise :class:`InvalidInput` listing the valid values."""
    try:
        return kind(value)
    except ValueError:
        valid = ", ".join(member.value for member in kind)
        label = kind.__name__
        raise InvalidInput(where, f"unknown {label} {value!r}; valid values: {valid}") from None
