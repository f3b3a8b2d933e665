"""The self-check a researcher runs before submitting an output to the airlock."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from wgs_tre.airlock.regression import check_regression
from wgs_tre.airlock.rules import DisclosurePolicy, Finding, RuleId
from wgs_tre.airlock.tables import CheckedTable, load_table
from wgs_tre.errors import InvalidInput

__all__ = ["SelfCheck", "self_check"]


@dataclass(frozen=True)
class SelfCheck:
    """What the checks found in one output (nothing found: it may be submitted)."""

    subject: str
    findings: tuple[Finding, ...]

    @property
    def passed(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        if self.passed:
            return f"{self.subject}: passes every disclosure check"
        lines = [f"{self.subject}: {len(self.findings)} finding(s)"]
        return "\n".join(lines + [f"  {f.line()}" for f in self.findings])


def self_check(
    output: CheckedTable | Path | str | Any, policy: DisclosurePolicy | None = None
) -> SelfCheck:
    """Check an output as the airlock will: a :class:`CheckedTable`, the path of a table it
    saved (checked again from its record), or fitted model results (``df_resid``). Prints
    nothing. A file without its record, or changed since, fails (rule ``evidence``)."""
    if isinstance(output, CheckedTable):
        if policy is not None:
            output = replace(output, policy=policy)
        return SelfCheck(f"table of {output.index} by {output.columns}", output.findings)
    if isinstance(output, str | Path):
        path = Path(output)
        try:
            table = load_table(path, policy)
        except InvalidInput as exc:
            finding = Finding(RuleId.EVIDENCE, exc.problem, ())
            return SelfCheck(path.name, (finding,))
        return SelfCheck(path.name, table.findings)
    return SelfCheck(type(output).__name__, check_regression(output, policy=policy))
