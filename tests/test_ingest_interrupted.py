"""An ingest killed with SIGKILL half-way leaves no registered version and nothing a reader can
open; the next ingest of the same file succeeds as if nothing had happened."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.world import World
from wgs_tre.governance import datasets
from wgs_tre.ingest.vcf import ingest_vcf
from wgs_tre.synth.genotypes import GenotypeSpec, write_vcf


@pytest.fixture(scope="module")
def big_vcf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.vcf.gz"
    spec = GenotypeSpec(samples=600, variants=60_000, contigs=2, seed=9)
    write_vcf(path, spec, sample_ids=[f"P{i:06d}" for i in range(1, 601)])
    return path


def test_kill_during_ingest_leaves_nothing_visible(world: World, big_vcf: Path) -> None:
    root = world.tmp / "datasets"
    env = {
        **os.environ,
        "WGS_TRE_DATA_DIR": str(world.tmp),
        "WGS_TRE_DATABASE_URL": world.store.url.render_as_string(hide_password=False),
        "WGS_TRE_POLICY_DIR": str(world.policies.source),
    }
    cmd = [sys.executable, "-m", "wgs_tre", "--as", "sam", "ingest", "vcf", str(big_vcf),
           "--dataset", "wgs"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        written = list(root.glob("wgs/.ingest-*/call_genotype/c/*"))
        if written:
            break
        time.sleep(0.005)
    assert proc.poll() is None, f"ingest finished before it could be killed: {proc.stderr.read()}"  # type: ignore[union-attr]
    assert written, "the ingest never started writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    assert [v.label for v in datasets.list_versions(world.ctx("sam"))] == ["cohort@1"]
    leftovers = [p.name for p in (root / "wgs").iterdir()]
    assert leftovers and all(name.startswith(".ingest-") for name in leftovers)

    version = ingest_vcf(world.ctx("sam"), big_vcf, "wgs", root=root)
    assert version.label == "wgs@1"
    assert datasets.verify_version(world.ctx("sam"), "wgs@1") == []
