"""Pseudonyms in outputs: every participant id the gate makes (``wgs_tre.access.pseudonym``)
is found where a file holds it, by line, in plain, gzipped and Parquet files and across the
scanner's block boundary; nothing else is taken for one; a file submitted with one carries the
finding, whatever its kind."""

from __future__ import annotations

import base64
import gzip
import os
from pathlib import Path

import pandas as pd
import pytest

from wgs_tre.access import pseudonym
from wgs_tre.airlock import self_check
from wgs_tre.airlock.pseudonyms import _BLOCK, check_pseudonyms, lines_with_pseudonyms
from wgs_tre.airlock.rules import RuleId

KEY = b"k" * 32
IDS = [pseudonym(KEY, f"P{i:06d}") for i in range(1, 201)]


def test_every_pseudonym_the_gate_makes_is_found_by_line(tmp_path: Path) -> None:
    rows = ["sample_id,ldl"] + [f"{p},{i % 7}" for i, p in enumerate(IDS)]
    path = tmp_path / "rows.csv"
    path.write_text("\n".join(rows) + "\n")
    assert lines_with_pseudonyms(path) == list(range(2, len(IDS) + 2))
    (finding,) = check_pseudonyms(path)
    assert finding.rule is RuleId.PSEUDONYM and "200 participant pseudonym(s)" in finding.message
    assert not any(p in finding.message for p in IDS)  # the finding does not repeat them


def test_gzip_parquet_and_a_block_boundary(tmp_path: Path) -> None:
    frame = pd.DataFrame({"who": ["n/a", IDS[0], "n/a"], "x": [1, 2, 3]})
    frame.to_parquet(tmp_path / "t.parquet")
    assert lines_with_pseudonyms(tmp_path / "t.parquet") == [2]
    with gzip.open(tmp_path / "t.csv.gz", "wt") as out:
        out.write(f"a\nb\n{IDS[1]}\n")
    assert lines_with_pseudonyms(tmp_path / "t.csv.gz") == [3]
    # one pseudonym straddling the scanner's block boundary, on a known line
    filler = ("x" * 99 + "\n") * (_BLOCK // 100)
    start = _BLOCK - 10 - len(filler)
    text = filler + "y" * start + " " + IDS[2] + "\n"
    assert len(filler) + start + 1 < _BLOCK < len(filler) + start + 1 + len(IDS[2])
    (tmp_path / "big.txt").write_text(text)
    assert lines_with_pseudonyms(tmp_path / "big.txt") == [text.count("\n")]


def test_nothing_else_is_taken_for_a_pseudonym(tmp_path: Path) -> None:
    noise = base64.b64encode(os.urandom(3 << 20)).decode()  # an image in a notebook, say
    words = "supercalifragilisticexpialidocious sAAAAAAAAAAAAAAAAAAAAAAAA"
    longer = "x" + IDS[0] + " " + IDS[0] + "9"  # part of a longer token, either side
    (tmp_path / "noise.txt").write_text(f"{noise}\n{words}\n{longer}\n")
    assert lines_with_pseudonyms(tmp_path / "noise.txt") == []


def test_self_check_reports_pseudonyms_in_any_file(tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text(f"# Outliers\nThe participant {IDS[3]} was removed.\n")
    found = self_check(notes)
    first = found.findings[0]  # then: not a table with a record, for a steward's eyes
    assert first.rule is RuleId.PSEUDONYM and "line(s) 2" in first.message


@pytest.fixture
def cast(world):  # type: ignore[no-untyped-def]
    return world


def test_a_submitted_file_with_a_pseudonym_carries_the_finding(cast) -> None:  # type: ignore[no-untyped-def]
    from tests.airlock_cast import approved_project, area, workspace
    from wgs_tre.airlock import requests

    world = cast
    slug = approved_project(world)
    home = workspace(world, slug)
    (home / "notes.md").write_text(f"removed {IDS[4]}\n")
    (home / "clean.md").write_text("methods, no one named\n")
    alice = world.ctx("alice")
    ref = requests.create(alice, slug, "paper", workspace=home).ref
    requests.add_file(alice, ref, "notes.md", "methods")
    requests.add_file(alice, ref, "clean.md", "methods")
    found = {f.name: f.findings for f in requests.submit(alice, ref, area=area(world)).files}
    assert [f["rule"] for f in found["notes.md"] or []] == ["pseudonym"]
    assert found["clean.md"] is None
