"""Dispensers: how each kind of dataset reaches a project.

A :class:`Dispenser` knows one :class:`~wgs_tre.types.DatasetKind`: it builds a project's view
from a :class:`~wgs_tre.access.Grant` (only the granted participants, under the project's
pseudonyms), writes that view into a directory for a session to read, and reads it back there.
Adding a kind is one module with its dispenser and one :func:`register` call; the gate, the data
service, the materialisation and ``open_project()`` find it by the dataset's kind.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from wgs_tre.access import Grant
from wgs_tre.errors import InvalidInput
from wgs_tre.types import DatasetKind

__all__ = ["Dispenser", "Progress", "dispenser_for", "register"]

# Told (done, total) as a dispenser writes; the units are the dispenser's own (tasks, rows).
Progress = Callable[[int, int], None]


class Dispenser(ABC):
    """One kind of dataset, dispensed. ``part`` names a piece of a dataset where a kind has
    several (a clinical table); kinds with one piece ignore it."""

    kind: ClassVar[str]
    description: ClassVar[str] = ""  # for a new kind: what it holds (``--help`` lists it)

    @abstractmethod
    def view(self, grant: Grant, part: str | None = None) -> Any:
        """The project's view of the granted version: the granted participants only, under
        the project's pseudonyms, and no other identifier."""

    @abstractmethod
    def write(self, grant: Grant, directory: Path, progress: Progress | None = None) -> None:
        """Write the view into ``directory`` (new and empty), for a session to :meth:`read`;
        tell ``progress`` how far it got, if the writing takes a while."""

    @abstractmethod
    def read(self, directory: Path, part: str | None = None) -> Any:
        """The view again, from what :meth:`write` wrote (in a session, read-only)."""


_DISPENSERS: dict[DatasetKind, Dispenser] = {}


def register(dispenser: Dispenser) -> Dispenser:
    """Make ``dispenser`` the one for its kind (registering the kind's name too)."""
    kind = DatasetKind.register(dispenser.kind, dispenser.description)
    known = _DISPENSERS.get(kind)
    if known is not None and type(known) is not type(dispenser):
        raise ValueError(f"dataset kind {kind} is dispensed by {type(known).__name__} already")
    _DISPENSERS[kind] = dispenser
    return dispenser


def dispenser_for(kind: str) -> Dispenser:
    found = _DISPENSERS.get(DatasetKind(kind))
    if found is None:
        known = ", ".join(sorted(_DISPENSERS)) or "none"
        raise InvalidInput(f"dataset kind {kind!r}", f"nothing dispenses it (dispensed: {known})")
    return found
