"""The table rules, as plain functions of each cell's evidence.

Each rule reads only :class:`CellEvidence` (how many contributed to a cell, their total and
their largest values), never the raw data, so the airlock can check a submitted table again
from its record. Where ACRO's code differs from a literal reading of a rule, these follow ACRO
(its ``sdcchecks.py``, version 1.0.2), and say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from wgs_tre.airlock.rules import Cell, DisclosurePolicy, Finding, Fix, RuleId

__all__ = ["CellEvidence", "TableKind", "check_cells", "failing_cells"]


class TableKind(StrEnum):
    """What the cells of a table hold."""

    FREQUENCY = "frequency"  # counts of contributors
    SUM = "sum"  # the sum of a value over the cell's contributors
    MEAN = "mean"  # its mean


@dataclass(frozen=True)
class CellEvidence:
    """What the rules need to know about one cell: ``count`` contributors, the ``total`` of
    their values and the ``largest`` few of them (at least two, descending); a frequency table
    has no values (total 0, largest empty)."""

    row: str
    column: str
    count: int
    total: float = 0.0
    largest: tuple[float, ...] = ()
    negative: bool = False

    @property
    def cell(self) -> Cell:
        return (self.row, self.column)


def _below_threshold(cell: CellEvidence, policy: DisclosurePolicy) -> bool:
    # ACRO fails a cell when count < safe_threshold: 10 contributors pass, 9 fail; an empty
    # cell (0) fails too.
    return cell.count < policy.min_cell_count


def _dominated_nk(cell: CellEvidence, policy: DisclosurePolicy) -> bool:
    # ACRO fails when top_n_sum / sum >= k ("at least", not "more than"); a cell whose total
    # is 0 (empty, or all zeros) is not dominated (0/0 is NaN, and NaN >= k is false).
    if cell.count == 0 or cell.total == 0:
        return False
    return sum(cell.largest[: policy.nk_n]) / cell.total >= policy.nk_k


def _fails_p_ratio(cell: CellEvidence, policy: DisclosurePolicy) -> bool:
    # (total - largest - second largest) / largest < p. ACRO keeps the numerator itself when
    # the largest is 0, so a non-empty cell of zeros fails (0 < p); an empty cell passes.
    if cell.count == 0:
        return False
    top1 = cell.largest[0] if cell.largest else 0.0
    rest = cell.total - sum(cell.largest[:2])
    ratio = rest if top1 == 0 else rest / top1
    return ratio < policy.p_ratio


def failing_cells(
    rule: RuleId, kind: TableKind, cells: tuple[CellEvidence, ...], policy: DisclosurePolicy
) -> tuple[Cell, ...]:
    """The cells of a table that fail ``rule`` (none if the rule does not apply to ``kind``).

    As in ACRO, a frequency table is checked for small counts and zeros, a table of sums or
    means for small counts and dominance. Dominance is not defined for a cell with a negative
    value: such a cell is reported by both dominance rules, for a steward to judge (ACRO does
    the same, but then checks no other cell of that table; this checks the others as usual).
    """
    if rule is RuleId.THRESHOLD:
        return tuple(c.cell for c in cells if _below_threshold(c, policy))
    if rule is RuleId.ZEROS:
        if kind is not TableKind.FREQUENCY or not policy.zeros_disclosive:
            return ()
        return tuple(c.cell for c in cells if c.count == 0)
    if rule in (RuleId.DOMINANCE_NK, RuleId.P_RATIO):
        if kind is TableKind.FREQUENCY:
            return ()
        test = _dominated_nk if rule is RuleId.DOMINANCE_NK else _fails_p_ratio
        return tuple(c.cell for c in cells if c.negative or test(c, policy))
    return ()


_TABLE_RULES = (RuleId.THRESHOLD, RuleId.ZEROS, RuleId.DOMINANCE_NK, RuleId.P_RATIO)


def _message(
    rule: RuleId, kind: TableKind, policy: DisclosurePolicy
) -> tuple[str, tuple[Fix, ...]]:
    if rule is RuleId.THRESHOLD:
        fixes = (Fix.SUPPRESS, Fix.ROUND, Fix.AGGREGATE)  # only counts are rounded
        return (
            f"fewer than {policy.min_cell_count} people contribute",
            fixes if kind is TableKind.FREQUENCY else (Fix.SUPPRESS, Fix.AGGREGATE),
        )
    if rule is RuleId.ZEROS:
        return "a zero count shows that nobody in a group has a trait", (
            Fix.SUPPRESS,
            Fix.AGGREGATE,
        )
    if rule is RuleId.DOMINANCE_NK:
        return (
            f"the {policy.nk_n} largest contributors make at least {policy.nk_k:.0%} of the total",
            (Fix.SUPPRESS, Fix.AGGREGATE),
        )
    return (
        f"the others add up to less than {policy.p_ratio:.0%} of the largest contributor, "
        "who can be estimated",
        (Fix.SUPPRESS, Fix.AGGREGATE),
    )


def check_cells(
    kind: TableKind, cells: tuple[CellEvidence, ...], policy: DisclosurePolicy
) -> tuple[Finding, ...]:
    """One finding per table rule that some cells fail, naming those cells (and one more for
    the cells a dominance rule cannot judge, those with a negative value)."""
    findings = []
    for rule in _TABLE_RULES:
        failing = failing_cells(rule, kind, cells, policy)
        message, fixes = _message(rule, kind, policy)
        dominance = rule in (RuleId.DOMINANCE_NK, RuleId.P_RATIO)
        negative = {c.cell for c in cells if c.negative and dominance}
        judged = tuple(c for c in failing if c not in negative)
        if judged:
            findings.append(Finding(rule, message, fixes, judged))
        unjudged = tuple(c for c in failing if c in negative)
        if unjudged:
            message = "cannot be judged where a value is negative: a steward will look"
            findings.append(Finding(rule, message, fixes, unjudged))
    return tuple(findings)
