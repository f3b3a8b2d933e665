"""The steward dashboard's airlock tab in a real browser (Debian's Chromium, Playwright) through
the real hub: alice's request holds a table with a small cell; sam opens the airlock tab, sees
the request, its table and the small-cell finding, and approves; sue approves, which releases
it; the released file is in the project's release area and the store says released. A
screenshot of the request under review goes to test-artifacts/."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.airlock_cast import stored_state
from tests.hub.harness import Hub
from tests.hub.test_browser import SLOW, browser, screenshot
from tests.hub.test_dashboard_browser import open_dashboard
from tests.world import World
from wgs_tre.airlock import requests
from wgs_tre.airlock.tables import crosstab

__all__ = ["browser"]  # the module's Chromium (a fixture)

DASHBOARD_WAITING_KERNELS = 2  # as the hub serves them in production
PROJECT = "brca-study"  # alice leads it; sam and sue (NCGM) are free of conflicts


@pytest.fixture(scope="module", autouse=True)
def data_dir(hub_data_dir: Path) -> Path:
    """The hub's data directory (the airlock area and the releases), set before it starts."""
    return hub_data_dir


@pytest.fixture(scope="module")
def submitted(hub_world: World, data_dir: Path) -> str:
    """alice's request of a table by region, one region of three people; its reference."""
    home = data_dir / "workspaces" / PROJECT
    home.mkdir(parents=True)
    frame = pd.DataFrame(
        {"region": ["north"] * 30 + ["island"] * 3, "sex": ["F", "M"] * 16 + ["F"]}
    )
    crosstab(frame, "region", "sex").save(home / "by_region.csv")
    alice = hub_world.ctx("alice")
    ref = requests.create(alice, PROJECT, "counts for the paper", workspace=home).ref
    requests.add_file(alice, ref, "by_region.csv", "counts by region")
    requests.submit(alice, ref, area=data_dir / "airlock")
    return ref


def approve_in_airlock_tab(browser, hub: Hub, user: str, ref: str, shot: str = "") -> str:  # type: ignore[no-untyped-def]
    """``user`` opens the airlock tab, the request, and approves it; the outcome line."""
    page, _, _ = open_dashboard(browser, hub, user)
    page.click("text=Airlock")
    page.wait_for_selector(f"#tre-airlock >> text={ref}", timeout=SLOW)
    page.click(f".tre-airlock-{ref} .tre-review")
    finding = page.wait_for_selector("#tre-airlock-detail .tre-finding", timeout=SLOW)
    assert finding.get_attribute("data-rule") == "threshold"
    assert "island" in finding.inner_text()  # the small cells, named
    assert "island\t2\t1" in page.inner_text("#tre-airlock-detail .tre-file-table")
    page.fill(".tre-airlock-comment textarea", f"{user}: fine for a paper")
    if shot:
        screenshot(page, shot)
    page.click(".tre-airlock-approve")
    outcome = page.wait_for_selector(".tre-outcome", timeout=SLOW)
    said = f"{outcome.get_attribute('data-ok')} {outcome.inner_text()}"
    page.context.close()
    return said


def test_two_stewards_approve_from_the_airlock_tab_and_the_request_is_released(  # type: ignore[no-untyped-def]
    browser, hub: Hub, hub_world: World, data_dir: Path, submitted: str
) -> None:
    ref = submitted
    first = approve_in_airlock_tab(browser, hub, "sam", ref, "dashboard-steward-airlock.png")
    assert first == f"true Done: {ref} approved (1 of 2 approvals)"
    assert stored_state(hub_world, ref) == "in_review"
    second = approve_in_airlock_tab(browser, hub, "sue", ref)
    assert second == f"true Done: {ref} approved and released to the project's release area"
    assert stored_state(hub_world, ref) == "released"
    released = data_dir / "releases" / PROJECT / ref / "files" / "by_region.csv"
    assert released.read_text().splitlines()[:2] == ["region,F,M", "island,2,1"]
