"""The exception tree of wgs_tre, documented in one place.

Every error a user can cause is a :class:`WgsTreError`. Its message is written for the person who
caused it (what is wrong, where, and what to do next) and never contains participant data,
pseudonyms or secrets. Each class carries the process exit code the CLI uses for it.

    WgsTreError
    ├── ConfigurationError      settings or store location unusable
    │   └── StoreNotReady       store missing or its schema out of date
    ├── PolicyError             a file in policies/ is broken
    ├── InvalidInput            bad user input (file, record, argument)
    │   └── AlreadyImported     the same file was imported before
    ├── NotFound                a named thing does not exist
    ├── AlreadyExists           a name is taken
    ├── Refused                 a governed action was refused (reason is audited)
    │   ├── PermissionDenied    the actor's roles do not allow the action
    │   ├── ConflictOfInterest  a steward may not vote on this application
    │   └── QuorumNotMet        the committee has not voted enough
    ├── InvalidTransition       a state machine does not allow the step
    └── AuditIntegrityError     the audit chain does not verify
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "AlreadyExists",
    "AlreadyImported",
    "AuditIntegrityError",
    "ConfigurationError",
    "ConflictOfInterest",
    "ExitCode",
    "InvalidInput",
    "InvalidTransition",
    "NotFound",
    "PermissionDenied",
    "PolicyError",
    "QuorumNotMet",
    "Refused",
    "StoreNotReady",
    "WgsTreError",
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


class WgsTreError(Exception):
    """Base class: a problem the user can act on, with a one-line message."""

    exit_code = ExitCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationError(WgsTreError):
    exit_code = ExitCode.CONFIGURATION


class StoreNotReady(ConfigurationError):
    """The governance store is missing or its schema is not at the current revision."""


class PolicyError(WgsTreError):
    """A policy file is unreadable or invalid; names the file and the problem."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"policy {path}: {problem}")
        self.path = path
        self.problem = problem


class InvalidInput(WgsTreError):
    """Bad input; ``where`` names the file and the record/line/field."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}" if where else problem)
        self.where = where
        self.problem = problem


class AlreadyImported(InvalidInput):
    pass


class NotFound(WgsTreError):
    exit_code = ExitCode.NOT_FOUND

    def __init__(self, kind: str, name: object) -> None:
        super().__init__(f"no {kind} named {name!r}")
        self.kind = kind
        self.name = name


class AlreadyExists(WgsTreError):
    exit_code = ExitCode.CONFLICT

    def __init__(self, kind: str, name: object) -> None:
        super().__init__(f"{kind} {name!r} already exists")
        self.kind = kind
        self.name = name


class Refused(WgsTreError):
    """A governed action was refused. ``reason`` is what the audit event records."""

    exit_code = ExitCode.REFUSED

    def __init__(self, reason: str) -> None:
        super().__init__(f"refused: {reason}")
        self.reason = reason


class PermissionDenied(Refused):
    pass


class ConflictOfInterest(Refused):
    pass


class QuorumNotMet(Refused):
    pass


class InvalidTransition(WgsTreError):
    """A step a state machine does not allow from the current state."""

    exit_code = ExitCode.CONFLICT

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


class AuditIntegrityError(WgsTreError):
    exit_code = ExitCode.INTEGRITY
