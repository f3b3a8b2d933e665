"""The expert-panel dashboard's logic: the member's queue, a report, two versions compared, and
the review's buttons, without a browser.

Every read and step goes through :mod:`wgs_tre.governance.cases` (the functions ``wgs-tre
cases`` calls): the same rule (:func:`wgs_tre.governance.rules.case_step`: a member acts only
on their own hospital's cases), the same audit events, acting as the account the hub signed in.
Viewing a version is audited, so comparing two is two audited views. The export is
``cases.export`` (audited, refused before sign-off) rendered by :mod:`wgs_tre.reports.export`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from wgs_tre.dashboards.outcome import Outcome, attempt
from wgs_tre.governance import Context, cases
from wgs_tre.governance.cases import CaseSummary, ReportDocument
from wgs_tre.types import ReportState

__all__ = [
    "FILTERS",
    "Export",
    "VersionDiff",
    "add_comment",
    "compare",
    "diff",
    "export",
    "filter_options",
    "open_report",
    "queue",
    "return_with_reason",
    "sign_off",
    "variants",
]

FILTERS = ("classification", "gene", "consequence")  # the variant table's filters
# The queue's order: what awaits the panel first, then what awaits its author, then the rest.
_QUEUE_ORDER = {
    ReportState.IN_REVIEW: 0,
    ReportState.REVISED: 1,
    ReportState.RETURNED: 2,
    ReportState.DRAFT: 3,
    ReportState.SIGNED_OFF: 4,
    None: 5,  # no report generated yet
}


def queue(ctx: Context) -> list[CaseSummary]:
    """The cases of the member's hospital (``cases.list_cases``), those awaiting review first,
    then the most recently changed."""
    found = cases.list_cases(ctx)
    newest_first = sorted(found, key=lambda c: c.updated_at.timestamp() if c.updated_at else 0)
    return sorted(reversed(newest_first), key=lambda c: _QUEUE_ORDER[c.state])


def open_report(ctx: Context, ref: str, version: int | None = None) -> ReportDocument:
    """One version of ``ref``'s report (the latest by default); audited as a view."""
    return cases.view(ctx, ref, version)


def filter_options(content: dict[str, Any]) -> dict[str, list[str]]:
    """For each filter, the values the report's variants have (sorted)."""
    return {name: sorted({str(f[name]) for f in content["findings"]}) for name in FILTERS}


def variants(content: dict[str, Any], **chosen: str) -> list[dict[str, Any]]:
    """The report's variants matching every filter given (an empty value matches all)."""
    unknown = set(chosen) - set(FILTERS)
    if unknown:
        raise ValueError(f"unknown filter {sorted(unknown)}; valid: {', '.join(FILTERS)}")
    return [
        f for f in content["findings"] if all(not v or str(f[k]) == v for k, v in chosen.items())
    ]


@dataclass(frozen=True)
class VersionDiff:
    """What changed from one version's content to another's, variant by variant (a variant is
    its ``contig-position-ref-alt`` key)."""

    added: list[str]
    removed: list[str]
    reclassified: dict[str, tuple[str, str]]  # variant -> (class before, class after)
    summary_changed: bool

    @property
    def changed(self) -> set[str]:
        return {*self.added, *self.removed, *self.reclassified}


def diff(before: dict[str, Any], after: dict[str, Any]) -> VersionDiff:
    old = {f["variant"]: f for f in before["findings"]}
    new = {f["variant"]: f for f in after["findings"]}
    return VersionDiff(
        added=[v for v in new if v not in old],
        removed=[v for v in old if v not in new],
        reclassified={
            v: (old[v]["classification"], new[v]["classification"])
            for v in new
            if v in old and old[v]["classification"] != new[v]["classification"]
        },
        summary_changed=before["summary"] != after["summary"],
    )


def compare(
    ctx: Context, ref: str, left: int, right: int
) -> tuple[ReportDocument, ReportDocument, VersionDiff]:
    """Two versions of ``ref``'s report (each view audited) and what changed between them."""
    one, two = cases.view(ctx, ref, left), cases.view(ctx, ref, right)
    return one, two, diff(one.content, two.content)


def add_comment(ctx: Context, lang: str, ref: str, text: str) -> Outcome:
    return attempt(lang, f"comment on {ref}", lambda: cases.comment(ctx, ref, text))


def return_with_reason(ctx: Context, lang: str, ref: str, reason: str) -> Outcome:
    """Return the report to its author; ``cases.return_report`` refuses an empty reason."""
    return attempt(lang, f"{ref} returned", lambda: cases.return_report(ctx, ref, reason))


def sign_off(ctx: Context, lang: str, ref: str, note: str = "") -> Outcome:
    return attempt(lang, f"{ref} signed off", lambda: cases.sign_off(ctx, ref, note))


@dataclass(frozen=True)
class Export:
    filename: str  # without the extension
    pdf: bytes
    fhir: bytes  # the DiagnosticReport as JSON, the PDF attached


def export(ctx: Context, ref: str) -> Export:
    """The signed-off report as a PDF and a FHIR DiagnosticReport (``cases.export``: audited,
    refused before sign-off)."""
    # Imported here: fpdf and fhir.resources take 0.7 s to import, on the way to the queue's
    # first paint otherwise, and most visits export nothing.
    from wgs_tre.reports import export as report_export

    document = cases.export(ctx, ref)
    pdf = report_export.pdf_bytes(document)
    fhir = report_export.diagnostic_report(document, pdf)
    name = f"{document.case.ref}-v{document.version}"
    return Export(name, pdf, json.dumps(fhir, indent=2, ensure_ascii=False).encode())
