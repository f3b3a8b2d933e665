"""The steward dashboard's airlock tab (wgs_tre.dashboards.airlock and airlock_page) on the real
governance store and real airlock area, without a browser: the queue is the steward's queue,
a request's files are rendered from the reviewed copies (escaped), findings are shown, and the
verdicts go through the governed functions (the approval that makes a request approved releases
it, as the CLI does). The browser test is tests/hub/test_dashboard_airlock_browser.py."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from tests.airlock_cast import (
    REVIEWER,
    add_reviewer,
    approved_project,
    area,
    request_in,
    stored_state,
    workspace,
)
from tests.test_dashboard_page import find, html_of
from tests.test_dashboard_steward import JAPANESE, signed_in
from tests.world import World
from wgs_tre.airlock import requests
from wgs_tre.airlock.tables import crosstab
from wgs_tre.config import Settings
from wgs_tre.dashboards import airlock
from wgs_tre.dashboards.steward_page import TABS, StewardPage
from wgs_tre.errors import AccessRefused
from wgs_tre.types import OutputRequestState, Verdict

# a 1x1 PNG
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def cast(world: World) -> World:
    add_reviewer(world)
    return world


def settings(world: World) -> Settings:
    return world.settings()  # the dashboard's data directory: releases go to <tmp>/releases


def submitted(world: World, slug: str | None = None) -> tuple[str, str]:
    """A request of alice's, submitted: a table with a small cell (whose row label is a script),
    a PNG figure, notes and a model summary (JSON, which is not rendered).
    Returns (slug, ref)."""
    slug = slug or approved_project(world)
    home = workspace(world, slug)
    frame = pd.DataFrame({"region": ["north"] * 30 + [SCRIPT] * 3, "sex": ["F", "M"] * 16 + ["F"]})
    crosstab(frame, "region", "sex").save(home / "by_region.csv")
    (home / "figure.png").write_bytes(PNG)
    (home / "notes.md").write_text("# Notes\n<b>bold</b> & more\n")
    (home / "model.json").write_text('{"coef": 1.5}\n')
    alice = world.ctx("alice")
    ref = requests.create(alice, slug, "tables for the paper", workspace=home).ref
    for name in ("by_region.csv", "figure.png", "notes.md", "model.json"):
        requests.add_file(alice, ref, name, f"{name} for the paper")
    requests.submit(alice, ref, area=area(world))
    return slug, ref


def test_the_queue_is_the_stewards_queue_without_conflicted_requests(cast: World) -> None:
    world = cast
    _, ref = submitted(world)
    other = request_in(world, OutputRequestState.IN_REVIEW)  # sam approved it already
    sam, sue = signed_in(world, "sam"), signed_in(world, "sue")
    assert [r.ref for r in airlock.airlock_queue(sam)] == [ref]
    assert [r.ref for r in airlock.airlock_queue(sue)] == [
        s.ref for s in requests.list_requests(sue)
    ]
    assert {r.ref for r in airlock.airlock_queue(sue)} == {ref, other}
    [row] = [r for r in airlock.airlock_queue(sue) if r.ref == ref]
    assert (row.requester, row.state, row.submission, row.files) == (
        "alice", OutputRequestState.SUBMITTED, 1, 4)  # fmt: skip
    assert (row.approvals, row.approvals_needed, row.findings) == (0, 2, 1)
    [row] = [r for r in airlock.airlock_queue(sue) if r.ref == other]
    assert (row.approvals, row.state) == (1, OutputRequestState.IN_REVIEW)
    assert airlock.airlock_queue(signed_in(world, "stella")) == []  # of Uni A, like alice


def test_a_request_shows_its_files_rendered_escaped_and_its_findings(cast: World) -> None:
    world = cast
    _, ref = submitted(world)
    found = airlock.airlock_request(signed_in(world, "sam"), ref)
    assert found.view.purpose == "tables for the paper"
    files = {f.name: f for f in found.files}
    table = files["by_region.csv"]
    assert table.kind == "table"
    assert "<td>north</td><td>15</td><td>15</td>" in table.rendering
    assert SCRIPT not in table.rendering
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td><td>2</td><td>1</td>" in table.rendering
    [finding] = table.findings or []
    assert finding["rule"] == "threshold"
    assert [SCRIPT, "F"] in finding["cells"] and finding["fixes"]
    assert table.sha256 == requests.show(world.ctx("alice"), ref).files[0].sha256[:12]  # type: ignore[index]
    image = files["figure.png"]
    reviewed = requests.review_material(world.ctx("sam"), ref).copies["figure.png"]
    encoded = base64.b64encode(reviewed.read_bytes()).decode()
    assert image.kind == "image" and f'src="data:image/png;base64,{encoded}"' in image.rendering
    assert image.findings is None  # not a table: judged by eye
    notes = files["notes.md"]
    assert notes.kind == "text"
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in notes.rendering and "<b>" not in notes.rendering
    model = files["model.json"]
    assert model.kind == "other" and "open the reviewed copy from the CLI" in model.rendering
    assert found.earlier == []
    # the reviewed copies are read under airlock.view: not by someone outside the project
    with pytest.raises(AccessRefused, match="not a member of the project"):
        requests.review_material(world.ctx("carol"), ref)
    with pytest.raises(AccessRefused):
        airlock.airlock_request(signed_in(world, "carol"), ref)


def test_two_stewards_approve_and_the_request_is_released(cast: World) -> None:
    world = cast
    slug, ref = submitted(world)
    first = airlock.review_request(
        signed_in(world, "sam"), "en", ref, Verdict.APPROVE, settings=settings(world)
    )
    assert first.ok and first.message == f"Done: {ref} approved (1 of 2 approvals)", first
    assert stored_state(world, ref) == "in_review"
    second = airlock.review_request(
        signed_in(world, "sue"), "ja", ref, Verdict.APPROVE, "fine", settings=settings(world)
    )
    assert second.ok and JAPANESE.search(second.message) and "公開しました" in second.message
    assert stored_state(world, ref) == "released"
    final = world.tmp / "releases" / slug / ref
    assert (final / "files" / "by_region.csv").read_text().startswith("region,F,M")
    released = Image.open(final / "files" / "figure.png")  # sanitized: the same pixels
    assert list(released.getdata()) == list(Image.open(io.BytesIO(PNG)).getdata())
    manifest = json.loads((final / "release.json").read_text())
    assert [a["steward"] for a in manifest["approvals"]] == ["sam", "sue"]
    assert world.last_event().action == "airlock.release"
    assert airlock.airlock_queue(signed_in(world, REVIEWER)) == []
    # the project's next request shows this one as an earlier release
    _, later = submitted(world, slug)
    [earlier] = airlock.airlock_request(signed_in(world, "sam"), later).earlier
    assert (earlier.ref, earlier.purpose) == (ref, "tables for the paper")
    assert "by_region.csv" in earlier.files


def test_an_approval_whose_release_fails_says_so_and_releases_nothing(cast: World) -> None:
    world = cast
    slug, ref = submitted(world)
    sam, sue = signed_in(world, "sam"), signed_in(world, "sue")
    assert airlock.review_request(sam, "en", ref, Verdict.APPROVE, settings=settings(world)).ok
    (area(world) / slug / ref / "1" / "notes.md").write_text("changed after review\n")
    failed = airlock.review_request(sue, "en", ref, Verdict.APPROVE, settings=settings(world))
    assert not failed.ok and "\n" not in failed.message, failed
    assert failed.message.startswith(f"{ref} is approved but not released"), failed
    assert "no longer has the SHA-256 recorded" in failed.message, failed
    assert stored_state(world, ref) == "approved"
    assert not (world.tmp / "releases" / slug / ref).exists()


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_second_approval_and_a_conflicted_steward_are_refused_in_one_line(
    cast: World, lang: str
) -> None:
    world = cast
    _, ref = submitted(world)
    sam = signed_in(world, "sam")
    assert airlock.review_request(sam, lang, ref, Verdict.APPROVE, settings=settings(world)).ok
    for who, said in (("sam", ("already reviewed", "既に審査済み")),
                      ("stella", ("conflict of interest", "利益相反"))):  # fmt: skip
        before = world.counts()
        refused = airlock.review_request(
            signed_in(world, who), lang, ref, Verdict.APPROVE, settings=settings(world)
        )
        assert not refused.ok and "\n" not in refused.message, refused
        assert said[lang == "ja"] in refused.message, refused
        assert bool(JAPANESE.search(refused.message)) == (lang == "ja"), refused.message
        assert world.counts() == {**before, "audit_event": before["audit_event"] + 1}
        event = world.last_event()
        assert (event.actor, event.action, event.decision) == (who, "airlock.approve", "refused")
        assert stored_state(world, ref) == "in_review"
    assert not (world.tmp / "releases").exists()


def test_request_changes_and_reject_need_a_comment(cast: World) -> None:
    world = cast
    _, ref = submitted(world)
    sam = signed_in(world, "sam")
    before = world.counts()
    for lang in ("en", "ja"):
        unexplained = airlock.review_request(sam, lang, ref, Verdict.REQUEST_CHANGES, "  ")
        assert not unexplained.ok and "\n" not in unexplained.message
        assert ("say why in the comment" in unexplained.message) == (lang == "en")
        assert bool(JAPANESE.search(unexplained.message)) == (lang == "ja")
    assert not airlock.review_request(sam, "en", ref, Verdict.REJECT, "").ok
    assert world.counts() == before and stored_state(world, ref) == "submitted"
    asked = airlock.review_request(sam, "en", ref, Verdict.REQUEST_CHANGES, "round to 5")
    assert asked.ok and asked.message == f"Done: changes requested on {ref}", asked
    assert stored_state(world, ref) == "changes_requested"
    assert world.last_event().action == "airlock.request_changes"  # the governed step audited
    assert requests.show(world.ctx("alice"), ref).reviews[-1].comment == "round to 5"


def test_a_steward_reviews_and_approves_from_the_page(cast: World) -> None:
    world = cast
    slug, ref = submitted(world)
    airlock.review_request(signed_in(world, "sue"), "en", ref, Verdict.APPROVE)
    page = StewardPage(signed_in(world, "sam"), "en", settings(world))
    tab = page.tabs.children[TABS.index("airlock")]
    assert tab.children == ()  # not loaded (nor wgs_tre.airlock imported) until opened
    page.tabs.selected_index = TABS.index("airlock")
    assert 'id="tre-airlock"' in html_of(tab) and f"<td>{ref}</td>" in html_of(tab)
    assert "<td>in review</td><td>1</td><td>1 / 2</td><td>4</td><td>1</td>" in html_of(tab)
    assert page.tabs.get_title(TABS.index("airlock")) == "Airlock"
    find(find(tab, f"tre-airlock-{ref}"), "tre-review").click()
    shown = html_of(tab)
    assert (
        'id="tre-airlock-detail"' in shown and 'class="tre-finding" data-rule="threshold"' in shown
    )
    assert "&lt;script&gt;" in shown and SCRIPT not in shown
    find(tab, "tre-airlock-comment").value = "counts are fine once the small row is gone"
    find(tab, "tre-airlock-approve").click()
    assert 'data-ok="true"' in page.status.value and "released" in page.status.value
    assert "No output request is waiting" in html_of(tab)  # the tab was drawn again
    assert (world.tmp / "releases" / slug / ref / "files" / "notes.md").is_file()
    page.language.value = "ja"
    assert page.tabs.get_title(TABS.index("airlock")) == "エアロック"


def test_the_dashboard_loads_without_the_airlock_until_its_tab_opens() -> None:
    """The airlock (and pandas, which it loads) is imported by the tab, not by the page."""
    code = (
        "import sys, wgs_tre.dashboards.steward_page\n"
        "print(sorted(m for m in ('pandas', 'wgs_tre.airlock') if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
