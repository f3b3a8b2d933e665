"""``wgs-tre hub``: deployment artefacts derived from the policies."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wgs_tre.cli.common import state
from wgs_tre.hub.k8s import helm_values
from wgs_tre.policy import load_policies

app = typer.Typer(
    help="Deployment: Kubernetes values generated from the policies.", no_args_is_help=True
)


@app.command("helm-values")
def helm(
    ctx: typer.Context,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here.")] = None,
    image: Annotated[str, typer.Option(help="Single-user image name:tag.")] = (
        "wgs-tre/singleuser:latest"
    ),
) -> None:
    """Zero to JupyterHub values: singleuser.networkPolicy mirrors policies/egress.yaml, the
    pod's limits policies/sessions.yaml; the pod is sandboxed (read-only root, no token)."""
    st = state(ctx)
    policies = load_policies(st.settings.policy_dir)
    text = helm_values(policies.egress, policies.sessions, image=image)

    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text)
    st.done(f"wrote {output}", {"output": str(output)})
