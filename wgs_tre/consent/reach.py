"""How many participants a project would reach: for each dataset version its application (or
approval) names, the participants the version holds and how many of them consent, today, to the
project's purpose by its organisation's type. A steward's number for the review; the gate
decides the same way when the project opens the data."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from wgs_tre.consent.registry import permitted_participants
from wgs_tre.duo import Purpose
from wgs_tre.governance.context import Context
from wgs_tre.governance.lookup import get_project, latest_application, latest_approval
from wgs_tre.store.models import dataset_participant
from wgs_tre.types import Action

__all__ = ["DatasetReach", "project_reach"]


@dataclass(frozen=True)
class DatasetReach:
    dataset: str
    participants: int
    consenting: int


def project_reach(ctx: Context, slug: str) -> list[DatasetReach]:
    """The reach of ``slug``'s approval if it has one, else of its latest application."""
    with ctx.transaction(Action.CONSENT_READ, audited=False) as tx:
        project = get_project(tx.session, slug)
        decided = latest_approval(tx.session, project) or latest_application(tx.session, project)
        if decided is None:
            return []
        purpose = Purpose(project.purpose_code, project.purpose_disease)
        consenting = permitted_participants(
            tx.session, purpose, project.organisation.org_type, tx.now
        )
        reach = []
        for version in decided.dataset_versions:
            holds = set(
                tx.session.scalars(
                    select(dataset_participant.c.participant_id).where(
                        dataset_participant.c.dataset_version_id == version.id
                    )
                )
            )
            reach.append(DatasetReach(version.label, len(holds), len(holds & consenting)))
        return reach
