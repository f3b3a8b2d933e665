"""The project's architecture document says what the code enforces: its layer list is the
import-linter contract, the README links it, and no docstring carries a layer label of its own."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "architecture.md"


def documented_layers() -> list[str]:
    block = re.search(r"```layers\n(.*?)```", DOC.read_text(), re.S)
    assert block, "docs/architecture.md has no ```layers block"
    return [line.strip() for line in block[1].splitlines() if line.strip()]


def enforced_layers() -> list[str]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in contracts if c["type"] == "layers"]
    return [str(layer) for layer in layers]


def test_the_documented_layers_are_the_enforced_ones() -> None:
    assert documented_layers() == enforced_layers()


def test_every_package_of_wgs_tre_has_a_layer() -> None:
    """A new top-level module must take its place in the contract (``python -m wgs_tre`` is
    the CLI's entry, outside the layers)."""
    named = {m.strip() for layer in enforced_layers() for m in layer.split("|")}
    top = {f"wgs_tre.{p.stem}" for p in (REPO / "wgs_tre").glob("*.py")}
    top |= {f"wgs_tre.{p.parent.name}" for p in (REPO / "wgs_tre").glob("*/__init__.py")}
    missing = top - named - {"wgs_tre.__init__", "wgs_tre.__main__"}
    assert not missing, f"not in any layer: {sorted(missing)}"


def test_the_readme_links_the_document_and_no_docstring_labels_a_layer() -> None:
    assert "docs/architecture.md" in (REPO / "README.md").read_text()
    labelled = [
        str(path.relative_to(REPO))
        for path in (REPO / "wgs_tre").rglob("*.py")
        if re.match(r'\s*"""L\d\b', path.read_text())
    ]
    assert labelled == []
