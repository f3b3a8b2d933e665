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

from wgs_tre.errors import InvalidInput, Refused
from wgs_tre.variables import validate

__all__ = [
    "Blocks",
    "blocks_of",
    "compute",
    "map_blocks",
    "persist",
    "require_view",
    "sample_order",
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
        packed = da.from_array(np.asarray(packed), chunks=(10_000, -1))
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
def _progress(client: Any, show: bool) -> Iterator[None]:
    if show and client is None:
        from dask.diagnostics.progress import ProgressBar

        with ProgressBar(minimum=2.0):  # only work that takes a while shows a bar
            yield
    else:
        yield


def compute(tasks: Sequence[Any], *, progress: bool = True) -> list[Any]:
    """Compute on the current Dask scheduler (a ``distributed.Client`` if one is active,
    local threads otherwise), with a progress bar for long work."""
    client = _client()
    if client is not None and progress:
        from distributed import progress as show_progress

        futures = client.compute(list(tasks))
        show_progress(futures)  # a widget in notebooks, a text bar in a terminal
        return list(client.gather(futures))
    with _progress(client, progress):
        return list(dask_compute(*tasks))


def persist(tasks: Sequence[Any], *, progress: bool = True) -> list[Any]:
    """Compute and keep the results where they are (worker memory on a cluster), as tasks
    later graphs can use."""
    client = _client()
    if client is not None:
        persisted = client.persist(list(tasks))
        if progress:
            from distributed import progress as show_progress

            show_progress(persisted)
        return list(persisted)
    with _progress(client, progress):
        return list(dask_persist(*tasks))


def sample_order(ds: xr.Dataset, table: Any, what: str) -> np.ndarray:
    """``table`` (a pandas DataFrame or Series indexed by ``sample_id``) aligned to the view's
    samples; rows for samples the table lacks are NaN."""
    import pandas as pd

    if not isinstance(table, (pd.DataFrame, pd.Series)):
        raise InvalidInput(what, "expected a pandas DataFrame or Series indexed by sample_id")
    if table.index.has_duplicates:
        raise InvalidInput(what, "sample_id appears more than once in the index")
    ids = pd.Index([str(s) for s in ds.sample_id.values])
    known = ids.isin(table.index)
    if not known.any():
        raise InvalidInput(what, "no sample of the view is in its index (index by sample_id)")
    frame = table.to_frame() if isinstance(table, pd.Series) else table
    try:
        values: np.ndarray = frame.reindex(ids).to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InvalidInput(what, f"values must be numeric: {error}") from None
    return values
