"""Users, datasets, projects, the review committee and approvals.

Every operation takes a :class:`Context` (store, policies, acting user), is authorized by the role
policy, and writes its audit event in the same transaction as its state change.
"""

from wgs_tre.governance.context import Context, Tx
from wgs_tre.governance.transitions import (
    APPLICATION,
    APPROVAL,
    INGRESS,
    OUTPUT_REQUEST,
    REPORT,
    USER,
    StateMachine,
)

__all__ = [
    "APPLICATION",
    "APPROVAL",
    "INGRESS",
    "OUTPUT_REQUEST",
    "REPORT",
    "USER",
    "Context",
    "StateMachine",
    "Tx",
]
