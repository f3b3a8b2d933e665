"""Running kernels over a governed view's packed dosages, block by block, with Dask.

One task per stored row block (about 10,000 variants, all samples), so memory stays bounded
whatever the number of variants, and the same graph runs on local threads, a
``distributed.Client`` or dask-jobqueue workers on Slurm/PBS (whichever Dask uses by default).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr
from dask.base import compute as dask_compute
from dask.base import persist as dask_persist
from dask.delayed import Delayed, delayed

from wgs_tre.backends.vcf_zarr import CHUNK_VARIANTS
from wgs_tre.errors import InvalidInput, Refused
from wgs_tre.genomics.feedback import bars_render, compile_notice
from wgs_tre.variables import validate

__all__ = [
    "Blocks",
    "blocks_of",
    "compute",
    "map_blocks",
    "persist",
    "require_view",
]

# Set by wgs_tre.dispense on every view (and kept by a materialised dispensal).
VIEW_ATTRS = ("project", "dataset", "dispensed_at")


def require_view(ds: xr.Dataset, function: str) -> None:
    """Analyses run on governed views only: what the gate dispensed, never raw stored data.

    Inside a session the operating system is the boundary (raw data is not readable there);
    this check keeps host-side code honest and makes the rule visible where analyses start.
    """
    if not isinstance(ds, xr.Dataset):
        raise InvalidInput(function, f"expected an xarray Dataset, got {type(ds).__name__}")
    if not all(key in ds.attrs for key in VIEW_ATTRS):
        raise Refused(
            f"{function} runs on governed views only; open the data with "
            "wgs_tre.open_project(...).variants()"
        )


@dataclass(frozen=True)
class Blocks:
    """The packed dosages of a view as row blocks: ``parts[i]`` holds variants
    ``starts[i]:starts[i] + sizes[i]`` of all ``samples``."""

    parts: list[Delayed]
    starts: list[int]
    sizes: list[int]
    samples: int

    @property
    def variants(self) -> int:
        return sum(self.sizes)


def blocks_of(ds: xr.Dataset, function: str) -> Blocks:
    require_view(ds, function)
    validate(ds, "call_dosage_packed", "sample_id")
    packed = ds.call_dosage_packed.data
    if not isinstance(packed, da.Array):
        packed = da.from_array(np.asarray(packed), chunks=(CHUNK_VARIANTS, -1))
    packed = packed.rechunk({1: -1})
    sizes = list(packed.chunks[0])
    starts = [int(s) for s in np.cumsum([0, *sizes[:-1]])]
    parts = list(packed.to_delayed()[:, 0])
    return Blocks(parts, starts, [int(s) for s in sizes], ds.sizes["samples"])


def map_blocks(
    blocks: Blocks, kernel: Callable[..., Any], *shared: Any, with_start: bool = False
) -> list[Delayed]:
    """``kernel(block, samples, *shared)`` for every block (``kernel(block, samples, start,
    *shared)`` with ``with_start``, ``start`` being the block's first variant). Arrays in
    ``shared`` are put in the graph once, not once per task."""
    args = [delayed(a) if isinstance(a, np.ndarray) else a for a in shared]
    call = delayed(kernel, pure=True)
    if with_start:
        return [
            call(part, blocks.samples, start, *args)
            for part, start in zip(blocks.parts, blocks.starts, strict=True)
        ]
    return [call(part, blocks.samples, *args) for part in blocks.parts]


def _client() -> Any:
    with contextlib.suppress(ImportError, ValueError):
        from distributed import default_client

        return default_client()
    return None


@contextlib.contextmanager
def _local_progress(show: bool) -> Iterator[None]:
    if show:
        from dask.diagnostics.progress import ProgressBar

        with ProgressBar(minimum=2.0):  # only work that takes a while shows a bar
            yield
    else:
        yield


def _run(tasks: Sequence[Any], *, progress: bool, keep: bool) -> list[Any]:
    progress = progress and bars_render()
    with compile_notice():
        return _run_with(tasks, progress=progress, keep=keep)


def _run_with(tasks: Sequence[Any], *, progress: bool, keep: bool) -> list[Any]:
    client = _client()
    if client is not None:
        results = client.persist(list(tasks)) if keep else client.compute(list(tasks))
        if progress:
            from distributed import progress as show_progress

            show_progress(results)  # a widget in notebooks, a text bar in a terminal
        return list(results) if keep else list(client.gather(results))
    with _local_progress(progress):
        return list(dask_persist(*tasks) if keep else dask_compute(*tasks))


def compute(tasks: Sequence[Any], *, progress: bool = True) -> list[Any]:
    """Compute on the current Dask scheduler (a ``distributed.Client`` if one is active,
    local threads otherwise), with a progress bar for long work."""
    return _run(tasks, progress=progress, keep=False)


def persist(tasks: Sequence[Any], *, progress: bool = True) -> list[Any]:
    """Compute and keep the results where they are (worker memory on a cluster), as tasks
    later graphs can use."""
    return _run(tasks, progress=progress, keep=True)
