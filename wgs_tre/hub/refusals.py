"""Refused sessions, explained: the governed reason code, a sentence and the next step in both
languages, carried by the HTTP error the hub renders as a page (``hub/templates``). API clients
and the spawn-progress stream get its plain message, the audited reason."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tornado import web

from wgs_tre.errors import AccessRefused, NotFound, WgsTreError
from wgs_tre.hub.texts import LANGUAGES, REFUSALS

__all__ = ["Explanation", "RefusalPage", "explain", "service_refusal"]


@dataclass(frozen=True)
class Explanation:
    """Why a project cannot be opened, for the person who asked."""

    project: str
    code: str  # stable: a ``Reason`` name in lower case, or one of the hub's own
    detail: str  # the governed decision's own words (as audited)
    sentences: dict[str, str]  # language -> why
    next_steps: dict[str, str]  # language -> what to do

    def sentence(self, lang: str) -> str:
        return self.sentences.get(lang, self.sentences["en"])

    def next_step(self, lang: str) -> str:
        return self.next_steps.get(lang, self.next_steps["en"])


def _explanation(project: str, code: str, detail: str) -> Explanation:
    why, then = REFUSALS[code if code in REFUSALS else "refused"]
    values = {"project": project, "detail": detail}
    return Explanation(
        project,
        code,
        detail,
        {lang: text.format(**values) for lang, text in zip(LANGUAGES, why, strict=True)},
        {lang: text.format(**values) for lang, text in zip(LANGUAGES, then, strict=True)},
    )


def explain(project: str, refusal: WgsTreError | None) -> Explanation:
    """The explanation of a refused session of ``project`` (``None``: the unnamed server the
    TRE never starts)."""
    if refusal is None:
        return _explanation(project, "per_project", "sessions are per project")
    if isinstance(refusal, AccessRefused):
        return _explanation(project, refusal.code.name.lower(), refusal.message)
    if isinstance(refusal, NotFound):
        return _explanation(project, "no_such_project", refusal.message)
    return _explanation(project, "refused", refusal.message)


# JupyterHub's words when its OAuth refuses someone a service they lack the access scope of
_SERVICE_REFUSED = re.compile(r"permission to access JupyterHub service ([\w.-]+)")


def service_refusal(message: str | None) -> Explanation | None:
    """The explanation of the hub's refusal to open a service (a dashboard) for someone whose
    role may not, from the hub's error message; ``None`` for any other error."""
    found = _SERVICE_REFUSED.search(message or "")
    return _explanation(found.group(1), "dashboard_not_allowed", found.group(0)) if found else None


class RefusalPage(web.HTTPError):
    """An HTTP error whose page explains the refusal (``hub/templates/tre_refusal.html``)."""

    def __init__(self, status: int, message: str, explanation: Explanation) -> None:
        # log_message is a %-format for tornado: keep a literal "%" from being read as one
        super().__init__(status, message.replace("%", "%%"))
        self.tre_refusal = explanation
