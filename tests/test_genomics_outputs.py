"""What the genomics analyses hand on: plink2's association files, written as plink2 writes
them (checked against plink2 on the same data), and the Manhattan and QQ plots.

The view and plink2's copy of it (``view``, ``oracle``) are the genomics cohort's of
``tests/conftest.py``, shared with ``tests/test_genomics.py``.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from tests.genomics_world import phenotypes, write_phenotypes
from tests.plink import plink2
from wgs_tre import genomics
from wgs_tre.errors import InvalidInput
from wgs_tre.genomics import gwas_linear, gwas_logistic

PLINK2_GLM_COLUMNS = "cols=chrom,pos,ref,alt,nobs,orbeta,se,tz,p"
KEEP_CONTIG_NAMES = ("--output-chr", "chrM")  # chr1 stays chr1 (plink2 would write 1)


PRINTED = (1.01e-5, 0.0)  # plink2's six printed digits: one unit in the sixth for rounding


def _same_as_plink2(
    ours: pd.DataFrame, theirs: pd.DataFrame, numbers: dict[str, tuple[float, float]]
) -> None:
    """The same columns in the same order, row for row; ``numbers`` (column: relative
    and absolute tolerance) equal to plink2's where plink2 has a result."""
    assert list(ours.columns) == list(theirs.columns)
    assert len(ours) == len(theirs)
    for column in ["#CHROM", "POS", "REF", "ALT", "A1"]:
        assert list(ours[column]) == list(theirs[column]), column
    tested = theirs.P.notna().to_numpy()
    assert tested.sum() > 0.5 * len(theirs)
    np.testing.assert_array_equal(ours.OBS_CT[tested], theirs.OBS_CT[tested])
    for column, (rtol, atol) in numbers.items():
        a, b = ours[column].to_numpy()[tested], theirs[column].to_numpy()[tested]
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=column)


def test_linear_gwas_exports_as_plink2_writes_it(
    view: xr.Dataset, oracle: Path, tmp_path: Path
) -> None:
    """``write_plink2_glm`` against plink2 ``--glm omit-ref`` (A1 = ALT, as ours) on the same
    data: the file pandas reads as plink2's (tab-separated) has its columns and numbers."""
    frame = phenotypes(view)
    write_phenotypes(frame, oracle)
    plink2("--pfile", "view", "--pheno", "pheno.tsv", "--pheno-name", "trait",
           "--covar", "covar.tsv", "--glm", "hide-covar", "omit-ref", PLINK2_GLM_COLUMNS,
           *KEEP_CONTIG_NAMES, "--out", "export", cwd=oracle)  # fmt: skip
    theirs = pd.read_csv(oracle / "export.trait.glm.linear", sep="\t")
    scan = gwas_linear(view, frame[["trait"]], frame[["age", "sex"]], progress=False)
    written = genomics.write_plink2_glm(scan, tmp_path / "ours.glm.linear")
    ours = pd.read_csv(written, sep="\t")
    linear = ["#CHROM", "POS", "ID", "REF", "ALT", "A1", "OBS_CT", "BETA", "SE", "T_STAT", "P"]
    assert list(ours.columns) == linear
    _same_as_plink2(
        ours, theirs.assign(ID="."), dict.fromkeys(["BETA", "SE", "T_STAT", "P"], PRINTED)
    )
    assert written.read_text().count("\tNA\t") >= (~theirs.P.notna()).sum()
    with pytest.raises(InvalidInput, match="use one of variant_linreg_p_value, variant_logreg"):
        genomics.plink2_glm_table(scan, "variant_linreg_beta")
    with pytest.raises(InvalidInput, match="variant_logreg_p_value.*run the analysis first"):
        genomics.plink2_glm_table(scan, "variant_logreg_p_value")
    with pytest.raises(InvalidInput, match="directory .*nowhere does not exist"):
        genomics.write_plink2_glm(scan, tmp_path / "nowhere" / "x.glm.linear")


def test_logistic_gwas_exports_as_plink2_writes_it(
    view: xr.Dataset, oracle: Path, tmp_path: Path
) -> None:
    """The logistic table (plink2's default firth-fallback, so a FIRTH? column) against
    plink2's: the same FIRTH? flags; OR (not its log) to plink2's printed digits, LOG(OR)_SE,
    Z_STAT and P to its single precision, on plain fits where plink2's standard errors are
    sound (full AVX2 lanes, see the logistic test above). plink2's Firth fits stop early
    (within ~1e-3, see tests/test_firth.py, which checks them): their numbers are not
    compared here."""
    frame = phenotypes(view)
    write_phenotypes(frame, oracle)
    plink2("--pfile", "view", "--pheno", "pheno.tsv", "--pheno-name", "case",
           "--covar", "covar.tsv", "--glm", "hide-covar", "omit-ref",
           PLINK2_GLM_COLUMNS.replace("alt,", "alt,firth,"), *KEEP_CONTIG_NAMES,
           "--out", "export", cwd=oracle)  # fmt: skip
    theirs = pd.read_csv(oracle / "export.case.glm.logistic.hybrid", sep="\t")
    scan = gwas_logistic(view, frame["case"], frame[["age", "sex"]], progress=False)
    written = genomics.write_plink2_glm(scan, tmp_path / "ours", "variant_logreg_p_value")
    ours = pd.read_csv(written, sep="\t")
    logistic = ["#CHROM", "POS", "ID", "REF", "ALT", "A1", "FIRTH?", "OBS_CT", "OR",
                "LOG(OR)_SE", "Z_STAT", "P"]  # fmt: skip
    assert list(ours.columns) == logistic
    tested = theirs.P.notna()
    assert list(ours["FIRTH?"][tested]) == list(theirs["FIRTH?"][tested])
    assert (theirs["FIRTH?"][tested] == "Y").any()  # the fallback is exercised
    full_lanes = (theirs.OBS_CT % 4 == 0) | (view.sizes["samples"] == theirs.OBS_CT)
    compared = full_lanes & (theirs["FIRTH?"] == "N")
    assert (compared & tested).sum() > 1000
    sound = theirs.assign(ID=".").where(compared | ~tested, other=ours)
    # plink2 computes logistic standard errors in single precision: a few differ by up to 4e-5
    # (the tolerances of the logistic test above), and so Z near 0 by ~1e-6.
    single = {"LOG(OR)_SE": (1e-4, 0.0), "Z_STAT": (1e-4, 1e-5), "P": (1e-3, 0.0)}
    _same_as_plink2(ours, sound, {"OR": PRINTED, **single})


def _figure(width: float, height: float, columns: int = 1) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(1, columns, figsize=(width, height))


def _clustered_hits(view: xr.Dataset, count: int = 20) -> tuple[xr.Dataset, list[int]]:
    """A scan whose ``count`` strongest hits are neighbouring variants of one contig with
    close p-values: drawn where their labels would all collide."""
    frame = phenotypes(view)
    ours = gwas_linear(view, frame[["trait"]], frame[["age", "sex"]], progress=False)
    p = ours.variant_linreg_p_value.values.copy()
    cluster = list(range(1_000, 1_000 + count))
    p[cluster, 0] = 10.0 ** -(20 + 0.2 * np.arange(count))
    return ours.assign(variant_linreg_p_value=(ours.variant_linreg_p_value.dims, p)), cluster


def test_manhattan_labels_never_overlap_and_stay_in_the_figure(view: xr.Dataset) -> None:
    """20 labelled hits a few pixels apart: every label is drawn, no two label boxes overlap
    (as the renderer measures them, after a layout change), all inside the figure."""
    scan, cluster = _clustered_hits(view)
    figure, ax = _figure(10, 4)
    genomics.manhattan(scan, label=20, region=0, ax=ax)
    figure.tight_layout()  # moves the points after the plot was made
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    labels = [text for text in ax.texts if text.get_visible()]
    sites = genomics.variant_table(view).iloc[cluster]
    assert sorted(text.get_gid() for text in labels) == sorted(
        f"{c}:{p}" for c, p in zip(sites.contig, sites.position, strict=True)
    )
    boxes = [(text.get_gid(), text.get_window_extent(renderer)) for text in labels]
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        overlap = (
            min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0),
            min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0),
        )
        assert min(overlap) <= 0, f"labels {a} and {b} overlap by {overlap} pixels"
    frame = figure.bbox
    for gid, box in boxes:
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1, f"label {gid} leaves the figure"
        assert frame.y0 <= box.y0 and box.y1 <= frame.y1, f"label {gid} leaves the figure"


def test_manhattan_labels_one_hit_per_region_and_is_titled_by_the_trait(view: xr.Dataset) -> None:
    """The 20 clustered hits get one label, the strongest's; the others go to other regions
    (the synthetic contigs are ~700 kb: four 250 kb regions hold a hit)."""
    scan, cluster = _clustered_hits(view)
    _, ax = _figure(10, 4)
    genomics.manhattan(scan, label=10, ax=ax)
    table = genomics.variant_table(view)
    strongest = table.iloc[cluster[-1]]
    gids = [text.get_gid() for text in ax.texts]
    assert gids[0] == f"{strongest.contig}:{strongest.position}"
    sites = [(gid.split(":")[0], int(gid.split(":")[1])) for gid in gids]
    for (c1, p1), (c2, p2) in itertools.combinations(sites, 2):
        assert c1 != c2 or abs(p1 - p2) > 250_000, f"two labels within 250 kb: {c1}:{p1}, {p2}"
    assert len(gids) >= 2  # the other regions' hits are labelled too
    assert ax.get_title() == "trait"  # the scan's trait column, not the variable name
    genomics.manhattan(scan, title="LDL cholesterol", ax=ax)
    assert ax.get_title() == "LDL cholesterol"


def test_qq_plot_is_square(view: xr.Dataset) -> None:
    scan, _ = _clustered_hits(view)
    figure, ax = _figure(10, 4)  # a wide frame: the plot stays square inside it
    genomics.qq(scan, ax=ax)
    figure.canvas.draw()
    box = ax.get_window_extent()
    assert box.width == pytest.approx(box.height, abs=1), f"QQ frame {box.width}x{box.height}"
    assert ax.get_xlim() == ax.get_ylim()
    assert ax.get_ylim()[1] > 20 + 0.2 * 19  # the strongest hit (p = 1e-23.8) is in the frame


def test_manhattan_and_qq_plots_render(view: xr.Dataset, tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    frame = phenotypes(view)
    ours = gwas_linear(view, frame[["trait"]], frame[["age", "sex"]], progress=False)
    p = ours.variant_linreg_p_value.values[:, 0]
    figure, (left, right) = _figure(12, 4, columns=2)
    genomics.manhattan(ours, ax=left, label=3)
    genomics.qq(ours, ax=right)
    assert len(left.collections[0].get_offsets()) == np.isfinite(p).sum()
    assert len(left.texts) == 3
    assert f"{genomics.genomic_inflation(p):.3f}" in right.get_title()
    figure.savefig(tmp_path / "gwas.png")
    plt.close(figure)
    assert (tmp_path / "gwas.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
