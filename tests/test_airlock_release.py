"""Releasing approved output requests and downloading what was released: what the release area
holds (the reviewed bytes, a manifest, never a table's record of checks), what is refused (a
copy changed after review, a download of anything not released), and that a release killed at
any moment leaves no release or a complete one."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from tests.airlock_cast import (
    REVIEWER,
    S,
    add_reviewer,
    approved_project,
    area,
    releases,
    request_in,
    stored_state,
    workspace,
)
from tests.world import World
from wgs_tre.airlock import release, requests
from wgs_tre.airlock.tables import crosstab
from wgs_tre.errors import AccessRefused, IntegrityError, InvalidInput, InvalidTransition, NotFound
from wgs_tre.types import Action


@pytest.fixture
def cast(world: World) -> World:
    add_reviewer(world)
    return world


def _sha(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _approved(world: World, files: dict[str, bytes]) -> tuple[str, str]:
    """A request of alice's holding ``files``, approved by sam and sue; (slug, ref)."""
    slug = approved_project(world)
    home = workspace(world, slug)
    alice = world.ctx("alice")
    ref = requests.create(alice, slug, "figures for the paper", workspace=home).ref
    for name, content in files.items():
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_bytes(content)
        requests.add_file(alice, ref, name, f"{name} for the paper")
    requests.submit(alice, ref, area=area(world))
    requests.approve(world.ctx("sam"), ref)
    assert requests.approve(world.ctx("sue"), ref).state is S.APPROVED
    return slug, ref


def _whole_or_absent(world: World, slug: str, ref: str, expected: dict[str, str]) -> bool:
    """True if the release area holds the complete release of ``ref``, False if none; fails
    on anything partial."""
    project = releases(world) / slug
    if not project.exists() or not any(project.iterdir()):
        return False
    assert [p.name for p in project.iterdir()] == [ref], "something else in the release area"
    final = project / ref
    manifest = json.loads((final / release.MANIFEST).read_text())
    assert {f["name"]: f["sha256"] for f in manifest["files"]} == expected
    assert sorted(p.name for p in final.iterdir()) == ["files", release.MANIFEST]
    files = final / "files"
    on_disk = {p.relative_to(files).as_posix() for p in files.rglob("*") if p.is_file()}
    assert on_disk == set(expected)
    for name, digest in expected.items():
        assert _sha(final / "files" / name) == digest, f"{name} is partial"
    return True


def test_a_release_holds_the_reviewed_files_and_a_manifest(cast: World) -> None:
    world = cast
    frame = pd.DataFrame({"region": ["north"] * 30 + ["south"] * 30, "sex": ["F", "M"] * 30})
    slug = approved_project(world)
    home = workspace(world, slug)
    table = crosstab(frame, "region", "sex")
    (home / "tables").mkdir()
    table.save(home / "tables" / "by_region.csv")
    assert (home / "tables" / "by_region.csv.checks.json").is_file()
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 12.5)}  # GPS: where the picture was taken
    Image.new("RGB", (8, 8), "teal").save(home / "fig.png", exif=exif)
    alice = world.ctx("alice")
    ref = requests.create(alice, slug, "paper", workspace=home).ref
    requests.add_file(alice, ref, "tables/by_region.csv", "counts of 15 per cell")
    requests.add_file(alice, ref, "fig.png", "the same as a figure")
    with pytest.raises(InvalidInput, match="record of checks"):
        requests.add_file(alice, ref, "tables/by_region.csv.checks.json", "the evidence")
    submitted = requests.submit(alice, ref, area=area(world))
    submitted_event = json.loads(world.last_event().details)
    hashes = {f.name: f.sha256 for f in submitted.files}
    (home / "fig.png").write_bytes(b"edited after submitting")  # changes nothing released
    requests.approve(world.ctx("sam"), ref, "fine")
    requests.approve(world.ctx(REVIEWER), ref)
    view = release.release(world.ctx("sue"), ref, releases=releases(world))
    assert view.state is S.RELEASED and stored_state(world, ref) == "released"
    assert _whole_or_absent(world, slug, ref, hashes)  # type: ignore[arg-type]
    final = release.release_dir(releases(world), slug, ref)
    assert not list(final.rglob("*.checks.json")), "the record of checks left the TRE"
    # The figure was sanitized at submission: what was reviewed and released has no GPS.
    figure = Image.open(final / "files" / "fig.png")
    assert not figure.getexif().get_ifd(0x8825) and figure.getpixel((0, 0)) == (0, 128, 128)
    assert "fig.png" in submitted_event["sanitized"]
    assert "by_region.csv" not in submitted_event["sanitized"]  # a clean CSV is unchanged
    manifest = json.loads((final / release.MANIFEST).read_text())
    assert (manifest["request"], manifest["project"], manifest["requester"]) == (ref, slug, "alice")
    assert [a["steward"] for a in manifest["approvals"]] == ["sam", REVIEWER]
    assert manifest["released_by"] == "sue"
    assert not list((releases(world) / release.STAGING).iterdir())
    event = world.last_event()
    assert (event.action, event.actor, event.project) == ("airlock.release", "sue", slug)
    assert json.loads(event.details)["files"] == hashes


def test_a_copy_changed_after_review_is_not_released(cast: World) -> None:
    world = cast
    slug, ref = _approved(world, {"a.txt": b"approved words\n", "b.txt": b"more\n"})
    copy = area(world) / slug / ref / "1" / "b.txt"
    copy.write_bytes(b"swapped after the stewards looked\n")
    with pytest.raises(IntegrityError, match="b.txt of .* changed after review"):
        release.release(world.ctx("sue"), ref, releases=releases(world))
    assert stored_state(world, ref) == "approved"
    assert not (releases(world) / slug).exists()
    assert not list((releases(world) / release.STAGING).iterdir())


def test_a_release_left_by_an_uncommitted_transaction_is_written_again(cast: World) -> None:
    """A release directory renamed into place whose transaction never committed serves
    nothing, and the next release replaces it."""
    world = cast
    slug, ref = _approved(world, {"a.txt": b"approved words\n"})
    stale = release.release_dir(releases(world), slug, ref)
    (stale / "files").mkdir(parents=True)
    (stale / "files" / "a.txt").write_bytes(b"not what was approved")
    with pytest.raises(InvalidTransition, match="it is approved"):
        release.released_file(world.ctx("alice"), ref, "a.txt", releases=releases(world))
    release.release(world.ctx("sue"), ref, releases=releases(world))
    assert _whole_or_absent(
        world, slug, ref, {"a.txt": hashlib.sha256(b"approved words\n").hexdigest()}
    )


def test_downloads_are_the_released_bytes_for_members_only_and_audited(cast: World) -> None:
    world = cast
    ref = request_in(world, S.RELEASED)
    slug = requests.show(world.ctx("alice"), ref).project
    got = release.released_file(world.ctx("bob"), ref, "counts.txt", releases=releases(world))
    assert got.path.read_bytes() == b"summary\n"
    assert got.sha256 == hashlib.sha256(b"summary\n").hexdigest()
    event = world.last_event()
    assert (event.action, event.actor, event.decision) == ("airlock.download", "bob", "allowed")
    assert json.loads(event.details) == {"request": ref, "file": "counts.txt", "sha256": got.sha256}
    # Only files of the request, named as the request names them: no path of one's own.
    for name in ("../../../governance.db", "release.json", "files/counts.txt", "other.txt"):
        with pytest.raises(NotFound):
            release.released_file(world.ctx("alice"), ref, name, releases=releases(world))
    # Not a member of the project: refused, and the refusal audited.
    with pytest.raises(AccessRefused):
        release.released_file(world.ctx("carol"), ref, "counts.txt", releases=releases(world))
    assert (world.last_event().action, world.last_event().decision) == (
        Action.AIRLOCK_DOWNLOAD.value,
        "refused",
    )
    # A released file changed on disk is not served.
    (release.release_dir(releases(world), slug, ref) / "files" / "counts.txt").write_text("x")
    with pytest.raises(IntegrityError, match="does not match"):
        release.released_file(world.ctx("alice"), ref, "counts.txt", releases=releases(world))


def test_nothing_unreleased_is_downloadable(cast: World) -> None:
    world = cast
    for state in (S.DRAFT, S.SUBMITTED, S.IN_REVIEW, S.APPROVED, S.REJECTED, S.WITHDRAWN):
        ref = request_in(world, state)
        with pytest.raises(InvalidTransition):
            release.released_file(world.ctx("alice"), ref, "counts.txt", releases=releases(world))


def _cli_env(world: World) -> dict[str, str]:
    return {
        **os.environ,
        "WGS_TRE_DATA_DIR": str(world.tmp / "data"),
        "WGS_TRE_DATABASE_URL": world.store.url.render_as_string(hide_password=False),
        "WGS_TRE_POLICY_DIR": str(world.policies.source),
    }


def _release_process(world: World, ref: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "wgs_tre", "--as", "sue", "airlock", "release", ref]
    return subprocess.Popen(
        cmd, env=_cli_env(world), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def test_a_release_killed_at_any_moment_leaves_none_or_a_complete_one(cast: World) -> None:
    """``wgs-tre airlock release`` killed with SIGKILL while a file is half-copied, and then
    at random moments of its run: the release area holds no release or the complete one,
    downloads are refused until the release commits, and the next release completes."""
    world = cast
    line = b"".join(os.urandom(40).hex().encode() + b"," for _ in range(12)) + b"\n"
    files = {f"big/part{i}.csv": line * (40 * 1024 * 1024 // len(line)) for i in range(3)}
    slug, ref = _approved(world, files)
    expected = {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}
    staging = releases(world) / release.STAGING

    def writing(proc: subprocess.Popen[bytes], ready: str) -> float:
        """When the release process began to write ``ready`` in a staging directory of its
        own (not one an earlier, killed release left)."""
        left = set(staging.glob(f"{ref}-*"))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            written = [p for p in staging.glob(f"{ref}-*/{ready}") if p.parents[2] not in left]
            if any(p.stat().st_size > 0 for p in written):
                return time.monotonic()
            time.sleep(0.001)
        raise AssertionError(f"the release never wrote {ready}: {proc.stderr.read()}")  # type: ignore[union-attr]

    # While the first file is half-copied.
    proc = _release_process(world, ref)
    writing(proc, "files/big/*")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not _whole_or_absent(world, slug, ref, expected)
    assert stored_state(world, ref) == "approved"

    # How long a release writes for (from its first byte to its end), on a twin request...
    twin_slug, twin = _approved(world, files)
    ref, ref_kept = twin, ref
    proc = _release_process(world, twin)
    began = writing(proc, "files/big/*")
    assert proc.wait() == 0, proc.stderr.read()  # type: ignore[union-attr]
    window = time.monotonic() - began
    assert _whole_or_absent(world, twin_slug, twin, expected)
    ref = ref_kept
    # ... then kills at random moments within that window, until one lands after the commit.
    moments = random.Random(17)
    outcomes = []
    while stored_state(world, ref) == "approved" and len(outcomes) < 12:
        proc = _release_process(world, ref)
        writing(proc, "files/big/*")
        time.sleep(moments.uniform(0, 1.2) * window)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        outcomes.append((_whole_or_absent(world, slug, ref, expected), stored_state(world, ref)))
        if outcomes[-1][1] == "approved":
            with pytest.raises(InvalidTransition):
                release.released_file(
                    world.ctx("alice"), ref, "big/part0.csv", releases=releases(world)
                )
    # (The kill half-way through the first file, above, is the one certain to land early.)
    print(f"writing window {window:.2f} s; kills (complete?, state): {outcomes}")
    if stored_state(world, ref) == "approved":
        assert _release_process(world, ref).wait() == 0
    assert _whole_or_absent(world, slug, ref, expected)
    assert stored_state(world, ref) == "released"
    got = release.released_file(world.ctx("alice"), ref, "big/part2.csv", releases=releases(world))
    assert got.sha256 == expected["big/part2.csv"]
    # What the killed releases left in staging, the completed one removed.
    assert not [p for p in staging.iterdir() if p.name.startswith(ref)]


def test_a_table_made_again_with_a_few_more_people_is_flagged_against_the_release(
    cast: World,
) -> None:
    """Differencing at submission: the same table made again after three participants joined
    differs from the released one by 3 in one cell, which discloses those three."""
    world = cast
    slug = approved_project(world)
    home = workspace(world, slug)
    alice = world.ctx("alice")
    first = pd.DataFrame({"region": ["north"] * 40 + ["south"] * 60, "sex": ["F", "M"] * 50})
    crosstab(first, "region", "sex").save(home / "by_region.csv")
    ref = requests.create(alice, slug, "table 1", workspace=home).ref
    requests.add_file(alice, ref, "by_region.csv", "20 or more per cell")
    sent = requests.submit(alice, ref, area=area(world))
    assert sent.files[0].findings == []
    requests.approve(world.ctx("sam"), ref)
    requests.approve(world.ctx("sue"), ref)
    release.release(world.ctx("sue"), ref, releases=releases(world))

    three_more = pd.DataFrame({"region": ["north"] * 3, "sex": ["F"] * 3})
    crosstab(pd.concat([first, three_more]), "region", "sex").save(home / "by_region_v2.csv")
    again = requests.create(alice, slug, "table 1, updated", workspace=home).ref
    requests.add_file(alice, again, "by_region_v2.csv", "20 or more per cell")
    (entry,) = requests.submit(alice, again, area=area(world)).files
    assert entry.findings is not None
    (finding,) = [f for f in entry.findings if f["rule"] == "differencing"]
    assert finding["cells"] == [["north", "F"]]
    assert f"{ref}/by_region.csv" in finding["message"]


def test_a_notebook_leaves_without_its_outputs_unless_they_are_what_is_reviewed(
    cast: World,
) -> None:
    import nbformat

    world = cast
    slug = approved_project(world)
    home = workspace(world, slug)
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(40 + 2)", execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="42\n")]
    notebook.cells = [cell]
    nbformat.write(notebook, home / "analysis.ipynb")
    alice = world.ctx("alice")
    (home / "t.md").write_text("text\n")
    draft = requests.create(alice, slug, "text", workspace=home).ref
    with pytest.raises(InvalidInput, match="only a notebook"):
        requests.add_file(alice, draft, "t.md", "text", keep_outputs=True)
    outputs = {}
    for keep in (False, True):
        ref = requests.create(alice, slug, "methods", workspace=home).ref
        requests.add_file(alice, ref, "analysis.ipynb", "the analysis", keep_outputs=keep)
        (entry,) = requests.submit(alice, ref, area=area(world)).files
        assert entry.keep_outputs is keep
        reviewed = nbformat.read(area(world) / slug / ref / "1" / "analysis.ipynb", as_version=4)
        outputs[keep] = reviewed.cells[0].outputs
    assert outputs[False] == []
    assert [o["text"] for o in outputs[True]] == ["42\n"]
