"""What a participant's withdrawal touches: dataset versions holding their data, the projects
approved to use those versions, outputs already released from those projects, and registered
prognosis models trained on those versions.

New opens exclude a withdrawn participant automatically (the gate reads the latest consent);
this report is for the steward, to act on what was dispensed or released before.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wgs_tre.consent.rules import latest_at
from wgs_tre.errors import NotFound
from wgs_tre.governance.context import Context
from wgs_tre.governance.views import effective_state
from wgs_tre.store.models import (
    Approval,
    ConsentImport,
    ConsentRecord,
    DatasetVersion,
    OutputRequest,
    Participant,
    RegisteredModel,
    approval_dataset,
    dataset_participant,
    registered_model_dataset,
)
from wgs_tre.types import Action, OutputRequestState

__all__ = ["AffectedProject", "Impact", "flagged_models", "impact", "model_withdrawals"]


@dataclass(frozen=True)
class AffectedProject:
    project: str
    approval_state: str
    datasets: list[str]


@dataclass(frozen=True)
class Impact:
    withdrawn: bool
    consent_status: str
    dataset_versions: list[str]
    projects: list[AffectedProject]
    released_outputs: list[str]  # "R-XXXXXX (project)": released by the affected projects
    models: list[str]  # "M-XXXXXX (project)": registered models trained on those versions


def impact(ctx: Context, participant: str) -> Impact:
    """The withdrawal-impact report for one participant (steward; audited without the id)."""
    with ctx.transaction(Action.CONSENT_READ) as tx:
        if tx.session.get(Participant, participant) is None:
            raise NotFound("participant", participant)
        versions = tx.session.scalars(
            select(DatasetVersion)
            .join(
                dataset_participant, dataset_participant.c.dataset_version_id == DatasetVersion.id
            )
            .where(dataset_participant.c.participant_id == participant)
            .order_by(DatasetVersion.id)
        ).all()
        version_ids = [v.id for v in versions]
        approvals = tx.session.scalars(
            select(Approval)
            .join(approval_dataset, approval_dataset.c.approval_id == Approval.id)
            .where(approval_dataset.c.dataset_version_id.in_(version_ids))
            .distinct()
            .order_by(Approval.id)
        ).all()
        projects = [
            AffectedProject(
                a.project.slug,
                effective_state(a, tx.now).value,
                [v.label for v in a.dataset_versions if v.id in version_ids],
            )
            for a in approvals
        ]
        released = tx.session.scalars(
            select(OutputRequest)
            .where(
                OutputRequest.project_id.in_({a.project_id for a in approvals}),
                OutputRequest.state == OutputRequestState.RELEASED,
            )
            .order_by(OutputRequest.id)
        ).all()
        trained = select(registered_model_dataset.c.registered_model_id).where(
            registered_model_dataset.c.dataset_version_id.in_(version_ids)
        )  # a subquery, not DISTINCT: PostgreSQL cannot compare a row's JSON columns
        models = tx.session.scalars(
            select(RegisteredModel)
            .where(RegisteredModel.id.in_(trained))
            .order_by(RegisteredModel.id)
        ).all()
        records = tx.session.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.participant_id == participant)
            .order_by(ConsentRecord.id)
        ).all()
        current = latest_at(records, tx.now)
        tx.audit(
            "withdrawal impact report",
            details={
                "dataset_versions": len(versions),
                "projects": len(projects),
                "released_outputs": len(released),
                "models": len(models),
            },
        )
        return Impact(
            withdrawn=bool(current and current.withdrawn),
            consent_status=("withdrawn" if current.withdrawn else current.status)
            if current
            else "no consent on record",
            dataset_versions=[v.label for v in versions],
            projects=projects,
            released_outputs=[f"{r.ref} ({r.project.slug})" for r in released],
            models=[f"{m.ref} ({m.project.slug})" for m in models],
        )


def model_withdrawals(session: Session, model: RegisteredModel) -> int:
    """Participants of the model's dataset versions whose withdrawal was imported after its
    data was read: the model was trained on data that may no longer be used (its flag)."""
    versions = [v.id for v in model.dataset_versions]
    query = (
        select(func.count(func.distinct(ConsentRecord.participant_id)))
        .join(ConsentImport, ConsentImport.id == ConsentRecord.import_id)
        .join(
            dataset_participant,
            dataset_participant.c.participant_id == ConsentRecord.participant_id,
        )
        .where(
            ConsentRecord.withdrawn.is_(True),
            ConsentImport.imported_at > model.data_read_at,
            dataset_participant.c.dataset_version_id.in_(versions),
        )
    )
    return int(session.scalar(query) or 0)


def flagged_models(session: Session) -> list[str]:
    """The references of the registered models a later withdrawal flagged."""
    models = session.scalars(select(RegisteredModel).order_by(RegisteredModel.id))
    return [m.ref for m in models if model_withdrawals(session, m)]
