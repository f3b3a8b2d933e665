"""The airlock's automatic disclosure checks (issue 17, first part), as a library.

Outputs leave the TRE only through the airlock; before a steward sees a request, and when the
researcher asks first (:func:`self_check`), each output is checked by rules whose thresholds are
in ``policies/disclosure.yaml`` (ACRO's defaults when the file is missing):

- ``threshold``: a table cell with fewer than ``min_cell_count`` contributors;
- ``zeros``: a zero in a frequency table;
- ``dominance-nk``: the ``nk_n`` largest contributors make at least ``nk_k`` of a cell's total;
- ``p-ratio``: the rest of a cell is less than ``p_ratio`` times its largest contributor;
- ``residual-dof``: a model with fewer than ``min_residual_dof`` residual degrees of freedom;
- ``minor-allele-count``, ``per-sample-column``: a GWAS summary statistic's variant carried by
  fewer than ``gwas_min_minor_allele_count`` alleles, a column of one sample's genotypes;
- ``row-level``, ``id-like-column``: a file with more than ``row_limit`` rows, or a column that
  names its rows one by one;
- ``pseudonym``: a participant's per-project id anywhere in a text output (:mod:`.pseudonyms`);
- ``survival-at-risk``, ``survival-step``: a Kaplan-Meier table's time with fewer than
  ``min_cell_count`` at risk, or a step fewer than that leave (:func:`coarsen_survival` fixes
  both);
- ``differencing``: a table whose cells (or totals) differ from a released table's by at least
  1 and fewer than ``min_cell_count`` contributors (:func:`difference`, against the tables
  :func:`released_tables` finds in a release area).

The self-check reads a file by what it is: a table saved with its record of checks, GWAS summary
statistics (:func:`looks_like_gwas_summary`), or any other table (row-level checks, and an
``evidence`` finding: without a record its cells cannot be judged).

Tables are made with :func:`crosstab`, which keeps each cell's evidence (count, total, largest
values) so that the checks, the fixes (:meth:`CheckedTable.suppress`, :meth:`CheckedTable.round`)
and a later re-check from the saved record need no raw data. Each :class:`Finding` names its
rule, the cells, a plain message and the fixes to choose from.

In a session, :func:`request` sends workspace files to the stewards (through the hub's data
service) and :func:`status` follows them; approved outputs are downloaded from the hub.

Every file crossing the airlock, out (:attr:`Direction.EGRESS`) or in (:attr:`Direction.INGRESS`),
goes through :func:`sanitize`: its type is decided by its content (libmagic), and it is refused
when that type is not allowed that way in ``policies/files.yaml``, when its name contradicts its
content, or when it is too large. What passes is written cleaned to a new file and described by
a :class:`Sanitized` with the ``actions`` taken: images without EXIF (GPS included), XMP and
text; PDFs without metadata, JavaScript and attachments; notebooks without outputs (unless they
are what is reviewed) and widget state. SVGs with scripts or links out, encrypted PDFs, and
archives with zip bombs, links, names climbing out or archives nested too deep are refused.
"""

from wgs_tre.airlock.checks import CellEvidence, TableKind
from wgs_tre.airlock.differencing import difference, released_tables
from wgs_tre.airlock.filepolicy import Direction, FilePolicy, load_file_policy
from wgs_tre.airlock.files import (
    check_gwas_summary,
    check_row_level,
    looks_like_gwas_summary,
    minor_allele_counts,
)
from wgs_tre.airlock.filetypes import FileType
from wgs_tre.airlock.regression import check_regression, residual_dof
from wgs_tre.airlock.rules import (
    DisclosurePolicy,
    Finding,
    Fix,
    RoundingProfile,
    RuleId,
    load_disclosure_policy,
)
from wgs_tre.airlock.sanitize import Sanitized, sanitize
from wgs_tre.airlock.selfcheck import SelfCheck, self_check
from wgs_tre.airlock.session import RequestStatus, request, status
from wgs_tre.airlock.survival import check_survival, coarsen_survival
from wgs_tre.airlock.tables import CheckedTable, crosstab, load_table, sidecar_path

__all__ = [
    "CellEvidence",
    "CheckedTable",
    "Direction",
    "DisclosurePolicy",
    "FilePolicy",
    "FileType",
    "Finding",
    "Fix",
    "RequestStatus",
    "RoundingProfile",
    "RuleId",
    "Sanitized",
    "SelfCheck",
    "TableKind",
    "check_gwas_summary",
    "check_regression",
    "check_row_level",
    "check_survival",
    "coarsen_survival",
    "crosstab",
    "difference",
    "load_disclosure_policy",
    "load_file_policy",
    "load_table",
    "looks_like_gwas_summary",
    "minor_allele_counts",
    "released_tables",
    "request",
    "residual_dof",
    "sanitize",
    "self_check",
    "sidecar_path",
    "status",
]
