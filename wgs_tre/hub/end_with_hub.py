"""Run a command so that it ends when the hub that started it ends, however the hub ends.

JupyterHub stops its managed services and its proxy only in the clean-up that its own SIGTERM
and SIGINT handlers run (``JupyterHub.cleanup``). It starts each of them in a session of its own
(``start_new_session``: signals to the hub's process group do not reach them), and nothing else
ties them to the hub. So a hub that ends any other way (killed after a slow stop, a crash, the
OOM killer, a signal before its handlers are installed at the end of start-up) leaves them
running with parent 1. The hub's configuration starts them through this module instead::

    python -m wgs_tre.hub.end_with_hub HUB_PID -- COMMAND...

which asks the kernel to send SIGTERM when its parent ends (``PR_SET_PDEATHSIG``, kept across
exec) and then becomes COMMAND. HUB_PID closes the race where the hub ended before the request.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

__all__ = ["ending_with_this_process"]

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_USAGE = "usage: python -m wgs_tre.hub.end_with_hub PARENT_PID -- COMMAND [ARG...]"


def ending_with_this_process(command: list[str]) -> list[str]:
    """``command``, started so that it ends when the calling process (the hub) ends."""
    return [sys.executable, "-m", "wgs_tre.hub.end_with_hub", str(os.getpid()), "--", *command]


def main(argv: list[str]) -> None:
    if len(argv) < 3 or not argv[0].isdigit() or argv[1] != "--":
        print(_USAGE, file=sys.stderr)
        sys.exit(2)
    parent, command = int(argv[0]), argv[2:]
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # an ignored SIGTERM (inherited) would not end it
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent:  # the hub ended before the kernel was asked: end as if told
        sys.exit(128 + signal.SIGTERM)
    os.execvp(command[0], command)  # noqa: S606 - the hub's own service or proxy command


if __name__ == "__main__":
    main(sys.argv[1:])
