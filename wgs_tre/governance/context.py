"""Governed transactions: who is acting, may they, and the audit event that records it.

Every governance operation runs inside :meth:`Context.transaction`, which

1. decides the action with :func:`~wgs_tre.governance.authority.authorize` (the acting user's
   account, ``policies/roles.yaml`` with default deny, and the resource's own rule),
2. yields a :class:`Tx` whose ``audit()`` appends the event in the same database transaction as
   the state change it records (a write that forgets to audit is a programming error), and
3. on a refusal, an invalid transition or a name that does not exist, rolls the work back and
   audits the refusal in a transaction of its own, then re-raises.

:meth:`Context.can` asks the same question without acting or auditing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from wgs_tre.audit import append, record_refusal
from wgs_tre.errors import InvalidTransition, NotFound, Refused
from wgs_tre.governance.authority import RULES, Resource, ResourceKind, authorize, why_not
from wgs_tre.governance.identity import Identity
from wgs_tre.policy import Policies
from wgs_tre.store import Store
from wgs_tre.store.models import User, utcnow
from wgs_tre.types import Action

__all__ = ["Context", "Tx"]


@dataclass
class Tx:
    """One governed transaction, as seen by the operation running inside it."""

    session: Session
    user: User
    action: Action
    now: dt.datetime
    project: str | None = None
    dataset: str | None = None
    found: Any = None  # what the resource's rule found (see governance.rules)
    witness: Mapping[str, str] = field(default_factory=dict)  # who really acted, on the host
    audited: bool = field(default=False, init=False)

    def audit(
        self,
        reason: str = "",
        *,
        details: Mapping[str, Any] | None = None,
        action: Action | None = None,
    ) -> None:
        append(
            self.session,
            actor=self.user.username,
            action=action or self.action,
            reason=reason,
            project=self.project,
            dataset=self.dataset,
            details={**(details or {}), **self.witness},
            when=self.now,
        )
        self.audited = True


@dataclass
class Context:
    """The store, the policies and the acting user: everything an operation needs. On the
    host, ``identity`` says how the actor was established; every event written then records it
    (the OS account and how), in ``details``, which the chain hashes."""

    store: Store
    policies: Policies
    actor: str
    clock: Callable[[], dt.datetime] = utcnow
    identity: Identity | None = None

    @classmethod
    def acting(cls, store: Store, policies: Policies, identity: Identity) -> Context:
        return cls(store, policies, identity.account, identity=identity)

    @property
    def witness(self) -> dict[str, str]:
        return self.identity.audit_details() if self.identity else {}

    @contextmanager
    def transaction(
        self,
        action: Action,
        *,
        project: str | None = None,
        dataset: str | None = None,
        resource: Resource | None = None,
        audited: bool = True,
    ) -> Iterator[Tx]:
        """Authorize ``action`` for the actor on ``resource`` (by default the project named,
        for actions decided on a project) and run it; see the module docstring."""
        resource = resource or self._resource(action, project)
        tx: Tx | None = None
        try:
            # An audited action writes: it holds the write lock before deciding (Store.writing)
            with self.store.writing() if audited else self.store.session() as session:
                now = self.clock()
                permit = authorize(session, self.policies, self.actor, action, resource, now)
                tx = Tx(
                    session, permit.user, action, now, project, dataset, permit.found, self.witness
                )
                yield tx
                if audited and not tx.audited:
                    raise RuntimeError(f"{action} changed state without an audit event")
        except (Refused, InvalidTransition, NotFound) as exc:
            record_refusal(
                self.store,
                actor=self.actor,
                action=action,
                reason=exc.reason if isinstance(exc, Refused) else exc.message,
                project=tx.project if tx else project,
                dataset=tx.dataset if tx else dataset,
                details={**_named(resource), **self.witness},
                when=self.clock(),
            )
            raise

    def check(self, action: Action) -> None:
        """Refuse (and audit) early, before expensive work, if the actor may not do ``action``."""
        with self.transaction(action, audited=False):
            pass

    def can(
        self, action: Action, *, project: str | None = None, resource: Resource | None = None
    ) -> bool:
        """Would ``action`` on ``resource`` (or ``project``) be allowed now? Nothing is written
        or audited: for user interfaces, which show only the buttons that would work."""
        resource = resource or self._resource(action, project)
        return (
            why_not(self.store, self.policies, self.actor, action, resource, self.clock()) is None
        )

    def allowed_on(self, project: str) -> list[Action]:
        """The actions decided on a project that the actor could take on ``project`` now."""
        on_projects = [a for a, (kind, _) in RULES.items() if kind is ResourceKind.PROJECT]
        return [action for action in on_projects if self.can(action, project=project)]

    @staticmethod
    def _resource(action: Action, project: str | None) -> Resource | None:
        return Resource.project(project) if project is not None and action in RULES else None


def _named(resource: Resource | None) -> dict[str, str]:
    """What a refusal's event names besides its project: the case a refused step was on."""
    if resource is None or resource.kind is ResourceKind.PROJECT:
        return {}
    return {resource.kind.value: resource.name}
