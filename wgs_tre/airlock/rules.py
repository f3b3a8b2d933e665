"""The disclosure rules' thresholds (``policies/disclosure.yaml``) and what a check reports.

The defaults are ACRO's (``acro/default.yaml``): a cell needs at least 10 contributors, a model
at least 10 residual degrees of freedom, the 2 largest contributors may not make 90% of a cell's
total, and the rest of a cell may not be less than 10% of its largest contributor; zeros in a
frequency table are disclosive. A missing or empty ``disclosure.yaml`` gives these defaults, so
an unconfigured airlock is as strict as ACRO's.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from wgs_tre.policy import load_policy_file

__all__ = [
    "FILE_NAME",
    "Cell",
    "DisclosurePolicy",
    "Finding",
    "Fix",
    "RoundingProfile",
    "RuleId",
    "load_disclosure_policy",
]

FILE_NAME = "disclosure.yaml"

Cell = tuple[str, str]
"""A table cell named by its row label and its column label."""


class RuleId(StrEnum):
    """Each disclosure rule, by the name a finding and ``disclosure.yaml`` use."""

    THRESHOLD = "threshold"  # fewer than min_cell_count contributors
    DOMINANCE_NK = "dominance-nk"  # the n largest make at least k of the total
    P_RATIO = "p-ratio"  # the rest is less than p times the largest
    ZEROS = "zeros"  # a zero in a frequency table
    RESIDUAL_DOF = "residual-dof"  # a model with too few residual degrees of freedom
    MINOR_ALLELE_COUNT = "minor-allele-count"  # a GWAS variant carried by too few
    PER_SAMPLE = "per-sample-column"  # a column of one sample's genotypes
    ROW_LEVEL = "row-level"  # more rows than an aggregate output has
    ID_COLUMN = "id-like-column"  # a column that names people (or rows) one by one
    PSEUDONYM = "pseudonym"  # a participant's per-project id in an output
    SURVIVAL_AT_RISK = "survival-at-risk"  # a time with fewer than min_cell_count at risk
    SURVIVAL_STEP = "survival-step"  # a step fewer than min_cell_count people leave
    EVIDENCE = "evidence"  # a file without (or changed since) its record of checks
    DIFFERENCING = "differencing"  # differs from a released table by a small group


class Fix(StrEnum):
    """What the researcher can do about a finding."""

    SUPPRESS = "suppress"  # blank the cells
    ROUND = "round"  # the rounding profile: suppress small counts, round the rest
    AGGREGATE = "aggregate"  # merge categories (or add data) and make the output again


@dataclass(frozen=True)
class Finding:
    """One rule failed: which rule, where, in one plain line, and what to do about it."""

    rule: RuleId
    message: str
    fixes: tuple[Fix, ...]
    cells: tuple[Cell, ...] = ()

    def line(self) -> str:
        where = ", ".join(f"({row}, {column})" for row, column in self.cells)
        fixes = " or ".join(fix.value for fix in self.fixes)
        at = f" at {where}" if where else ""
        return f"{self.rule.value}: {self.message}{at}{'; fix: ' + fixes if fixes else ''}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoundingProfile(_Strict):
    """How a frequency table is rounded: counts up to ``suppress_at_most`` are blanked and the
    others rounded to the nearest multiple of ``base`` ("suppress <= 7, round to 5")."""

    suppress_at_most: int = Field(default=7, ge=0)
    base: int = Field(default=5, ge=1)


class DisclosurePolicy(_Strict):
    """``disclosure.yaml``: the thresholds of every automatic disclosure check."""

    min_cell_count: int = Field(
        default=10, ge=1, description="contributors a cell (and a difference) needs"
    )
    min_residual_dof: int = Field(default=10, ge=1, description="residual dof a model needs")
    nk_n: int = Field(default=2, ge=1, description="dominance: how many largest contributors")
    nk_k: float = Field(default=0.9, gt=0, le=1, description="dominance: their largest share")
    p_ratio: float = Field(default=0.1, gt=0, lt=1, description="the rest over the largest")
    zeros_disclosive: bool = True
    rounding: RoundingProfile = Field(default_factory=RoundingProfile)
    # The two below are this project's choices, not ACRO's.
    row_limit: int = Field(default=1000, ge=1, description="more rows looks row-level")
    gwas_min_minor_allele_count: int = Field(default=20, ge=1, description="per variant")
    # The review, not a check: distinct stewards free of conflicts who must approve a request.
    approvals_needed: int = Field(default=2, ge=2, description="stewards approving a request")


def load_disclosure_policy(directory: Path) -> DisclosurePolicy:
    """``directory/disclosure.yaml`` validated; a missing or empty file gives ACRO's defaults,
    a broken one raises :class:`wgs_tre.errors.PolicyError` naming the file and the key."""
    return load_policy_file(DisclosurePolicy, directory / FILE_NAME)
