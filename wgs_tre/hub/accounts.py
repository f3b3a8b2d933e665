"""Unix accounts, per-project groups and directories for sessions.

Each TRE user runs sessions as an unprivileged account ``tre-<user>``; each project has a group
and two directories: a shared workspace (read-write for the project's sessions, setgid so files
stay in the group) and the dispensal (read-only for them). Each (user, project) has a home of its
own, so nothing a user keeps in one project's home is seen from another project's session. A
session process carries only its own project's group, and its sandbox (``sandbox``) holds only
its own project's directories and home. Nobody else can enter any of them.
"""

from __future__ import annotations

import contextlib
import grp
import hashlib
import os
import pwd
import shutil
import stat
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ProjectDirs",
    "SessionAccount",
    "ensure_account",
    "ensure_home",
    "ensure_project",
    "seed_examples",
    "unix_name",
]

ACCOUNT_PREFIX = "tre-"
GROUP_PREFIX = "trep-"


def unix_name(username: str) -> str:
    return f"{ACCOUNT_PREFIX}{username}"


def group_name(slug: str) -> str:
    """Unix group names stop at 32 characters; slugs may be longer, so add a short hash."""
    return f"{GROUP_PREFIX}{slug[:18]}-{hashlib.sha256(slug.encode()).hexdigest()[:6]}"


@dataclass(frozen=True)
class SessionAccount:
    name: str
    uid: int
    gid: int
    home: Path


@dataclass(frozen=True)
class ProjectDirs:
    group: str
    gid: int
    workspace: Path
    dispensal: Path


def _run(*argv: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {result.stderr.strip()}")


def ensure_account(username: str, root: Path) -> SessionAccount:
    """The session account of ``username``, created on first use (no login shell, no sudo).
    ``home`` is the root-owned parent of the user's per-project homes (see ``ensure_home``)."""
    name = unix_name(username)
    homes = root / "homes" / username
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        _run("useradd", "--system", "--user-group", "--no-create-home", "--home-dir", str(homes),
             "--shell", "/usr/sbin/nologin", name)  # fmt: skip
        entry = pwd.getpwnam(name)
    homes.mkdir(parents=True, exist_ok=True)
    os.chown(homes, 0, 0)
    homes.chmod(0o700)
    return SessionAccount(name, entry.pw_uid, entry.pw_gid, homes)


def ensure_home(account: SessionAccount, slug: str) -> Path:
    """The home of ``account`` in project ``slug``, its own (0700); made on first use.

    Its parent is root's alone now, but an older layout let the account write there: anything
    at the home's place that is not a plain directory is refused, never followed (root would
    otherwise hand a symlink's target to the account)."""
    home = account.home / slug
    with contextlib.suppress(FileExistsError):
        home.mkdir(mode=0o700)
    found = os.lstat(home)
    if not stat.S_ISDIR(found.st_mode):
        raise RuntimeError(f"{home} is not a directory (left by an older layout?); remove it")
    if found.st_uid != account.uid:
        os.chown(home, account.uid, account.gid, follow_symlinks=False)
    return home


def _group(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        _run("groupadd", "--system", name)
        return grp.getgrnam(name).gr_gid


def ensure_project(slug: str, root: Path) -> ProjectDirs:
    """The project's group, workspace (2770) and dispensal directory (0750, owned by root)."""
    name = group_name(slug)
    gid = _group(name)
    for parent in ("workspaces", "dispensals", "homes"):
        (root / parent).mkdir(parents=True, exist_ok=True)
        (root / parent).chmod(0o700)  # sessions reach their own directories by bind mounts only
    workspace, dispensal = root / "workspaces" / slug, root / "dispensals" / slug
    for path, mode in ((workspace, 0o2770), (dispensal, 0o750)):
        path.mkdir(exist_ok=True)
        shutil.chown(path, "root", name)
        path.chmod(mode)
    root.chmod(0o700)
    return ProjectDirs(name, gid, workspace, dispensal)


def seed_examples(dirs: ProjectDirs, examples: Path, extra: Sequence[Path] = ()) -> None:
    """Copy the example notebooks (and ``extra`` files they read) into ``<workspace>/examples``
    once, as the project's own files (group read-write), so a new project's first session opens
    onto worked examples. A project that deleted or changed them keeps its choice.

    The workspace is writable by untrusted session code, so root never writes, chowns or chmods
    inside it: the copies are made in a root-only directory (beside the dispensals, on the same
    filesystem) and moved in with one rename, which does not follow a planted symlink.
    """
    target = dirs.workspace / "examples"
    notebooks = sorted(examples.glob("*.ipynb"))
    if target.exists() or target.is_symlink() or not notebooks:
        return
    staging = dirs.dispensal.parent / f".examples-{dirs.workspace.name}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o700)
    try:
        for notebook in [*notebooks, *(path for path in extra if path.is_file())]:
            copy = staging / notebook.name
            shutil.copyfile(notebook, copy)
            os.chown(copy, 0, dirs.gid, follow_symlinks=False)
            copy.chmod(0o660)
        os.chown(staging, 0, dirs.gid)
        staging.chmod(0o2770)
        staging.rename(target)  # all or nothing: a session never sees half the examples
    except OSError:
        pass  # something appeared at examples/ meanwhile: the project's own choice stands
    finally:
        shutil.rmtree(staging, ignore_errors=True)
