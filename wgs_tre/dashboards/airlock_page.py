"""The steward dashboard's airlock tab (widgets over :mod:`wgs_tre.dashboards.airlock`).

The queue (``#tre-airlock``), a "review" button per request (in ``.tre-airlock-<ref>``) that
opens the request below (``#tre-airlock-detail``): each file rendered (``.tre-airlock-file``)
with its automatic findings (``.tre-finding``, ``data-rule``), the project's earlier releases
(``#tre-airlock-released``), a comment box (``.tre-airlock-comment``) and the three verdicts
(``.tre-airlock-approve``, ``.tre-airlock-request-changes``, ``.tre-airlock-reject``). After a
verdict the tab is drawn again and the outcome shows in the page's status line.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from wgs_tre.dashboards import airlock
from wgs_tre.dashboards.page import table
from wgs_tre.types import Verdict

if TYPE_CHECKING:
    from wgs_tre.dashboards.steward_page import StewardPage

__all__ = ["AirlockTab"]

VERDICTS = {
    Verdict.APPROVE: "airlock_approve",
    Verdict.REQUEST_CHANGES: "airlock_request_changes",
    Verdict.REJECT: "airlock_reject",
}


class AirlockTab:
    """The tab's widgets, drawn by :meth:`build` for ``page`` (the tab at ``index``)."""

    def __init__(self, page: StewardPage, index: int) -> None:
        self.page = page
        self.index = index

    def build(self) -> list[w.Widget]:
        page = self.page
        rows = airlock.airlock_queue(page.ctx)
        if not rows:
            return [w.HTML(f'<p id="tre-airlock">{page.t("no_airlock")}</p>')]
        grid = table(
            "tre-airlock",
            [
                page.t(k)
                for k in (
                    "request_ref",
                    "project",
                    "requester",
                    "state",
                    "submission",
                    "approvals_of",
                    "files",
                    "findings",
                    "updated",
                )
            ],
            [
                [
                    r.ref,
                    r.project,
                    r.requester,
                    page.t(f"airlock_{r.state.value}"),  # the queue: submitted, in review
                    r.submission,
                    f"{r.approvals} / {r.approvals_needed}",
                    r.files,
                    r.findings,
                    f"{r.updated_at:%Y-%m-%d %H:%M}",
                ]
                for r in rows
            ],
        )
        detail = w.VBox()
        controls = []
        for row in rows:
            box = w.HBox(
                [
                    w.HTML(f"<b>{escape(row.ref)}</b>", layout=w.Layout(width="160px")),
                    page.button("review", True, self._opener(row.ref, detail)),
                ]
            )
            box.add_class(f"tre-airlock-{row.ref}")
            controls.append(box)
        return [w.HTML(grid), *controls, detail]

    def _opener(self, ref: str, detail: w.VBox) -> Any:
        return lambda: self.page.busy(lambda: setattr(detail, "children", self.detail(ref)))

    def detail(self, ref: str) -> list[w.Widget]:
        """One request for review: what it is, its files and findings, the project's earlier
        releases, and the verdict's controls."""
        page = self.page
        found = airlock.airlock_request(page.ctx, ref, page.lang)
        view = found.view
        heading = page.t(
            "request_heading",
            ref=view.ref,
            project=view.project,
            requester=view.requester,
            submission=view.submission,
            n=view.approvals,
            of=view.approvals_needed,
        )
        parts = [
            f"<h3>{escape(heading)}</h3>",
            f"<p><b>{page.t('purpose')}</b>: {escape(view.purpose)}</p>",
            *(self._file(f) for f in found.files),
            f"<h4>{escape(page.t('earlier_releases', project=view.project))}</h4>",
            self._earlier(found.earlier),
        ]
        comment = w.Textarea(
            placeholder=page.t("review_comment"), layout=w.Layout(width="640px", height="70px")
        )
        comment.add_class("tre-airlock-comment")

        def verdict(choice: Verdict) -> Any:
            return lambda: page.act(
                self.index,
                lambda: airlock.review_request(
                    page.ctx, page.lang, ref, choice, comment.value, settings=page.settings
                ),
            )

        buttons = [page.button(key, True, verdict(choice)) for choice, key in VERDICTS.items()]
        shown = w.HTML(
            f'<div id="tre-airlock-detail" data-ref="{escape(ref)}">{"".join(parts)}</div>'
        )
        return [shown, comment, w.HBox(buttons)]

    def _file(self, f: airlock.FileReview) -> str:
        t = self.page.t
        facts = t("file_facts", size=f.size, sha=f.sha256)
        return (
            f'<div class="tre-airlock-file" data-name="{escape(f.name)}" data-kind="{f.kind}">'
            f"<h4>{escape(f.name)}</h4>"
            f"<p>{escape(t('justification', text=f.justification))}<br>"
            f"<small>{escape(facts)}</small></p>"
            f"{self._findings(f.findings)}{f.rendering}</div>"
        )

    def _findings(self, findings: list[dict[str, Any]] | None) -> str:
        t = self.page.t
        if findings is None:
            return f'<p class="tre-not-checked">{escape(t("not_checked"))}</p>'
        if not findings:
            return f'<p class="tre-no-findings">{escape(t("no_findings"))}</p>'
        items = "".join(
            f'<li class="tre-finding" data-rule="{escape(str(x["rule"]))}">'
            f"<b>{escape(str(x['rule']))}</b>: {escape(str(x['message']))}"
            + (
                f" <small>({t('finding_cells')}: "
                f"{escape(', '.join('/'.join(map(str, c)) for c in x['cells']))})</small>"
                if x.get("cells")
                else ""
            )
            + (
                f" <small>({t('finding_fixes')}: {escape(', '.join(x['fixes']))})</small>"
                if x.get("fixes")
                else ""
            )
            + "</li>"
            for x in findings
        )
        return f'<ul class="tre-findings" style="color:#b71c1c">{items}</ul>'

    def _earlier(self, earlier: list[airlock.EarlierRelease]) -> str:
        t = self.page.t
        if not earlier:
            return f'<p id="tre-airlock-released">{escape(t("no_releases"))}</p>'
        return table(
            "tre-airlock-released",
            [t("request_ref"), t("purpose"), t("file_names"), t("released_at")],
            [
                [e.ref, e.purpose, ", ".join(e.files), f"{e.released_at:%Y-%m-%d %H:%M}"]
                for e in earlier
            ],
        )
