"""The file-system and process sandbox of a session, built with bubblewrap (``bwrap``).

A session's server runs in mount, PID, IPC and UTS namespaces of its own (inside the network
namespace from ``netns``). Its file tree holds only what is bound into it, by construction:

* the system, read-only: ``/usr`` (and the merged-/usr links ``/bin``, ``/lib``, ...) and, of
  ``/etc``, only what programs read (certificates, the dynamic linker's cache, Java, fonts, time
  zone, ...). ``/etc/passwd``, ``/etc/group`` and ``/etc/hosts`` are written for the session and
  name only its own account and groups;
* the Python environment, the ``wgs_tre`` package, the kernel specs and the policies, read-only;
* the project's workspace and a home of this (user, project) alone, read-write;
* private ``/tmp`` and ``/var/tmp`` (a directory of this session on disk, deleted at stop), a
  small private ``/dev/shm``, a minimal ``/dev``, and ``/proc`` of its own PID namespace;
* the project's dispensal, read-only.

Every path keeps its host name, so the dispensal paths the data service returns work unchanged.
Nothing else of the host exists inside: not the TRE's state directory (store, raw cohort,
staging, hub database, secrets), not other projects, not other users' homes.

Bubblewrap's own process is the first of the PID namespace. When it ends (the spawner signals it
at stop; ``--die-with-parent`` ends it with the hub) the kernel kills every process of the
session, including those started with ``setsid`` or a double fork. Privileges are dropped inside
by ``setpriv``: the session's account with its own group and the project's, no capabilities,
and ``no_new_privs``, so set-uid programs gain nothing; a seccomp filter (``seccomp``) keeps it
from making user namespaces and from the kernel's per-account keyrings.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ETC_ALLOWLIST",
    "PidNamespace",
    "SandboxSpec",
    "command",
    "kill_until_gone",
    "namespace_pids",
    "read_info",
    "write_identity",
]

BWRAP = "/usr/bin/bwrap"
SETPRIV = "/usr/bin/setpriv"
# What programs in a session read from /etc; nothing else of it is there.
ETC_ALLOWLIST = (
    "alternatives", "bash.bashrc", "ca-certificates", "ca-certificates.conf", "debian_version",
    "environment", "fonts", "gai.conf", "host.conf", "inputrc", "java-17-openjdk",
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "magic", "magic.mime",
    "mime.types", "nsswitch.conf", "os-release", "pip.conf", "profile", "profile.d",
    "protocols", "python3", "python3.11", "services", "ssl", "terminfo", "timezone",
)  # fmt: skip
# Written per session: identity and name resolution that mention only this session.
GENERATED_ETC = ("passwd", "group", "hosts", "hostname")
MERGED_USR_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
# Host programs a session has no use for, masked: Node.js runs the hub's proxy, and JupyterLab
# would start it at every server start (0.5 s of CPU) only to read yarn's configuration.
MASKED = ("/usr/bin/node",)


@dataclass(frozen=True)
class SandboxSpec:
    uid: int
    gid: int
    groups: tuple[int, ...]  # supplementary groups: the project's
    hostname: str
    workdir: Path
    read_write: tuple[Path, ...]  # workspace, home
    read_only: tuple[Path, ...]  # environment, package, kernel specs, policies, dispensal
    scratch: Path  # becomes /tmp and /var/tmp
    etc: Path  # the generated files of GENERATED_ETC
    shm_bytes: int
    umask: int = 0o077  # of the session's processes (set inside, after bwrap made its mounts)
    setup: str = ""  # shell commands run as the session's account before the command
    info_fd: int | None = None  # bwrap writes the sandbox's pid and namespaces here
    seccomp_fd: int | None = None  # bwrap reads a seccomp filter (classic BPF) from here


def _system() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in MERGED_USR_LINKS:
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for masked in MASKED:
        if Path(masked).exists():
            args += ["--ro-bind", "/dev/null", masked]
    args += ["--perms", "0755", "--dir", "/etc"]
    for name in ETC_ALLOWLIST:
        if (Path("/etc") / name).exists():
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    return args


def command(spec: SandboxSpec, argv: list[str]) -> list[str]:
    """The command line that runs ``argv`` inside the sandbox ``spec`` (bwrap, then setpriv)."""
    args = [BWRAP, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-ipc",
            "--unshare-uts", "--unshare-cgroup-try", "--hostname", spec.hostname]  # fmt: skip
    if spec.info_fd is not None:
        args += ["--info-fd", str(spec.info_fd)]
    if spec.seccomp_fd is not None:
        args += ["--seccomp", str(spec.seccomp_fd)]
    args += _system()
    for name in GENERATED_ETC:
        args += ["--ro-bind", str(spec.etc / name), f"/etc/{name}"]
    args += ["--proc", "/proc", "--dev", "/dev"]
    # The session's own temporary directories (these are mount points inside the sandbox, not
    # the host's shared ones).
    args += ["--perms", "1777", "--size", str(spec.shm_bytes), "--tmpfs", "/dev/shm"]  # noqa: S108
    binds = {Path("/tmp"): ("--bind", spec.scratch), Path("/var/tmp"): ("--bind", spec.scratch)}  # noqa: S108
    binds |= {path: ("--ro-bind", path) for path in spec.read_only}
    binds |= {path: ("--bind", path) for path in spec.read_write}
    # Their parents exist only as mount points: traversable, empty, not writable. (bwrap would
    # make them 0700, which the session's account could not pass.)
    parents = {a for path in binds for a in path.parents if a != Path("/")} - set(binds)
    for parent in sorted(parents, key=lambda a: len(a.parts)):
        args += ["--perms", "0755", "--dir", str(parent)]
    for target in sorted(binds, key=lambda p: len(p.parts)):  # outer before inner
        flag, source = binds[target]
        args += [flag, str(source), str(target)]
    args += ["--chdir", str(spec.workdir)]
    groups = ",".join(str(g) for g in spec.groups)
    drop = [SETPRIV, f"--reuid={spec.uid}", f"--regid={spec.gid}",
            f"--groups={groups}" if groups else "--clear-groups",
            "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--"]  # fmt: skip
    entry = f'umask {spec.umask:03o}; {spec.setup + "; " if spec.setup else ""}exec "$@"'
    return [*args, "--", *drop, "/bin/sh", "-c", entry, "sh", *argv]


def write_identity(
    etc: Path, account: str, groups: tuple[tuple[str, int], ...], home: Path, hostname: str
) -> None:
    """``passwd``, ``group``, ``hosts`` and ``hostname`` for one session, in ``etc``: root,
    nobody, the session's account (with this session's home), its own group and its
    supplementary ``groups`` (name, gid), nothing of other users or projects."""
    me = pwd.getpwnam(account)
    users = [pwd.getpwuid(0), pwd.getpwnam("nobody")]
    passwd = [":".join(map(str, (u.pw_name, "x", u.pw_uid, u.pw_gid, u.pw_gecos, u.pw_dir,
                                 u.pw_shell))) for u in users]  # fmt: skip
    passwd.append(f"{account}:x:{me.pw_uid}:{me.pw_gid}::{home}:/bin/bash")
    own = [grp.getgrgid(0), grp.getgrnam("nogroup"), grp.getgrgid(me.pw_gid)]
    lines = [f"{g.gr_name}:x:{g.gr_gid}:" for g in own]
    lines += [f"{name}:x:{gid}:{account}" for name, gid in groups]
    files = {
        "passwd": "\n".join(passwd) + "\n",
        "group": "\n".join(lines) + "\n",
        "hosts": f"127.0.0.1\tlocalhost\n127.0.1.1\t{hostname}\n::1\tlocalhost\n",
        "hostname": f"{hostname}\n",
    }
    etc.mkdir(mode=0o755, parents=True, exist_ok=True)
    for name, text in files.items():
        (etc / name).write_text(text)
        (etc / name).chmod(0o644)


def read_info(fd: int, timeout: float = 30) -> dict[str, int]:
    """What bwrap reports once the sandbox exists: ``child-pid`` and the namespaces' inode
    numbers (``pid-namespace``, ...). Blocks until bwrap writes it or exits."""
    deadline = time.monotonic() + timeout
    chunks = []
    with os.fdopen(fd, "rb") as stream:
        while time.monotonic() < deadline:
            chunk = stream.read1(65536)
            if not chunk:
                break
            chunks.append(chunk)
            try:
                info = json.loads(b"".join(chunks))
                return {k: int(v) for k, v in info.items() if isinstance(v, int)}
            except json.JSONDecodeError:
                continue
    raise RuntimeError("the session sandbox did not start (bwrap reported nothing; see the log)")


class PidNamespace:
    """A hold on a sandbox's PID namespace, to find and end its processes. Holding it open
    keeps its inode number from being given to a new namespace (the kernel reuses the lowest
    free one), so a session starting as another ends is never taken for it."""

    def __init__(self, pid: int) -> None:
        self.fd = os.open(f"/proc/{pid}/ns/pid", os.O_RDONLY)
        self.inode = os.fstat(self.fd).st_ino

    def pids(self) -> set[int]:
        return namespace_pids(self.inode)

    def close(self) -> None:
        os.close(self.fd)


def namespace_pids(pid_namespace: int) -> set[int]:
    """Every process of the PID namespace whose inode is ``pid_namespace``."""
    wanted, found = f"pid:[{pid_namespace}]", set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.readlink(f"/proc/{entry.name}/ns/pid") == wanted:
                    found.add(int(entry.name))
            except OSError:  # gone meanwhile, or a kernel thread
                continue
    return found


def kill_until_gone(find: Callable[[], set[int]], timeout: float = 10) -> set[int]:
    """SIGKILL every process ``find()`` names until it names none; return any that stayed."""
    deadline = time.monotonic() + timeout
    while (left := find()) and time.monotonic() < deadline:
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
        time.sleep(0.02)
    return find()
