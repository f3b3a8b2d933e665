"""A dashboard service's kernels, real ones in this process: a page takes a kernel that waited
started and warmed (the notebook's imports only), owned by nobody until then; a warm-up that
fails costs the page a cold start, not the page; abandoned pages' kernels are culled, waiting
ones are not."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import nbformat
import pytest
from jupyter_core.utils import ensure_async
from tornado import web

from wgs_tre.dashboards.kernels import PAGE_OWNER, OwnedKernels, WarmKernel, warm_up_code
from wgs_tre.dashboards.registry import WAITING_KERNELS, hub_services
from wgs_tre.dashboards.serve import SIGN_IN_CELL

REPO = Path(__file__).resolve().parents[1]
# a module nothing in a new kernel imports: proof the warm-up ran in the kernel a page gets
PROBE_MODULE = "xml.dom.minidom"


def test_the_warm_up_is_the_notebooks_imports_and_nothing_about_anyone() -> None:
    notebook = nbformat.read(REPO / "dashboards" / "steward.ipynb", as_version=4)
    code = warm_up_code(notebook, SIGN_IN_CELL.format(account="sam", language="ja"))
    assert code.splitlines() == [
        "from wgs_tre.governance.identity import hub_sign_in",
        "from IPython.display import HTML, display",
        "from wgs_tre.dashboards.layout import identity_banner",
        "from wgs_tre.dashboards.steward_page import for_kernel",
    ]


def test_magics_and_repeated_imports_are_left_out() -> None:
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("%matplotlib inline\nimport os"),
        nbformat.v4.new_code_cell("import os\nimport json as j\nif True:\n    import csv"),
        nbformat.v4.new_markdown_cell("import nothing"),
    ])  # fmt: skip
    assert warm_up_code(notebook) == "import os\nimport json as j"


def run_with_kernels(
    tmp_path: Path, code: str, scenario: Callable[[OwnedKernels], Awaitable[None]]
) -> None:
    async def main() -> None:
        kernels = OwnedKernels(pool_size=1, root_dir=str(tmp_path))
        kernels.keep_warm(WarmKernel("python3", str(tmp_path), dict(os.environ), code))
        try:
            await scenario(kernels)
        finally:
            await kernels.shutdown_all(now=True)
            for task in kernels.waiting:
                task.cancel()

    asyncio.run(main())


async def page_kernel(kernels: OwnedKernels, owner: str | None) -> str:
    """Start a kernel as Voila does for a page of ``owner`` (None: no signed-in page)."""
    PAGE_OWNER.set(owner)
    return await kernels.start_kernel(kernel_name="python3", path=str(kernels.root_dir))


async def evaluate(kernels: OwnedKernels, kernel_id: str, expression: str) -> str:
    client = kernels.get_kernel(kernel_id).client()
    client.start_channels()
    printed: list[str] = []

    def keep(message: dict) -> None:  # type: ignore[type-arg]
        if message["msg_type"] == "stream":
            printed.append(message["content"]["text"])

    try:
        await ensure_async(client.wait_for_ready(timeout=60))
        await ensure_async(client.execute_interactive(f"print({expression})", output_hook=keep))
    finally:
        client.stop_channels()
    return "".join(printed).strip()


def test_a_page_takes_the_warmed_kernel_and_another_starts_behind_it(tmp_path: Path) -> None:
    async def scenario(kernels: OwnedKernels) -> None:
        waited = await kernels.waiting[0]
        assert kernels.owners == {}  # waiting: nobody's, so no page's websocket reaches it
        assert await evaluate(kernels, waited, f"{PROBE_MODULE!r} in sys.modules") == "True"
        taken = await page_kernel(kernels, "sam")
        assert taken == waited
        assert kernels.owners == {taken: "sam"}
        behind = await kernels.waiting[0]
        assert behind != taken and behind in kernels.list_kernel_ids()
        assert behind not in kernels.owners

    run_with_kernels(tmp_path, f"import sys\nimport {PROBE_MODULE}", scenario)


def test_without_a_signed_in_page_no_kernel_starts_or_is_taken(tmp_path: Path) -> None:
    async def scenario(kernels: OwnedKernels) -> None:
        waited = await kernels.waiting[0]
        with pytest.raises(web.HTTPError) as refused:
            await page_kernel(kernels, None)
        assert refused.value.status_code == 403
        assert kernels.list_kernel_ids() == [waited] and kernels.owners == {}

    run_with_kernels(tmp_path, "import sys", scenario)


def test_a_failed_warm_up_costs_the_page_a_cold_start_not_the_page(tmp_path: Path) -> None:
    async def scenario(kernels: OwnedKernels) -> None:
        taken = await page_kernel(kernels, "sam")
        assert kernels.owners == {taken: "sam"}
        assert await evaluate(kernels, taken, "6 * 7") == "42"
        with pytest.raises(RuntimeError, match="warm-up failed: ModuleNotFoundError"):
            await kernels.waiting[0]
        assert kernels.list_kernel_ids() == [taken]  # the failed kernels were shut down

    missing = f"wgs_tre_no_such_module_{uuid.uuid4().hex[:6]}"
    run_with_kernels(tmp_path, f"import {missing}", scenario)


def test_an_abandoned_pages_kernel_is_culled_and_a_waiting_one_is_not(tmp_path: Path) -> None:
    async def scenario(kernels: OwnedKernels) -> None:
        taken = await page_kernel(kernels, "sam")
        waiting = await kernels.waiting[0]
        kernels.cull_idle_timeout = 0  # idle for longer than nothing: every idle kernel qualifies
        await kernels.cull_kernels()
        assert kernels.list_kernel_ids() == [waiting]
        assert taken not in kernels.owners

    run_with_kernels(tmp_path, "import sys", scenario)


def test_the_hub_passes_the_waiting_kernels_setting_and_a_bad_one_is_named() -> None:
    services = hub_services(REPO / "dashboards", {}, {WAITING_KERNELS: "abc"})
    assert all(s["environment"][WAITING_KERNELS] == "abc" for s in services)
    assert WAITING_KERNELS not in hub_services(REPO / "dashboards", {}, {})[0]["environment"]
    hub = {"JUPYTERHUB_API_TOKEN": "t", "JUPYTERHUB_SERVICE_URL": "http://127.0.0.1:1",
           "JUPYTERHUB_SERVICE_PREFIX": "/s/"}  # fmt: skip
    env = {**os.environ, **hub, WAITING_KERNELS: "abc"}
    ran = subprocess.run(services[0]["command"], env=env, capture_output=True, text=True)
    assert ran.returncode == 2, ran.stderr
    assert ran.stderr.strip().splitlines() == [
        f"dashboard steward.ipynb: {WAITING_KERNELS}='abc': expected a number of kernels, 0 or more"
    ]
