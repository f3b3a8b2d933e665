"""The steward dashboard in a real browser (Debian's Chromium, Playwright) through the real hub:
two stewards vote on the pending application from their dashboards, one approves it with a
reason, and its researcher can then start the project's session; a researcher and an
expert-panel member are refused the dashboard. Screenshots go to test-artifacts/ (the README
shows one), with how long the dashboard took to first show its table."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from tests.hub.harness import Hub
from tests.hub.test_browser import ARTIFACTS, SLOW, browser, screenshot, signed_in
from tests.world import World
from wgs_tre.store.models import AuditEvent

__all__ = ["browser"]  # the module's Chromium (a fixture)

DASHBOARD = "/services/wgs-tre-steward/"
PENDING = "pending-study"  # as the demo's drug-targets: in review, no votes yet

DASHBOARD_WAITING_KERNELS = 2  # as the hub serves them in production


def open_dashboard(browser, hub: Hub, user: str):  # type: ignore[no-untyped-def]
    """``user``'s browser on the dashboard, its applications table shown; the seconds from
    the request to that table as the server draws it (first paint); and what became of every
    request the page made for another origin than the hub's (address: the browser's error)."""
    page = signed_in(browser, hub, user)
    page.set_viewport_size({"width": 1366, "height": 768})  # a laptop screen
    elsewhere: dict[str, str | None] = {}
    page.on("request", lambda r: r.url.startswith(hub.url) or elsewhere.setdefault(r.url, None))
    page.on("requestfailed", lambda r: r.url in elsewhere and elsewhere.update({r.url: r.failure}))
    started = time.monotonic()
    answer = page.goto(f"{hub.url}{DASHBOARD}", wait_until="commit")
    first_paint = time.monotonic() - started + first_view_then_widgets(page, "tre-applications")
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    return page, first_paint, elsewhere


def first_view_then_widgets(page, table: str) -> float:  # type: ignore[no-untyped-def]
    """Wait for the page's first ``table`` drawn by the server (``#<table>-preview``), then for
    the widgets' own; the server's is hidden once they draw. The seconds to the first view."""
    started = time.monotonic()
    page.wait_for_selector(f"#{table}-preview", timeout=SLOW)  # visible, before the widgets
    first_view = time.monotonic() - started
    page.wait_for_selector(f"#{table}", timeout=SLOW)
    hidden = "els => els.length > 0 && els.every(e => !e.checkVisibility())"
    assert page.locator(".tre-preview").evaluate_all(hidden)
    return first_view


def click_and_wait(page, row: str, button: str) -> str:  # type: ignore[no-untyped-def]
    """Click a row's button; return the outcome line the page shows."""
    page.click(f".tre-application-{row} .tre-{button}")
    outcome = page.wait_for_selector(".tre-outcome", timeout=SLOW)
    return outcome.get_attribute("data-ok") + " " + outcome.inner_text()  # type: ignore[no-any-return]


def test_stewards_approve_the_pending_project_and_its_researcher_starts_it(  # type: ignore[no-untyped-def]
    browser, hub: Hub, hub_world: World
) -> None:
    assert hub.start_server("alice", PENDING)[0] == 403  # not approved yet
    sam, first_paint, elsewhere = open_dashboard(browser, hub, "sam")
    # Voila's template links a public CDN: the page's content policy stops the browser before
    # it asks, so no third party learns who opens a dashboard when
    assert set(elsewhere.values()) <= {"csp"}, elsewhere  # blocked by the policy, never sent
    assert sam.get_attribute("#tre-dashboard-identity", "data-account") == "sam"
    assert f"{PENDING} (alice)" in sam.inner_text("#tre-applications")
    assert sam.is_disabled(f".tre-application-{PENDING} .tre-approve")  # no votes yet
    assert click_and_wait(sam, PENDING, "vote-approve").startswith("true Done")
    sue, _, _ = open_dashboard(browser, hub, "sue")
    assert click_and_wait(sue, PENDING, "vote-approve").startswith("true Done")
    sue.context.close()
    reloaded = time.monotonic()  # a second page: the browser has Voila's assets cached
    sam.reload()
    sam.wait_for_selector("#tre-applications", timeout=SLOW)
    warm = time.monotonic() - reloaded
    sam.fill(f".tre-application-{PENDING} .tre-reason input", "ethics and datasets in order")
    screenshot(sam, "dashboard-steward.png")
    assert click_and_wait(sam, PENDING, "approve").startswith(f"true Done: {PENDING} approved")
    assert "No application is waiting" in sam.inner_text("#tre-applications")
    sam.click("text=Approvals")
    sam.wait_for_selector(f"#tre-approvals >> text={PENDING}", timeout=SLOW)
    sam.click("text=Audit log")
    sam.wait_for_selector(f"#tre-audit-events >> text={PENDING}", timeout=SLOW)
    assert "ethics and datasets in order" in sam.inner_text("#tre-audit-events")
    sam.click("text=Consent")
    sam.wait_for_selector("#tre-consent-totals", timeout=SLOW)  # hub_world: 40 participants
    assert "40\t30\t10\t0" in sam.inner_text("#tre-consent-totals")
    assert sam.is_visible(".tre-withdrawals-plot")
    screenshot(sam, "dashboard-steward-consent.png")
    sam.click("text=Approvals")
    sam.click("button:text-is('ja')")  # the language switch, in the page
    sam.wait_for_selector("#tre-approvals th:text-is('期限')", timeout=SLOW)  # the tab, again
    assert sam.inner_text("#tre-dashboard-title") == "スチュワード用ダッシュボード"
    screenshot(sam, "dashboard-steward-approvals-ja.png")
    sam.context.close()
    with hub_world.store.session() as session:
        approved = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "application.approve",
                                     AuditEvent.project == PENDING)
        ).one()  # fmt: skip
    assert (approved.actor, approved.reason) == ("sam", "ethics and datasets in order")
    assert json.loads(approved.details)["identity_via"] == "hub sign-in"
    assert hub.start_server("alice", PENDING) == (201, "ready")
    hub.stop_server("alice", PENDING)
    measured = (f"steward dashboard, request to applications table in Chromium: first visit "
                f"{first_paint:.2f} s, a reload {warm:.2f} s")  # fmt: skip
    (ARTIFACTS / "dashboard-steward-first-paint.txt").write_text(measured + "\n")
    print(f"\n{measured}")


@pytest.mark.parametrize("user", ["alice", "eve"])  # a researcher, an expert-panel member
def test_a_researcher_and_a_panel_member_are_refused_the_dashboard(browser, hub: Hub, user) -> None:  # type: ignore[no-untyped-def]
    page = signed_in(browser, hub, user)
    response = page.goto(f"{hub.url}{DASHBOARD}")
    assert response.status == 403
    assert page.get_attribute(".tre-refusal", "data-reason") == "dashboard_not_allowed"
    text = page.inner_text(".tre-refusal")
    assert "This dashboard is not open to your role." in text
    assert "このダッシュボードはあなたのロールでは開けません。" in text
    assert page.locator("#tre-dashboard-identity").count() == 0
    screenshot(page, f"dashboard-steward-refused-{user}.png")
    page.context.close()
