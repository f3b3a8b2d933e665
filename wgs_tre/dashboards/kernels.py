"""A dashboard service's kernels: each belongs to the person whose page started it, a few wait
started and warmed for the next pages, and a page's kernel ends when the page is gone.

Starting a Python kernel and importing the page's modules takes seconds; a page should not wait
for that. :class:`OwnedKernels` keeps :attr:`~OwnedKernels.pool_size` kernels started, each
having run only :func:`warm_up_code` (the notebook's imports: nothing about anyone), owned by
no one, so no page's websocket reaches them. A page's request takes the oldest and makes it its
owner's; a new one starts behind it. Who the page is for is told to the kernel after that, by
the sign-in cell Voila runs first (``serve.sign_in_first``), exactly as in a new kernel.

A page closed without saying so (a laptop lid shut) leaves its kernel: kernels nobody is
connected to are culled after :data:`IDLE_MINUTES`; waiting kernels are not culled.
"""

from __future__ import annotations

import ast
import asyncio
from collections import deque
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import nbformat
from jupyter_core.utils import ensure_async
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from jupyter_server.utils import ApiPath
from tornado import web
from traitlets import Integer

__all__ = ["IDLE_MINUTES", "PAGE_OWNER", "OwnedKernels", "WarmKernel", "warm_up_code"]

IDLE_MINUTES = 20  # an abandoned page's kernel, nobody connected, ends after this
WARM_UP_SECONDS = 120  # a warm-up that takes longer is given up (the page then starts its own)
# Whose page the request being served is: set by the prelaunch hook, read when Voila starts the
# page's kernel next in the same request (a context variable: requests never see each other's)
PAGE_OWNER: ContextVar[str | None] = ContextVar("wgs_tre_dashboard_page_owner", default=None)


def warm_up_code(notebook: nbformat.NotebookNode, *first: str) -> str:
    """The top-level imports of ``first`` (code run before the notebook) and of the notebook's
    code cells: what a waiting kernel may run ahead of any page, as it depends on no one."""
    imports: list[str] = []
    sources = [*first, *(cell.source for cell in notebook.cells if cell.cell_type == "code")]
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:  # IPython syntax (a magic): its imports, if any, wait for the page
            continue
        imports += [
            ast.unparse(node) for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)
        ]
    return "\n".join(dict.fromkeys(imports))  # in order, each once


@dataclass(frozen=True)
class WarmKernel:
    """How the waiting kernels start: as Voila would start the page's kernel, minus the request."""

    kernel_name: str
    path: str  # the notebook's directory, the kernel's working directory
    env: Mapping[str, str]
    code: str  # run before any page takes the kernel


class OwnedKernels(AsyncMappingKernelManager):
    """Voila's kernels, each recorded with the person whose page started (or took) it."""

    pool_size = Integer(
        2, config=True, help="Kernels kept started and warmed for the next pages (0: none)."
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.owners: dict[str, str] = {}
        self.waiting: deque[asyncio.Task[str]] = deque()
        self.warm: WarmKernel | None = None

    def keep_warm(self, warm: WarmKernel) -> None:
        """Start :attr:`pool_size` waiting kernels now (call on the running event loop)."""
        self.warm = warm
        for _ in range(self.pool_size):
            self._one_more()

    def _one_more(self) -> None:
        self.waiting.append(asyncio.ensure_future(self._start_warm()))

    async def _start_warm(self) -> str:
        assert self.warm is not None
        kernel_id: str = await super().start_kernel(
            kernel_name=self.warm.kernel_name, path=ApiPath(self.warm.path), env=dict(self.warm.env)
        )
        try:
            await asyncio.wait_for(self._run(kernel_id, self.warm.code), WARM_UP_SECONDS)
        except BaseException:
            await self.shutdown_kernel(kernel_id, now=True)
            raise
        return kernel_id

    async def _run(self, kernel_id: str, code: str) -> None:
        client = self.get_kernel(kernel_id).client()
        client.start_channels()
        try:
            await ensure_async(client.wait_for_ready(timeout=WARM_UP_SECONDS))
            reply = await ensure_async(
                client.execute_interactive(code, store_history=False, output_hook=lambda _: None)
            )
        finally:
            client.stop_channels()
        if reply["content"]["status"] != "ok":
            content = reply["content"]
            raise RuntimeError(f"warm-up failed: {content.get('ename')}: {content.get('evalue')}")

    async def _take_warm(self, kernel_name: str | None) -> str | None:
        """The oldest waiting kernel (waiting for it to finish warming if need be), or None if
        there is none, it is of another kernel, or it failed (the page then starts its own)."""
        if not self.waiting or self.warm is None or kernel_name != self.warm.kernel_name:
            return None
        task = self.waiting.popleft()
        self._one_more()
        try:
            kernel_id = await task
        except Exception as error:  # noqa: BLE001 - logged; the page starts a kernel of its own
            self.log.warning("a waiting dashboard kernel failed: %s", error)
            return None
        if not await ensure_async(self.get_kernel(kernel_id).is_alive()):
            await self.shutdown_kernel(kernel_id, now=True)
            return None
        return kernel_id

    async def start_kernel(self, **kwargs: Any) -> str:  # type: ignore[override]
        owner = PAGE_OWNER.get()
        if owner is None:  # only a signed-in page starts (or takes) kernels
            raise web.HTTPError(403, "a dashboard kernel starts only for a signed-in page")
        kernel_id = await self._take_warm(kwargs.get("kernel_name"))
        if kernel_id is None:
            kernel_id = await super().start_kernel(**kwargs)
        self.owners[kernel_id] = owner
        return kernel_id

    async def shutdown_kernel(self, kernel_id: str, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        await super().shutdown_kernel(kernel_id, *args, **kwargs)
        self.owners.pop(kernel_id, None)

    async def cull_kernel_if_idle(self, kernel_id: str) -> None:
        if kernel_id in self.owners:  # a waiting kernel is idle by design
            await super().cull_kernel_if_idle(kernel_id)
