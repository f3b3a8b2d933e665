"""Hub-side services: what sessions call instead of touching the store or raw data."""

from __future__ import annotations

import signal
from collections.abc import Callable

__all__ = ["run_service"]


def run_service(main: Callable[[], None]) -> None:
    """Run a service until the hub stops it. The hub ends services with SIGINT (and SIGTERM if
    that is slow); either is a normal end, not an error with a traceback in the hub's log."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        main()
    except KeyboardInterrupt:
        return  # stopped by the hub
