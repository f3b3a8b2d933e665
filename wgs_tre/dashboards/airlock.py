"""The steward dashboard's airlock queue (issue 17, item 5): the output requests waiting for this
steward, each with its files shown for review, and approve / request changes / reject.

Reads and actions go through the governed functions the CLI uses
(:func:`wgs_tre.airlock.requests.list_requests`, ``show``, ``review_material``, ``review``,
:func:`wgs_tre.airlock.release.release`), acting as the account the hub signed in. As from the
CLI, the approval that makes a request approved releases it in the same button press.

Files are shown from the request's reviewed copies (what the stewards approve, not the
workspace): a CSV or TSV table as its first rows, a PNG, JPEG or GIF image (recognised by its
content, not its name) inline, text and Markdown as text; anything else is left to the CLI.
Everything read from a file is escaped before it becomes HTML.

:mod:`wgs_tre.airlock` loads pandas: it is imported inside the functions, so a dashboard kernel
pays for it when the airlock tab opens, not before.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wgs_tre.config import Settings, load_settings
from wgs_tre.dashboards.outcome import Outcome, attempt
from wgs_tre.dashboards.texts import explain, say
from wgs_tre.errors import WgsTreError
from wgs_tre.governance import Context
from wgs_tre.types import OutputRequestState, Verdict

if TYPE_CHECKING:
    from wgs_tre.airlock.requests import RequestView

__all__ = [
    "PREVIEW_ROWS",
    "EarlierRelease",
    "FileReview",
    "QueueRow",
    "RequestDetail",
    "airlock_queue",
    "airlock_request",
    "render_file",
    "review_request",
]

PREVIEW_ROWS = 20  # rows of a table shown (after its header)
MAX_TEXT_BYTES = 20_000  # of a text file shown
MAX_IMAGE_BYTES = 5_000_000  # an image larger than this is not put in the page
_IMAGES = {  # content signatures -> the data: URL's type
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}
_TEXT = {".txt", ".md", ".markdown", ".log"}
_VERDICT_DONE = {
    Verdict.APPROVE: "airlock_approved",
    Verdict.REQUEST_CHANGES: "airlock_changes_requested",
    Verdict.REJECT: "airlock_rejected",
}


# -- the queue --------------------------------------------------------------------------------
@dataclass(frozen=True)
class QueueRow:
    ref: str
    project: str
    requester: str
    state: OutputRequestState
    submission: int
    approvals: int
    approvals_needed: int
    files: int
    findings: int  # automatic findings over all the files
    updated_at: dt.datetime


def airlock_queue(ctx: Context) -> list[QueueRow]:
    """The requests waiting for this steward (``wgs-tre airlock list``: not those they are
    conflicted on or have reviewed), oldest change first."""
    from wgs_tre.airlock import requests

    rows = []
    for summary in requests.list_requests(ctx):
        view = requests.show(ctx, summary.ref)
        rows.append(
            QueueRow(
                view.ref,
                view.project,
                view.requester,
                view.state,
                view.submission,
                view.approvals,
                view.approvals_needed,
                len(view.files),
                sum(len(f.findings or []) for f in view.files),
                view.updated_at,
            )
        )
    return rows


# -- one request ------------------------------------------------------------------------------
@dataclass(frozen=True)
class FileReview:
    name: str
    justification: str
    size: int | None
    sha256: str  # the first 12 hex digits, as the CLI shows it
    findings: list[dict[str, Any]] | None  # rule, message, cells, fixes; None: not checked
    kind: str  # table | image | text | other | missing
    rendering: str  # HTML, everything read from the file escaped


@dataclass(frozen=True)
class EarlierRelease:
    ref: str
    purpose: str
    files: list[str]
    released_at: dt.datetime


@dataclass(frozen=True)
class RequestDetail:
    view: RequestView
    files: list[FileReview]
    earlier: list[EarlierRelease]  # the project's released requests, oldest first


def airlock_request(ctx: Context, ref: str, lang: str = "en") -> RequestDetail:
    """The request as a steward reviews it: its files from the reviewed copies, rendered, with
    their automatic findings, and its project's earlier releases."""
    from wgs_tre.airlock import requests

    view = requests.show(ctx, ref)
    material = requests.review_material(ctx, ref)
    files = []
    for entry in view.files:
        copy = material.copies.get(entry.name)
        kind, rendering = render_file(copy, lang) if copy else ("missing", "")
        files.append(
            FileReview(
                entry.name,
                entry.justification,
                entry.size,
                (entry.sha256 or "")[:12],
                entry.findings,
                kind,
                rendering,
            )
        )
    earlier = [
        EarlierRelease(r.ref, r.purpose, [f.name for f in r.files], r.updated_at)
        for r in material.released
        if r.ref != ref
    ]
    return RequestDetail(view, files, earlier)


def render_file(path: Path, lang: str = "en") -> tuple[str, str]:
    """``(kind, HTML)`` for the reviewed copy at ``path``: what the steward looks at."""
    try:
        with path.open("rb") as stream:
            head = stream.read(8)
        size = path.stat().st_size
        image = next((t for magic, t in _IMAGES.items() if head.startswith(magic)), None)
        if image is not None:
            return "image", _image(path, image, size, lang)
        name = path.name.lower()
        if name.endswith((".csv", ".csv.gz")):
            return "table", _table(path, ",", lang)
        if name.endswith((".tsv", ".tsv.gz")) or ".glm." in name:
            return "table", _table(path, "\t", lang)
        if path.suffix.lower() in _TEXT:
            return "text", _text(path, size, lang)
    except FileNotFoundError:
        return "missing", _note("file_missing", lang)
    return "other", _note("file_not_shown", lang, path=path)


def _note(key: str, lang: str, **values: object) -> str:
    return f'<p class="tre-file-note">{escape(say(key, lang, **values))}</p>'


def _image(path: Path, kind: str, size: int, lang: str) -> str:
    if size > MAX_IMAGE_BYTES:
        return _note("file_too_large", lang, size=size, path=path)
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<img class="tre-file-image" alt="{escape(path.name)}" '
        f'style="max-width:640px" src="data:{kind};base64,{encoded}">'
    )


def _lines(path: Path) -> Iterator[str]:
    opened = gzip.open if path.suffix.lower() == ".gz" else open
    with opened(path, "rt", encoding="utf-8", errors="replace", newline="") as stream:
        yield from stream


def _table(path: Path, delimiter: str, lang: str) -> str:
    try:
        rows = list(islice(csv.reader(_lines(path), delimiter=delimiter), PREVIEW_ROWS + 2))
    except (csv.Error, OSError, EOFError) as error:
        return _note("file_unreadable", lang, why=str(error))
    if not rows:
        return _note("file_empty", lang)
    header, body = rows[0], rows[1 : PREVIEW_ROWS + 1]
    more = _note("rows_shown", lang, n=PREVIEW_ROWS) if len(rows) > PREVIEW_ROWS + 1 else ""
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    cells = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in body
    )
    return (
        f'<div style="max-height:360px;overflow:auto"><table class="tre-table tre-file-table">'
        f"<thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table></div>{more}"
    )


def _text(path: Path, size: int, lang: str) -> str:
    with path.open("rb") as stream:
        raw = stream.read(MAX_TEXT_BYTES)
    if b"\0" in raw:  # named as text, but binary
        return _note("file_not_shown", lang, path=path)
    more = _note("text_shown", lang, n=MAX_TEXT_BYTES) if size > MAX_TEXT_BYTES else ""
    text = raw.decode("utf-8", errors="replace")
    return f'<pre class="tre-file-text">{escape(text)}</pre>{more}'


# -- the steward's verdict --------------------------------------------------------------------
def review_request(
    ctx: Context,
    lang: str,
    ref: str,
    verdict: Verdict,
    comment: str = "",
    *,
    settings: Settings | None = None,
) -> Outcome:
    """Approve, request changes or reject the request's current submission, with a comment
    (required unless approving). The approval that makes it approved releases it to the
    project's release area (``<data_dir>/releases``), as ``wgs-tre airlock approve`` does."""
    from wgs_tre.airlock import release, requests

    verdict = Verdict(verdict)
    comment = comment.strip()
    if verdict is not Verdict.APPROVE and not comment:
        return Outcome(False, say("refused", lang, why=say("comment_required", lang)))
    decided: list[RequestView] = []
    refused = attempt(
        lang, ref, lambda: decided.append(requests.review(ctx, ref, verdict, comment))
    )
    if not refused.ok:
        return refused
    [view] = decided
    if view.state is OutputRequestState.APPROVED:
        releases = (settings or load_settings()).data_dir / "releases"
        try:
            view = release.release(ctx, ref, releases=releases)
        except WgsTreError as error:
            why = explain(error, lang)
            return Outcome(False, say("airlock_not_released", lang, ref=ref, why=why))
        return Outcome(True, say("done", lang, what=say("airlock_released", lang, ref=ref)))
    done = say(_VERDICT_DONE[verdict], lang, ref=ref, n=view.approvals, of=view.approvals_needed)
    return Outcome(True, say("done", lang, what=done))
