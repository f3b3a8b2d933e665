"""Which consent version applies at a time, and whether it permits a use. Pure functions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from typing import Protocol, TypeVar

from wgs_tre import duo
from wgs_tre.types import OrgType

__all__ = ["ConsentLike", "in_force", "latest_at", "permits_use"]


class ConsentLike(Protocol):
    """The fields of a consent version the rules read (a stored record or parsed facts)."""

    @property
    def recorded(self) -> dt.datetime: ...
    @property
    def status(self) -> str: ...
    @property
    def withdrawn(self) -> bool: ...
    @property
    def permissions(self) -> Collection[str]: ...
    @property
    def modifiers(self) -> Collection[str]: ...
    @property
    def diseases(self) -> Collection[str]: ...
    @property
    def valid_from(self) -> dt.datetime | None: ...
    @property
    def valid_until(self) -> dt.datetime | None: ...


C = TypeVar("C", bound=ConsentLike)


def latest_at(versions: Iterable[C], at: dt.datetime) -> C | None:
    """The version that applies at ``at``: the latest recorded by then (entered-in-error skipped).

    ``versions`` must be in the order they entered the registry, which breaks ties between
    versions with the same ``recorded`` time (the later import wins).
    """
    chosen: C | None = None
    for version in versions:
        if version.status == "entered-in-error" or version.recorded > at:
            continue
        if chosen is None or version.recorded >= chosen.recorded:
            chosen = version
    return chosen


def in_force(version: ConsentLike, at: dt.datetime) -> bool:
    if version.status != "active" or version.withdrawn:
        return False
    if version.valid_from is not None and at < version.valid_from:
        return False
    return version.valid_until is None or at <= version.valid_until


def permits_use(
    version: ConsentLike | None, purpose: duo.Purpose, org_type: OrgType, at: dt.datetime
) -> bool:
    """Does this consent version (the one that applies at ``at``) allow the use?"""
    if version is None or not in_force(version, at):
        return False
    return duo.permits(
        frozenset(version.permissions),
        frozenset(version.modifiers),
        frozenset(version.diseases),
        purpose,
        org_type,
    )
