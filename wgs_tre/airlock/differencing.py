"""Differencing: a new table checked against the tables the project has already released.

Two tables that each pass the cell threshold can still disclose a small group together: the
same table of region by sex made again after three participants were added (or excluded), or
made again for a subgroup, differs from the released one by three in a cell, and subtracting
one from the other gives those three people's region and sex. :func:`difference` finds such
pairs (rule ``differencing``, threshold ``min_cell_count``): where a cell of the new table and
the matching cell of a released table differ by at least 1 and fewer than ``min_cell_count``
contributors. An identical cell (a difference of 0) discloses nothing. Where the two tables
share only one variable (region by sex released, region by age band new), the totals of each
region are compared instead; where they share none, the tables' totals.

What can honestly be told from the records, and what cannot:

- Only tables with a record of checks (made with :func:`crosstab` and saved) are compared: a
  released file without one has no counts to compare, and :func:`released_tables` leaves it out.
- Cells are matched by the names of the table's variables and by their labels: the same
  variables (in either order, a transposed table matches), with rows or columns that may be
  a superset or a subset of the released table's. A table of the same people by a variable
  named differently, or with its categories recoded (ages 40-64 split into 40-49 and 50-64), is
  not matched: a steward must still look at the project's earlier releases.
- The counts compared are the contributors per cell. Their difference is the size of a group
  only when one table's population contains the other's (people added, excluded, or a
  subgroup); when some were added and others excluded, a net difference of 0 (or of 12) can
  hide a smaller group, which cannot be seen from counts.
- Tables are compared only with released tables of the same kind (counts with counts, sums
  with sums, means with means): a table of means and a table of counts disclose a group's
  values together only with a third table, which is not searched for.
- A cell blank in either table (suppressed) is not compared, and a total is compared only when
  every cell it sums is shown in both tables. Rounding does not resolve a finding: the true
  counts are compared, as the rounded difference of two counts still tells a small group's size
  to within the rounding base.
- The tables are compared in pairs: a small group found only by combining three or more
  releases is not looked for, and neither is a total recovered from a blanked cell through the
  other cells of its row and column (secondary suppression).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from wgs_tre.airlock.checks import CellEvidence
from wgs_tre.airlock.rules import Cell, DisclosurePolicy, Finding, Fix, RuleId
from wgs_tre.airlock.tables import SIDECAR_SUFFIX, CheckedTable, load_table
from wgs_tre.errors import InvalidInput

__all__ = ["difference", "released_tables"]

_FIXES = (Fix.SUPPRESS, Fix.AGGREGATE)


def difference(
    new: CheckedTable,
    released: Iterable[tuple[str, CheckedTable]],
    policy: DisclosurePolicy | None = None,
) -> tuple[Finding, ...]:
    """Findings (rule ``differencing``) for each released table, named by its first element,
    from which ``new`` differs by a small group: cells, or totals of a shared variable, whose
    contributors differ by at least 1 and fewer than ``min_cell_count`` (``policy``, or the new
    table's). Each finding names the cells of the new table to suppress (or aggregate)."""
    policy = policy or new.policy
    findings: list[Finding] = []
    for name, old in released:
        if old.kind is not new.kind:
            continue
        shared = {new.index, new.columns} & {old.index, old.columns}
        if {new.index, new.columns} == {old.index, old.columns} and new.index != new.columns:
            findings += _cells(new, name, old, policy)
        elif shared:
            for variable in sorted(shared):
                findings += _totals_by(new, name, old, variable, policy)
        else:
            findings += _grand_total(new, name, old, policy)
    return tuple(findings)


def _small(a: int, b: int, policy: DisclosurePolicy) -> bool:
    return 0 < abs(a - b) < policy.min_cell_count


def _finding(what: str, name: str, policy: DisclosurePolicy, cells: list[Cell]) -> Finding:
    return Finding(
        RuleId.DIFFERENCING,
        f"{what} from the released {name} by 1 to {policy.min_cell_count - 1} people: "
        "subtracting one from the other discloses a small group",
        _FIXES,
        tuple(cells),
    )


def _shown(table: CheckedTable) -> list[CellEvidence]:
    return [c for c in table.cells if c.cell not in table.suppressed]


def _cells(
    new: CheckedTable, name: str, old: CheckedTable, policy: DisclosurePolicy
) -> list[Finding]:
    """The same variables: cell against matching cell (a transposed table's labels swapped)."""
    swapped = new.index != old.index
    before = {(c.column, c.row) if swapped else c.cell: c.count for c in _shown(old)}
    differ = [
        c.cell for c in _shown(new) if c.cell in before and _small(c.count, before[c.cell], policy)
    ]
    return [_finding("these cells differ", name, policy, differ)] if differ else []


def _line_totals(table: CheckedTable, variable: str) -> dict[str, tuple[int, list[Cell]]]:
    """Each label of ``variable`` (the table's rows or its columns): its total and its cells,
    for the labels whose cells are all shown."""
    by_rows = variable == table.index
    lines: dict[str, tuple[int, list[Cell]]] = {}
    hidden: set[str] = set()
    for c in table.cells:
        label = c.row if by_rows else c.column
        if c.cell in table.suppressed:
            hidden.add(label)
            continue
        total, cells = lines.get(label, (0, []))
        lines[label] = (total + c.count, [*cells, c.cell])
    return {label: line for label, line in lines.items() if label not in hidden}


def _totals_by(
    new: CheckedTable, name: str, old: CheckedTable, variable: str, policy: DisclosurePolicy
) -> list[Finding]:
    """One shared variable: the total of each of its labels, over all the other variable's."""
    before = _line_totals(old, variable)
    findings = []
    for label, (total, cells) in _line_totals(new, variable).items():
        if label in before and _small(total, before[label][0], policy):
            what = f"the total of {variable} {label} (the sum of the cells named) differs"
            findings.append(_finding(what, name, policy, cells))
    return findings


def _grand_total(
    new: CheckedTable, name: str, old: CheckedTable, policy: DisclosurePolicy
) -> list[Finding]:
    """No shared variable: the tables' totals, if every cell of both is shown."""
    if new.suppressed or old.suppressed:
        return []
    total = sum(c.count for c in new.cells)
    if not _small(total, sum(c.count for c in old.cells), policy):
        return []
    what = "the table's total (the sum of all its cells) differs"
    return [_finding(what, name, policy, [c.cell for c in new.cells])]


def released_tables(
    directory: Path,
    policy: DisclosurePolicy | None = None,
    *,
    on_skip: Callable[[Path, str], None] | None = None,
) -> list[tuple[str, CheckedTable]]:
    """Every table with a record of checks under ``directory`` (a project's release area), as
    (its path relative to ``directory``, the table checked against ``policy``), to give to
    :func:`difference`. A record (``<name>.checks.json``) may sit beside its table or anywhere
    else under ``directory`` (an evidence directory beside the released files): it is paired
    with the file of that name whose content it was made for (its SHA-256). A record that is
    unreadable, or that no file matches, is skipped and passed to ``on_skip`` with the reason;
    symbolic links are not followed."""
    directory = Path(directory)
    records: list[Path] = []
    files: dict[str, list[Path]] = {}
    for root, _dirs, names in os.walk(directory):
        for file_name in names:
            path = Path(root) / file_name
            if path.is_symlink() or not path.is_file():
                continue
            if file_name.endswith(SIDECAR_SUFFIX):
                records.append(path)
            else:
                files.setdefault(file_name, []).append(path)
    digests: dict[Path, str] = {}
    tables = []
    for record in sorted(records):
        try:
            table = _pair(record, files, digests, policy)
        except InvalidInput as exc:
            if on_skip is not None:
                on_skip(record, exc.problem)
            continue
        tables.append(table)
    return [(str(path.relative_to(directory)), table) for path, table in tables]


def _pair(
    record: Path,
    files: dict[str, list[Path]],
    digests: dict[Path, str],
    policy: DisclosurePolicy | None,
) -> tuple[Path, CheckedTable]:
    try:
        claimed = json.loads(record.read_text(encoding="utf-8"))["csv_sha256"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(str(record), f"unreadable record of checks: {exc}") from None
    name = record.name[: -len(SIDECAR_SUFFIX)]
    # The nearest first: beside the record, then under its parent, and so on.
    candidates = sorted(files.get(name, []), key=lambda p: (_distance(p, record), str(p)))
    for candidate in candidates:
        if candidate not in digests:
            try:
                digests[candidate] = hashlib.sha256(candidate.read_bytes()).hexdigest()
            except OSError:
                continue
        if digests[candidate] == claimed:
            return candidate, load_table(candidate, policy, record=record)
    raise InvalidInput(
        str(record), f"no file named {name} under the directory is the one it checked"
    )


def _distance(path: Path, record: Path) -> int:
    common = len(os.path.commonpath([path.parent, record.parent]).split(os.sep))
    return len(path.parent.parts) + len(record.parent.parts) - 2 * common
