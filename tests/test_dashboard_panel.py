"""The expert-panel dashboard's logic (wgs_tre.dashboards.panel) and its widgets
(wgs_tre.dashboards.panel_page) on the real governance store, both backends, without a browser:
a member's queue is their hospital's cases only, the variant filters and the comparison of two
versions match what the test wrote into them, and every button goes through the governed
functions (audited as from the CLI; a refusal one line, nothing changed). The browser test
(tests/hub/test_dashboard_browser.py) drives the same through the hub."""

from __future__ import annotations

import base64
import io
import json
import re
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from tests.report_cast import add_hospitals, case_in, register_cases, stored_state
from tests.test_dashboard_page import find, html_of
from tests.test_dashboard_steward import JAPANESE, signed_in
from tests.world import World
from wgs_tre.dashboards import panel
from wgs_tre.dashboards.panel_page import PanelPage
from wgs_tre.errors import InvalidTransition
from wgs_tre.governance import cases
from wgs_tre.store.models import AuditEvent
from wgs_tre.types import ReportState


def finding(
    variant: str, gene: str, cls: str, consequence: str = "missense_variant"
) -> dict[str, Any]:
    """A reported variant as reports.build writes one (only the fields the dashboard reads)."""
    return {"variant": variant, "hgvs": None, "gene": gene, "consequence": consequence,
            "zygosity": "heterozygous", "origin": "germline", "classification": cls,
            "evidence": [{"code": "PM2", "strength": "moderate", "why": "rare"}]}  # fmt: skip


FIRST = {
    "summary": "Two pathogenic variants.",
    "findings": [
        finding("1-100-A-G", "TP53", "Pathogenic", "stop_gained"),
        finding("1-200-C-T", "KRAS", "Pathogenic"),
        finding("2-300-G-A", "EGFR", "Uncertain significance"),
        finding("2-400-T-C", "TP53", "Likely pathogenic", "frameshift_variant"),
    ],
    "diagnosis": {"code": "C34", "name": "lung cancer"},
    "clinical": {},
    "not_reported": {},
    "sources": {"variants": "sequenced@1"},
    "rules": "acmg-2015-test",
}
# The second version, written as the changes a reviewer would see: 2-300 removed, 3-500 added,
# 1-200 reclassified Pathogenic -> Likely pathogenic, the summary rewritten.
SECOND = {
    **FIRST,
    "summary": "One pathogenic variant; KRAS downgraded.",
    "findings": [
        FIRST["findings"][0],
        finding("1-200-C-T", "KRAS", "Likely pathogenic"),
        FIRST["findings"][3],
        finding("3-500-G-T", "STK11", "Pathogenic", "stop_gained"),
    ],
}


@pytest.fixture
def hospitals(world: World) -> dict[str, str]:
    """hospital-a (panel member kenji) with P000001 and P000002, hospital-b (hana) with
    P000003; returns participant -> case reference."""
    add_hospitals(world)
    return register_cases(world)


def in_review(world: World, ref: str, content: dict[str, Any] = FIRST) -> None:
    cases.add_version(world.ctx("sam"), ref, content)
    cases.submit(world.ctx("sam"), ref)


def test_the_queue_is_the_members_hospital_awaiting_review_first(
    world: World, hospitals: dict[str, str]
) -> None:
    # registered in the opposite order of the queue's, so that the order is the queue's doing
    signed = case_in(world, ReportState.SIGNED_OFF, hospital="hospital-a", panel="kenji")
    draft = case_in(world, ReportState.DRAFT, hospital="hospital-a", panel="kenji")
    awaiting = case_in(world, ReportState.IN_REVIEW, hospital="hospital-a", panel="kenji")
    theirs = case_in(world, ReportState.IN_REVIEW, hospital="hospital-b", panel="hana")
    queue = panel.queue(signed_in(world, "kenji"))
    assert [(c.ref, c.state) for c in queue[:3]] == [
        (awaiting, ReportState.IN_REVIEW),
        (draft, ReportState.DRAFT),
        (signed, ReportState.SIGNED_OFF),
    ]
    no_report = {hospitals["P000001"], hospitals["P000002"]}
    assert {c.ref for c in queue[3:]} == no_report and {c.state for c in queue[3:]} == {None}
    assert all(c.hospital_patient_id and c.hospital_patient_id.startswith("MRN-") for c in queue)
    assert theirs not in {c.ref for c in queue}
    assert [c.ref for c in panel.queue(signed_in(world, "hana"))] == [theirs, hospitals["P000003"]]


def test_filters_pick_the_variants_of_a_class_gene_and_consequence() -> None:
    """Oracle: the rows of FIRST chosen by hand."""
    rows = FIRST["findings"]
    assert panel.filter_options(FIRST) == {
        "classification": ["Likely pathogenic", "Pathogenic", "Uncertain significance"],
        "gene": ["EGFR", "KRAS", "TP53"],
        "consequence": ["frameshift_variant", "missense_variant", "stop_gained"],
    }
    assert panel.variants(FIRST) == rows
    assert panel.variants(FIRST, gene="TP53") == [rows[0], rows[3]]
    assert panel.variants(FIRST, classification="Pathogenic") == [rows[0], rows[1]]
    assert panel.variants(FIRST, gene="TP53", consequence="stop_gained") == [rows[0]]
    assert panel.variants(FIRST, gene="TP53", classification="Uncertain significance") == []
    with pytest.raises(ValueError, match="unknown filter \\['zygote'\\]; valid: classification"):
        panel.variants(FIRST, zygote="x")


def test_two_versions_compared_name_what_was_added_removed_and_reclassified(
    world: World, hospitals: dict[str, str]
) -> None:
    ref = hospitals["P000001"]
    in_review(world, ref)
    cases.return_report(world.ctx("kenji"), ref, "check KRAS")
    cases.add_version(world.ctx("sam"), ref, SECOND)
    before = world.last_event().seq
    one, two, changes = panel.compare(signed_in(world, "kenji"), ref, 1, 2)
    assert (one.version, two.version) == (1, 2)
    assert changes == panel.VersionDiff(
        added=["3-500-G-T"],
        removed=["2-300-G-A"],
        reclassified={"1-200-C-T": ("Pathogenic", "Likely pathogenic")},
        summary_changed=True,
    )
    assert panel.diff(FIRST, FIRST) == panel.VersionDiff([], [], {}, False)
    with world.store.session() as session:
        views = session.scalars(select(AuditEvent).where(AuditEvent.seq > before)).all()
        assert [(e.actor, e.action, json.loads(e.details)["version"]) for e in views] == [
            ("kenji", "report.view", 1), ("kenji", "report.view", 2)]  # fmt: skip


def test_each_step_is_the_governed_one_and_audited(world: World, hospitals: dict[str, str]) -> None:
    ref = hospitals["P000001"]
    in_review(world, ref)
    kenji = signed_in(world, "kenji")
    assert panel.add_comment(kenji, "en", ref, "KRAS evidence?").ok
    assert (world.last_event().actor, world.last_event().action) == ("kenji", "report.comment")
    done = panel.return_with_reason(kenji, "en", ref, "check KRAS")
    assert done.ok and stored_state(world, ref) == "returned", done
    event = world.last_event()
    assert (event.action, event.decision, json.loads(event.details)["identity_via"]) == (
        "report.return", "allowed", "hub sign-in")  # fmt: skip
    cases.add_version(world.ctx("sam"), ref, SECOND)
    cases.submit(world.ctx("sam"), ref)
    assert panel.sign_off(kenji, "ja", ref).message.startswith("完了")
    assert stored_state(world, ref) == "signed_off"
    files = panel.export(kenji, ref)
    assert (world.last_event().action, files.filename) == ("report.export", f"{ref}-v2")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(files.pdf)).pages)
    assert "STK11" in text and "MRN-A-0001" in text and "One pathogenic variant" in text
    fhir = json.loads(files.fhir)
    assert fhir["resourceType"] == "DiagnosticReport"
    assert base64.b64decode(fhir["presentedForm"][0]["data"]) == files.pdf
    assert len(fhir["contained"]) == 2 * len(SECOND["findings"])


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_refusal_is_one_line_and_changes_nothing_but_the_audited_refusal(
    world: World, hospitals: dict[str, str], lang: str
) -> None:
    mine, theirs = hospitals["P000001"], hospitals["P000003"]
    in_review(world, mine)
    in_review(world, theirs)
    draft = case_in(world, ReportState.DRAFT, hospital="hospital-a", panel="kenji")
    kenji = signed_in(world, "kenji")
    before = world.counts()
    steps = [
        (lambda: panel.sign_off(kenji, lang, theirs), "report.sign_off", "hospital-b"),
        (lambda: panel.return_with_reason(kenji, lang, mine, "  "), None, "the return is empty"),
        (lambda: panel.add_comment(kenji, lang, "C-NOPE", "x"), "report.comment", "C-NOPE"),
        (lambda: panel.return_with_reason(kenji, lang, draft, "why"), "report.return", draft),
    ]
    refusals = 0
    for step, audited, named in steps:
        outcome = step()
        assert not outcome.ok and "\n" not in outcome.message and named in outcome.message
        assert bool(JAPANESE.search(outcome.message)) == (lang == "ja"), outcome.message
        if lang == "ja":  # the sentence is Japanese; only the names stay as stored
            assert not re.search(r"cannot|no \w+ named|not possible", outcome.message), outcome
        refusals += audited is not None
        if audited:
            assert (world.last_event().action, world.last_event().decision) == (audited, "refused")
        assert world.counts() == {**before, "audit_event": before["audit_event"] + refusals}
    assert stored_state(world, mine) == stored_state(world, theirs) == "in_review"
    with pytest.raises(InvalidTransition):
        panel.export(kenji, mine)  # before sign-off
    assert (world.last_event().action, world.last_event().decision) == ("report.export", "refused")


def open_case(page: PanelPage, ref: str) -> None:
    """Pick ``ref`` in the queue's list and open it, as a member does."""
    choice = find(page.widget, "tre-case-choice")
    assert ref in [value for _, value in choice.options]
    choice.value = ref
    find(page.widget, "tre-open").click()


def test_the_page_opens_filters_returns_compares_signs_off_and_exports(
    world: World, hospitals: dict[str, str]
) -> None:
    ref = hospitals["P000002"]
    in_review(world, ref)
    page = PanelPage(signed_in(world, "kenji"), "en")
    assert "MRN-A-0002" in html_of(page.widget) and 'class="tre-awaiting"' in html_of(page.widget)
    assert hospitals["P000003"] not in html_of(page.widget)  # hospital-b's case
    assert find(page.widget, "tre-case-choice").value == ref  # the one awaiting review
    preview = page.preview()  # the queue as the server draws it before the widgets load
    assert 'id="tre-queue-preview"' in preview and "MRN-A-0002" in preview
    assert hospitals["P000003"] not in preview and "P000002" not in preview
    open_case(page, ref)
    assert 'id="tre-variants-shown">4 of 4' in html_of(page.widget)
    find(page.widget, "tre-filter-gene").value = "TP53"
    assert 'id="tre-variants-shown">2 of 4' in html_of(page.widget)
    find(page.widget, "tre-return").click()  # no reason given
    assert 'data-ok="false"' in page.status.value and "the return is empty" in page.status.value
    find(page.widget, "tre-note").value = "check KRAS"
    find(page.widget, "tre-return").click()
    assert 'data-ok="true"' in page.status.value, page.status.value
    cases.add_version(world.ctx("sam"), ref, SECOND)
    cases.submit(world.ctx("sam"), ref)
    find(page.widget, "tre-back").click()
    open_case(page, ref)
    find(page.widget, "tre-compare").click()
    before = html_of(find(page.widget, "tre-version-before"))
    after = html_of(find(page.widget, "tre-version-after"))
    assert re.search(r'<tr class="tre-removed"><td>EGFR', before), before
    assert re.search(r'<tr class="tre-added"><td>STK11', after), after
    assert re.search(r'<tr class="tre-reclassified"><td>KRAS', after), after
    find(page.widget, "tre-sign-off").click()
    assert stored_state(world, ref) == "signed_off", page.status.value
    find(page.widget, "tre-export").click()
    downloads = find(page.widget, "tre-downloads").value
    assert 'id="tre-download-pdf"' in downloads and f'download="{ref}-v2.pdf"' in downloads
    page.language.value = "ja"
    assert JAPANESE.search(page.title.value) and "承認済み" in html_of(page.widget)
