"""Governed transactions: who is acting, may they, and the audit event that records it.

Every governance operation runs inside :meth:`Context.transaction`, which

1. loads the acting user (unknown or inactive accounts are refused),
2. checks ``policies/roles.yaml`` for the action (default deny),
3. yields a :class:`Tx` whose ``audit()`` appends the event in the same database transaction as
   the state change it records (a write that forgets to audit is a programming error), and
4. on a refusal or an invalid transition, rolls the work back and audits the refusal in a
   transaction of its own, then re-raises.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wgs_tre.audit import append, record_refusal
from wgs_tre.errors import InvalidTransition, NotFound, PermissionDenied, Refused
from wgs_tre.policy import Policies
from wgs_tre.store import Store
from wgs_tre.store.models import User, utcnow
from wgs_tre.types import Action, UserState

__all__ = ["Context", "Tx", "get_user"]


@dataclass
class Tx:
    """One governed transaction, as seen by the operation running inside it."""

    session: Session
    user: User
    action: Action
    now: dt.datetime
    project: str | None = None
    dataset: str | None = None
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
            details=details,
            when=self.now,
        )
        self.audited = True


@dataclass
class Context:
    """The store, the policies and the acting user: everything an operation needs."""

    store: Store
    policies: Policies
    actor: str
    clock: Callable[[], dt.datetime] = utcnow

    @contextmanager
    def transaction(
        self,
        action: Action,
        *,
        project: str | None = None,
        dataset: str | None = None,
        audited: bool = True,
    ) -> Iterator[Tx]:
        """Authorize ``action`` for the actor and run it; see the module docstring."""
        tx: Tx | None = None
        try:
            with self.store.session() as session:
                user = self._authorize(session, action)
                tx = Tx(session, user, action, self.clock(), project, dataset)
                yield tx
                if audited and not tx.audited:
                    raise RuntimeError(f"{action} changed state without an audit event")
        except (Refused, InvalidTransition) as exc:
            record_refusal(
                self.store,
                actor=self.actor,
                action=action,
                reason=exc.reason if isinstance(exc, Refused) else exc.message,
                project=tx.project if tx else project,
                dataset=tx.dataset if tx else dataset,
                when=self.clock(),
            )
            raise

    def check(self, action: Action) -> None:
        """Refuse (and audit) early, before expensive work, if the actor may not do ``action``."""
        with self.transaction(action, audited=False):
            pass

    def _authorize(self, session: Session, action: Action) -> User:
        user = session.scalar(select(User).where(User.username == self.actor))
        if user is None:
            raise PermissionDenied(f"no account named {self.actor!r}")
        if user.state is not UserState.ACTIVE:
            raise PermissionDenied(f"account {self.actor!r} is {user.state.value}")
        if self.policies.roles.allows(user.roles, action):
            return user
        held = ", ".join(sorted(r.value for r in user.roles)) or "no roles"
        allowed = self.policies.roles.roles_allowed(action)
        if allowed:
            who = ", ".join(r.value for r in allowed)
            hint = f"it needs one of these roles: {who}"
        else:
            hint = f"no role is granted it by {self._roles_file()} (default deny)"
        raise PermissionDenied(f"{self.actor} ({held}) may not {action.value}: {hint}")

    def _roles_file(self) -> str:
        source = self.policies.source
        return str(source / "roles.yaml") if source else "the role policy"


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound("user", username)
    return user
