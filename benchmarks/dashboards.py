"""First paint of the two dashboards, measured in Chromium through the real hub, beside a stock
Voila page that renders one widget.

First paint is what a steward or a panel member waits for: the time from asking for the page
(``page.goto``) to its first table being shown: the steward dashboard's applications table,
the expert-panel dashboard's case queue. Each round is a new browser context (no cached assets,
like a first visit), already signed in to the hub. The store holds ``--cases`` cases of the
panel member's hospital (a fifth with reports, half of those awaiting review) and
``--consents`` consent records (a tenth of them withdrawals, spread over two years).

The reference is a stock Voila (the same version, its own process, no hub) serving a notebook
whose one cell shows one slider: what any Voila page costs before it does anything.

Target (issue 16): each dashboard's first paint under 2 s.

Usage (as root): .venv/bin/python benchmarks/dashboards.py [--rounds 5] [--cases 1000]
       [--consents 10000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import nbformat  # noqa: E402

from tests.daemons import free_port  # noqa: E402
from tests.hub.harness import Hub  # noqa: E402 - the same real hub the tests use
from tests.hub.test_browser import CHROMIUM, FLAGS, signed_in  # noqa: E402
from tests.world import World  # noqa: E402
from wgs_tre.consent import registry  # noqa: E402
from wgs_tre.consent.build import make_consent  # noqa: E402
from wgs_tre.governance import cases, datasets  # noqa: E402
from wgs_tre.governance.cases import CaseEntry  # noqa: E402
from wgs_tre.policy import load_policies  # noqa: E402
from wgs_tre.store import Store  # noqa: E402
from wgs_tre.types import DatasetKind  # noqa: E402

TARGET = 2.0  # seconds
HOSPITAL = "NCGM"  # the panel member eve's hospital in the test cast
BOARDS = {  # name: (account, path, what shows the page's first table: drawn by the server
    # while the widgets load (the preview), or by the widgets, whichever is visible first)
    "steward": (
        "sam",
        "/services/wgs-tre-steward/",
        "#tre-applications-preview:visible, #tre-applications:visible",
    ),
    "panel": ("eve", "/services/wgs-tre-panel/", "#tre-queue-preview:visible, #tre-queue:visible"),
}
SLOW = 120_000  # ms


def build_world(tmp: Path, case_count: int, consent_count: int) -> World:
    """The test cast with one pending application, ``case_count`` cases of eve's hospital and
    ``consent_count`` consent records, all through the governed operations."""
    tmp.mkdir(parents=True)
    tmp.chmod(0o755)  # the hub's sessions never read it, but its services run as root anyway
    store = Store(f"sqlite:///{tmp / 'governance.db'}")
    store.upgrade()
    world = World.build(store, load_policies(REPO / "policies"), tmp)
    world.apply("pending-study", members=[])
    withdrawals = consent_count // 10
    people = [f"P{i:06d}" for i in range(1, consent_count - withdrawals + 1)]
    start = dt.datetime(2025, 1, 1, 9, tzinfo=dt.UTC)
    records = [make_consent(p) for p in people]
    records += [
        make_consent(p, version="2", status="inactive",
                     when=(start + dt.timedelta(days=i * 730 // withdrawals)).isoformat())
        for i, p in enumerate(people[:withdrawals])
    ]  # fmt: skip
    consents = tmp / "consent.ndjson"
    consents.write_text("\n".join(json.dumps(record) for record in records))
    print(f"importing {len(records):,} consent records ...", flush=True)
    registry.import_file(world.ctx("sam"), consents)
    sequenced = people[withdrawals : withdrawals + case_count]
    listing = tmp / "sequenced.txt"
    listing.write_text("\n".join(sequenced))
    world.register("sequenced", "calls")
    datasets.register_version(world.ctx("sam"), "sequenced", listing,
                              kind=DatasetKind.VARIANTS, participants=sequenced)  # fmt: skip
    print(f"registering {len(sequenced):,} cases, {len(sequenced) // 5:,} with reports ...",
          flush=True)  # fmt: skip
    entries = [CaseEntry(p, f"MRN-{p}", "C34" if i % 2 else "Q87.4")
               for i, p in enumerate(sequenced)]  # fmt: skip
    refs = cases.register_cases(world.ctx("sam"), HOSPITAL, entries)
    content = {"summary": "benchmark report", "findings": []}
    for i, ref in enumerate(refs[: len(refs) // 5]):
        cases.add_version(world.ctx("sam"), ref, content)
        if i % 2:
            cases.submit(world.ctx("sam"), ref)
    return world


def first_paints(browser, url: str, selector: str, rounds: int, sign_in=None) -> list[float]:  # type: ignore[no-untyped-def]
    """Seconds from asking for ``url`` to ``selector`` shown, in a new context each round."""
    seconds = []
    for _ in range(rounds):
        page = sign_in() if sign_in else browser.new_context().new_page()
        page.set_viewport_size({"width": 1366, "height": 768})  # a laptop screen
        started = time.monotonic()
        page.goto(url, wait_until="commit")  # not "load": that waits for every script
        page.wait_for_selector(selector, timeout=SLOW)
        seconds.append(time.monotonic() - started)
        page.context.close()
        time.sleep(1)  # the page's kernel ends with it; a quiet service, as a person meets it
    return seconds


def stock_voila(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A stock Voila serving one slider; its process and URL."""
    notebook = tmp / "one-widget.ipynb"
    cell = nbformat.v4.new_code_cell("import ipywidgets\nipywidgets.IntSlider(value=7)")
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}  # fmt: skip
    nbformat.write(nb, notebook)
    port = free_port()
    voila = Path(sys.executable).parent / "voila"
    proc = subprocess.Popen(
        [str(voila), str(notebook), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"],
        cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}voila/static/voila.js", timeout=5).close()
            return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the stock Voila did not come up")


def summary(name: str, seconds: list[float], reference: float | None) -> str:
    p50 = statistics.median(seconds)
    ratio = f"{p50 / reference:5.2f}x" if reference else "      "
    verdict = "" if reference is None else ("  met" if p50 < TARGET else "  NOT MET")
    return (f"{name:<26} p50 {p50:5.2f} s  min {min(seconds):5.2f}  max {max(seconds):5.2f}  "
            f"{ratio}{verdict}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="first visits per page")
    parser.add_argument("--cases", type=int, default=1_000, help="of the panel's hospital")
    parser.add_argument("--consents", type=int, default=10_000, help="consent records")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the hub creates session accounts and namespaces")
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: scripts/install installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    tmp = Path("/var/lib/wgs-tre-test") / f"bench-dashboards-{os.getpid()}"
    world = build_world(tmp, args.cases, args.consents)
    hub = Hub(world.store.url.render_as_string(False), REPO / "policies", waiting_kernels=2)
    voila, voila_url = stock_voila(tmp)
    hub.start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            # one visit each first, unmeasured: the services' own first imports
            first_paints(browser, voila_url, ".widget-slider", 1)
            for account, path, selector in BOARDS.values():
                first_paints(browser, f"{hub.url}{path}", selector, 1,
                             lambda account=account: signed_in(browser, hub, account))  # fmt: skip
            stock = first_paints(browser, voila_url, ".widget-slider", args.rounds)
            measured = {
                name: first_paints(browser, f"{hub.url}{path}", selector, args.rounds,
                                   lambda account=account: signed_in(browser, hub, account))
                for name, (account, path, selector) in BOARDS.items()
            }  # fmt: skip
            browser.close()
    finally:
        hub.stop()
        voila.terminate()
        voila.wait()
    reference = statistics.median(stock)
    print(f"\nfirst paint in Chromium, {args.rounds} first visits each; {args.cases:,} cases, "
          f"{args.consents:,} consent records; target under {TARGET:.0f} s")  # fmt: skip
    print(summary("stock Voila, one widget", stock, None))
    for name, seconds in measured.items():
        print(summary(f"{name} dashboard", seconds, reference))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
