"""The example notebooks run, cell by cell with nbval, on the demo world (the demo's own
``prepare``: its accounts, synthetic cohort and approved project), as the researcher would run
them in a session: ``open_project()`` with no arguments, the project and user from the
environment, from a copy of the examples beside the files the demo seeds with them (the
cohort's documented true effects)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from wgs_tre.synth import PUBLIC_TRUTH

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The demo's state, small: what ``scripts/demo`` prepares before starting the hub."""
    state = tmp_path_factory.mktemp("demo")
    env = {"WGS_TRE_DATA_DIR": str(state / "data"), "WGS_TRE_POLICY_DIR": str(REPO / "policies")}
    spec = importlib.util.spec_from_file_location("demo_hub", REPO / "scripts" / "demo_hub.py")
    assert spec and spec.loader
    demo_hub = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo_hub)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        patch.delenv("WGS_TRE_DATABASE_URL", raising=False)
        demo_hub.prepare(state, 300, 8_000)
    examples = state / "examples"  # as the hub seeds a workspace's examples/
    examples.mkdir()
    for path in [*NOTEBOOKS, state / "cohort" / PUBLIC_TRUTH]:
        shutil.copyfile(path, examples / path.name)
    return {**env, "WGS_TRE_PROJECT": "lung-cancer", "WGS_TRE_AS": "alice",
            "examples": str(examples)}  # fmt: skip


def test_there_are_example_notebooks_and_they_carry_no_outputs() -> None:
    """Outputs of a real project must never reach the repository: notebooks are kept clean."""
    assert [p.name for p in NOTEBOOKS] == [
        "01-qc-pca-gwas.ipynb",
        "02-hail-engine.ipynb",
        "03-prognosis.ipynb",
    ]
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        code = [c for c in cells if c["cell_type"] == "code"]
        assert code and all(not c["outputs"] and c["execution_count"] is None for c in code)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_on_the_demo_project(notebook: Path, demo: dict[str, str]) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("WGS_TRE_")}
    examples = Path(demo["examples"])
    env.update({k: v for k, v in demo.items() if k != "examples"}, MPLBACKEND="Agg")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
         "--nbval-current-env", notebook.name],
        cwd=examples, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    cells = sum(1 for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code")
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert f"{cells} passed" in run.stdout, run.stdout[-2000:]
