"""Prognosis on a project's governed data: analysis tables, survival models, the registry.

    >>> from wgs_tre import open_project, models
    >>> table = models.analysis_table(open_project(), ...)
    >>> fit = models.cox(table)

See ``docs/architecture.md`` (models) for what each part guarantees.
"""

from wgs_tre.models.forest import ForestModel, boosted_forest
from wgs_tre.models.frame import AnalysisTable, FitRecord, Provenance, as_table
from wgs_tre.models.survival import CoxModel, KaplanMeier, LogRank, cox, kaplan_meier, log_rank

__all__ = [
    "AnalysisTable",
    "CoxModel",
    "FitRecord",
    "ForestModel",
    "KaplanMeier",
    "LogRank",
    "Provenance",
    "as_table",
    "boosted_forest",
    "cox",
    "kaplan_meier",
    "log_rank",
]
