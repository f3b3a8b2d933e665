"""What every dashboard page has: a title and a language switch, one status line (the loading
line while something works, then the outcome of the last button), buttons carrying ``tre-*``
classes for the browser tests, and HTML tables that scroll inside the page at 1366x768."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

import ipywidgets as w

from wgs_tre.dashboards.outcome import Outcome
from wgs_tre.dashboards.texts import LANGUAGES, explain, say
from wgs_tre.errors import WgsTreError
from wgs_tre.governance import Context

__all__ = ["STYLE", "DashboardPage", "table"]

SCROLL = "max-height:430px;overflow:auto"
TABLE_RULES = """
.tre-table {border-collapse: collapse; font-size: 13px; margin: 4px 0 10px}
.tre-table th, .tre-table td {border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left;
  vertical-align: top}
.tre-table th {background: #eef1f6; position: sticky; top: 0}
.tre-table tr.tre-awaiting td {font-weight: bold}
.tre-table tr.tre-added td {background: #e8f5e9}
.tre-table tr.tre-removed td {background: #ffebee; text-decoration: line-through}
.tre-table tr.tre-reclassified td {background: #fff8e1}
"""
# the widgets' stylesheet: it also hides the first view drawn by the server once they draw
STYLE = f"<style>{TABLE_RULES}.tre-preview {{display: none}}\n</style>"


def table(
    element_id: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    row_classes: Sequence[str] = (),
) -> str:
    """An HTML table (cells escaped) in a box that scrolls; ``row_classes`` mark rows."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    marks = list(row_classes) or [""] * len(rows)
    body = "".join(
        (f'<tr class="{mark}">' if mark else "<tr>")
        + "".join(f"<td>{escape(str(cell))}</td>" for cell in row)
        + "</tr>"
        for row, mark in zip(rows, marks, strict=True)
    )
    return (
        f'<div style="{SCROLL}"><table id="{element_id}" class="tre-table">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


class DashboardPage:
    """The frame a dashboard's widgets sit in; a subclass fills :attr:`body` and redraws it in
    :meth:`redraw` (called when the language changes)."""

    title_key = "title"

    def __init__(self, ctx: Context, language: str) -> None:
        self.ctx = ctx
        self.lang = language if language in LANGUAGES else "en"
        self.status = w.HTML()  # the loading line, and each action's outcome
        self.language = w.ToggleButtons(options=list(LANGUAGES), value=self.lang)
        self.language.observe(lambda change: self.switch(change["new"]), names="value")
        self.title = w.HTML()
        header = w.HBox(
            [self.title, self.language],
            layout=w.Layout(justify_content="space-between", align_items="center"),
        )
        self.body = w.VBox()
        self._preview = ""  # the first table drawn, for preview()
        self.widget = w.VBox(
            [w.HTML(STYLE), header, self.status, self.body], layout=w.Layout(max_width="1340px")
        )

    def first_table(
        self,
        element_id: str,
        headers: Sequence[str],
        rows: Sequence[Sequence[object]],
        row_classes: Sequence[str] = (),
    ) -> str:
        """:func:`table`; the first one the page draws is kept for :meth:`preview` too."""
        if not self._preview:
            self._preview = table(f"{element_id}-preview", headers, rows, row_classes)
        return table(element_id, headers, rows, row_classes)

    def preview(self) -> str:
        """The page's title and first table as plain HTML (ids end in ``-preview``): the
        dashboard service's page template shows it while the widgets load, and :data:`STYLE`
        hides it once they draw (``dashboards/templates/``)."""
        title = escape(self.t(self.title_key))
        return (f'<div class="tre-preview"><style>{TABLE_RULES}</style>'
                f"<h2>{title}</h2>{self._preview}</div>")  # fmt: skip

    def t(self, key: str, **values: object) -> str:
        return say(key, self.lang, **values)

    def switch(self, language: str) -> None:
        self.lang = language
        self.title.value = (
            f'<h2 id="tre-dashboard-title" lang="{language}">{self.t(self.title_key)}</h2>'
        )
        self.redraw()

    def redraw(self) -> None:
        raise NotImplementedError

    def loading(self) -> None:
        self.status.value = f'<div id="tre-loading">⏳ {self.t("loading")}</div>'

    def busy(self, work: Callable[[], object]) -> None:
        """Show the loading line while ``work`` runs; a refusal replaces it with why."""
        self.loading()
        try:
            work()
        except WgsTreError as error:
            self.say_outcome(Outcome(False, explain(error, self.lang)))
            return
        self.status.value = ""

    def say_outcome(self, outcome: Outcome) -> None:
        colour = "#1b5e20" if outcome.ok else "#b71c1c"
        self.status.value = (
            f'<div class="tre-outcome" data-ok="{str(outcome.ok).lower()}" '
            f'style="color:{colour};font-weight:bold">{escape(outcome.message)}</div>'
        )

    def button(self, key: str, enabled: bool, on_click: Callable[[], None]) -> w.Button:
        button = w.Button(description=self.t(key), disabled=not enabled)
        button.add_class(f"tre-{key.replace('_', '-')}")
        button.on_click(lambda _: on_click())
        return button
