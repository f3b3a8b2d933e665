"""SVG drawings checked, notebooks stripped.

An SVG is read with defusedxml (no entity expansion, no external entities) and **refused, not
stripped**, when it holds anything that runs or reaches out when it is opened: a ``<script>``,
``<foreignObject>`` (HTML inside the drawing), ``<iframe>``, ``<embed>`` or ``<object>``, an
event-handler attribute (``onload``, ``onclick``, ...) or an animation setting one or a link,
a ``javascript:`` value, a processing instruction such as ``<?xml-stylesheet?>``, a link
(``href``) anywhere but inside the drawing (``#id``) or to a PNG, JPEG, GIF or WebP picture
embedded as a ``data:`` address, and a style or attribute that loads anything (``url(...)``
other than ``#id``, ``@import``). A figure never needs them; cutting them out would change it
silently, so the researcher exports the figure again. A clean SVG passes unchanged.

A notebook is validated with nbformat and, unless its outputs are the reviewed object, its code
cells lose their outputs and execution counts, and its markdown cells their attachments. Kept
or not, what a notebook carries about its making goes: widget state, and notebook and cell
metadata other than the kernel, the language and the cells' tags and display flags. Kept
outputs lose their JavaScript and widget views.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

import nbformat
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import XMLParser, fromstring

from wgs_tre.errors import AccessRefused, InvalidInput, Reason

__all__ = ["check_svg", "clean_notebook"]

_ACTIVE: Final = {"script", "foreignobject", "iframe", "embed", "object", "handler", "listener"}
_ANIMATIONS: Final = {"set", "animate", "animatemotion", "animatetransform"}
_INNER_IMAGE: Final = re.compile(r"data:image/(png|jpeg|gif|webp);base64,", re.I)
_LOADS: Final = re.compile(r"url\(\s*['\"]?\s*(?!#)|@import|expression\s*\(", re.I)
_SCRIPT_URL: Final = re.compile(r"^\s*(javascript|vbscript)\s*:", re.I)


def _local(name: str) -> str:
    return name.rpartition("}")[2].rpartition(":")[2].lower()


class _Census:
    """A parser target noting everything the rules look at, processing instructions before
    the root element included (a tree would drop those)."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self._tags: list[str] = []
        self._text: list[str] = []

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        element = _local(tag)
        self._tags.append(element)
        self._text = []
        if element in _ACTIVE:
            self.found.append(f"a <{element}> element")
        target = _local(attrib.get("attributeName", ""))
        if element in _ANIMATIONS and (target == "href" or target.startswith("on")):
            self.found.append(f"an <{element}> changing {target}")
        for key, value in attrib.items():
            name = _local(key)
            if name.startswith("on"):
                self.found.append(f"an event handler ({name}) on <{element}>")
            elif _SCRIPT_URL.match(value):
                self.found.append(f"a script address in {name} of <{element}>")
            elif name == "href" and not _internal(value, element):
                self.found.append(f"a link out of the drawing ({value[:60]!r}) on <{element}>")
            elif _LOADS.search(value):  # style, fill, filter, mask, clip-path, marker-...
                self.found.append(f"a {name} that loads something on <{element}>")

    def data(self, text: str) -> None:
        self._text.append(text)

    def end(self, tag: str) -> None:
        if self._tags.pop() == "style" and _LOADS.search("".join(self._text)):
            self.found.append("a <style> that loads something")

    def pi(self, target: str, text: str) -> None:
        self.found.append(f"a processing instruction <?{target}?>")

    def close(self) -> None:
        return None


def _internal(value: str, element: str) -> bool:
    value = value.strip()
    return value.startswith("#") or (element == "image" and bool(_INNER_IMAGE.match(value)))


def check_svg(data: bytes, name: str) -> list[str]:
    """Refuse the SVG ``data`` if it holds active content; nothing to do otherwise."""
    census = _Census()
    try:
        root = fromstring(data)  # the checks defusedxml makes on the whole document
        parser = XMLParser(target=census)
        parser.feed(data)
        parser.close()
    except DefusedXmlException:
        raise AccessRefused(
            Reason.ACTIVE_CONTENT,
            f"{name}: the drawing declares XML entities or external references (which can "
            "expand without end or read files): export the figure again as a plain SVG",
        ) from None
    except SyntaxError as exc:  # xml.etree.ElementTree.ParseError
        raise InvalidInput(name, f"is not a well-formed SVG: {exc}") from None
    if _local(root.tag) != "svg":
        raise InvalidInput(name, f"is XML with a <{_local(root.tag)}> root, not an SVG drawing")
    if census.found:
        listed = "; ".join(dict.fromkeys(census.found))
        raise AccessRefused(
            Reason.ACTIVE_CONTENT,
            f"{name}: the drawing holds {listed}; export the figure again as a plain SVG "
            "(or as PNG or PDF)",
        )
    return []


_NOTEBOOK_KEYS: Final = {"kernelspec", "language_info"}
_CELL_KEYS: Final = frozenset(
    {"tags", "name", "jupyter", "collapsed", "scrolled", "editable", "deletable", "slideshow"}
)
_ACTIVE_OUTPUTS: Final = {"application/javascript", "application/vnd.jupyter.widget-view+json"}


def clean_notebook(text: str, name: str, *, keep_outputs: bool) -> tuple[str, list[str]]:
    """The notebook ``text`` stripped (see the module's docstring), and what was removed."""
    try:
        read = nbformat.from_dict(json.loads(text))
        if read.get("nbformat") != 4:
            read = nbformat.convert(read, 4)
        if read.get("nbformat_minor", 0) >= 5:  # 4.5 wants cell ids: number those without
            for index, cell in enumerate(read.get("cells") or []):
                cell.setdefault("id", f"cell-{index}")
        nbformat.validate(read)
        notebook = read
    except (ValueError, AttributeError, nbformat.ValidationError) as exc:
        problem = str(exc).splitlines()[0]
        raise InvalidInput(name, f"is not a valid Jupyter notebook: {problem}") from None
    actions: list[str] = []
    if "widgets" in notebook.metadata:
        actions.append("removed the notebook's widget state")
    if dropped := set(notebook.metadata) - _NOTEBOOK_KEYS - {"widgets"}:
        actions.append(f"removed the notebook's metadata: {', '.join(sorted(dropped))}")
    notebook.metadata = {k: v for k, v in notebook.metadata.items() if k in _NOTEBOOK_KEYS}
    counts = {"outputs": 0, "counts": 0, "attachments": 0, "metadata": 0, "active": 0}
    for cell in notebook.cells:
        kept = {k: v for k, v in cell.metadata.items() if k in _CELL_KEYS}
        counts["metadata"] += len(kept) != len(cell.metadata)
        cell.metadata = kept
        if not keep_outputs and cell.get("attachments"):
            counts["attachments"] += 1
            del cell["attachments"]
        if cell.cell_type != "code":
            continue
        if not keep_outputs:
            counts["outputs"] += bool(cell.outputs)
            counts["counts"] += cell.execution_count is not None
            cell.outputs = []
            cell.execution_count = None
        for output in cell.outputs:
            bundle: dict[str, Any] = output.get("data", {})
            for mime in _ACTIVE_OUTPUTS & set(bundle):
                counts["active"] += 1
                del bundle[mime]
    words = {
        "outputs": "removed the outputs of {} code cells",
        "counts": "removed the execution counts of {} code cells",
        "attachments": "removed the attachments of {} markdown cells",
        "metadata": "removed metadata (execution times and the like) from {} cells",
        "active": "removed {} JavaScript or widget outputs",
    }
    actions += [words[key].format(n) for key, n in counts.items() if n]
    return nbformat.writes(notebook), actions
