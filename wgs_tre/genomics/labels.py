"""Point labels that never overlap one another and stay inside their Axes.

Each label takes the nearest free place beside its point: right of it (centred on its
height), then left, then one text height up or down, further out step by step, strongest label
first. Placement happens
at every draw, in display pixels with the renderer's own text sizes, because only then are the
sizes final: a ``tight_layout``, a resize or a ``savefig`` at another dpi moves points and
resizes text after the plot is made. A label displaced from its point gets a thin leader line;
one with no free place inside the Axes is hidden rather than drawn over another.
Deterministic: the same plot always gets the same placement.
"""

from __future__ import annotations

import itertools
from typing import Any

from matplotlib.artist import Artist
from matplotlib.lines import Line2D
from matplotlib.text import Text
from matplotlib.transforms import Bbox

__all__ = ["place_labels"]

GAP_POINTS = 3.0  # between a point and its label, and between labels


class _Placer(Artist):
    """Draws nothing; moves the labels before they are drawn (it is drawn first)."""

    def __init__(self, labels: list[tuple[Text, Line2D, tuple[float, float]]]) -> None:
        super().__init__()
        self.labels = labels
        self.set_zorder(float("-inf"))
        self.set_in_layout(False)

    def draw(self, renderer: Any) -> None:
        ax = self.axes
        assert ax is not None
        gap = renderer.points_to_pixels(GAP_POINTS)
        to_data = ax.transData.inverted()
        taken: list[Bbox] = []
        for text, leader, anchor in self.labels:
            point = ax.transData.transform(anchor)
            text.set_visible(True)
            text.set_position(anchor)
            size = text.get_window_extent(renderer)
            found = _first_free(ax.bbox, taken, point, (size.width, size.height), gap)
            text.set_visible(found is not None)
            leader.set_visible(False)
            if found is None:
                continue
            box, beside = found
            taken.append(box)
            x, y = to_data.transform((box.x0, box.y0))
            text.set_position((float(x), float(y)))
            if not beside:  # a leader from the point to the nearest edge of its label
                end = (min(max(point[0], box.x0), box.x1), min(max(point[1], box.y0), box.y1))
                leader.set_data(*zip(anchor, to_data.transform(end), strict=True))
                leader.set_visible(True)


def _first_free(
    frame: Bbox, taken: list[Bbox], point: Any, size: tuple[float, float], gap: float
) -> tuple[Bbox, bool] | None:
    """The nearest box of ``size`` beside ``point``, inside ``frame``, overlapping none of
    ``taken``, and whether it is right beside the point: candidates on a grid of label-sized
    steps, nearest first (ties: same height before above or below, right before left)."""
    (px, py), (w, h) = point, size
    columns = int(frame.width // (w + gap)) + 1
    rows = int(frame.height // (h + gap)) + 1
    candidates = []
    for across, up in itertools.product(range(-columns, columns + 1), range(-rows, rows + 1)):
        # column 0 starts right of the point, column -1 ends left of it
        x0 = (
            px + gap + across * (w + gap)
            if across >= 0
            else px - w - gap + (across + 1) * (w + gap)
        )
        y0 = py - h / 2 + up * (h + gap)  # row 0 centred on the point
        distance = (x0 + w / 2 - px) ** 2 + (y0 + h / 2 - py) ** 2
        candidates.append((distance, up != 0, across < 0, x0, y0, up == 0 and across in (0, -1)))
    for *_, x0, y0, beside in sorted(candidates):
        box = Bbox.from_bounds(x0, y0, w, h)
        inside = frame.x0 <= x0 and box.x1 <= frame.x1 and frame.y0 <= y0 and box.y1 <= frame.y1
        if inside and not any(_overlap(box, other) for other in taken):
            return box, beside
    return None


def _overlap(a: Bbox, b: Bbox) -> bool:
    return bool(a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1)


def place_labels(
    ax: Any, labels: list[tuple[str, float, float, str]], *, fontsize: float = 7
) -> None:
    """Label points of ``ax`` without overlap: ``labels`` are (text, x, y, gid) in data
    coordinates, strongest first (it places first). Each label is an ``ax.texts`` entry whose
    ``gid`` is the given one."""
    placed = []
    for name, x, y, gid in labels:
        text = ax.text(x, y, name, fontsize=fontsize, ha="left", va="bottom", gid=gid)
        (leader,) = ax.plot([x, x], [y, y], color="#555555", linewidth=0.5, visible=False)
        placed.append((text, leader, (x, y)))
    ax.add_artist(_Placer(placed))
