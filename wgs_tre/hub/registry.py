"""Which server is at which address: services that see only a client address (the package
proxy, for its audit events) learn the user and project from here. One file per address under
``<sessions root>/run``, root's alone, written by the spawner while the server runs."""

from __future__ import annotations

from pathlib import Path

__all__ = ["clear", "lookup", "register", "unregister"]


def _directory(sessions_root: Path) -> Path:
    path = sessions_root / "run"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def register(sessions_root: Path, address: str, user: str, server: str) -> None:
    (_directory(sessions_root) / address).write_text(f"{user} {server}\n")


def unregister(sessions_root: Path, address: str) -> None:
    (_directory(sessions_root) / address).unlink(missing_ok=True)


def lookup(sessions_root: Path, address: str) -> tuple[str, str | None]:
    """(user, server) at ``address``; an unknown address is reported as such."""
    try:
        user, server = (sessions_root / "run" / address).read_text().split()
        return user, server
    except (OSError, ValueError):
        return f"unknown@{address}", None


def clear(sessions_root: Path) -> None:
    for path in _directory(sessions_root).iterdir():
        path.unlink()
