"""``wgs-tre models``: the prognosis model registry, as stewards and researchers look at it."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from wgs_tre.cli.common import state
from wgs_tre.errors import NotFound

app = typer.Typer(
    help="Fitted prognosis models kept in the registry, with their provenance.",
    no_args_is_help=True,
)


def _registered(ctx: typer.Context) -> list[Any]:
    from wgs_tre.models.registry import registered  # the model libraries load only here

    return registered(state(ctx).context())


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List the registered models you may see (stewards: all; researchers: their projects'),
    newest first. FLAGGED: participants of its dataset versions withdrew consent after the
    model's data was read; ask whether it may still be used."""
    st = state(ctx)
    found = _registered(ctx)
    st.emit(
        found,
        lambda rows: st.table(
            "Registered models",
            ["ref", "name", "kind", "project", "datasets", "participants", "events", "saved",
             "flag"],
            [(m.ref, escape(m.name), m.kind, m.project, ", ".join(m.datasets), m.participants,
              m.events, f"{m.saved_at:%Y-%m-%d} by {m.saved_by}",
              f"FLAGGED: {m.withdrawals_since} withdrawn" if m.flagged else "")
             for m in rows],
        ),
    )  # fmt: skip


@app.command("show")
def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The model's reference, M-XXXXXX.")],
) -> None:
    """Show a registered model's provenance: project, dataset versions, numbers of participants
    and events, features, the code that fitted it, its metrics and its document's SHA-256."""
    st = state(ctx)
    found = [m for m in _registered(ctx) if m.ref == ref]
    if not found:
        raise NotFound("model you may see", ref)
    m = found[0]

    def render(_: object) -> None:
        name, code = escape(m.name), escape(m.code_version)  # researchers' words: no markup
        since = f"\n[red]FLAGGED[/red]: {m.withdrawals_since} withdrawal(s) since"
        flag = since if m.flagged else ""
        st.console.print(
            f"[bold]{m.ref}[/bold] {name} ({m.kind}), trained in {m.project}\n"
            f"datasets     {', '.join(m.datasets)} (read {m.data_read_at:%Y-%m-%d %H:%M} UTC)\n"
            f"trained on   {m.participants} participants, {m.events} events\n"
            f"features     {escape(', '.join(m.features))}\n"
            f"code         {code}\n"
            f"metrics      {escape(', '.join(f'{k} {v:.3f}' for k, v in m.metrics.items()))}\n"
            f"saved        {m.saved_at:%Y-%m-%d %H:%M} UTC by {m.saved_by}; sha256 {m.sha256}"
            + flag
        )

    st.emit(m, render)
