"""Manhattan and QQ plots of an association scan (matplotlib; one Axes each, to compose)."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from scipy import stats

from wgs_tre.genomics.annotation import p_values, variant_table
from wgs_tre.genomics.labels import place_labels

__all__ = ["genomic_inflation", "manhattan", "qq"]

GENOME_WIDE = 5e-8
LABEL_REGION = 250_000  # bases: one label per locus (plink's --clump-kb default window)


def genomic_inflation(p: np.ndarray) -> float:
    """Lambda GC: the median chi-squared (1 df) statistic over its expected value under the
    null. Near 1 for a well-calibrated scan; above it suggests stratification."""
    p = p[np.isfinite(p)]
    if len(p) == 0:
        return float("nan")
    return float(np.median(stats.chi2.isf(p, 1)) / stats.chi2.ppf(0.5, 1))


def _axes(ax: Any, figsize: tuple[float, float]) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize)[1]


def _trait(ds: xr.Dataset, p_value: str, trait: str | None) -> str | None:
    """The trait a plot shows: the one named, or a linear scan's only (or first) trait."""
    if trait is None and "traits" in ds[p_value].dims:
        return str(ds[p_value].traits.values[0])
    return trait


def _strongest_per_region(table: Any, score: np.ndarray, count: int, region: int) -> list[int]:
    """Rows of the ``count`` strongest hits, each more than ``region`` bases from a stronger
    one on its contig: a locus gets one label, not one per variant in LD."""
    chosen: list[int] = []
    for i in np.argsort(np.where(np.isfinite(score), -score, np.inf), kind="stable"):
        if len(chosen) == count or not np.isfinite(score[i]):
            break
        near = (table.contig.iloc[chosen] == table.contig.iloc[i]) & (
            (table.position.iloc[chosen] - table.position.iloc[i]).abs() <= region
        )
        if not near.any():
            chosen.append(int(i))
    return chosen


def manhattan(
    ds: xr.Dataset,
    p_value: str = "variant_linreg_p_value",
    *,
    trait: str | None = None,
    title: str | None = None,
    threshold: float = GENOME_WIDE,
    label: int = 5,
    region: int = LABEL_REGION,
    ax: Any = None,
) -> Any:
    """A Manhattan plot: -log10 p along the genome.

    Parameters
    ----------
    ds
        A view after ``gwas_linear`` or ``gwas_logistic``.
    p_value
        The p-value variable to plot.
    trait
        For a linear scan of several traits, which one (default: the first).
    title
        The plot's title, e.g. the trait's full name (default: the trait's column name, or
        ``p_value`` for a logistic scan).
    threshold
        A line at this p-value (default genome-wide significance, 5e-8).
    label
        Name the strongest hits, this many, by gene (or contig:position): the strongest of
        each region only, placed so that no two labels overlap (``wgs_tre.genomics.labels``).
    region
        Bases within which a stronger hit on the same contig already stands for a weaker one
        (default 250 kb; 0 labels every hit).
    ax
        matplotlib Axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes
        Contigs in alternating colours, axes labelled; each label a Text of ``ax.texts``
        with ``gid`` ``contig:position``.
    """
    p = p_values(ds, p_value, trait)
    table = variant_table(ds)
    ax = _axes(ax, (10, 4))
    offsets, ticks, start = [], [], 0
    contigs = list(dict.fromkeys(table.contig))
    for contig in contigs:
        span = int(table.position[table.contig == contig].max())
        offsets.append(start)
        ticks.append(start + span / 2)
        start += span
    where = table.contig.map(dict(zip(contigs, offsets, strict=True))) + table.position
    score = -np.log10(np.clip(p, 1e-300, 1))
    colours = table.contig.map({c: ("#1f4e79", "#6fa8dc")[i % 2] for i, c in enumerate(contigs)})
    finite = np.isfinite(score)
    ax.scatter(where[finite], score[finite], c=colours[finite], s=4, linewidths=0)
    ax.axhline(-np.log10(threshold), color="#c00000", linewidth=0.8, linestyle="--")
    labels = []
    for i in _strongest_per_region(table, score, label, region):
        site = f"{table.contig.iloc[i]}:{table.position.iloc[i]}"
        gene = table.GENE.iloc[i] if "GENE" in table else ""
        labels.append((gene or site, float(where.iloc[i]), float(score[i]), site))
    if labels:
        ax.set_ylim(top=max(float(score[finite].max()), -np.log10(threshold)) * 1.15 + 0.5)
    place_labels(ax, labels)
    ax.set_xticks(ticks, contigs)
    ax.set_xlabel("contig")
    ax.set_ylabel("-log10 p")
    ax.set_title(title or _trait(ds, p_value, trait) or p_value)
    return ax


def qq(
    ds: xr.Dataset, p_value: str = "variant_linreg_p_value", *, trait: str | None = None,
    title: str | None = None, ax: Any = None,
) -> Any:  # fmt: skip
    """A QQ plot: observed against expected -log10 p under the null, in a square frame (equal
    scales, so the diagonal is at 45 degrees).

    Parameters
    ----------
    ds
        A view after ``gwas_linear`` or ``gwas_logistic``.
    p_value
        The p-value variable to plot.
    trait
        For a linear scan of several traits, which one (default: the first).
    title
        Named in the title before lambda GC (default: the trait's column name).
    ax
        matplotlib Axes to draw on (default: a new square figure).

    Returns
    -------
    matplotlib.axes.Axes
        With the diagonal and lambda GC (``genomic_inflation``) in the title.
    """
    p = p_values(ds, p_value, trait)
    p = np.sort(p[np.isfinite(p)])
    ax = _axes(ax, (4.5, 4.5))
    expected = -np.log10((np.arange(1, len(p) + 1) - 0.5) / len(p))
    observed = -np.log10(np.clip(p, 1e-300, 1))
    ax.scatter(expected, observed, s=4, color="#1f4e79", linewidths=0)
    top = float(expected.max()) if len(p) else 1.0
    ax.plot([0, top], [0, top], color="#c00000", linewidth=0.8)
    limit = 1.05 * max(top, float(observed.max()) if len(p) else 1.0)
    ax.set_xlim(0, limit)
    ax.set_ylim(0, limit)
    ax.set_aspect("equal", adjustable="box")  # a square frame in whatever space it is given
    ax.set_xlabel("expected -log10 p")
    ax.set_ylabel("observed -log10 p")
    name = title or _trait(ds, p_value, trait)
    ax.set_title(f"{name + ', ' if name else ''}QQ, lambda GC = {genomic_inflation(p):.3f}")
    return ax
