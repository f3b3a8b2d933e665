"""The expert-panel dashboard's widgets over :mod:`wgs_tre.dashboards.panel`, nothing else.

Built by ``dashboards/panel.ipynb`` in a kernel that acts as the panel member signed in to the
hub. Two views in one page: the queue (the hospital's cases, those awaiting review first) and a
report (summary, a filterable variant table with each variant's evidence codes, the notes, two
versions side by side, the review's buttons and the downloads). Element ids and classes
(``tre-*``) are what the browser tests look for.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from html import escape
from typing import Any

import ipywidgets as w

from wgs_tre.config import load_settings
from wgs_tre.dashboards import panel
from wgs_tre.dashboards.outcome import Outcome
from wgs_tre.dashboards.page import DashboardPage, table
from wgs_tre.governance import Context
from wgs_tre.governance.cases import CaseSummary, ReportDocument
from wgs_tre.governance.identity import Identity
from wgs_tre.policy import load_policies
from wgs_tre.store import Store

__all__ = ["PanelPage", "for_kernel"]

VARIANT_COLUMNS = ("gene", "variant", "zygosity", "consequence", "classification", "evidence")


def for_kernel(identity: Identity, language: str) -> PanelPage:
    """The page for a dashboard kernel: the store and policies the service's settings name."""
    settings = load_settings()
    store = Store(settings.store_url)
    return PanelPage(Context.acting(store, load_policies(settings.policy_dir), identity), language)


def _cells(finding: dict[str, Any]) -> list[str]:
    evidence = ", ".join(e["code"] for e in finding["evidence"])
    return [
        finding["gene"],
        finding["hgvs"] or finding["variant"],
        finding["zygosity"],
        finding["consequence"],
        finding["classification"],
        evidence,
    ]


class PanelPage(DashboardPage):
    title_key = "panel_title"

    def __init__(self, ctx: Context, language: str) -> None:
        super().__init__(ctx, language)
        self.document: ReportDocument | None = None  # the report open, or None: the queue
        self.switch(self.lang)

    def redraw(self) -> None:
        if self.document is None:
            self.busy(self.show_queue)
        else:
            self.busy(lambda: self.show_report(self.document.case.ref, self.document.version))  # type: ignore[union-attr]

    def state(self, case: CaseSummary) -> str:
        return self.t(f"state_{case.state.value}") if case.state else self.t("no_report")

    # -- the queue ----------------------------------------------------------------------------
    def show_queue(self) -> None:
        self.document = None
        found = panel.queue(self.ctx)
        if not found:
            self.body.children = [w.HTML(f'<p id="tre-queue">{self.t("no_cases")}</p>')]
            return
        rows = [
            [
                c.ref,
                c.hospital_patient_id or "",
                c.diagnosis,
                self.state(c),
                c.versions,
                f"{c.updated_at:%Y-%m-%d %H:%M}" if c.updated_at else "",
            ]
            for c in found
        ]
        headers = ["case", "patient_id", "diagnosis", "report_state", "versions", "updated"]
        marks = ["tre-awaiting" if c.state and c.state.value == "in_review" else "" for c in found]
        # one list to pick a report from, not a button per case: a queue of a thousand cases
        # must not cost a thousand widgets to draw
        openable = [c for c in found if c.state is not None]
        choice = w.Dropdown(
            options=[(self._choice_label(c), c.ref) for c in openable],
            description=self.t("case"),
            layout=w.Layout(width="460px"),
        )
        choice.add_class("tre-case-choice")
        opens = self.button(
            "open", bool(openable), lambda: self.busy(lambda: self.show_report(choice.value))
        )
        self.body.children = [
            w.HTML(f"<h3>{self.t('queue')}</h3>"),
            w.HTML(self.first_table("tre-queue", [self.t(h) for h in headers], rows, marks)),
            w.HBox([choice, opens]),
        ]

    def _choice_label(self, case: CaseSummary) -> str:
        return " · ".join(filter(None, [case.ref, case.hospital_patient_id, self.state(case)]))

    # -- a report -----------------------------------------------------------------------------
    def show_report(self, ref: str, version: int | None = None) -> None:
        document = panel.open_report(self.ctx, ref, version)
        self.document = document
        case = document.case
        header = self.t(
            "report_of",
            ref=case.ref,
            patient=case.hospital_patient_id or "",
            version=document.version,
            versions=len(document.versions),
            state=self.t(f"state_{document.state.value}"),
        )
        self.body.children = [
            self.button("back", True, lambda: self.busy(self.show_queue)),
            w.HTML(f'<h3 id="tre-report" data-version="{document.version}">{escape(header)}</h3>'),
            w.HTML(
                f"<h4>{self.t('summary')}</h4>"
                f'<p id="tre-summary" style="white-space:pre-wrap">'
                f"{escape(document.content['summary'])}</p>"
            ),
            self._variant_table(document.content),
            self._notes(document),
            self._comparison(document),
            self._actions(ref),
        ]

    def _variant_table(self, content: dict[str, Any]) -> w.Widget:
        shown = w.HTML()
        choices = panel.filter_options(content)
        pickers = {
            name: w.Dropdown(
                options=[(self.t("all"), ""), *((v, v) for v in values)],
                description=self.t(name),
                layout=w.Layout(width="300px"),
            )
            for name, values in choices.items()
        }

        def draw(_: object = None) -> None:
            picked = panel.variants(content, **{n: p.value for n, p in pickers.items()})
            count = self.t("variants_shown", n=len(picked), total=len(content["findings"]))
            headers = [self.t(c) for c in VARIANT_COLUMNS]
            shown.value = f'<p id="tre-variants-shown">{count}</p>' + (
                table("tre-variants", headers, [_cells(f) for f in picked])
                if picked
                else f"<p>{self.t('no_variants')}</p>"
            )

        for name, picker in pickers.items():
            picker.add_class(f"tre-filter-{name}")
            picker.observe(draw, names="value")
        draw()
        heading = w.HTML(f"<h4>{self.t('variants')}</h4>")
        return w.VBox([heading, w.HBox(list(pickers.values())), shown])

    def _notes(self, document: ReportDocument) -> w.Widget:
        rows = [
            [n.version, n.kind, n.author, f"{n.written_at:%Y-%m-%d %H:%M}", n.text]
            for n in document.notes
        ]
        headers = [self.t(k) for k in ("versions", "action", "actor", "time", "notes")]
        return w.HTML(
            f"<h4>{self.t('notes')}</h4>" + table("tre-notes", headers, rows) if rows else ""
        )

    def _comparison(self, document: ReportDocument) -> w.Widget:
        numbers = [v.number for v in document.versions]
        if len(numbers) < 2:
            return w.HTML()
        left = w.Dropdown(options=numbers, value=numbers[-2], layout=w.Layout(width="80px"))
        right = w.Dropdown(options=numbers, value=numbers[-1], layout=w.Layout(width="80px"))
        left.add_class("tre-compare-left")
        right.add_class("tre-compare-right")
        side_by_side = w.HBox(layout=w.Layout(grid_gap="16px"))

        def show() -> None:
            one, two, changes = panel.compare(self.ctx, document.case.ref, left.value, right.value)
            side_by_side.children = [
                self._version_column(one, changes, before=True),
                self._version_column(two, changes, before=False),
            ]

        return w.VBox(
            [
                w.HBox([left, right, self.button("compare", True, lambda: self.busy(show))]),
                side_by_side,
            ]
        )

    def _version_column(
        self, document: ReportDocument, changes: panel.VersionDiff, *, before: bool
    ) -> w.Widget:
        findings = document.content["findings"]
        gone = set(changes.removed if before else changes.added)
        marks = [
            ("tre-removed" if before else "tre-added")
            if f["variant"] in gone
            else "tre-reclassified"
            if f["variant"] in changes.reclassified
            else ""
            for f in findings
        ]
        listed = [f"{v}: {self.t('removed' if before else 'added')}" for v in sorted(gone)]
        listed += [
            f"{v}: {self.t('reclassified', before=b, after=a)}"
            for v, (b, a) in changes.reclassified.items()
        ]
        summary_note = self.t("summary_changed" if changes.summary_changed else "summary_same")
        column = w.HTML(
            f"<h4>v{document.version}</h4>"
            f'<p style="white-space:pre-wrap">{escape(document.content["summary"])}</p>'
            + f"<p><i>{summary_note}</i></p>"
            + "".join(f"<div>{escape(x)}</div>" for x in listed)
            + (
                table(
                    f"tre-compare-v{document.version}",
                    [self.t(c) for c in VARIANT_COLUMNS],
                    [_cells(f) for f in findings],
                    marks,
                )
                if findings
                else f"<p>{self.t('no_variants')}</p>"
            ),
            layout=w.Layout(width="660px"),
        )
        column.add_class(f"tre-version-{'before' if before else 'after'}")
        return column

    def _actions(self, ref: str) -> w.Widget:
        text = w.Textarea(placeholder=self.t("note_text"), layout=w.Layout(width="520px"))
        text.add_class("tre-note")
        downloads = w.HTML()
        downloads.add_class("tre-downloads")

        def step(action: Callable[[Context, str, str, str], Outcome]) -> Callable[[], None]:
            return lambda: self.act(ref, lambda: action(self.ctx, self.lang, ref, text.value))

        def export() -> None:
            files = panel.export(self.ctx, ref)
            downloads.value = _link(
                "tre-download-pdf", f"{files.filename}.pdf", "application/pdf", files.pdf,
                self.t("download_pdf"),
            ) + _link(
                "tre-download-fhir", f"{files.filename}.fhir.json", "application/fhir+json",
                files.fhir, self.t("download_fhir"),
            )  # fmt: skip

        buttons = [
            self.button("comment", True, step(panel.add_comment)),
            self.button("return", True, step(panel.return_with_reason)),
            self.button("sign_off", True, step(panel.sign_off)),
            self.button("export", True, lambda: self.busy(export)),
        ]
        return w.VBox([text, w.HBox(buttons), downloads])

    def act(self, ref: str, step: Callable[[], Outcome]) -> None:
        """Run a review step, show the report as it now is, then the step's outcome."""
        self.loading()
        outcome = step()
        self.busy(lambda: self.show_report(ref))
        self.say_outcome(outcome)


def _link(element_id: str, filename: str, mime: str, data: bytes, label: str) -> str:
    """A download link holding the file itself: the page receives it over the widget channel
    (the only one it has), so there is no second URL to protect."""
    encoded = base64.b64encode(data).decode()
    return (
        f'<a id="{element_id}" class="btn" download="{escape(filename)}" '
        f'href="data:{mime};base64,{encoded}" style="margin-right:16px">{escape(label)}</a>'
    )
