"""What the test fixtures that start real servers (PostgreSQL, Slurm, Spark) share."""

from __future__ import annotations

import socket
import subprocess


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_all(processes: list[subprocess.Popen[bytes]], timeout: float = 15) -> None:
    """Terminate daemons in reverse start order; kill any that do not exit in time."""
    for process in reversed(processes):
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
