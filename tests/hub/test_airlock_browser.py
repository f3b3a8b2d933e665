"""The airlock end to end in Chromium through a real hub: a researcher makes a table in a
notebook of her session, the self-check shows a small-cell finding, she applies the suggested
fix and submits it from the notebook; two stewards approve in their dashboard; she downloads
the released file from her page. What she did not release cannot be downloaded through any
path of her session or of the hub."""

from __future__ import annotations

import hashlib
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.hub.harness import Hub
from tests.hub.test_browser import SLOW, browser, screenshot, signed_in
from tests.hub.test_dashboard_browser import open_dashboard
from tests.world import World
from wgs_tre.airlock import requests

__all__ = ["browser"]  # the module's Chromium (a fixture)

DASHBOARD_WAITING_KERNELS = 2  # as the hub serves the steward dashboard in production

USER, PROJECT = "alice", "brca-study"
NOTEBOOK = "airlock-walkthrough.ipynb"
MAKE_TABLE = """\
import pandas as pd
from pathlib import Path
from wgs_tre import airlock
people = pd.DataFrame({
    "region": ["north"] * 40 + ["south"] * 26 + ["islands"] * 4,
    "carrier": ["yes", "no"] * 35,
})
table = airlock.crosstab(people, "region", "carrier")
table.save(Path("carriers_by_region.csv"))
print(airlock.self_check("carriers_by_region.csv").summary())"""
FIX_AND_SUBMIT = """\
table.suppress().save(Path("carriers_by_region.csv"))  # the suggested fix
print(airlock.self_check("carriers_by_region.csv").summary())
sent = airlock.request({"carriers_by_region.csv": "Table 2: carriers by region"},
                       purpose="BRCA carriers by region, for the paper")
print(sent)"""
WRITE_NOTEBOOK = f"""
import json, os, pathlib
cells = [{{"cell_type": "code", "metadata": {{}}, "execution_count": None, "outputs": [],
           "source": source}} for source in {[MAKE_TABLE, FIX_AND_SUBMIT]!r}]
notebook = {{"cells": cells, "metadata": {{"kernelspec": {{"name": "python3",
            "display_name": "Python 3", "language": "python"}}}},
            "nbformat": 4, "nbformat_minor": 5}}
home = pathlib.Path(os.environ["WGS_TRE_WORKSPACE"])
(home / {NOTEBOOK!r}).write_text(json.dumps(notebook))
print(home)
"""


@pytest.fixture(scope="module", autouse=True)
def data_dir(hub_data_dir: Path) -> Path:
    """The hub's data directory (the airlock's area and the releases), set before it starts."""
    return hub_data_dir


def _run_cell(page, index: int, expect: str) -> str:  # type: ignore[no-untyped-def]
    """Run the notebook's cell ``index`` as a person would (click it, Shift+Enter); its
    output once it shows ``expect``."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    output = cell.locator(".jp-OutputArea-output")
    try:
        output.filter(has_text=expect).first.wait_for(timeout=SLOW)
    except Exception:
        screenshot(page, f"airlock-cell-{index}-failed.png")
        raise AssertionError(f"cell {index} showed: {output.all_inner_texts()}") from None
    return str(output.all_inner_texts())


def approve(browser, hub: Hub, steward: str, ref: str) -> str:  # type: ignore[no-untyped-def]
    """``steward`` opens the request in the dashboard's airlock tab, sees the suppressed table
    pass the checks, and approves; the outcome line."""
    page, _, _ = open_dashboard(browser, hub, steward)
    page.click("text=Airlock")
    page.wait_for_selector(f"#tre-airlock >> text={ref}", timeout=SLOW)
    page.click(f".tre-airlock-{ref} .tre-review")
    page.wait_for_selector("#tre-airlock-detail .tre-no-findings", timeout=SLOW)
    assert "islands" in page.inner_text("#tre-airlock-detail .tre-file-table")
    page.fill(".tre-airlock-comment textarea", "aggregate; the small cells are suppressed")
    page.click(".tre-airlock-approve")
    outcome = page.wait_for_selector(".tre-outcome", timeout=SLOW)
    said = f"{outcome.get_attribute('data-ok')} {outcome.inner_text()}"
    page.context.close()
    return said


def test_a_table_leaves_through_the_airlock_and_nothing_else_does(  # type: ignore[no-untyped-def]
    browser, hub: Hub, hub_world: World, data_dir: Path
) -> None:
    world = hub_world
    page = signed_in(browser, hub, USER)
    page.click(f"tr[data-project={PROJECT}] a.tre-open")
    page.wait_for_url(f"**/user/{USER}/{PROJECT}/lab**", timeout=SLOW)
    # (the harness runs its own event loop: in a thread, beside Playwright's)
    with ThreadPoolExecutor(1) as thread:
        written = thread.submit(hub.execute, USER, PROJECT, WRITE_NOTEBOOK).result()
    workspace = Path(written.strip())

    # The researcher's notebook: the self-check finds the small cells; the fix; the request.
    page.goto(f"{hub.url}/user/{USER}/{PROJECT}/lab/tree/{NOTEBOOK}")
    page.wait_for_selector(f"text=WGS TRE - {PROJECT} | Idle", timeout=SLOW)
    found = _run_cell(page, 0, "finding")
    assert "threshold" in found and "islands" in found, found
    submitted = _run_cell(page, 1, "submitted")
    assert "passes every disclosure check" in submitted, submitted
    screenshot(page, "airlock-notebook.png")
    match = re.search(r"R-[0-9A-F]{6}", submitted)
    assert match, submitted
    ref = match.group(0)
    view = requests.show(world.ctx("sam"), ref)
    assert (view.requester, view.project, view.state.value) == (USER, PROJECT, "submitted")
    (entry,) = view.files
    assert entry.findings == []
    reviewed = (workspace / "carriers_by_region.csv").read_bytes()
    assert entry.sha256 == hashlib.sha256(reviewed).hexdigest()

    # Two stewards approve in their dashboard's airlock tab; the second approval releases it.
    assert approve(browser, hub, "sam", ref) == f"true Done: {ref} approved (1 of 2 approvals)"
    assert approve(browser, hub, "sue", ref) == (
        f"true Done: {ref} approved and released to the project's release area"
    )
    assert requests.show(world.ctx(USER), ref).state.value == "released"

    # The researcher downloads it from her page.
    page.goto(f"{hub.url}/hub/tre")
    link = page.locator(f"#tre-released tr[data-request={ref}] a.tre-download")
    assert link.inner_text() == "carriers_by_region.csv"
    with page.expect_download() as downloading:
        link.click()
    downloaded = Path(downloading.value.path()).read_bytes()
    assert downloaded == reviewed
    event = world.last_event()
    assert (event.action, event.actor, event.decision) == ("airlock.download", USER, "allowed")
    assert json.loads(event.details)["sha256"] == entry.sha256
    screenshot(page, "airlock-released.png")

    # Nothing else: the unreleased record of checks and the notebook, by every path.
    session = f"{hub.url}/user/{USER}/{PROJECT}"
    for name in ("carriers_by_region.csv.checks.json", NOTEBOOK, "carriers_by_region.csv"):
        for path in (
            f"/files/{name}",
            f"/files/{name}?download=1",
            f"/view/{name}",
            f"/api/contents/{name}?type=file&format=base64",
            f"/nbconvert/html/{name}?download=true",
        ):
            answer = page.request.get(session + path)
            assert answer.status == 403, (path, answer.status)
            assert b'"region"' not in answer.body()
    for name in ("carriers_by_region.csv.checks.json", "carriers_by_region.csv"):
        assert page.request.get(f"{session}/api/contents/{name}").status == 403
    refused = page.request.get(f"{hub.url}/hub/tre/releases/{ref}/{NOTEBOOK}")
    assert refused.status == 404
    assert page.request.get(f"{session}/api/terminals").status == 404
    page.context.close()
