"""Prognosis on a project's governed data: analysis tables, survival models, the registry.

    >>> from wgs_tre import open_project, models
    >>> table = models.analysis_table(open_project(), ...)
    >>> fit = models.cox(table)

See ``docs/architecture.md`` (models) for what each part guarantees.
"""

from wgs_tre.models.frame import AnalysisTable, FitRecord, Provenance, as_table
from wgs_tre.models.survival import CoxModel, KaplanMeier, LogRank, cox, kaplan_meier, log_rank
from wgs_tre.models.table import analysis_table

__all__ = [
    "AnalysisTable",
    "CoxModel",
    "FitRecord",
    "KaplanMeier",
    "LogRank",
    "Provenance",
    "analysis_table",
    "as_table",
    "cox",
    "kaplan_meier",
    "log_rank",
]
