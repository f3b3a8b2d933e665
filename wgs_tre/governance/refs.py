"""References people and audit events use for cases and requests: ``C-3F9A2C``, ``R-...``."""

from __future__ import annotations

import secrets
from collections.abc import Container

__all__ = ["random_ref"]


def random_ref(prefix: str, taken: Container[str]) -> str:
    """A new ``<prefix>-XXXXXX`` not in ``taken``. Random, so that a reference says nothing
    about whom or what it names, nor about the order things were made in."""
    while (ref := f"{prefix}-{secrets.token_hex(3).upper()}") in taken:
        pass
    return ref
