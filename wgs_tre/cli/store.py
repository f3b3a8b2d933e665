"""``wgs-tre store``: the store's own files, and what interrupted ingests left among them."""

from __future__ import annotations

from typing import Annotated

import typer

from wgs_tre.cli.common import State, state
from wgs_tre.ingest.check import StoreCheck, check_store, plural

app = typer.Typer(help="The store's files: leftovers of interrupted ingests.", no_args_is_help=True)


@app.command("check")
def check(
    ctx: typer.Context,
    fix: Annotated[bool, typer.Option("--fix", help="Remove the orphans found.")] = False,
) -> None:
    """List what no registered version and no running ingest owns under the data directory's
    datasets/ (steward): staging directories of interrupted ingests, version directories that
    were never registered, lock files left behind, and dataset directories only those fill.
    An ingest in progress holds a lock on its staging directory and is left alone. With --fix,
    remove the orphans. Audited (store.check) with the counts.
    """
    st = state(ctx)
    result = check_store(st.context(), st.settings.data_dir / "datasets", fix=fix)
    st.emit(result, lambda r: _render(st, r))


def _render(st: State, result: StoreCheck) -> None:
    live = result.in_progress
    running = f"; {plural(live, 'ingest')} in progress left alone" if live else ""
    if not result.orphans:
        st.console.print(f"[green]✓[/green] no orphans under {result.root}{running}")
        return
    rows = [
        (o.dataset, o.kind, o.path.name, o.size_bytes, "yes" if o.removed else "no")
        for o in result.orphans
    ]
    st.table(f"Orphans under {result.root}", ["dataset", "what", "path", "bytes", "removed"], rows)
    count = f"{plural(len(result.orphans), 'orphan')} ({result.size_bytes} bytes)"
    if result.fix:
        st.console.print(f"[green]✓[/green] removed {result.removed} of {count}{running}")
    else:
        st.console.print(f"{count}{running}; remove them with: wgs-tre store check --fix")
