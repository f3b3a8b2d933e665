"""Staging directories: write aside, then move into place while registering."""

from __future__ import annotations

import contextlib
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["Staging", "staging"]


class Staging:
    """A hidden directory under ``root/name`` that becomes ``root/name/v<N>-<tag>``."""

    def __init__(self, root: Path, name: str) -> None:
        self.tag = secrets.token_hex(4)
        self.parent = root / name
        self.path = self.parent / f".ingest-{self.tag}"
        self.final: Path | None = None

    def place(self, version: int) -> Path:
        """Move the staged files to their final location (called inside the registration)."""
        self.final = self.parent / f"v{version}-{self.tag}"
        self.path.rename(self.final)
        return self.final


@contextmanager
def staging(root: Path, name: str) -> Iterator[Staging]:
    """A staging directory, removed (with anything moved into place) if the block fails, and
    with it the dataset's directory (and ``root``) if they were made for it and are empty: a
    refused ingest leaves the store as it found it."""
    stage = Staging(root, name)
    made = [d for d in (root, stage.parent) if not d.exists()]
    # Raw data: only the TRE's own account may enter (sessions read dispensals, never this).
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    stage.parent.mkdir(mode=0o700, exist_ok=True)
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage.path, ignore_errors=True)
        if stage.final is not None:
            shutil.rmtree(stage.final, ignore_errors=True)
        for directory in reversed(made):
            with contextlib.suppress(OSError):  # not empty: another ingest is using it
                directory.rmdir()
        raise
