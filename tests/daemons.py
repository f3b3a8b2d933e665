"""What the test fixtures that start real servers (PostgreSQL, Slurm, Spark, hubs) share."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

CGROUPS = Path("/sys/fs/cgroup")


_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port nobody listens on right now, on any address (a hub's services listen on its
    veth address, not 127.0.0.1), and never one this test run was already given: the kernel may
    hand the same port to two binds in a row once the first socket is closed, and a hub given
    one port for two of its services fails to start."""
    while True:
        with socket.socket() as s:
            s.bind(("", 0))
            port = int(s.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def stop_all(processes: list[subprocess.Popen[bytes]], timeout: float = 15) -> None:
    """Terminate daemons in reverse start order; kill any that do not exit in time."""
    for process in reversed(processes):
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()


def mount_cgroups() -> list[Path]:
    """A cgroup filesystem, as a boot would mount one: slurmd will not start without it, and
    sessions get their resource limits from it. A minimal root (a chroot, as in CI) has none:
    mount what the kernel gives this process (cgroup v2, or v1's controllers on a tmpfs) and
    return the mounts to undo; where one is mounted already, return nothing."""
    if os.path.ismount(CGROUPS):
        return []
    fields = [line.split(":") for line in Path("/proc/self/cgroup").read_text().splitlines()]
    controllers = [f[1] for f in fields if f[1]]

    def mount(*args: str) -> None:
        subprocess.run(["mount", *args], check=True, capture_output=True)

    if not controllers:
        mount("-t", "cgroup2", "cgroup2", str(CGROUPS))
        return [CGROUPS]
    mount("-t", "tmpfs", "-o", "mode=755", "cgroup", str(CGROUPS))
    mounted = [CGROUPS]
    for controller in controllers:  # "memory", "cpu,cpuacct", "name=systemd"
        target = CGROUPS / controller.removeprefix("name=")
        target.mkdir()
        options = f"none,{controller}" if controller.startswith("name=") else controller
        mount("-t", "cgroup", "-o", options, "cgroup", str(target))
        mounted.append(target)
    return mounted


def unmount(mounts: list[Path]) -> None:
    for mount in reversed(mounts):
        subprocess.run(["umount", str(mount)], check=False)


def descendants(pid: int) -> set[tuple[int, str]]:
    """(pid, start time) of every process below ``pid``, also across sessions and groups."""
    parents: dict[int, list[tuple[int, str]]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append((int(entry), fields[19]))
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.add(child)
            todo.append(child[0])
    return found


def alive(process: tuple[int, str]) -> bool:
    try:
        fields = Path(f"/proc/{process[0]}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[19] == process[1]
