"""Which files the airlock lets through, each way (``policies/files.yaml``).

A missing or empty ``files.yaml`` gives the defaults below, which are the shipped file's values:
tables, text, figures and model summaries out; code, tables, reference documents and archives
of them in. A type not listed for a direction is refused in that direction, so an empty list
lets nothing through.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ByteSize, ConfigDict, Field, field_validator

from wgs_tre.airlock.filetypes import FileType
from wgs_tre.policy import load_policy_file

__all__ = [
    "FILE_NAME",
    "ArchiveLimits",
    "Direction",
    "DirectionRules",
    "FilePolicy",
    "load_file_policy",
]

FILE_NAME = "files.yaml"


class Direction(StrEnum):
    """Which way a file crosses the airlock."""

    EGRESS = "egress"  # leaving the TRE: a researcher's output
    INGRESS = "ingress"  # coming in: code or reference files a researcher brings

    @property
    def crossing(self) -> str:
        """What a file going this way does, for a message."""
        return "leave the TRE" if self is Direction.EGRESS else "come into the TRE"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_FIGURES = (FileType.PNG, FileType.JPEG, FileType.GIF, FileType.TIFF, FileType.WEBP)
_TABLES = (FileType.TEXT, FileType.CSV, FileType.JSON, FileType.PARQUET)


class DirectionRules(_Strict):
    """What may cross one way: the content types, and how large a file may be."""

    allow: frozenset[FileType] = Field(default_factory=frozenset)
    max_file_size: ByteSize = Field(default=ByteSize(100 * 2**20), gt=0)

    @field_validator("allow", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return frozenset() if value is None else value


class ArchiveLimits(_Strict):
    """How much an archive (zip, tar, gzip) may hold, counted over every archive inside it."""

    max_members: int = Field(default=10_000, ge=1)
    max_total_uncompressed: ByteSize = Field(default=ByteSize(2 * 2**30), gt=0)
    max_ratio: float = Field(default=100, ge=1, description="uncompressed over compressed")
    max_depth: int = Field(default=2, ge=1, description="1: no archive inside an archive")


class FilePolicy(_Strict):
    """``files.yaml``: the sanitizer's allowlists and limits."""

    egress: DirectionRules = Field(
        default_factory=lambda: DirectionRules(
            allow=frozenset({*_TABLES, *_FIGURES, FileType.SVG, FileType.PDF, FileType.NOTEBOOK}),
            max_file_size=ByteSize(100 * 2**20),
        )
    )
    ingress: DirectionRules = Field(
        default_factory=lambda: DirectionRules(
            allow=frozenset(
                {*_TABLES, FileType.PYTHON, FileType.NOTEBOOK, FileType.PDF, *_FIGURES}
                | {FileType.SVG, FileType.ZIP, FileType.TAR, FileType.GZIP}
            ),
            max_file_size=ByteSize(500 * 2**20),
        )
    )
    archives: ArchiveLimits = Field(default_factory=ArchiveLimits)
    max_image_pixels: int = Field(default=100_000_000, ge=1, description="width x height")
    ingress_needs_approval: bool = True

    def rules(self, direction: Direction) -> DirectionRules:
        return self.egress if direction is Direction.EGRESS else self.ingress


def load_file_policy(directory: Path) -> FilePolicy:
    """``directory/files.yaml`` validated; a missing or empty file gives the defaults, a broken
    one raises :class:`wgs_tre.errors.PolicyError` naming the file and the key."""
    return load_policy_file(FilePolicy, directory / FILE_NAME)
