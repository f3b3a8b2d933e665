"""Prognosis on a project's governed data: analysis tables, survival models, the registry.

    >>> from wgs_tre import open_project, models
    >>> table = models.analysis_table(open_project(), ...)
    >>> fit = models.cox(table)

See ``docs/architecture.md`` (models) for what each part guarantees.
"""

from wgs_tre.models.disclosure import (
    check_survival_output,
    numbers_at_risk,
    release_table,
    residual_dof_findings,
)
from wgs_tre.models.forest import ForestModel, boosted_forest
from wgs_tre.models.frame import AnalysisTable, FitRecord, Provenance, as_table
from wgs_tre.models.governed import load, registered, save
from wgs_tre.models.plots import calibration_plot, km_plot
from wgs_tre.models.survival import CoxModel, KaplanMeier, LogRank, cox, kaplan_meier, log_rank
from wgs_tre.models.table import analysis_table
from wgs_tre.models.validation import CrossValidation, cross_validate

__all__ = [
    "AnalysisTable",
    "CoxModel",
    "CrossValidation",
    "FitRecord",
    "ForestModel",
    "KaplanMeier",
    "LogRank",
    "Provenance",
    "analysis_table",
    "as_table",
    "boosted_forest",
    "calibration_plot",
    "check_survival_output",
    "cox",
    "cross_validate",
    "kaplan_meier",
    "km_plot",
    "load",
    "log_rank",
    "numbers_at_risk",
    "registered",
    "release_table",
    "residual_dof_findings",
    "save",
]
