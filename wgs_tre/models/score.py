"""A polygenic score from a weights file the researcher brings.

The file is a table (tab- or comma-separated, with a header) of ``contig``, ``position``,
``ref``, ``alt`` (the effect allele) and ``weight``; other columns are ignored. Each row is
matched to the view's variant at the same place with the same alleles, or with them swapped
(then the effect allele is the view's reference and its dosage is 2 minus the alternate count).
Rows that match nothing are counted, not guessed at. The score is the sum over matched rows of
weight x effect-allele dosage, a missing call counting as the variant's mean dosage.
"""

from __future__ import annotations

import csv
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from wgs_tre.errors import InvalidInput
from wgs_tre.models.genomic_features import VariantIndex, mean_imputed

__all__ = ["ScoreReport", "Weight", "polygenic_score", "read_weights"]

COLUMNS = ("contig", "position", "ref", "alt", "weight")


@dataclass(frozen=True)
class Weight:
    contig: str
    position: int
    ref: str
    alt: str  # the effect allele
    weight: float


@dataclass(frozen=True)
class ScoreReport:
    """How the weights file met the view: rows read, matched as given, matched with the alleles
    swapped, and not found."""

    weights: int
    matched: int
    flipped: int
    unmatched: int


def read_weights(path: Path) -> list[Weight]:
    """The rows of a weights file; a problem raises naming the line and column."""
    path = Path(path)
    where = path.name
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"weights file {where}", f"cannot be read ({exc.__class__.__name__})"
        ) from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InvalidInput(f"weights file {where}", "is empty (expected a header line)")
    delimiter = "\t" if "\t" in lines[0] else ","
    reader = csv.reader(lines, delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader)]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise InvalidInput(
            f"weights file {where} line 1",
            f"missing column(s) {', '.join(missing)} (needs: {', '.join(COLUMNS)})",
        )
    at = {c: header.index(c) for c in COLUMNS}
    weights = []
    for number, fields in enumerate(reader, start=2):
        if not fields or not "".join(fields).strip():
            continue
        if len(fields) != len(header):
            raise InvalidInput(
                f"weights file {where} line {number}",
                f"has {len(fields)} fields, the header {len(header)}",
            )
        values = {c: fields[i].strip() for c, i in at.items()}
        for column in ("contig", "ref", "alt"):
            if not values[column]:
                where_column = f"weights file {where} line {number} column {column}"
                raise InvalidInput(where_column, "is empty")
        try:
            position = int(values["position"])
        except ValueError:
            position = -1
        if position < 1:
            raise InvalidInput(f"weights file {where} line {number} column position",
                               f"{values['position']!r} is not a positive integer")  # fmt: skip
        try:
            weight = float(values["weight"])
        except ValueError:
            weight = math.nan
        if not math.isfinite(weight):
            raise InvalidInput(f"weights file {where} line {number} column weight",
                               f"{values['weight']!r} is not a finite number")  # fmt: skip
        weights.append(Weight(values["contig"], position, values["ref"], values["alt"], weight))
    if not weights:
        raise InvalidInput(f"weights file {where}", "has a header but no weights")
    return weights


def polygenic_score(index: VariantIndex, path: Path) -> tuple[pd.DataFrame, ScoreReport]:
    """``prs`` per participant, and how the file's rows matched the view (see the module)."""
    weights = read_weights(path)
    rows: list[int] = []
    signs: list[float] = []  # weight per alternate allele
    offset, flipped = 0.0, 0
    for w in weights:
        for i in index.find(w.contig, w.position):
            if (index.ref[i], index.alt[i]) == (w.ref, w.alt):
                rows.append(int(i))
                signs.append(w.weight)
                break
            if (index.ref[i], index.alt[i]) == (w.alt, w.ref):  # the effect allele is the ref:
                rows.append(int(i))  # weight x (2 - alternate count)
                signs.append(-w.weight)
                offset += 2 * w.weight
                flipped += 1
                break
    report = ScoreReport(len(weights), len(rows), flipped, len(weights) - len(rows))
    if not rows:
        raise InvalidInput(
            f"weights file {Path(path).name}",
            f"none of its {len(weights)} variants is in the variants view "
            "(compare contig names, positions and alleles)",
        )
    if report.unmatched:
        warnings.warn(
            f"polygenic score: {report.unmatched} of {report.weights} weights matched no "
            "variant of the view and were left out",
            stacklevel=3,
        )
    dosages = mean_imputed(index.dosages(np.array(rows)))
    score = np.asarray(signs) @ dosages + offset
    return pd.DataFrame({"prs": score}, index=index.samples), report
