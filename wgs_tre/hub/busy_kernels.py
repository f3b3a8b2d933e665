"""A Jupyter server extension every session loads: a kernel that is computing counts as
activity, so the idle culler (``idle_timeout_seconds`` in ``policies/sessions.yaml``) does not
stop a session in the middle of a long analysis that prints nothing.

Jupyter counts only kernel messages as activity, and a silent computation sends none between
"busy" and "idle". While any kernel is busy, this marks the server active every few seconds in
a setting whose name ends with ``_last_activity``, which the server adds to what it reports to
the hub.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tornado.ioloop import PeriodicCallback

__all__ = ["SETTING"]

SETTING = "busy_kernels_last_activity"
EVERY_MS = 2000  # well under any idle timeout; one cheap look at the kernel list


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": __name__}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    settings, kernels = serverapp.web_app.settings, serverapp.kernel_manager

    def mark() -> None:
        if any(k.get("execution_state") == "busy" for k in kernels.list_kernels()):
            settings[SETTING] = dt.datetime.now(dt.UTC)

    PeriodicCallback(mark, EVERY_MS).start()
