"""The steward dashboard's widgets (wgs_tre.dashboards.steward_page) driven as a browser would
drive them, in-process: buttons clicked, text typed, tabs opened, the language switched. The
store, the policies and the governed functions are real; only the browser is absent (the
browser tests in tests/hub/test_dashboard_browser.py add it)."""

from __future__ import annotations

import json
import re

import ipywidgets as w
import pytest
from sqlalchemy import text

from tests.test_audit import as_dba
from tests.test_dashboard_steward import JAPANESE, signed_in
from tests.world import World
from wgs_tre.dashboards import steward
from wgs_tre.dashboards.steward_page import StewardPage
from wgs_tre.governance import projects
from wgs_tre.types import Vote


def find(root: w.Widget, css_class: str) -> w.Widget:
    """The one widget under ``root`` carrying ``css_class`` (as the page's DOM would)."""
    found = []
    stack = [root]
    while stack:
        widget = stack.pop()
        if css_class in getattr(widget, "_dom_classes", ()):
            found.append(widget)
        stack.extend(getattr(widget, "children", ()))
    assert len(found) == 1, (css_class, len(found))
    return found[0]


def html_of(root: w.Widget) -> str:
    parts, stack = [], [root]
    while stack:
        widget = stack.pop()
        if isinstance(widget, w.HTML):
            parts.append(widget.value)
        stack.extend(getattr(widget, "children", ()))
    return "\n".join(parts)


def test_a_steward_votes_and_approves_from_the_page(world: World) -> None:
    world.apply("brca-study")
    world.vote("brca-study", ("sue", Vote.APPROVE))
    page = StewardPage(signed_in(world, "sam"), "en")
    assert 'id="tre-applications"' in html_of(page.widget)
    assert "DUO:0000042" in html_of(page.widget) and "IRB-2026-001" in html_of(page.widget)
    row = find(page.widget, "tre-application-brca-study")
    assert find(row, "tre-approve").disabled  # one vote of the two the policy needs
    find(row, "tre-vote-approve").click()
    assert 'data-ok="true"' in page.status.value, page.status.value
    row = find(page.widget, "tre-application-brca-study")  # the tab was rebuilt
    find(row, "tre-reason").value = "sound plan, ethics in order"
    find(row, "tre-approve").click()
    assert 'data-ok="true"' in page.status.value, page.status.value
    event = world.last_event()
    assert (event.actor, event.action, event.reason) == (
        "sam", "application.approve", "sound plan, ethics in order")  # fmt: skip
    assert json.loads(event.details)["identity_via"] == "hub sign-in"
    assert projects.show_project(world.ctx("alice"), "brca-study").status == "active"
    assert "No application is waiting" in html_of(page.widget)


def test_the_page_switches_language_and_loads_each_tab_when_opened(world: World) -> None:
    world.approved("brca-study")
    page = StewardPage(signed_in(world, "sam"), "en")
    assert page.tabs.children[2].children == ()  # consent: not loaded until opened
    page.tabs.selected_index = 2
    assert 'id="tre-consent-totals"' in html_of(page.tabs.children[2])
    page.tabs.selected_index = 3
    assert 'id="tre-audit-events"' in html_of(page.tabs.children[3])
    assert page.status.value == ""  # the loading line is gone once loaded
    page.language.value = "ja"
    assert JAPANESE.search(page.title.value) and page.tabs.get_title(1) == "承認"
    assert re.search(r"<th>実行者</th>", html_of(page.tabs.children[3]))


def test_a_refusal_shows_why_in_the_page(world: World) -> None:
    page = StewardPage(signed_in(world, "eve"), "ja")  # an expert-panel member
    assert 'data-ok="false"' in page.status.value
    assert "あなたのロールではこの操作はできません" in page.status.value, page.status.value


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_verify_now_checks_the_chain_and_records_the_verdict(world: World, lang: str) -> None:
    """The audit tab's "verify now": the check `wgs-tre audit verify` makes, its verdict shown
    and recorded as the steward's; after an event is rewritten, the page names that event."""
    page = StewardPage(signed_in(world, "sam"), lang, world.settings())
    page.tabs.selected_index = 3
    assert 'id="tre-audit-verified"' in html_of(page.tabs.children[3])
    find(page.tabs.children[3], "tre-verify-now").click()
    assert 'data-ok="true"' in page.status.value and "audit log intact" in page.status.value
    verdict = world.last_event()
    assert (verdict.action, verdict.actor) == ("audit.verify", "sam")
    assert json.loads(verdict.details)["identity_via"] == "hub sign-in"
    assert "by sam" in html_of(page.tabs.children[3]) or "（sam）" in html_of(page.tabs.children[3])
    with as_dba(world.store) as conn:  # someone with the database's keys rewrites event 3
        conn.execute(text("UPDATE audit_event SET reason = 'nothing happened' WHERE seq = 3"))
    find(page.tabs.children[3], "tre-verify-now").click()
    assert 'data-ok="false"' in page.status.value, page.status.value
    assert "BROKEN at event 3" in page.status.value
    assert bool(JAPANESE.search(page.status.value)) == (lang == "ja")
    assert world.last_event().reason.startswith("audit log BROKEN at event 3")


def test_verify_now_is_refused_to_a_panel_member(world: World) -> None:
    page = StewardPage(signed_in(world, "eve"), "en", world.settings())
    before = world.counts()
    assert steward.verify_chain(page.ctx, "en", world.settings()).ok is False
    assert world.counts()["audit_event"] == before["audit_event"] + 1  # the refusal, audited
    assert (world.last_event().action, world.last_event().decision) == ("audit.verify", "refused")


def test_the_page_draws_its_first_table_as_plain_html_too(world: World) -> None:
    """What the service's page template shows while the widgets load: the title and the first
    table as plain HTML (its ids end in -preview), with nothing in it that hides it; the
    widgets' own stylesheet hides it once they draw."""
    world.apply("brca-study", members=[])
    page = StewardPage(signed_in(world, "sam"), "ja")
    preview = page.preview()
    assert preview.startswith('<div class="tre-preview">') and preview.endswith("</div>")
    assert 'id="tre-applications-preview"' in preview and "brca-study (alice)" in preview
    assert 'id="tre-applications"' not in preview and "display: none" not in preview
    assert "<h2>スチュワード用ダッシュボード</h2>" in preview
    assert ".tre-preview {display: none}" in html_of(page.widget)
