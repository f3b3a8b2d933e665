"""A small cast for governance tests, built through the real operations (so it is audited)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from wgs_tre.config import Settings
from wgs_tre.duo import Purpose
from wgs_tre.errors import InvalidTransition
from wgs_tre.governance import Context, datasets, projects, review, users
from wgs_tre.governance.views import ProjectView
from wgs_tre.policy import Policies
from wgs_tre.store import Store
from wgs_tre.store.models import AuditEvent, Base
from wgs_tre.types import DatasetKind, OrgType, Role, Vote

ORGS = {
    "Uni A": OrgType.ACADEMIC,
    "Uni B": OrgType.ACADEMIC,
    "NCGM": OrgType.ACADEMIC,
    "Pharma": OrgType.INDUSTRY,
    "SeqCo": OrgType.DATA_PROVIDER,
}
CAST = {
    # username: (roles, organisation)
    "alice": ({Role.RESEARCHER}, "Uni A"),
    "bob": ({Role.RESEARCHER}, "Uni A"),
    "carol": ({Role.RESEARCHER}, "Pharma"),
    "sam": ({Role.STEWARD}, "NCGM"),
    "sue": ({Role.STEWARD}, "NCGM"),
    "stella": ({Role.STEWARD}, "Uni A"),  # conflicted on Uni A's projects
    "eve": ({Role.EXPERT_PANEL}, "NCGM"),
}
ADMIN = "root1"
GRU = Purpose.parse("GRU")


@dataclass
class World:
    store: Store
    policies: Policies
    tmp: Path

    @classmethod
    def build(cls, store: Store, policies: Policies, tmp: Path) -> World:
        world = cls(store, policies, tmp)
        users.bootstrap_admin(store, ADMIN, by="test")
        admin = world.ctx(ADMIN)
        for name, org_type in ORGS.items():
            users.create_organisation(admin, name, org_type)
        for name, (roles, org) in CAST.items():
            users.create_user(admin, name, roles=roles, organisation=org)
        world.register("cohort")
        return world

    def ctx(self, actor: str, now: dt.datetime | None = None) -> Context:
        if now is None:
            return Context(self.store, self.policies, actor)
        return Context(self.store, self.policies, actor, clock=lambda: now)

    def register(self, name: str, content: str = "genotypes") -> str:
        path = self.tmp / f"{name}-{content}.txt"
        path.write_text(content)
        view = datasets.register_version(self.ctx("sam"), name, path, kind=DatasetKind.VARIANTS)
        return view.label

    def apply(
        self,
        slug: str = "brca-study",
        *,
        lead: str = "alice",
        members: list[str] | None = None,
        purpose: Purpose = GRU,
        days: int = 180,
        datasets: list[str] | None = None,
    ) -> ProjectView:
        return projects.apply(
            self.ctx(lead),
            slug,
            title=f"Study {slug}",
            purpose=purpose,
            ethics_ref="IRB-2026-001",
            datasets=datasets or ["cohort"],
            members=members if members is not None else ["bob"],
            expiry=dt.date.today() + dt.timedelta(days=days),
        )

    def vote(self, slug: str, *votes: tuple[str, Vote]) -> None:
        for steward, choice in votes:
            review.vote(self.ctx(steward), slug, choice)

    def approved(self, slug: str = "brca-study", **kwargs: object) -> ProjectView:
        self.apply(slug, **kwargs)  # type: ignore[arg-type]
        self.vote(slug, ("sam", Vote.APPROVE), ("sue", Vote.APPROVE))
        return review.approve(self.ctx("sam"), slug)

    def settings(self) -> Settings:
        """Settings that point the library (open_project, the CLI) at this world's store."""
        return Settings(
            data_dir=self.tmp,
            database_url=self.store.url.render_as_string(hide_password=False),
            policy_dir=self.policies.source or Path("policies"),
        )

    def cli_env(self, user: str) -> dict[str, str]:
        """The environment of a ``python -m wgs_tre`` process that acts (as root may) as
        ``user`` on this world's store, with a home of its own: a credentials file in the
        real home would change whom it acts as."""
        home = self.tmp / "cli-home"
        home.mkdir(exist_ok=True)
        return {
            "WGS_TRE_DATABASE_URL": self.store.url.render_as_string(hide_password=False),
            "WGS_TRE_POLICY_DIR": str(self.policies.source),
            "WGS_TRE_AS": user,
            "HOME": str(home),
            "PATH": "/usr/bin:/bin",
        }

    def last_event(self) -> AuditEvent:
        with self.store.session() as session:
            event = session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
            assert event is not None
            session.expunge(event)
            return event

    def counts(self) -> dict[str, int]:
        """Row count of every table: 'the store is unchanged' means these are equal."""
        with self.store.session() as session:
            return {
                table.name: session.scalar(select(func.count()).select_from(table)) or 0
                for table in Base.metadata.sorted_tables
            }


def check_step(world: World, spec: dict, state, action, attempt: Callable[[], str]) -> None:  # type: ignore[no-untyped-def]
    """Try ``action`` from ``state``: it does what ``spec`` (the machine written out apart from
    its table) says, or is refused naming the state and the allowed steps; audited either way."""
    before = world.last_event().seq
    if (state, action) in spec:
        assert attempt() == spec[(state, action)].value
        event = world.last_event()
        assert (event.action, event.decision) == (action.value, "allowed")
        assert event.seq > before
    else:
        with pytest.raises(InvalidTransition) as caught:
            attempt()
        assert caught.value.current == state.value
        allowed = sorted(a.value.split(".")[1] for (s, a) in spec if s == state)
        assert caught.value.allowed == allowed
        assert f"it is {state.value}" in caught.value.message
        event = world.last_event()
        assert (event.action, event.decision) == (action.value, "refused")
        assert event.reason == caught.value.message
