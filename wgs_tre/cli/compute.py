"""``wgs-tre compute``: the compute profiles of ``policies/compute.yaml``, for stewards."""

from __future__ import annotations

from typing import Annotated

import typer

from wgs_tre import compute
from wgs_tre.cli.common import state
from wgs_tre.governance.lookup import get_project
from wgs_tre.policy import load_policies

app = typer.Typer(
    help="Compute profiles researchers may use: Dask locally, on Slurm or PBS, and Spark.",
    no_args_is_help=True,
)


@app.command("profiles")
def profiles(ctx: typer.Context) -> None:
    """List the profiles of policies/compute.yaml (the default is marked)."""
    st = state(ctx)
    policy = load_policies(st.settings.policy_dir).compute
    rows = [
        {"profile": name, "kind": chosen.kind, "default": name == policy.default,
         "description": chosen.description}
        for name, chosen in policy.profiles.items()
    ]  # fmt: skip
    table = [(r["profile"], r["kind"], "yes" if r["default"] else "", r["description"])
             for r in rows]  # fmt: skip
    columns = ["profile", "kind", "default", "description"]
    st.emit(rows, lambda _: st.table("Compute profiles", columns, table))


@app.command("job-script")
def job_script(
    ctx: typer.Context,
    profile: Annotated[str, typer.Argument(help="A slurm or pbs profile of compute.yaml.")],
    project: Annotated[str, typer.Option(help="The project whose jobs to show (must exist).")],
) -> None:
    """Print the batch script a Slurm or PBS profile would submit for one Dask worker of
    PROJECT (job name, account, queue, resources). Nothing is submitted."""
    st = state(ctx)
    policy = load_policies(st.settings.policy_dir).compute
    # A script for a project that does not exist would charge an account nobody owns.
    st.store.check_ready()
    with st.store.session() as session:
        get_project(session, project)
    script = compute.job_script(policy, profile, project=project)
    st.emit({"profile": profile, "project": project, "script": script},
            lambda value: typer.echo(value["script"], nl=False))  # fmt: skip
