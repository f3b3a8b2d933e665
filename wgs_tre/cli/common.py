"""What every command shares: settings, the acting user, the store, and output."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from wgs_tre.config import Settings, load_settings
from wgs_tre.errors import ConfigurationError
from wgs_tre.governance import Context
from wgs_tre.governance.identity import Identity, check_mapped, host_identity
from wgs_tre.policy import load_policies
from wgs_tre.store import Store
from wgs_tre.wire import jsonable

__all__ = ["State", "jsonable", "progress_bar", "state"]


PIPED_WIDTH = 200


@dataclass
class State:
    """Options of the root command, and the store opened on first use."""

    requested: str = ""  # --as: another account, which only root (or its hub token) may use
    json: bool = False
    emitted: bool = False  # a JSON document was printed (an error then adds none)
    _settings: Settings | None = None
    _store: Store | None = None
    _identity: Identity | None = None

    @property
    def identity(self) -> Identity:
        """Who runs this command (see :mod:`wgs_tre.governance.identity`), established once."""
        if self._identity is None:
            self._identity = host_identity(self.requested or None, audit_in=self._ready_store)
        return self._identity

    def _ready_store(self) -> Store | None:
        """The store to audit a refused ``--as`` in; None before ``init``, with settings that
        open none or a store this account may not read (the refusal is then only reported)."""
        try:
            self.store.check_ready()
        except (ConfigurationError, PermissionError):  # StoreNotReady is a ConfigurationError
            return None
        return self.store

    @property
    def actor(self) -> str:
        return self.identity.account

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
        check_mapped(self.store, self.identity)
        return Context.acting(self.store, load_policies(self.settings.policy_dir), self.identity)

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


class LineProgress:
    """Progress for logs (stderr is not a terminal): once work has run ``quiet_seconds``, a
    line saying so, then one at each tenth of a known total or every ``every_seconds`` of an
    unknown one, and one at the end; no carriage returns. Quick commands (and their one-line
    errors) stay uncluttered. Offers the part of rich's ``Progress`` the commands use."""

    quiet_seconds = 2.0
    every_seconds = 30.0

    def __init__(self, description: str, total: float | None, unit_bytes: bool) -> None:
        self.description, self.total, self.unit_bytes = description, total, unit_bytes
        self.task_ids = [TaskID(0)]
        self.completed = 0.0
        self._started = self._last_line = 0.0
        self._tenths = 0

    def _amount(self, value: float) -> str:
        return f"{value / 1e6:.1f} MB" if self.unit_bytes else f"{value:g}"

    def _line(self, text: str) -> None:
        elapsed = time.monotonic() - self._started
        if not self._last_line:
            if elapsed < self.quiet_seconds:
                return
            total = f" of {self._amount(self.total)}" if self.total else ""
            sys.stderr.write(f"{self.description}: running{total}\n")
        sys.stderr.write(f"{self.description}: {text} in {elapsed:.1f} s\n")
        sys.stderr.flush()
        self._last_line = time.monotonic()

    def __enter__(self) -> LineProgress:
        self._started = time.monotonic()
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        outcome = "stopped" if error is not None else "done"
        self._line(f"{outcome} after {self._amount(self.completed)}")

    def advance(self, task: TaskID, advance: float = 1) -> None:
        self.update(task, completed=self.completed + advance)

    def update(self, task: TaskID, *, completed: float) -> None:
        self.completed = completed
        if self.total:
            tenths = min(10, int(10 * completed / self.total))
            if tenths > self._tenths and tenths < 10:
                self._tenths = tenths
                percent = int(100 * completed / self.total)
                self._line(f"{percent}% ({self._amount(completed)})")
        elif time.monotonic() - (self._last_line or self._started) >= self.every_seconds:
            self._line(self._amount(completed))


def progress_bar(
    description: str, *, total: float | None, unit_bytes: bool = False
) -> Progress | LineProgress:
    """A progress bar on stderr (stdout stays clean for ``--json``); plain lines when stderr is
    not a terminal (a log, CI, a pipe)."""
    console = Console(stderr=True)
    if not console.is_terminal:
        return LineProgress(description, total, unit_bytes)
    columns: list[Any] = [TextColumn("{task.description}"), BarColumn()]
    columns.append(DownloadColumn() if unit_bytes else MofNCompleteColumn())
    columns += [TimeElapsedColumn(), TimeRemainingColumn()]
    progress = Progress(*columns, console=console, transient=True)
    progress.add_task(description, total=total)
    return progress
