"""The consent registry at a glance, for the steward dashboard: how many participants' consent
in force carries each DUO code (permissions and modifiers), by site, and withdrawals month by
month; and the recent withdrawals themselves (who: an audited read, as ``consent history`` is).

A participant's site is the Organization their latest Consent names (``Consent.organization``,
the custodian); consents that name none count under :data:`NO_SITE`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from wgs_tre.consent.registry import latest_by_participant
from wgs_tre.consent.rules import in_force
from wgs_tre.governance.context import Context
from wgs_tre.store.models import ConsentRecord
from wgs_tre.types import Action

__all__ = ["NO_SITE", "ConsentOverview", "Withdrawal", "overview", "recent_withdrawals"]

NO_SITE = ""  # the latest consent names no organization
_BATCH = 900  # ids per query (SQLite allows 999 parameters)


@dataclass(frozen=True)
class ConsentOverview:
    participants: int
    in_force: int
    withdrawn: int
    no_consent: int
    # DUO code (a permission, or a modifier such as NCU) -> participants whose consent in force
    # carries it
    by_permission: dict[str, int]
    by_site: dict[str, dict[str, int]]  # site -> {"in_force", "withdrawn", "other"}
    withdrawals_by_month: dict[str, int]  # "YYYY-MM" -> participants who withdrew that month


@dataclass(frozen=True)
class Withdrawal:
    participant: str  # internal id: the steward needs it for ``consent impact``
    recorded: dt.datetime
    consent_record: int


def _sites(session: Session, record_ids: list[int]) -> dict[int, str]:
    """The site each consent record names (loaded in batches: the resources are large)."""
    sites: dict[int, str] = {}
    for start in range(0, len(record_ids), _BATCH):
        batch = record_ids[start : start + _BATCH]
        query = select(ConsentRecord.id, ConsentRecord.resource).where(ConsentRecord.id.in_(batch))
        for record_id, resource in session.execute(query):
            organisations = resource.get("organization") or [{}]
            first = organisations[0]
            sites[record_id] = str(first.get("display") or first.get("reference") or NO_SITE)
    return sites


def overview(ctx: Context, at: dt.datetime | None = None) -> ConsentOverview:
    """Counts over the cohort at ``at`` (now by default): not audited, like ``consent status``,
    because nothing in it names a participant."""
    with ctx.transaction(Action.CONSENT_READ, audited=False) as tx:
        when = at or tx.now
        latest = latest_by_participant(tx.session, when)
        versions = [v for v in latest.values() if v is not None]
        sites = _sites(tx.session, [v.id for v in versions])
        by_permission: Counter[str] = Counter()
        by_site: dict[str, Counter[str]] = {}
        for version in versions:
            state = (
                "withdrawn"
                if version.withdrawn
                else "in_force"
                if in_force(version, when)
                else "other"
            )
            by_site.setdefault(sites[version.id], Counter())[state] += 1
            if state == "in_force":
                by_permission.update([*version.permissions, *version.modifiers])
        months: dict[str, set[str]] = {}
        for participant, recorded in tx.session.execute(
            select(ConsentRecord.participant_id, ConsentRecord.recorded).where(
                ConsentRecord.withdrawn, ConsentRecord.recorded <= when
            )
        ):
            months.setdefault(f"{recorded:%Y-%m}", set()).add(participant)
        return ConsentOverview(
            participants=len(latest),
            in_force=sum(in_force(v, when) for v in versions),
            withdrawn=sum(v.withdrawn for v in versions),
            no_consent=len(latest) - len(versions),
            by_permission=dict(sorted(by_permission.items())),
            by_site={
                site: {k: counts[k] for k in ("in_force", "withdrawn", "other")}
                for site, counts in sorted(by_site.items())
            },
            withdrawals_by_month={m: len(people) for m, people in sorted(months.items())},
        )


def recent_withdrawals(ctx: Context, since: dt.datetime, limit: int = 50) -> list[Withdrawal]:
    """Withdrawals recorded at or after ``since``, newest first (audited: it names people)."""
    with ctx.transaction(Action.CONSENT_READ) as tx:
        rows = tx.session.execute(
            select(ConsentRecord.participant_id, ConsentRecord.recorded, ConsentRecord.id)
            .where(ConsentRecord.withdrawn, ConsentRecord.recorded >= since)
            .order_by(ConsentRecord.recorded.desc(), ConsentRecord.id.desc())
            .limit(limit)
        ).all()
        tx.audit(f"listed consent withdrawals since {since:%Y-%m-%d}", details={"shown": len(rows)})
        return [Withdrawal(p, recorded, record) for p, recorded, record in rows]
