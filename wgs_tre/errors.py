"""The exception tree of wgs_tre, documented in one place.

Every error a user can cause is a :class:`WgsTreError`. Its message is written for the person who
caused it (what is wrong, where, and what to do next) and never contains participant data,
pseudonyms or secrets. Each class carries the process exit code the CLI uses for it.

    WgsTreError
    ├── ConfigurationError      settings or store location unusable
    │   ├── StoreNotReady       store missing or its schema out of date
    │   └── ServiceUnavailable  a hub-side service did not answer (or not in its own words)
    ├── PolicyError             a file in policies/ is broken
    ├── InvalidInput            bad user input (file, record, argument)
    │   └── AlreadyImported     the same file was imported before
    ├── NotFound                a named thing does not exist
    ├── AlreadyExists           a name is taken
    ├── Refused                 a governed action was refused (reason is audited)
    │   └── PermissionDenied
    │       └── AccessRefused   what every authorisation decision raises, with a Reason code
    │           ├── ConflictOfInterest  a steward may not review this application
    │           └── QuorumNotMet        the committee's votes do not decide it
    ├── InvalidTransition       a state machine does not allow the step
    └── IntegrityError          stored data does not verify (audit chain, dataset checksums)

Errors cross process boundaries (the data service and the sessions that call it) in one
format: :func:`to_wire` gives a JSON-ready dict (class, exit code, message and the fields the
class is built from) and :func:`from_wire` rebuilds the same exception on the other side.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, ClassVar

__all__ = [
    "AccessRefused",
    "AlreadyExists",
    "AlreadyImported",
    "ConfigurationError",
    "ConflictOfInterest",
    "ExitCode",
    "IntegrityError",
    "InvalidInput",
    "InvalidTransition",
    "NotFound",
    "PermissionDenied",
    "PolicyError",
    "QuorumNotMet",
    "Reason",
    "Refused",
    "ServiceUnavailable",
    "StoreNotReady",
    "WgsTreError",
    "from_wire",
    "to_wire",
]


class ExitCode:
    """Process exit codes of the ``wgs-tre`` CLI (documented in the README)."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    NOT_FOUND = 3
    REFUSED = 4
    CONFLICT = 5
    INVALID_INPUT = 6
    INTEGRITY = 7
    CONFIGURATION = 8


_CLASSES: dict[str, type[WgsTreError]] = {}


class WgsTreError(Exception):
    """Base class: a problem the user can act on, with a one-line message. ``fields`` names
    the constructor's arguments, kept as attributes, from which the error is rebuilt."""

    exit_code = ExitCode.INTERNAL
    fields: ClassVar[tuple[str, ...]] = ("message",)

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _CLASSES[cls.__name__] = cls


_CLASSES["WgsTreError"] = WgsTreError


def to_wire(error: WgsTreError) -> dict[str, Any]:
    """The error as JSON-ready data: class, exit code, message and constructor fields."""
    return {
        "error": type(error).__name__,
        "exit_code": error.exit_code,
        "message": error.message,
        "fields": {name: _plain(getattr(error, name)) for name in error.fields},
    }


def from_wire(body: Mapping[str, Any]) -> WgsTreError | None:
    """The exception ``to_wire`` described, or None if ``body`` does not describe one."""
    cls = _CLASSES.get(str(body.get("error")))
    fields = body.get("fields")
    if cls is None or not isinstance(fields, Mapping) or set(fields) != set(cls.fields):
        return None
    try:
        return cls(**fields)
    except (TypeError, ValueError):  # fields that do not build one (an unknown reason code)
        return None


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


class ConfigurationError(WgsTreError):
    exit_code = ExitCode.CONFIGURATION


class StoreNotReady(ConfigurationError):
    """The governance store is missing or its schema is not at the current revision."""


class ServiceUnavailable(ConfigurationError):
    """A hub-side service (the data service) could not be reached or did not answer in its own
    format (a proxy's error page, a crash)."""


class PolicyError(WgsTreError):
    """A policy file is unreadable or invalid; names the file and the problem."""

    exit_code = ExitCode.INVALID_INPUT

    fields = ("path", "problem")

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"policy {path}: {problem}")
        self.path = path
        self.problem = problem


class InvalidInput(WgsTreError):
    """Bad input; ``where`` names the file and the record/line/field."""

    exit_code = ExitCode.INVALID_INPUT
    fields = ("where", "problem")

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}" if where else problem)
        self.where = where
        self.problem = problem


class AlreadyImported(InvalidInput):
    pass


class NotFound(WgsTreError):
    exit_code = ExitCode.NOT_FOUND
    fields = ("kind", "name")

    def __init__(self, kind: str, name: object) -> None:
        super().__init__(f"no {kind} named {name!r}")
        self.kind = kind
        self.name = name


class AlreadyExists(WgsTreError):
    exit_code = ExitCode.CONFLICT
    fields = ("kind", "name")

    def __init__(self, kind: str, name: object) -> None:
        super().__init__(f"{kind} {name!r} already exists")
        self.kind = kind
        self.name = name


class Refused(WgsTreError):
    """A governed action was refused. ``reason`` is what the audit event records."""

    exit_code = ExitCode.REFUSED
    fields: ClassVar[tuple[str, ...]] = ("reason",)

    def __init__(self, reason: str) -> None:
        super().__init__(f"refused: {reason}")
        self.reason = reason


class PermissionDenied(Refused):
    pass


class Reason(StrEnum):
    """Why an authorisation decision refused; each is a distinct, audited outcome."""

    UNKNOWN_USER = "unknown or inactive account"
    ROLE_NOT_ALLOWED = "role not allowed"
    NOT_THE_LEAD = "only the project lead may"
    CONFLICT_OF_INTEREST = "conflict of interest"
    QUORUM_NOT_MET = "the committee's votes do not decide it"
    POLICY_UNSET = "the policy does not allow it"
    NOT_A_MEMBER = "not a member of the project"
    NO_APPROVAL = "the project has no approval"
    EXPIRED = "the approval has expired"
    SUSPENDED = "the approval is suspended"
    REVOKED = "the approval is revoked"
    DATASET_NOT_APPROVED = "dataset version not approved for the project"
    DATASET_RETIRED = "dataset version retired"
    PURPOSE_MISMATCH = "purpose differs from the approved purpose"
    OTHER_HOSPITAL = "the case belongs to another hospital"
    NOT_THE_REQUESTER = "only the requester may"
    ALREADY_REVIEWED = "already reviewed this submission"
    OUTSIDE_WORKSPACE = "the file is not in the project's workspace"
    FILE_TYPE_NOT_ALLOWED = "the airlock does not let this type of file through"
    FILE_MISNAMED = "the file's name does not match its content"
    FILE_TOO_LARGE = "the file is larger than the airlock allows"
    UNSAFE_ARCHIVE = "the archive is unsafe to unpack"
    ACTIVE_CONTENT = "the file holds scripts or links that run when it is opened"
    ENCRYPTED = "the file is encrypted, so it cannot be checked"


class AccessRefused(PermissionDenied):
    """A governed action refused by the role policy or the resource's own rule: ``code`` says
    which rule, ``detail`` for whom or what."""

    fields: ClassVar[tuple[str, ...]] = ("code", "detail")

    def __init__(self, code: Reason | str, detail: str = "") -> None:
        code = Reason(code)
        super().__init__(f"{code.value}{': ' + detail if detail else ''}")
        self.code = code
        self.detail = detail


class ConflictOfInterest(AccessRefused):
    fields = ("detail",)

    def __init__(self, detail: str) -> None:
        super().__init__(Reason.CONFLICT_OF_INTEREST, detail)


class QuorumNotMet(AccessRefused):
    fields = ("detail",)

    def __init__(self, detail: str) -> None:
        super().__init__(Reason.QUORUM_NOT_MET, detail)


class InvalidTransition(WgsTreError):
    """A step a state machine does not allow from the current state."""

    exit_code = ExitCode.CONFLICT
    fields = ("machine", "current", "action", "allowed")

    def __init__(self, machine: str, current: str, action: str, allowed: Iterable[str]) -> None:
        allowed = sorted(allowed)
        options = ", ".join(allowed) if allowed else "none (final state)"
        super().__init__(
            f"cannot {action} {machine}: it is {current}; allowed from {current}: {options}"
        )
        self.machine = machine
        self.current = current
        self.action = action
        self.allowed = allowed


class IntegrityError(WgsTreError):
    """Stored data does not verify: the audit chain, or a dataset against its checksums."""

    exit_code = ExitCode.INTEGRITY
