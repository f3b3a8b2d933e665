"""An ingest killed with SIGKILL half-way leaves no registered version and nothing a reader can
open; what it left (its staging directory and lock) is removed by the next ingest of that
dataset, or by ``wgs-tre store check --fix``, while a live ingest's staging is never touched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.world import World
from wgs_tre.cli import main
from wgs_tre.governance import datasets
from wgs_tre.ingest.staging import sweep
from wgs_tre.ingest.vcf import ingest_vcf
from wgs_tre.synth.genotypes import GenotypeSpec, write_vcf


@pytest.fixture(scope="module")
def big_vcf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.vcf.gz"
    spec = GenotypeSpec(samples=600, variants=60_000, contigs=2, seed=9)
    write_vcf(path, spec, sample_ids=[f"P{i:06d}" for i in range(1, 601)])
    return path


@pytest.fixture(scope="module")
def small_vcf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("small") / "small.vcf.gz"
    spec = GenotypeSpec(samples=20, variants=200, seed=4)
    write_vcf(path, spec, sample_ids=[f"P{i:06d}" for i in range(1, 21)])
    return path


def _env(world: World) -> dict[str, str]:
    return {
        "WGS_TRE_DATA_DIR": str(world.tmp),
        "WGS_TRE_DATABASE_URL": world.store.url.render_as_string(hide_password=False),
        "WGS_TRE_POLICY_DIR": str(world.policies.source),
    }


def _ingest_writing(world: World, vcf: Path) -> subprocess.Popen[bytes]:
    """``wgs-tre ingest vcf`` in a process of its own, once it has written genotype chunks."""
    cmd = [sys.executable, "-m", "wgs_tre", "--as", "sam", "ingest", "vcf", str(vcf),
           "--dataset", "wgs"]  # fmt: skip
    env = {**os.environ, **_env(world)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    written: list[Path] = []
    while time.monotonic() < deadline and proc.poll() is None and not written:
        written = list((world.tmp / "datasets").glob("wgs/.ingest-*/call_genotype/c/*"))
        time.sleep(0.005)
    assert proc.poll() is None, f"ingest finished before it could be stopped: {proc.stderr.read()}"  # type: ignore[union-attr]
    assert written, "the ingest never started writing"
    return proc


def _killed(world: World, vcf: Path) -> None:
    proc = _ingest_writing(world, vcf)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.fixture
def cli(world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """``wgs-tre --as sam --json ARGS`` in-process on the world's store: (exit code, JSON)."""
    for key, value in _env(world).items():
        monkeypatch.setenv(key, value)

    def run(*args: str) -> tuple[int, object]:
        code = main(["--as", "sam", "--json", *args])
        out, err = capsys.readouterr()
        assert code == 0, err
        return code, json.loads(out)

    return run


def test_kill_during_ingest_leaves_nothing_visible(world: World, big_vcf: Path) -> None:
    root = world.tmp / "datasets"
    _killed(world, big_vcf)

    assert [v.label for v in datasets.list_versions(world.ctx("sam"))] == ["cohort@1"]
    leftovers = sorted(p.name for p in (root / "wgs").iterdir())
    assert [name.startswith(".ingest-") for name in leftovers] == [True, True]  # dir and lock

    version = ingest_vcf(world.ctx("sam"), big_vcf, "wgs", root=root)
    assert version.label == "wgs@1"
    assert datasets.verify_version(world.ctx("sam"), "wgs@1") == []
    # The next ingest of the dataset removed what the killed one left.
    assert [p.name for p in (root / "wgs").iterdir()] == [Path(version.uri).name]


def test_store_check_lists_and_fix_removes_what_a_killed_ingest_left(  # type: ignore[no-untyped-def]
    world: World, big_vcf: Path, cli
) -> None:
    root = world.tmp / "datasets"
    _killed(world, big_vcf)
    (staged,) = [p for p in (root / "wgs").iterdir() if p.is_dir()]
    before = world.counts()

    _, found = cli("store", "check")
    assert found["orphans"] == [{
        "dataset": "wgs", "kind": "staging directory", "path": str(staged),
        "size_bytes": found["size_bytes"], "removed": False,
    }, {
        "dataset": "wgs", "kind": "empty dataset directory", "path": str(root / "wgs"),
        "size_bytes": 0, "removed": False,
    }]  # fmt: skip
    # What was written before the kill varies with the machine's load; the size must be its.
    on_disk = sum(f.stat().st_size for f in staged.rglob("*") if f.is_file())
    assert found["size_bytes"] == on_disk > 0 and found["in_progress"] == 0
    assert staged.is_dir(), "store check without --fix removed something"

    _, fixed = cli("store", "check", "--fix")
    assert [(o["kind"], o["removed"]) for o in fixed["orphans"]] == [
        ("staging directory", True), ("empty dataset directory", True)
    ]  # fmt: skip
    assert not (root / "wgs").exists() and root.is_dir()
    assert cli("store", "check")[1]["orphans"] == []

    after = world.counts()
    assert after.pop("audit_event") == before.pop("audit_event") + 3
    assert after == before, "store check changed the governance store"
    event = world.last_event()
    assert (event.actor, event.action, event.decision) == ("sam", "store.check", "allowed")
    assert datasets.verify_version(world.ctx("sam"), "cohort@1") == []


def _stopped(world: World, vcf: Path) -> tuple[subprocess.Popen[bytes], Callable[[], int]]:
    """An ingest frozen (SIGSTOP) while writing: alive, holding its lock, making no progress;
    and how to let it finish (its exit code)."""
    proc = _ingest_writing(world, vcf)
    os.kill(proc.pid, signal.SIGSTOP)

    def resume() -> int:
        os.kill(proc.pid, signal.SIGCONT)
        return proc.wait(timeout=300)

    return proc, resume


def test_a_live_ingest_is_left_alone(  # type: ignore[no-untyped-def]
    world: World, big_vcf: Path, small_vcf: Path, cli
) -> None:
    root = world.tmp / "datasets"
    proc, resume = _stopped(world, big_vcf)
    try:
        staged = sorted(p.name for p in (root / "wgs").iterdir())
        _, found = cli("store", "check", "--fix")
        assert (found["orphans"], found["in_progress"]) == ([], 1)
        # Another ingest of the same dataset, while the first is still running.
        other = ingest_vcf(world.ctx("sam"), small_vcf, "wgs", root=root)
        assert sorted(p.name for p in (root / "wgs").iterdir()) == sorted(
            [*staged, Path(other.uri).name]
        )
        assert proc.poll() is None
    finally:
        code = resume()
    assert code == 0, proc.stderr.read()  # type: ignore[union-attr]
    labels = [v.label for v in datasets.list_versions(world.ctx("sam"))]
    assert labels == ["cohort@1", "wgs@1", "wgs@2"]
    assert all(datasets.verify_version(world.ctx("sam"), v) == [] for v in ("wgs@1", "wgs@2"))
    assert not list((root / "wgs").glob(".ingest-*"))


def test_the_next_ingest_removes_what_dead_ingests_left_and_keeps_versions(
    world: World, small_vcf: Path
) -> None:
    root = world.tmp / "datasets"
    first = ingest_vcf(world.ctx("sam"), small_vcf, "wgs", root=root)
    # What dead ingests leave: killed between the rename and the commit (a version directory
    # never registered), after the commit (its lock file), or by a release before the locks.
    (root / "wgs" / "v2-0badf00d").mkdir()
    (root / "wgs" / "v2-0badf00d" / "zarr.json").write_text("{}")
    (root / "wgs" / ".ingest-1badf00d.lock").write_text("4242\n")
    (root / "wgs" / ".ingest-2badf00d").mkdir()
    second = ingest_vcf(world.ctx("sam"), small_vcf, "wgs", root=root)
    assert second.label == "wgs@2"
    assert sorted(p.name for p in (root / "wgs").iterdir()) == sorted(
        [Path(first.uri).name, Path(second.uri).name]
    )
    assert all(datasets.verify_version(world.ctx("sam"), v) == [] for v in ("wgs@1", "wgs@2"))


def test_a_version_registered_while_a_sweep_looks_is_kept(tmp_path: Path) -> None:
    """What is registered is read again once the tag's lock is held: a version registered after
    the first look (its ingest then let go of its lock) is not an orphan."""
    version = tmp_path / "wgs" / "v1-0badf00d"
    version.mkdir(parents=True)
    answers = iter([set(), {str(version.resolve())}])
    found = sweep(tmp_path / "wgs", registered=lambda: next(answers), fix=True)
    assert (found.orphans, found.in_progress) == ([], 0)
    assert version.is_dir() and not list(version.parent.glob(".ingest-*"))
