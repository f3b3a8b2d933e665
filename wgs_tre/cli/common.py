"""What every command shares: settings, the acting user, the store, and output."""

from __future__ import annotations

import dataclasses
import datetime as dt
import getpass
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import PurePath
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from wgs_tre.config import Settings, load_settings
from wgs_tre.governance import Context
from wgs_tre.policy import load_policies
from wgs_tre.store import Store

__all__ = ["State", "jsonable", "progress_bar", "state"]


def jsonable(value: Any) -> Any:
    """Dataclasses, enums, dates and paths -> plain JSON values, for ``--json``."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dt.datetime) and value.utcoffset() is not None:
        # One form everywhere, as the audit log writes it: RFC 3339 in UTC with "Z".
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


PIPED_WIDTH = 200


def default_actor() -> str:
    return os.environ.get("WGS_TRE_USER") or getpass.getuser()


@dataclass
class State:
    """Options of the root command, and the store opened on first use."""

    actor: str = field(default_factory=default_actor)
    json: bool = False
    emitted: bool = False  # a JSON document was printed (an error then adds none)
    _settings: Settings | None = None
    _store: Store | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.settings.store_url)
        return self._store

    def context(self) -> Context:
        """A governed context for the acting user; the store must be initialised."""
        self.store.check_ready()
        return Context(self.store, load_policies(self.settings.policy_dir), self.actor)

    # -- output -------------------------------------------------------------------------------
    @property
    def console(self) -> Console:
        # Piped into a file or a pager, rich would assume 80 columns and cut tables short.
        piped = not sys.stdout.isatty() and "COLUMNS" not in os.environ
        return Console(highlight=False, width=PIPED_WIDTH if piped else None)

    def emit(self, value: Any, render: Callable[[Any], None] | None = None) -> None:
        """``--json``: the value as JSON; otherwise ``render`` it (or print it plainly)."""
        if self.json:
            sys.stdout.write(orjson.dumps(jsonable(value), option=orjson.OPT_INDENT_2).decode())
            sys.stdout.write("\n")
            self.emitted = True
        elif render is not None:
            render(value)
        else:
            self.console.print(value)

    def table(
        self,
        title: str,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        *,
        wrap: str | None = None,
    ) -> None:
        """A table; if ``wrap`` names a column, only that one wraps (the others stay whole)."""
        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column, no_wrap=wrap is not None and column != wrap)
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        self.console.print(table)

    def done(self, message: str, value: Any = None) -> None:
        """Report a completed change: a line of text, or the changed object with ``--json``."""
        if self.json:
            self.emit(value if value is not None else {"ok": True, "message": message})
        else:
            self.console.print(f"[green]✓[/green] {message}")


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    if not isinstance(obj, State):
        obj = State()
        ctx.find_root().obj = obj
    return obj


def progress_bar(description: str, *, total: float | None, unit_bytes: bool = False) -> Progress:
    """A progress bar on stderr (stdout stays clean for ``--json``); silent when not a terminal."""
    columns: list[Any] = [TextColumn("{task.description}"), BarColumn()]
    columns.append(DownloadColumn() if unit_bytes else MofNCompleteColumn())
    columns += [TimeElapsedColumn(), TimeRemainingColumn()]
    console = Console(stderr=True)
    console.quiet = not console.is_terminal  # rich prints an empty line at the end otherwise
    progress = Progress(*columns, console=console, transient=True, disable=console.quiet)
    progress.add_task(description, total=total)
    return progress
