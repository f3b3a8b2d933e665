"""What a dashboard button says when it is done: one line, in the page's language.

Shared by every dashboard: a governed step's refusal or bad input becomes the message (the
governed function has already audited it), never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from wgs_tre.dashboards.texts import explain, say
from wgs_tre.errors import WgsTreError

__all__ = ["Outcome", "attempt"]


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str  # one line, in the page's language


def attempt(lang: str, what: str, step: Callable[[], object]) -> Outcome:
    """Run a governed ``step``; a refusal or bad input becomes the message, not a traceback."""
    try:
        step()
    except WgsTreError as error:
        return Outcome(False, explain(error, lang))
    return Outcome(True, say("done", lang, what=what))
