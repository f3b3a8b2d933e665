"""Manhattan and QQ plots of an association scan (matplotlib; one Axes each, to compose)."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from scipy import stats

from wgs_tre.genomics.annotation import p_values, variant_table

__all__ = ["genomic_inflation", "manhattan", "qq"]

GENOME_WIDE = 5e-8


def genomic_inflation(p: np.ndarray) -> float:
    """Lambda GC: the median chi-squared (1 df) statistic over its expected value under the
    null. Near 1 for a well-calibrated scan; above it suggests stratification."""
    p = p[np.isfinite(p)]
    if len(p) == 0:
        return float("nan")
    return float(np.median(stats.chi2.isf(p, 1)) / stats.chi2.ppf(0.5, 1))


def _axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(10, 4))[1]


def manhattan(
    ds: xr.Dataset,
    p_value: str = "variant_linreg_p_value",
    *,
    trait: str | None = None,
    threshold: float = GENOME_WIDE,
    label: int = 5,
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
    threshold
        A line at this p-value (default genome-wide significance, 5e-8).
    label
        Name the strongest hits, this many, by gene (or position).
    ax
        matplotlib Axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes
        Contigs in alternating colours, axes labelled.
    """
    p = p_values(ds, p_value, trait)
    table = variant_table(ds)
    ax = _axes(ax)
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
    for i in np.argsort(np.where(finite, -score, np.inf))[: min(label, int(finite.sum()))]:
        gene = table.gene.iloc[i] if "gene" in table and table.gene.iloc[i] else None
        name = gene or f"{table.contig.iloc[i]}:{table.position.iloc[i]}"
        ax.annotate(name, (where.iloc[i], score[i]), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")  # fmt: skip
    ax.set_xticks(ticks, contigs)
    ax.set_xlabel("contig")
    ax.set_ylabel("-log10 p")
    ax.set_title(f"{p_value}{f' [{trait}]' if trait else ''}")
    return ax


def qq(
    ds: xr.Dataset, p_value: str = "variant_linreg_p_value", *, trait: str | None = None,
    ax: Any = None,
) -> Any:  # fmt: skip
    """A QQ plot: observed against expected -log10 p under the null.

    Parameters
    ----------
    ds
        A view after ``gwas_linear`` or ``gwas_logistic``.
    p_value
        The p-value variable to plot.
    trait
        For a linear scan of several traits, which one (default: the first).
    ax
        matplotlib Axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes
        With the diagonal and lambda GC (``genomic_inflation``) in the title.
    """
    p = p_values(ds, p_value, trait)
    p = np.sort(p[np.isfinite(p)])
    ax = _axes(ax)
    expected = -np.log10((np.arange(1, len(p) + 1) - 0.5) / len(p))
    ax.scatter(expected, -np.log10(np.clip(p, 1e-300, 1)), s=4, color="#1f4e79", linewidths=0)
    top = float(expected.max()) if len(p) else 1.0
    ax.plot([0, top], [0, top], color="#c00000", linewidth=0.8)
    ax.set_xlabel("expected -log10 p")
    ax.set_ylabel("observed -log10 p")
    ax.set_title(f"QQ, lambda GC = {genomic_inflation(p):.3f}")
    return ax
