"""The README's tour, run as written: every ``sh`` block of "A tour for each kind of user", in
order, in a scratch directory with a store of its own. A command the README shows must work
for a newcomer who types it; dates in the tour are computed by the shell, so it does not age.

The Python blocks are not run here: the example notebooks (tests/test_notebooks.py) run the
same analyses on the demo project."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def tour_blocks(readme: str) -> list[str]:
    start = readme.index("## A tour for each kind of user")
    end = readme.index("\n## ", start + 1)
    return re.findall(r"```sh\n(.*?)```", readme[start:end], flags=re.DOTALL)


def commands(block: str) -> list[str]:
    """The block's commands: continuation lines joined; comments kept (bash ignores them)."""
    return [c for c in block.replace("\\\n", " ").splitlines() if c.strip()]


def run_tour(readme: str, workdir: Path) -> tuple[int, str | None]:
    """Run the tour's commands in order until one fails: (how many succeeded, the failure)."""
    env = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "WGS_TRE_DATA_DIR": str(workdir / "state"),
        "WGS_TRE_POLICY_DIR": str(REPO / "policies"),
    }
    for name in ("WGS_TRE_DATABASE_URL", "WGS_TRE_AS", "WGS_TRE_CONFIG"):
        env.pop(name, None)
    ran = 0
    for block in tour_blocks(readme):
        for command in commands(block):
            done = subprocess.run(
                ["bash", "-c", f"set -euo pipefail\n{command}"],
                cwd=workdir, env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            if done.returncode != 0 or "Traceback" in done.stderr:
                return ran, (
                    f"README command failed (exit {done.returncode}):\n  {command}\n"
                    f"{done.stderr[-2000:]}{done.stdout[-1000:]}"
                )
            ran += 1
    return ran, None


def test_every_command_of_the_tour_works(tmp_path: Path) -> None:
    ran, failure = run_tour((REPO / "README.md").read_text(), tmp_path)
    assert failure is None, failure
    assert ran >= 40, "the tour lost its commands"
    assert (tmp_path / "audit.cef").read_text().startswith("CEF:0|")
    exported = (tmp_path / "lung.jsonl").read_text().splitlines()
    assert exported and all('"project":"lung-cancer"' in line for line in exported)


def test_a_wrong_command_in_the_tour_fails_it(tmp_path: Path) -> None:
    """The check can fail: the tour with its second command mistyped stops there."""
    readme = (REPO / "README.md").read_text()
    broken = readme.replace("--type academic", "--type academia", 1)
    assert broken != readme
    ran, failure = run_tour(broken, tmp_path)
    assert ran == 1 and failure is not None and "academia" in failure
