"""``wgs_tre.hub.end_with_hub``, which the hub's configuration starts its services and proxy
through, on its own (tests/hub/test_hub_end.py kills a real hub): the command ends when the
process that started it is killed, and nothing runs when that process had already ended."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.daemons import alive

WRAPPER = [sys.executable, "-m", "wgs_tre.hub.end_with_hub"]
# A stand-in for the hub: starts the wrapped command as its child, says its PID, waits.
PARENT = """
import os, subprocess
child = subprocess.Popen([*{wrapper!r}, str(os.getpid()), "--", "sleep", "600"])
print(child.pid, flush=True)
child.wait()
"""


def test_the_command_ends_when_its_parent_is_killed() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT.format(wrapper=WRAPPER)], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    pid = int(parent.stdout.readline())
    deadline = time.monotonic() + 10  # the wrapper becomes `sleep` (same PID) once it has asked
    while not Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"sleep\0"):
        assert time.monotonic() < deadline, "the wrapper did not start its command"
        time.sleep(0.05)
    child = (pid, Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    parent.kill()
    parent.wait()
    while alive(child):
        assert time.monotonic() < deadline, "the command outlived the process that started it"
        time.sleep(0.05)


def test_nothing_runs_when_the_parent_had_already_ended(tmp_path: Path) -> None:
    """The parent named is not this wrapper's parent any more: it ended before the wrapper
    could ask to end with it (the wrapper was adopted by another process)."""
    marker = tmp_path / "ran"
    ended = subprocess.run([*WRAPPER, "1", "--", "touch", str(marker)], check=False)
    assert ended.returncode == 128 + signal.SIGTERM
    assert not marker.exists()
