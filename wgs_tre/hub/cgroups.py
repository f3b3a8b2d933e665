"""Per-session resource limits with Linux cgroups: cgroup v2, or the v1 controllers.

Each session gets a cgroup of its own (``wgs-tre/<hub>/<key>``) in every hierarchy that has one
of the controllers it needs: ``memory`` (all its processes together; past the limit the kernel
ends the largest), ``pids`` (processes and threads; past the limit ``fork`` fails, so a fork bomb
stops) and ``cpu`` (a quota in cores; without one, sessions share the CPUs equally when they
compete). The spawner moves the session's first process in before it starts the sandbox, so
everything the session ever starts is counted; at stop, whatever is still inside is killed and
the cgroup removed.

Under v1 the sessions' cgroups sit below the hub's own cgroup of each controller, so limits put
on the hub's service still bound them. Under v2 they sit below the root, where controllers can
be delegated. A host without a cgroup filesystem (a bare chroot) gets no cgroups: ``create``
returns None and the spawner falls back to a per-account process limit (``RLIMIT_NPROC``);
memory and CPU are then not limited.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

from wgs_tre.hub.sandbox import kill_until_gone

__all__ = ["Limits", "SessionCgroup", "available", "create", "find", "sessions", "sweep"]

GROUP = "wgs-tre"
CONTROLLERS = ("memory", "pids", "cpu")
CPU_PERIOD_US = 100_000
OPTIONAL_FILES = {"memory.swap.max"}  # only where the kernel accounts swap


@dataclass(frozen=True)
class Limits:
    memory: int | None = None  # bytes
    cpus: float | None = None  # cores
    processes: int | None = None  # processes and threads


@dataclass(frozen=True)
class _Hierarchy:
    mountpoint: Path
    version: int  # 1 or 2
    controllers: frozenset[str]
    own: Path  # the directory of this process's cgroup in it (v1), or the mount point (v2)


def _mounts() -> list[_Hierarchy]:
    """The cgroup hierarchies mounted here that carry at least one controller we use."""
    own = {}  # controller (or "" for v2) -> this process's path in that hierarchy
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        for name in names.split(",") if names else [""]:
            own[name] = path
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields, _, rest = line.partition(" - ")
        parts, (fstype, _source, options) = fields.split(), rest.split()[:3]
        root, mountpoint = parts[3], Path(parts[4])
        if fstype == "cgroup2":
            controllers_file = mountpoint / "cgroup.controllers"
            have = frozenset(controllers_file.read_text().split()) & frozenset(CONTROLLERS)
            if have:
                found.append(_Hierarchy(mountpoint, 2, have, mountpoint))
        elif fstype == "cgroup":
            have = frozenset(options.split(",")) & frozenset(CONTROLLERS)
            if have:
                path = own.get(sorted(have)[0], "/")
                inside = os.path.relpath(path, root) if path.startswith(root) else "."
                directory = (mountpoint / inside).resolve()
                found.append(_Hierarchy(mountpoint, 1, have, directory if directory.is_dir()
                                        else mountpoint))  # fmt: skip
    # One hierarchy can be mounted in several places (a chroot's mounts show up here too):
    # use each once, at its usual place if it is there.
    found.sort(key=lambda h: (not h.mountpoint.is_relative_to("/sys/fs/cgroup"), h.mountpoint))
    unique: dict[frozenset[str], _Hierarchy] = {}
    for hierarchy in found:
        unique.setdefault(hierarchy.controllers, hierarchy)
    return list(unique.values())


def available() -> bool:
    """Whether sessions here get cgroups (memory, process and CPU limits)."""
    return bool(_mounts())


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def _limit_files(version: int, controllers: frozenset[str], limits: Limits) -> dict[str, str]:
    files: dict[str, str] = {}
    if "memory" in controllers and limits.memory:
        if version == 2:
            files |= {"memory.max": str(limits.memory), "memory.swap.max": "0"}
        else:
            files |= {"memory.limit_in_bytes": str(limits.memory)}
    if "pids" in controllers and limits.processes:
        files["pids.max"] = str(limits.processes)
    if "cpu" in controllers and limits.cpus:
        quota = int(limits.cpus * CPU_PERIOD_US)
        if version == 2:
            files["cpu.max"] = f"{quota} {CPU_PERIOD_US}"
        else:
            files |= {"cpu.cfs_period_us": str(CPU_PERIOD_US), "cpu.cfs_quota_us": str(quota)}
    return files


def _base_dir(hierarchy: _Hierarchy, instance: str) -> Path:
    return (hierarchy.own if hierarchy.version == 1 else hierarchy.mountpoint) / GROUP / instance


def _base(hierarchy: _Hierarchy, instance: str) -> Path:
    """The parent of this hub's session cgroups, made on first use. Under v2 each level must
    hand the controllers down (``cgroup.subtree_control``)."""
    base = _base_dir(hierarchy, instance)
    if hierarchy.version == 1:
        return base
    enable = " ".join(f"+{c}" for c in sorted(hierarchy.controllers))
    for directory in (hierarchy.mountpoint, base.parent, base):
        directory.mkdir(exist_ok=True)
        _write(directory / "cgroup.subtree_control", enable)
    return base


@dataclass(frozen=True)
class SessionCgroup:
    """One session's cgroup, in each hierarchy that has a controller we use."""

    key: str
    directories: tuple[Path, ...]
    controllers: frozenset[str]

    def join(self, pid: int) -> None:
        """Move ``pid`` in (the spawner does this in the session's first process)."""
        for directory in self.directories:
            _write(directory / "cgroup.procs", str(pid))

    def pids(self) -> set[int]:
        found: set[int] = set()
        for directory in self.directories:
            try:
                found |= {int(p) for p in (directory / "cgroup.procs").read_text().split()}
            except FileNotFoundError:
                continue
        return found

    def remove(self) -> None:
        """Kill what is still inside, then delete the cgroup."""
        kill_until_gone(self.pids)
        for directory in self.directories:
            for path in (directory, directory.parent):  # the hub's own level too, once empty
                try:
                    path.rmdir()
                except FileNotFoundError:
                    continue
                except OSError as error:  # still in use (another session, or a process that
                    if error.errno not in (errno.EBUSY, errno.ENOTEMPTY):  # would not die)
                        raise
                    break


def create(instance: str, key: str, limits: Limits) -> SessionCgroup | None:
    """A new cgroup for session ``key`` of hub ``instance`` with ``limits``; None where the
    host has no cgroup filesystem."""
    hierarchies = _mounts()
    if not hierarchies:
        return None
    directories, controllers = [], frozenset[str]()
    try:
        for hierarchy in hierarchies:
            directory = _base(hierarchy, instance) / key
            directory.mkdir(parents=True)
            directories.append(directory)
            controllers |= hierarchy.controllers
            files = _limit_files(hierarchy.version, hierarchy.controllers, limits)
            for name, value in files.items():
                if name in OPTIONAL_FILES and not (directory / name).exists():
                    continue
                _write(directory / name, value)
    except BaseException:
        SessionCgroup(key, tuple(directories), controllers).remove()
        raise
    return SessionCgroup(key, tuple(directories), controllers)


def find(instance: str, key: str) -> SessionCgroup | None:
    """The cgroup of an existing session (after a hub restart), if it has one."""
    hierarchies = _mounts()
    found = tuple(_base_dir(h, instance) / key for h in hierarchies)
    present = tuple(d for d in found if d.is_dir())
    controllers = frozenset().union(*(h.controllers for h in hierarchies))
    return SessionCgroup(key, present, controllers) if present else None


def sessions(instance: str) -> list[SessionCgroup]:
    """The cgroups of hub ``instance``'s sessions that exist now."""
    bases = [_base_dir(hierarchy, instance) for hierarchy in _mounts()]
    keys = {child.name for base in bases if base.is_dir() for child in base.iterdir()
            if child.is_dir()}  # fmt: skip
    return [cgroup for key in sorted(keys) if (cgroup := find(instance, key)) is not None]


def sweep(instance: str) -> list[str]:
    """Kill and remove every session cgroup hub ``instance`` left behind."""
    left = sessions(instance)
    for cgroup in left:
        cgroup.remove()
    return [cgroup.key for cgroup in left]
