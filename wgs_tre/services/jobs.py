"""Materialisations as background jobs of the data service.

Writing a large view takes minutes (10,000 samples x 1,000,000 variants); no request should last
that long. The data service decides the grant (audited) in the request, starts writing the view
as a job and answers at once with the job; the session follows the job's progress until the
view is there. A second request for the same view (another session of the project, a retry)
joins the running job instead of writing it twice. Only sessions of the job's project may see
it. Finished jobs are forgotten after a while; the view itself stays in the dispensal.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wgs_tre.dispense import Progress
from wgs_tre.errors import NotFound

__all__ = ["Job", "Jobs"]


@dataclass
class Job:
    id: str
    project: str
    dataset: str
    kind: str
    done: int = 0
    total: int = 0
    path: Path | None = None
    error: BaseException | None = None
    finished_at: float | None = None
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def state(self) -> str:
        if not self.finished.is_set():
            return "running"
        return "failed" if self.error is not None else "done"

    def progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def as_wire(self) -> dict[str, Any]:
        """What a session is told (a failed job is answered with its error instead)."""
        return {
            "job": self.id,
            "dataset": self.dataset,
            "kind": self.kind,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "path": str(self.path) if self.path is not None else None,
        }


class Jobs:
    """The data service's running and recently finished materialisations."""

    def __init__(self, workers: int = 2, keep_seconds: float = 600) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="materialise")
        self._keep = keep_seconds
        self._lock = threading.Lock()
        self._by_id: dict[str, Job] = {}
        self._running: dict[str, Job] = {}  # by the view's path

    def start(
        self, target: Path, project: str, dataset: str, kind: str, work: Callable[[Progress], Path]
    ) -> Job:
        """The job writing ``target``: the running one, or a new one running ``work``."""
        with self._lock:
            self._forget_old()
            running = self._running.get(str(target))
            if running is not None and running.project == project:
                return running
            job = Job(uuid.uuid4().hex, project, dataset, kind)
            self._by_id[job.id] = job
            self._running[str(target)] = job
        self._pool.submit(self._run, job, str(target), work)
        return job

    def get(self, job_id: str, project: str) -> Job:
        """The job, if it belongs to ``project``: to any other project it does not exist."""
        with self._lock:
            job = self._by_id.get(job_id)
        if job is None or job.project != project:
            raise NotFound("materialisation job", job_id)
        return job

    def _run(self, job: Job, target: str, work: Callable[[Progress], Path]) -> None:
        try:
            job.path = work(job.progress)
        except BaseException as error:  # noqa: BLE001 - handed to the session that waits
            job.error = error
        finally:
            with self._lock:
                self._running.pop(target, None)
            job.finished_at = time.monotonic()
            job.finished.set()

    def _forget_old(self) -> None:
        now = time.monotonic()
        for job_id, job in list(self._by_id.items()):
            if job.finished_at is not None and now - job.finished_at > self._keep:
                del self._by_id[job_id]
