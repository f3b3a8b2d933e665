"""Shared fixtures: a real governance store on SQLite and on PostgreSQL, and a cast of users.

Every test that takes ``store`` (or ``world``) runs once per backend. Set
``WGS_TRE_TEST_BACKENDS=sqlite`` to run only SQLite (e.g. on a laptop without PostgreSQL); CI
runs both.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.daemons import mount_cgroups, unmount
from tests.postgres import PostgresServer
from tests.world import World
from wgs_tre.cli import main
from wgs_tre.policy import load_policies
from wgs_tre.store import Store

REPO = Path(__file__).resolve().parent.parent
BACKENDS = os.environ.get("WGS_TRE_TEST_BACKENDS", "sqlite,postgresql").split(",")
_counter = itertools.count()
# CI sets this: there every test can run (root, the packages installed), so a skip means
# something is broken and must fail instead of passing silently.
NO_SKIPS = os.environ.get("WGS_TRE_TEST_NO_SKIPS") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if NO_SKIPS and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped, but WGS_TRE_TEST_NO_SKIPS=1 forbids skips: {report.longrepr}"


@pytest.fixture(scope="session")
def cgroup_filesystem() -> Iterator[None]:
    """Where the machine has no cgroup filesystem mounted (a minimal root, as in CI), mount one
    for the whole run, as a boot would: session limits and slurmd need it."""
    mounts = mount_cgroups() if os.geteuid() == 0 else []
    yield
    unmount(mounts)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "governance.db"
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    store.dispose()
    return path


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer.start()
    try:
        engine = create_engine(server.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("CREATE DATABASE wgs_template"))
        engine.dispose()
        template = Store(server.url("wgs_template"))
        template.upgrade()
        template.dispose()
        yield server
    finally:
        server.stop()


def _postgres_store(server: PostgresServer) -> Store:
    name = f"t{next(_counter)}"
    engine = create_engine(server.url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE wgs_template"))
    engine.dispose()
    return Store(server.url(name))


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty governance store on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "governance.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        opened = Store(f"sqlite:///{path}")
    else:
        opened = _postgres_store(request.getfixturevalue("postgres"))
    yield opened
    opened.dispose()


@pytest.fixture
def policies():  # type: ignore[no-untyped-def]
    return load_policies(REPO / "policies")


@pytest.fixture
def world(store: Store, policies, tmp_path: Path) -> World:  # type: ignore[no-untyped-def]
    """The store with organisations, users of every role and a registered dataset."""
    return World.build(store, policies, tmp_path)


@pytest.fixture
def cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """Run ``wgs-tre ARGS`` in-process on a fresh SQLite store (``tmp_path/state``); return
    (exit code, stdout, stderr). HOME is an empty directory of the test's: a hub credential in
    the real one (``~/.config/wgs-tre/credentials.json``) would change whom commands act as."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("WGS_TRE_DATA_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("WGS_TRE_POLICY_DIR", str(REPO / "policies"))
    monkeypatch.delenv("WGS_TRE_DATABASE_URL", raising=False)
    monkeypatch.delenv("WGS_TRE_AS", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


# The genomics tests' cohort, built once a run (an ingest and a plink2 conversion take a minute)
# for tests/test_genomics.py and tests/test_genomics_outputs.py. The data stack is imported
# only when one of them runs.
@pytest.fixture(scope="session")
def genomics_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    from tests.genomics_world import build_world

    return build_world(tmp_path_factory.mktemp("genomics"))


@pytest.fixture(scope="session", name="view")
def genomics_view(genomics_world: World) -> Any:
    """gwas-study's view of wgs@1, as alice opens it (an ``xarray.Dataset``)."""
    from wgs_tre.project import open_project

    return open_project("gwas-study", user="alice", settings=genomics_world.settings()).variants(
        "wgs@1"
    )


@pytest.fixture(scope="session", name="oracle")
def genomics_oracle(view: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """plink2's pgen of the view, written from a VCF of its call_genotype."""
    from tests.genomics_world import plink2_pgen

    return plink2_pgen(view, tmp_path_factory.mktemp("plink"))
