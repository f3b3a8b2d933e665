"""The project spawner: one JupyterHub named server per (user, approved project).

The server's name is the project's slug. Before anything starts, the governance store must say
the user is an active member of an approved project (not expired, suspended or revoked);
otherwise the spawn is refused with the reason and audited. A started server is isolated as
every TRE server is (``isolation``: its own sandbox, network namespace and cgroup, ended whole
at stop) and, as a project session:

* runs as the user's unprivileged session account, carrying only this project's group;
* sees the project's workspace (read-write), its dispensal (read-only) and a home of this
  (user, project), and nothing of other projects;
* starts in the workspace, whose first session finds the example notebooks in ``examples/``;
* offers the "WGS TRE - <project>" kernel, and its environment names the project, its
  directories and the data service; it gets no store credentials.

Starts and ends are audited (``session.start``, ``session.stop``).
"""

from __future__ import annotations

from pathlib import Path

from traitlets import List, Unicode

from wgs_tre.audit import record
from wgs_tre.config import load_settings
from wgs_tre.errors import NotFound, Refused
from wgs_tre.governance import Context, projects
from wgs_tre.hub import accounts, jupyter_config
from wgs_tre.hub.isolation import IsolatedSpawner, Placement
from wgs_tre.hub.refusals import RefusalPage, explain
from wgs_tre.store import Store
from wgs_tre.types import Action

__all__ = ["ProjectSpawner"]


class ProjectSpawner(IsolatedSpawner):
    """Named servers per project; see the module docstring."""

    examples_dir = Unicode(
        "",
        config=True,
        help="Notebooks copied into a project's workspace (as examples/) at its first session.",
    )

    example_files = List(
        Unicode(),
        config=True,
        help="Other files copied beside the example notebooks (the demo: its cohort's "
        "documented true effects, which the prognosis walkthrough reads).",
    )

    dirs: accounts.ProjectDirs

    def _store(self) -> Store:
        return Store(load_settings().store_url)

    def authorize(self) -> None:
        """HTTP 400 for the default server, 403 (audited) unless the user may run a session
        of this project; either page says why and what to do (``refusals``)."""
        if not self.name:
            raise RefusalPage(
                400,
                "Sessions are per project: start a named server called after the project.",
                explain("", None),
            )
        store = self._store()
        try:
            projects.open_session(Context(store, self.policies(), self.user.name), self.name)
        except (Refused, NotFound) as refusal:  # audited by the decision
            raise RefusalPage(
                403,
                f"Cannot start a session of {self.name}: {refusal.message}",
                explain(self.name, refusal),
            ) from None
        finally:
            store.dispose()

    def place(self) -> Placement:
        root = Path(self.sessions_root)
        account = accounts.ensure_account(self.user.name, root)
        self.dirs = accounts.ensure_project(self.name, root)
        home = accounts.ensure_home(account, self.name)
        if self.examples_dir:
            extra = [Path(f) for f in self.example_files]
            accounts.seed_examples(self.dirs, Path(self.examples_dir), extra)
        return Placement(
            account,
            home,
            workdir=self.dirs.workspace,
            read_write=(self.dirs.workspace,),
            read_only=(self.dirs.dispensal,),
            groups=((self.dirs.group, self.dirs.gid),),
        )

    def jupyter_config(self) -> Path:
        return jupyter_config.render(Path(self.sessions_root) / "kernels" / self.name, self.name)

    def user_env(self, env: dict[str, str]) -> dict[str, str]:
        env = super().user_env(env)
        env.update(
            WGS_TRE_PROJECT=self.name,
            WGS_TRE_WORKSPACE=str(self.dirs.workspace),
            WGS_TRE_DISPENSAL=str(self.dirs.dispensal),
        )
        return env

    def ended(self) -> None:
        store = self._store()
        try:
            record(store, actor=self.user.name, action=Action.SESSION_STOP, project=self.name,
                   reason="server stopped")  # fmt: skip
        finally:
            store.dispose()
