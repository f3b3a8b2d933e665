"""State machines as tables of valid transitions.

Each table maps a state to the actions allowed from it and the state each leads to. Code never
changes a state except through :meth:`StateMachine.next`, which raises
:class:`~wgs_tre.errors.InvalidTransition` naming the current state and the allowed actions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from wgs_tre.errors import InvalidTransition
from wgs_tre.types import (
    Action,
    ApplicationState,
    ApprovalState,
    IngressState,
    OutputRequestState,
    ReportState,
    UserState,
)

__all__ = [
    "APPLICATION",
    "APPROVAL",
    "INGRESS",
    "INGRESS_START",
    "OUTPUT_REQUEST",
    "REPORT",
    "USER",
    "StateMachine",
]

S = TypeVar("S", bound=StrEnum)


def verb(action: Action) -> str:
    """``application.approve`` -> ``approve``: how an action reads in a message."""
    return action.value.split(".", 1)[1]


@dataclass(frozen=True)
class StateMachine(Generic[S]):
    name: str
    table: Mapping[S, Mapping[Action, S]]

    def allowed(self, current: S) -> list[Action]:
        return list(self.table.get(current, {}))

    def next(self, current: S, action: Action, of: str = "") -> S:
        """The state ``action`` leads to from ``current``; ``of`` names the thing in the
        refusal (``report C-4F2A9B``), so a message among many says which one."""
        steps = self.table.get(current, {})
        if action not in steps:
            machine = f"{self.name} {of}" if of else self.name
            raise InvalidTransition(machine, current.value, verb(action), [verb(a) for a in steps])
        return steps[action]


_S, _AP = ApplicationState, ApprovalState

APPLICATION: StateMachine[ApplicationState] = StateMachine(
    "application",
    {
        _S.SUBMITTED: {
            Action.APPLICATION_VOTE: _S.SUBMITTED,
            Action.APPLICATION_APPROVE: _S.APPROVED,
            Action.APPLICATION_REJECT: _S.REJECTED,
            Action.APPLICATION_WITHDRAW: _S.WITHDRAWN,
        },
        _S.APPROVED: {},
        _S.REJECTED: {},
        _S.WITHDRAWN: {},
    },
)

APPROVAL: StateMachine[ApprovalState] = StateMachine(
    "approval",
    {
        _AP.ACTIVE: {
            Action.APPROVAL_SUSPEND: _AP.SUSPENDED,
            Action.APPROVAL_REVOKE: _AP.REVOKED,
            Action.APPROVAL_RENEW: _AP.ACTIVE,
            Action.APPROVAL_EXPIRE: _AP.EXPIRED,
            Action.APPROVAL_AMEND_MEMBERS: _AP.ACTIVE,
        },
        _AP.SUSPENDED: {
            Action.APPROVAL_REINSTATE: _AP.ACTIVE,
            Action.APPROVAL_REVOKE: _AP.REVOKED,
            Action.APPROVAL_EXPIRE: _AP.EXPIRED,
            Action.APPROVAL_AMEND_MEMBERS: _AP.SUSPENDED,
        },
        _AP.EXPIRED: {
            Action.APPROVAL_RENEW: _AP.ACTIVE,
            Action.APPROVAL_REVOKE: _AP.REVOKED,
        },
        _AP.REVOKED: {},
    },
)

USER: StateMachine[UserState] = StateMachine(
    "user",
    {
        UserState.PENDING: {
            Action.USER_APPROVE: UserState.ACTIVE,
            Action.USER_DISABLE: UserState.DISABLED,
        },
        UserState.ACTIVE: {Action.USER_DISABLE: UserState.DISABLED},
        UserState.DISABLED: {Action.USER_APPROVE: UserState.ACTIVE},
    },
)

_R = ReportState

# A case report's review. Generating makes a new version (never an edit): allowed until the
# report is in review, and after it is returned (the new version is then "revised"). Export is
# a step of its own so that exporting an unsigned report is refused like any invalid step.
REPORT: StateMachine[ReportState] = StateMachine(
    "report",
    {
        _R.DRAFT: {Action.REPORT_GENERATE: _R.DRAFT, Action.REPORT_SUBMIT: _R.IN_REVIEW},
        _R.IN_REVIEW: {
            Action.REPORT_COMMENT: _R.IN_REVIEW,
            Action.REPORT_RETURN: _R.RETURNED,
            Action.REPORT_SIGN_OFF: _R.SIGNED_OFF,
        },
        _R.RETURNED: {Action.REPORT_COMMENT: _R.RETURNED, Action.REPORT_GENERATE: _R.REVISED},
        _R.REVISED: {Action.REPORT_GENERATE: _R.REVISED, Action.REPORT_SUBMIT: _R.IN_REVIEW},
        _R.SIGNED_OFF: {Action.REPORT_EXPORT: _R.SIGNED_OFF},
    },
)

_O = OutputRequestState

# An airlock output request. Files are added to a draft (or to a request sent back for changes)
# and copied when it is submitted. A steward's approval moves a submitted request into review,
# and the approval that makes up the policy's count moves it on to approved: the approval from
# in review leads to approved only then (``wgs_tre.airlock.requests``), otherwise it stays in
# review. Release (approved -> released) is the next part of issue 17 and has no step yet.
OUTPUT_REQUEST: StateMachine[OutputRequestState] = StateMachine(
    "output request",
    {
        _O.DRAFT: {
            Action.AIRLOCK_ADD_FILE: _O.DRAFT,
            Action.AIRLOCK_SUBMIT: _O.SUBMITTED,
            Action.AIRLOCK_WITHDRAW: _O.WITHDRAWN,
        },
        _O.SUBMITTED: {
            Action.AIRLOCK_APPROVE: _O.IN_REVIEW,
            Action.AIRLOCK_REQUEST_CHANGES: _O.CHANGES_REQUESTED,
            Action.AIRLOCK_REJECT: _O.REJECTED,
            Action.AIRLOCK_WITHDRAW: _O.WITHDRAWN,
        },
        _O.IN_REVIEW: {
            Action.AIRLOCK_APPROVE: _O.APPROVED,
            Action.AIRLOCK_REQUEST_CHANGES: _O.CHANGES_REQUESTED,
            Action.AIRLOCK_REJECT: _O.REJECTED,
            Action.AIRLOCK_WITHDRAW: _O.WITHDRAWN,
        },
        _O.CHANGES_REQUESTED: {
            Action.AIRLOCK_ADD_FILE: _O.CHANGES_REQUESTED,
            Action.AIRLOCK_SUBMIT: _O.SUBMITTED,
            Action.AIRLOCK_WITHDRAW: _O.WITHDRAWN,
        },
        _O.APPROVED: {Action.AIRLOCK_RELEASE: _O.RELEASED},
        _O.REJECTED: {},
        _O.RELEASED: {Action.AIRLOCK_DOWNLOAD: _O.RELEASED},
        _O.WITHDRAWN: {},
    },
)

_I = IngressState

# A file brought into a project (``wgs_tre.airlock.ingress``). Bringing it in sanitizes it and
# records it pending when ``policies/files.yaml`` says a steward must approve it
# (``ingress_needs_approval``); otherwise it is admitted at once, placed in the workspace in
# the same step (:data:`INGRESS_START`). One steward's approval admits it.
INGRESS: StateMachine[IngressState] = StateMachine(
    "ingress request",
    {
        _I.PENDING: {Action.AIRLOCK_ADMIT: _I.ADMITTED, Action.AIRLOCK_REFUSE_IN: _I.REFUSED},
        _I.ADMITTED: {},
        _I.REFUSED: {},
    },
)
# The state a bring-in leads to, by whether the policy wants a steward's approval.
INGRESS_START: dict[bool, IngressState] = {True: _I.PENDING, False: _I.ADMITTED}
