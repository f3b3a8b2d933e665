"""SQLAlchemy models of the governance store.

The schema is owned by the Alembic migrations next to this module; a test checks that the two
agree. Rows of ``dataset_version`` and ``audit_event`` are immutable: database triggers refuse
UPDATE and DELETE on them, and on PostgreSQL the runtime role has no right to (``roles.py``);
``audit verify`` detects what gets past.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from wgs_tre.types import (
    ApplicationState,
    ApprovalState,
    CaseKind,
    DatasetKind,
    IngressState,
    OrgType,
    OutputRequestState,
    ReportState,
    Role,
    UserState,
    Verdict,
    Vote,
)

__all__ = [
    "Application",
    "Approval",
    "AuditEvent",
    "AuditHead",
    "AuditPending",
    "Base",
    "Case",
    "CaseReport",
    "ConsentImport",
    "ConsentRecord",
    "Dataset",
    "DatasetRetirement",
    "DatasetVersion",
    "IngressRequest",
    "Organisation",
    "OutputRequest",
    "OutputRequestFile",
    "OutputReview",
    "Participant",
    "Project",
    "ProjectKey",
    "ReportNote",
    "ReportVersion",
    "ReviewVote",
    "User",
    "UserRole",
    "utcnow",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite has no time zones)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use UTC-aware datetimes")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        moment: dt.datetime = value
        return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _enum(kind: type[StrEnum]) -> SAEnum:
    return SAEnum(
        kind,
        native_enum=False,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class DatasetKindType(TypeDecorator[DatasetKind]):
    """Dataset kinds as text: an open vocabulary (``types.DatasetKind``), checked when a
    dataset is registered rather than by the column, so a new kind needs no migration."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> DatasetKind | None:
        return None if value is None else DatasetKind(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Organisation(Base):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    org_type: Mapped[OrgType] = mapped_column(_enum(OrgType))


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    state: Mapped[UserState] = mapped_column(_enum(UserState))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    organisation: Mapped[Organisation | None] = relationship()
    role_rows: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(r.role for r in self.role_rows)


class UserRole(Base):
    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    role: Mapped[Role] = mapped_column(_enum(Role), primary_key=True)


class Dataset(Base):
    __tablename__ = "dataset"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[DatasetKind] = mapped_column(DatasetKindType())
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    versions: Mapped[list[DatasetVersion]] = relationship(
        back_populates="dataset", order_by="DatasetVersion.version"
    )


class DatasetVersion(Base):
    """An immutable release: new data is a new version, never an edit."""

    __tablename__ = "dataset_version"
    __table_args__ = (UniqueConstraint("dataset_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dataset.id"))
    version: Mapped[int] = mapped_column(Integer)
    uri: Mapped[str] = mapped_column(Text)
    checksum: Mapped[str] = mapped_column(String(71))  # "sha256:" + 64 hex of the manifest
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)  # relative path -> sha256, size
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    registered_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    registered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    dataset: Mapped[Dataset] = relationship(back_populates="versions", lazy="joined")
    retirement: Mapped[DatasetRetirement | None] = relationship(lazy="joined")

    @property
    def label(self) -> str:
        return f"{self.dataset.name}@{self.version}"


class DatasetRetirement(Base):
    """A version no new application or session may use; a row of its own because versions
    are append-only. Its files and record stay."""

    __tablename__ = "dataset_retirement"

    dataset_version_id: Mapped[int] = mapped_column(
        ForeignKey("dataset_version.id"), primary_key=True
    )
    retired_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    retired_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    reason: Mapped[str] = mapped_column(Text)


class Project(Base):
    __tablename__ = "project"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    purpose_code: Mapped[str] = mapped_column(String(16))
    purpose_disease: Mapped[str | None] = mapped_column(String(16))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    ethics_ref: Mapped[str] = mapped_column(String(200))
    lead_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    organisation: Mapped[Organisation] = relationship()
    lead: Mapped[User] = relationship()


def _link(name: str, left: str, right: str) -> Table:
    """A many-to-many link table, e.g. which dataset versions an application requests."""
    return Table(
        name,
        Base.metadata,
        Column(f"{left}_id", ForeignKey(f"{left}.id"), primary_key=True),
        Column(f"{right.removeprefix('app_')}_id", ForeignKey(f"{right}.id"), primary_key=True),
    )


application_dataset = _link("application_dataset", "application", "dataset_version")
application_member = _link("application_member", "application", "app_user")
approval_dataset = _link("approval_dataset", "approval", "dataset_version")
approval_member = _link("approval_member", "approval", "app_user")
# Which participants' data each dataset version holds (for withdrawal impact reports).
dataset_participant = Table(
    "dataset_participant",
    Base.metadata,
    Column("dataset_version_id", ForeignKey("dataset_version.id"), primary_key=True),
    Column("participant_id", ForeignKey("participant.id"), primary_key=True, index=True),
)


class Application(Base):
    __tablename__ = "application"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    state: Mapped[ApplicationState] = mapped_column(_enum(ApplicationState))
    requested_expiry: Mapped[dt.date] = mapped_column(Date)
    submitted_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decision_reason: Mapped[str | None] = mapped_column(Text)

    project: Mapped[Project] = relationship()
    dataset_versions: Mapped[list[DatasetVersion]] = relationship(
        secondary=application_dataset, lazy="selectin", order_by="DatasetVersion.id"
    )
    members: Mapped[list[User]] = relationship(
        secondary=application_member, lazy="selectin", order_by="User.username"
    )
    votes: Mapped[list[ReviewVote]] = relationship(order_by="ReviewVote.id", lazy="selectin")


class ReviewVote(Base):
    __tablename__ = "review_vote"
    __table_args__ = (UniqueConstraint("application_id", "steward_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id"))
    steward_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    vote: Mapped[Vote] = mapped_column(_enum(Vote))
    comment: Mapped[str] = mapped_column(Text, default="")
    cast_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    steward: Mapped[User] = relationship(lazy="selectin")


class Approval(Base):
    """What the committee granted: dataset versions, members and an expiry."""

    __tablename__ = "approval"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id"), unique=True)
    state: Mapped[ApprovalState] = mapped_column(_enum(ApprovalState))
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    project: Mapped[Project] = relationship()
    application: Mapped[Application] = relationship()
    dataset_versions: Mapped[list[DatasetVersion]] = relationship(
        secondary=approval_dataset, lazy="selectin", order_by="DatasetVersion.id"
    )
    members: Mapped[list[User]] = relationship(
        secondary=approval_member, lazy="selectin", order_by="User.username"
    )


class ProjectKey(Base):
    """The per-project secret that keys the project's pseudonyms (HMAC); never leaves the store."""

    __tablename__ = "project_key"

    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), primary_key=True)
    key: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Participant(Base):
    """A person whose data the programme holds. The id never leaves the governance store."""

    __tablename__ = "participant"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)


class ConsentImport(Base):
    __tablename__ = "consent_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(Text)
    imported_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    record_count: Mapped[int] = mapped_column(Integer)


class ConsentRecord(Base):
    """One version of a participant's consent; the latest ``recorded`` one at a time wins."""

    __tablename__ = "consent_record"
    __table_args__ = (UniqueConstraint("fhir_id", "fhir_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[str] = mapped_column(ForeignKey("participant.id"), index=True)
    fhir_id: Mapped[str] = mapped_column(String(64))
    fhir_version: Mapped[str] = mapped_column(String(64))
    recorded: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(32))
    withdrawn: Mapped[bool] = mapped_column(Boolean)
    permissions: Mapped[list[str]] = mapped_column(JSON)
    modifiers: Mapped[list[str]] = mapped_column(JSON)
    diseases: Mapped[list[str]] = mapped_column(JSON)
    recontact: Mapped[bool | None] = mapped_column(Boolean)
    valid_from: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    valid_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    import_id: Mapped[int] = mapped_column(ForeignKey("consent_import.id"))
    resource: Mapped[dict[str, Any]] = mapped_column(JSON)


class Case(Base):
    """A participant with sequenced samples, as the hospital that sent them knows them: the
    hospital's own patient id is held here and shown only to that hospital's expert panel."""

    __tablename__ = "clinical_case"
    __table_args__ = (UniqueConstraint("hospital_id", "hospital_patient_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(16), unique=True)  # what reports and audit name
    participant_id: Mapped[str] = mapped_column(ForeignKey("participant.id"), unique=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    hospital_patient_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[CaseKind] = mapped_column(_enum(CaseKind))
    diagnosis: Mapped[str] = mapped_column(String(16))  # ICD-10 code
    registered_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    registered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    hospital: Mapped[Organisation] = relationship(lazy="joined")


class CaseReport(Base):
    """A case's primary analysis report: its review state; its content is in its versions."""

    __tablename__ = "case_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("clinical_case.id"), unique=True)
    state: Mapped[ReportState] = mapped_column(_enum(ReportState))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    case: Mapped[Case] = relationship(lazy="joined")
    # Loaded when read, not with the report: a case list needs neither versions' contents nor
    # notes, only how many versions there are (counted in SQL).
    versions: Mapped[list[ReportVersion]] = relationship(order_by="ReportVersion.number")
    notes: Mapped[list[ReportNote]] = relationship(order_by="ReportNote.id")


class ReportVersion(Base):
    """One version of a report, never changed (append-only): regenerating adds a version."""

    __tablename__ = "report_version"
    __table_args__ = (UniqueConstraint("report_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("case_report.id"))
    number: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))  # of the canonical JSON content
    created_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    author: Mapped[User] = relationship(lazy="joined")


class ReportNote(Base):
    """A reviewer's comment, a return with its reasons, or a sign-off (append-only)."""

    __tablename__ = "report_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("case_report.id"))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # the action's verb: comment, return, sign_off
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    written_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    author: Mapped[User] = relationship(lazy="joined")


class OutputRequest(Base):
    """An airlock output request: what a researcher asks to take out of a project, and where
    it is in its review (``governance.transitions.OUTPUT_REQUEST``). ``submission`` counts the
    submissions: reviews count only toward the submission they were made on."""

    __tablename__ = "output_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(16), unique=True)  # what people and audit name
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    requester_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    purpose: Mapped[str] = mapped_column(Text)
    workspace: Mapped[str] = mapped_column(Text)  # the directory its files are taken from
    state: Mapped[OutputRequestState] = mapped_column(_enum(OutputRequestState))
    submission: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    project: Mapped[Project] = relationship(lazy="joined")
    requester: Mapped[User] = relationship(lazy="joined")
    files: Mapped[list[OutputRequestFile]] = relationship(order_by="OutputRequestFile.id")
    reviews: Mapped[list[OutputReview]] = relationship(order_by="OutputReview.id")


class OutputRequestFile(Base):
    """A file of a request: its path in the workspace and why it should leave; once submitted,
    the copy in the request's area, its size, SHA-256 and what the automatic checks found."""

    __tablename__ = "output_request_file"
    __table_args__ = (UniqueConstraint("request_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("output_request.id"))
    name: Mapped[str] = mapped_column(String(500))  # relative to the workspace
    justification: Mapped[str] = mapped_column(Text)
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    stored_path: Mapped[str | None] = mapped_column(Text)
    findings: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # a notebook whose outputs are the reviewed object: the sanitizer keeps them
    keep_outputs: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class OutputReview(Base):
    """A steward's verdict on one submission of a request (append-only)."""

    __tablename__ = "output_review"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("output_request.id"))
    submission: Mapped[int] = mapped_column(Integer)
    steward_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    verdict: Mapped[Verdict] = mapped_column(_enum(Verdict))
    comment: Mapped[str] = mapped_column(Text)
    reviewed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    steward: Mapped[User] = relationship(lazy="joined")


class IngressRequest(Base):
    """A file a researcher brought into a project through the airlock: its sanitized copy in
    the airlock's area, and whether it reached the workspace (``governance.transitions.
    INGRESS``). ``actions`` is what the sanitizer removed or checked; ``placed_as`` the name it
    was given in the workspace's ``incoming/`` once admitted."""

    __tablename__ = "ingress_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(16), unique=True)  # what people and audit name
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    requester_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    name: Mapped[str] = mapped_column(String(255))  # as the researcher gave it: a plain name
    justification: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)  # of the sanitized copy
    sha256: Mapped[str] = mapped_column(String(64))  # of the sanitized copy
    stored_path: Mapped[str] = mapped_column(Text)  # the sanitized copy, in the airlock's area
    actions: Mapped[list[str]] = mapped_column(JSON)
    state: Mapped[IngressState] = mapped_column(_enum(IngressState))
    placed_as: Mapped[str | None] = mapped_column(String(300))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    project: Mapped[Project] = relationship(lazy="joined")
    requester: Mapped[User] = relationship(lazy="joined", foreign_keys=[requester_id])
    decided_by: Mapped[User | None] = relationship(lazy="joined", foreign_keys=[decided_by_id])


registered_model_dataset = _link("registered_model_dataset", "registered_model", "dataset_version")


class RegisteredModel(Base):
    """A fitted prognosis model in the registry (``wgs_tre.models.registry``): its document (a
    JSON file of numbers, no participant-level data) in the registry's area, and its provenance.
    Only projects whose approval covers its dataset versions may load it."""

    __tablename__ = "registered_model"

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(16), unique=True)  # what people and audit name
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))  # cox | gradient_boosting
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))  # where it was trained
    saved_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    saved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    data_read_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())  # the training data's
    participants: Mapped[int] = mapped_column(Integer)
    events: Mapped[int] = mapped_column(Integer)
    features: Mapped[list[str]] = mapped_column(JSON)
    code_version: Mapped[str] = mapped_column(Text)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))  # of the stored document
    stored_path: Mapped[str] = mapped_column(Text)

    project: Mapped[Project] = relationship(lazy="joined")
    saved_by: Mapped[User] = relationship(lazy="joined")
    dataset_versions: Mapped[list[DatasetVersion]] = relationship(
        secondary=registered_model_dataset, order_by="DatasetVersion.id"
    )


class AuditEvent(Base):
    """One link of the hash chain. ``seq`` is dense from 1; ``hash`` covers every other column."""

    __tablename__ = "audit_event"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    time: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    project: Mapped[str | None] = mapped_column(String(40))
    dataset: Mapped[str | None] = mapped_column(String(120))
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text)  # canonical JSON object
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditPending(Base):
    """PostgreSQL: an event committed with the change it records and not chained yet
    (migration 0006); ``audit_chain()`` moves it into ``audit_event``. Unused on SQLite."""

    __tablename__ = "audit_pending"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    time: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    project: Mapped[str | None] = mapped_column(String(40))
    dataset: Mapped[str | None] = mapped_column(String(120))
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text)


class AuditHead(Base):
    """A single row naming the last event; whoever chains moves it (SQLite: each appender,
    holding the write lock; PostgreSQL: ``audit_chain()``, holding its advisory lock)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
