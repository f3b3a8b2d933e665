"""The expert-panel dashboard in a real browser (Debian's Chromium, Playwright) through the real
hub: a panel member opens a case in review from their landing page's button, returns it with a
reason, a steward generates a new version (reports.build.generate on the hub world's annotated
cohort), the member sees the two versions side by side, signs off and downloads the PDF, which
pypdf reads back with the variant table in it. A researcher and a steward are refused the
dashboard. Screenshots go to test-artifacts/ (the README shows one), with the first paint."""

from __future__ import annotations

import io
import time

import pytest
from pypdf import PdfReader

from tests.hub.harness import Hub
from tests.hub.test_browser import ARTIFACTS, SLOW, browser, screenshot, signed_in
from tests.hub.test_dashboard_browser import first_view_then_widgets
from tests.report_cast import stored_state
from tests.world import World
from wgs_tre.governance import cases
from wgs_tre.governance.cases import CaseEntry
from wgs_tre.reports.build import content_for, generate

__all__ = ["browser"]  # the module's Chromium (a fixture)

DASHBOARD = "/services/wgs-tre-panel/"
HOSPITAL = "NCGM"  # eve's, in tests/world.py

DASHBOARD_WAITING_KERNELS = 2  # as the hub serves them in production


@pytest.fixture(scope="module")
def case_in_review(hub_world: World) -> tuple[str, str]:
    """A case of eve's hospital whose report (built from the hub world's annotated cohort) is
    in review, and its hospital patient id. Participants are tried in order until one carries
    a reportable variant, so the table is not empty."""
    sam = hub_world.ctx("sam")
    for i in range(1, 41):  # the hub world's 40 participants, registered one by one
        entry = CaseEntry(f"P{i:06d}", f"NCGM-{i:04d}", "C50")
        (ref,) = cases.register_cases(sam, HOSPITAL, [entry])
        if content_for(cases.case_subject(sam, ref, "wgs", None))["findings"]:
            generate(sam, ref, variants="wgs")
            cases.submit(sam, ref)
            return ref, entry.hospital_patient_id
    raise AssertionError("no participant of the hub world carries a reportable variant")


def open_dashboard(page, hub: Hub):  # type: ignore[no-untyped-def]
    """The signed-in ``page`` on the dashboard, its queue shown; and the seconds from the
    request to the queue the server draws (first paint)."""
    page.set_viewport_size({"width": 1366, "height": 768})  # a laptop screen
    started = time.monotonic()
    page.goto(f"{hub.url}{DASHBOARD}", wait_until="commit")
    return time.monotonic() - started + first_view_then_widgets(page, "tre-queue")


def outcome_of(page, button: str) -> str:  # type: ignore[no-untyped-def]
    page.click(f".tre-{button}")
    outcome = page.wait_for_selector(".tre-outcome", timeout=SLOW)
    return outcome.get_attribute("data-ok") + " " + outcome.inner_text()  # type: ignore[no-any-return]


def open_case(page, ref: str) -> None:  # type: ignore[no-untyped-def]
    """Pick ``ref`` in the queue's list (its label starts with the reference) and open it."""
    label = page.locator(".tre-case-choice select option", has_text=ref).text_content()
    page.select_option(".tre-case-choice select", label=label)
    page.click(".tre-open")


def test_a_member_returns_a_report_and_signs_off_its_new_version(  # type: ignore[no-untyped-def]
    browser, hub: Hub, hub_world: World, case_in_review: tuple[str, str]
) -> None:
    ref, patient = case_in_review
    eve = signed_in(browser, hub, "eve")
    eve.wait_for_selector("#tre-awaiting-review", timeout=SLOW)
    assert eve.inner_text("#tre-awaiting-review").endswith(": 1")
    assert eve.get_attribute("#tre-panel-dashboard", "href").endswith(DASHBOARD)
    first_paint = open_dashboard(eve, hub)
    assert eve.get_attribute("#tre-dashboard-identity", "data-account") == "eve"
    queue = eve.inner_text("#tre-queue")
    assert f"{ref}\t{patient}\tC50\tawaiting your review\t1" in queue, queue
    assert "P000001" not in eve.content()  # never the research pseudonyms or internal ids
    screenshot(eve, "dashboard-panel-queue.png")
    reloaded = time.monotonic()  # a second page: the browser has Voila's assets cached
    eve.reload()
    eve.wait_for_selector("#tre-queue", timeout=SLOW)
    warm = time.monotonic() - reloaded
    open_case(eve, ref)
    eve.wait_for_selector("#tre-variants", timeout=SLOW)
    shown = eve.inner_text("#tre-variants-shown")  # "n of n variants"
    assert shown.split(" of ")[0] == shown.split(" of ")[1].split()[0], shown
    eve.fill(".tre-note textarea", "please review the evidence for the first variant")
    assert outcome_of(eve, "return").startswith(f"true Done: {ref} returned")
    assert stored_state(hub_world, ref) == "returned"

    generate(hub_world.ctx("sam"), ref, variants="wgs", note="Evidence reviewed with the lab.")
    cases.submit(hub_world.ctx("sam"), ref)

    eve.click(".tre-back")
    eve.wait_for_selector(f"#tre-queue >> text={ref}", timeout=SLOW)
    open_case(eve, ref)
    eve.wait_for_selector("#tre-report[data-version='2']", timeout=SLOW)
    eve.click(".tre-compare")
    eve.wait_for_selector(".tre-version-after", timeout=SLOW)
    assert "Evidence reviewed with the lab." not in eve.inner_text(".tre-version-before")
    after = eve.inner_text(".tre-version-after")
    assert "Evidence reviewed with the lab." in after and "The summary changed." in after
    assert eve.is_visible(".tre-version-before") and eve.is_visible(".tre-version-after")
    screenshot(eve, "dashboard-panel.png")
    eve.fill(".tre-note textarea", "")
    assert outcome_of(eve, "sign-off").startswith(f"true Done: {ref} signed off")
    eve.click(".tre-export")
    eve.wait_for_selector("#tre-download-pdf", timeout=SLOW)
    with eve.expect_download(timeout=SLOW) as downloading:
        eve.click("#tre-download-pdf")
    download = downloading.value
    assert download.suggested_filename == f"{ref}-v2.pdf"
    pdf = ARTIFACTS / download.suggested_filename
    download.save_as(pdf)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.read_bytes())).pages)
    assert "Reported variants" in text and "classification" in text and patient in text
    first_gene = eve.inner_text("#tre-variants tbody tr td")  # the table's first gene
    assert first_gene in text, (first_gene, text)
    eve.click("button:text-is('ja')")
    eve.wait_for_selector("#tre-dashboard-title[lang='ja']", timeout=SLOW)
    assert eve.inner_text("#tre-dashboard-title") == "エキスパートパネル用ダッシュボード"
    eve.context.close()
    assert stored_state(hub_world, ref) == "signed_off"
    measured = (f"panel dashboard, request to queue in Chromium: first visit {first_paint:.2f} s,"
                f" a reload {warm:.2f} s")  # fmt: skip
    (ARTIFACTS / "dashboard-panel-first-paint.txt").write_text(measured + "\n")
    print(f"\n{measured}")


@pytest.mark.parametrize("user", ["alice", "sam"])  # a researcher, a steward
def test_a_researcher_and_a_steward_are_refused_the_panel_dashboard(
    browser, hub: Hub, user
) -> None:  # type: ignore[no-untyped-def]
    page = signed_in(browser, hub, user)
    assert page.locator("#tre-panel-dashboard").count() == 0  # no button on their page
    response = page.goto(f"{hub.url}{DASHBOARD}")
    assert response.status == 403
    assert page.get_attribute(".tre-refusal", "data-reason") == "dashboard_not_allowed"
    assert "This dashboard is not open to your role." in page.inner_text(".tre-refusal")
    assert page.locator("#tre-dashboard-identity").count() == 0
    screenshot(page, f"dashboard-panel-refused-{user}.png")
    page.context.close()
