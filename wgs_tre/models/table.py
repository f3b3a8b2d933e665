"""``analysis_table``: one call from a project's governed views to a table a model can fit.

The clinical covariates come from :mod:`wgs_tre.models.clinical_features`, the genomic
features from :mod:`wgs_tre.models.genomic_features` and :mod:`wgs_tre.models.score`; this
module joins them with the outcome on ``sample_id`` and records where they came from.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import xarray as xr

from wgs_tre.errors import InvalidInput
from wgs_tre.models.clinical_features import clinical_features, outcome
from wgs_tre.models.frame import EVENT, ID, TIME, AnalysisTable, FitRecord, Provenance
from wgs_tre.models.genomic_features import (
    DAMAGING_CONSEQUENCES,
    VariantIndex,
    gene_features,
    principal_components,
    variant_dosages,
)
from wgs_tre.models.governed import fit_recorder
from wgs_tre.models.score import polygenic_score

__all__ = ["DEFAULT_CLINICAL", "ProjectData", "analysis_table"]

DEFAULT_CLINICAL = ("age", "sex", "stage", "diagnosis", "bmi", "smoking", "treatment_lines")


class ProjectData(Protocol):
    """What the table needs of a project handle (``wgs_tre.open_project()`` gives one)."""

    project: str

    def datasets(self) -> list[tuple[str, str]]: ...
    def variants(self, dataset: str | None = None) -> xr.Dataset: ...
    def clinical(self, table: str, dataset: str | None = None) -> pd.DataFrame: ...


def _dataset(project: ProjectData, kind: str, named: str | None) -> str:
    """The ``name@version`` of the ``kind`` dataset to read: ``named`` (a name or a label),
    or the only one the approval covers."""
    labels = [label for label, k in project.datasets() if k == kind]
    if named is not None:
        labels = [label for label in labels if named in (label, label.split("@")[0])]
    if len(labels) != 1:
        approved = ", ".join(label for label, k in project.datasets() if k == kind) or "none"
        what = f"{named!r} is not one of them" if named else "name the one to use"
        raise InvalidInput(f"{kind} dataset", f"{what} (approved: {approved})")
    return labels[0]


def analysis_table(
    project: ProjectData,
    *,
    clinical: Sequence[str] = DEFAULT_CLINICAL,
    variants: Sequence[str] = (),
    genes: Sequence[str] = (),
    burden: Sequence[str] = (),
    max_frequency: float = 0.01,
    damaging: Sequence[str] = DAMAGING_CONSEQUENCES,
    score: Path | str | None = None,
    pcs: int = 0,
    outcome: str = "overall_survival",
    clinical_dataset: str | None = None,
    variants_dataset: str | None = None,
    on_fit: Callable[[FitRecord], None] | None = None,
) -> AnalysisTable:
    """A participant-by-feature table with the survival outcome, from a project's views.

    Parameters
    ----------
    project
        ``wgs_tre.open_project(...)``.
    clinical
        Clinical covariates: ``age`` (at diagnosis, years: the diagnosis year minus the birth
        year, since views hold birth years only), ``sex`` (``sex_male``), ``stage`` (``stage``,
        the stage group 1-4 or 0 when none is recorded, as for non-cancer diagnoses, and
        ``stage_missing``, 1 then), ``diagnosis`` (group of the primary diagnosis, one-hot
        ``diagnosis_<group>``, the most common group the reference; with it ``stage_missing``
        is left out, being collinear), ``bmi``, ``smoking`` (``smoking_former``,
        ``smoking_current``; never-smokers the reference) and ``treatment_lines`` (distinct
        medications).
    variants
        ``contig:position:ref:alt`` each: a column ``dosage_<contig>_<position>_<ref>_<alt>``,
        the alternate-allele count (missing calls: the variant's mean).
    genes
        ``carrier_<gene>``: 1 if the participant carries an alternate allele of one of the
        gene's rare damaging variants (as for ``burden``).
    burden
        ``burden_<gene>``: how many of the gene's rare damaging variants (consequence in
        ``damaging`` or ClinVar (likely) pathogenic, alternate-allele frequency in the view at
        most ``max_frequency``) the participant carries an alternate allele of.
    max_frequency, damaging
        What counts as rare and as damaging for ``genes`` and ``burden``.
    score
        A weights file (see :mod:`wgs_tre.models.score`): a column ``prs``; how its rows
        matched is in ``table.frame.attrs["polygenic_score"]`` (a warning says when some did
        not).
    pcs
        Principal components of the genotypes: columns ``pc1`` ... ``pc<pcs>``.
    outcome
        ``overall_survival``: ``time`` (days from the primary diagnosis to death or last
        contact) and ``event`` (died).
    clinical_dataset, variants_dataset
        Which dataset to read (name or ``name@version``) when the approval covers several.
    on_fit
        Called once per fit on the table; default: the fit's audit event (``model.fit``, on
        the host or through the session's data service).

    Returns
    -------
    AnalysisTable
        ``frame``: ``sample_id`` (the per-project pseudonym, a column, in pseudonym order),
        ``time``, ``event`` and the features, all numbers: no date and no other identifier.
        Rows are the participants with an outcome, every requested covariate and, when a
        genomic feature is asked for, genotypes (complete cases; a warning says how many were
        left out). ``provenance``: the project, the dataset versions read, participants and
        events.

    Raises
    ------
    InvalidInput
        An unknown covariate or outcome, a variant not in the view, a gene without (rare
        damaging) variants, a bad weights file, more components than the data allow, or no
        participant left.
    """
    started = dt.datetime.now(dt.UTC)  # a withdrawal imported after this flags its models
    clinical_label = _dataset(project, "clinical", clinical_dataset)
    read: dict[str, pd.DataFrame] = {}

    def tables(name: str) -> pd.DataFrame:
        if name not in read:
            read[name] = project.clinical(name, clinical_label)
        return read[name]

    frame = _outcome(tables, outcome).join(clinical_features(tables, clinical), how="left")
    labels = [clinical_label]
    attrs: dict[str, Any] = {}
    if variants or genes or burden or score is not None or pcs:
        variants_label = _dataset(project, "variants", variants_dataset)
        labels.append(variants_label)
        genomic, attrs = _genomic(
            project.variants(variants_label), variants=variants, genes=genes, burden=burden,
            max_frequency=max_frequency, damaging=damaging, score=score, pcs=pcs,
        )  # fmt: skip
        frame = frame.join(genomic, how="inner")
    complete = frame.dropna()
    if len(complete) < len(frame):
        warnings.warn(
            f"analysis table: {len(frame) - len(complete)} of {len(frame)} participants lack a "
            "requested value and are left out",
            stacklevel=2,
        )
    if complete.empty:
        raise InvalidInput("analysis table", "no participant has the outcome and every feature")
    complete = complete.sort_index().reset_index()
    complete[EVENT] = complete[EVENT].astype(bool)
    complete.attrs = attrs
    features = tuple(c for c in complete.columns if c not in (ID, TIME, EVENT))
    provenance = Provenance(project.project, tuple(labels), len(complete),
                            int(complete[EVENT].sum()), started)  # fmt: skip
    if on_fit is None and hasattr(project, "host_governance"):  # a real handle: audit fits
        on_fit = fit_recorder(project, provenance.datasets)  # type: ignore[arg-type]
    return AnalysisTable(complete, features, provenance, on_fit)


def _outcome(tables: Callable[[str], pd.DataFrame], name: str) -> pd.DataFrame:
    frame = outcome(tables, name)
    frame.index.name = ID
    return frame


def _genomic(
    view: xr.Dataset,
    *,
    variants: Sequence[str],
    genes: Sequence[str],
    burden: Sequence[str],
    max_frequency: float,
    damaging: Sequence[str],
    score: Path | str | None,
    pcs: int,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    index = VariantIndex.of(view)
    parts, attrs = [pd.DataFrame(index=index.samples)], {}
    if variants:
        parts.append(variant_dosages(index, variants))
    for kind, chosen in (("carrier", genes), ("burden", burden)):
        if chosen:
            parts.append(gene_features(index, chosen, kind=kind, max_frequency=max_frequency,
                                       damaging=damaging))  # fmt: skip
    if score is not None:
        prs, report = polygenic_score(index, Path(score))
        parts.append(prs)
        attrs["polygenic_score"] = asdict(report)
    if pcs:
        parts.append(principal_components(view, pcs))
    return pd.concat(parts, axis=1), attrs
