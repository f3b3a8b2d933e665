"""Prognosis on a project's governed data: analysis tables, survival models, the registry.

    >>> from wgs_tre import open_project, models
    >>> table = models.analysis_table(open_project(), ...)
    >>> fit = models.cox(table)

See ``docs/architecture.md`` (models) for what each part guarantees.
"""

from wgs_tre.models.forest import ForestModel, boosted_forest
from wgs_tre.models.frame import AnalysisTable, FitRecord, Provenance, as_table
from wgs_tre.models.governed import load, registered, save
from wgs_tre.models.survival import CoxModel, KaplanMeier, LogRank, cox, kaplan_meier, log_rank
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
    "as_table",
    "boosted_forest",
    "cox",
    "cross_validate",
    "kaplan_meier",
    "load",
    "log_rank",
    "registered",
    "save",
]
