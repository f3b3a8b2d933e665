"""What a researcher sees while an analysis runs: a progress bar where it renders, and one line
when the analysis kernels compile.

numba compiles a kernel the first time it runs unless a compiled copy is in its cache (sessions
start with one that ``scripts/install`` made; see ``wgs_tre.genomics.warmup``). Without one,
the first analysis would sit at a half-full bar for 10-15 s with no word of why.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import Any

from numba.core import event

__all__ = ["COMPILING", "bars_render", "compile_notice"]

COMPILING = (
    "compiling the analysis kernels (first run only, about 15 s; later runs and new "
    "sessions reuse them; `python -m wgs_tre.genomics.warmup` compiles them ahead)"
)
_KERNELS = "wgs_tre.genomics.kernels"


class _FirstCompile(event.Listener):
    """Prints :data:`COMPILING` once per process, when one of our kernels starts compiling."""

    def __init__(self) -> None:
        self.said = False
        self._lock = threading.Lock()  # kernels compile in Dask's worker threads

    def on_start(self, ev: event.Event) -> None:
        dispatcher: Any = (ev.data or {}).get("dispatcher")
        module = getattr(getattr(dispatcher, "py_func", None), "__module__", "")
        with self._lock:
            if self.said or not module.startswith(_KERNELS):
                return
            self.said = True
        print(COMPILING, file=sys.stderr, flush=True)

    def on_end(self, ev: event.Event) -> None:
        pass


_LISTENER = _FirstCompile()


@contextlib.contextmanager
def compile_notice() -> Iterator[None]:
    """Within the block, the first compilation of a kernel is announced on stderr."""
    with event.install_listener("numba:compile", _LISTENER):
        yield


def bars_render() -> bool:
    """Whether a progress bar (redrawn with ``\\r``) shows as a bar: in a terminal or a notebook.
    Written to a log file or a pipe it would be a flood of half-lines instead."""
    if type(sys.stdout).__module__.startswith("ipykernel"):
        return True
    return sys.stdout.isatty()
